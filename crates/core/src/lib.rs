//! The software iommufd: what Linux's `drivers/iommu/iommufd` does, in safe Rust.
//!
//! Pure logic: no transport and no ABI copying (that is `uiommu-abi`); every byte of the
//! caller's memory goes through [`uiommu_uapi::UserMemory`], so nothing here assumes the memory
//! is this process's own.
//!
//! # Layers
//! Each module imports only from the layers below its own:
//! 1. the ground: the per-context object table ([`object_table`]), fault injection ([`fail_nth`]),
//!    the observer of what the models raise ([`observe`]), the fault queue ([`fault`]), mmap
//!    regions ([`mmap`]), translation caches ([`iotlb`]);
//! 2. the driver contract ([`iommu`]): what a hardware model implements and what iommufd
//!    offers it;
//! 3. the I/O address space ([`ioas`]), which fills the paging domains of the contract, and
//!    the DMA engine ([`dma`]), which translates a device's requests through them;
//! 4. the hardware models and their registry ([`driver`]);
//! 5. the objects of a context: [`context`], their kinds ([`object`]) and a module per kind
//!    ([`device`], [`group`], [`hwpt`], [`access`], [`viommu`], [`vdevice`], [`veventq`],
//!    [`hw_queue`]; the selftest's [`selftest`], [`test_access`], [`test_dmabuf`], as
//!    `IOMMUFD_OBJ_SELFTEST` is one of the kernel's kinds). They reach the models only through
//!    the contract. The kinds refer to one another as the kernel's objects do (a nested HWPT
//!    holds its vIOMMU, which holds its nest parent; a device and its vDEVICE know each
//!    other), so this layer is the one whose modules import each other both ways.

pub mod fail_nth;
pub mod fault;
pub mod iotlb;
pub mod mmap;
pub mod object_table;
pub mod observe;

pub mod iommu;

pub mod dma;
pub mod ioas;

pub mod driver;

pub mod access;
pub mod context;
pub mod device;
pub mod group;
pub mod hw_queue;
pub mod hwpt;
pub mod object;
pub mod selftest;
pub mod test_access;
pub mod test_dmabuf;
pub mod vdevice;
pub mod veventq;
pub mod viommu;
