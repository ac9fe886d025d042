//! Emulated PCI functions whose DMA goes only through the IOMMU model.
//!
//! A function is what vfio-pci serves: config space with the PCI register semantics, BARs
//! whose registers have side effects, INTx/MSI/MSI-X/ERR/REQ interrupts delivered to
//! triggers with VFIO's masking rules, reset, and a DMA port that issues its memory requests
//! through `uiommu_core::dma` against the domain the function's RID or PASID is attached to.
//! Nothing here knows of file descriptors or ioctls: the ABI layer serves these models.
//!
//! # Layers
//! Each module uses only those above it in this list:
//! 1. [`access`]: access sizes and errors; [`describe`]: what a function declares;
//! 2. [`config`]: config space from the declarations ([`config::spec`] holds the layouts);
//! 3. [`irq`]: INTx, MSI, MSI-X and the triggers; [`dma`]: the DMA port;
//! 4. [`bus`]: what a model reaches of its function; [`function`]: the [`PciFunction`]
//!    interface and the generic [`Function`] over a [`Model`];
//! 5. the models: [`edu`], [`ioat`]; [`registry`]: the models by name.
//!
//! With the `testing` feature (and in this crate's tests), `testing` has what tests and
//! benches of models start from: a counting trigger and a context over an IOMMU model.

#![forbid(unsafe_code)]

pub mod access;
pub mod describe;

pub mod config;

pub mod dma;
pub mod irq;

pub mod bus;
pub mod function;

pub mod edu;
pub mod ioat;
pub mod registry;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use access::AccessError;
pub use bus::Bus;
pub use describe::{Description, ResetMethod};
pub use function::{Function, Model, PciFunction};
pub use irq::{IrqIndex, Trigger};
pub use registry::{DEVICE_MODELS, DeviceModel, SharedFunction, device_model};
