//! The host seam: what a front end supplies to the subsystem and chooses for it, and the only
//! way a front end reaches `uiommu-core`.
//!
//! - the calling process: its address space, pin counts and locked-VM charges ([`Process`],
//!   [`PinMemory`], [`PinRegistry`], [`LockedVm`]), and the node it opened ([`Node`]);
//! - file backings of `IOMMU_IOAS_MAP_FILE` ([`FileBacking`]);
//! - fault injection, per thread ([`fail_nth`]);
//! - the observer of what the models raise and of the DMA the IOMMU refuses ([`observe`],
//!   [`FaultLog`]);
//! - the IOMMU model a context's devices sit behind ([`MODELS`], [`model`]);
//! - the emulated PCI devices: their models ([`DEVICE_MODELS`], [`device_model`]), the device
//!   their IOMMU probes for each ([`DeviceSpec`], [`PhysDevice`]), the function a model creates
//!   ([`SharedFunction`], [`PciFunction`]); where each sits is [`crate::placement`]'s, its
//!   sysfs entries [`crate::sysfs`]'s.
//!
//! A context ([`Context::new`]) is then served by [`crate::dispatch`], [`crate::mmap`] and the
//! files of [`crate::files`].

pub use uiommu_core::context::{Context, Node, Process};
pub use uiommu_core::dma::DmaError;
pub use uiommu_core::driver::{MODELS, Model, default_model, model};
pub use uiommu_core::fail_nth;
pub use uiommu_core::ioas::{FileBacking, LockedVm, PAGE_SIZE, PinMemory, PinRegistry};
pub use uiommu_core::iommu::IommuDriver;
pub use uiommu_core::iommu::NO_PASID;
pub use uiommu_core::iommu::translate::DmaFault;
pub use uiommu_core::iommu::{DeviceSpec, PhysDevice};
pub use uiommu_core::observe;
pub use uiommu_devices::dma::{FaultLog, describe_fault};
pub use uiommu_devices::{
    DEVICE_MODELS, DeviceModel, PciFunction, SharedFunction, Trigger, device_model,
};
