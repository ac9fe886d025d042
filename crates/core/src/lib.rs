//! The software iommufd: what Linux's `drivers/iommu/iommufd` does, in safe Rust.
//!
//! Pure logic: no transport and no ABI copying (that is `uiommu-abi`); every byte of the
//! caller's memory goes through [`uiommu_uapi::UserMemory`], so nothing here assumes the memory
//! is this process's own.

pub mod access;
pub mod context;
pub mod device;
pub mod dma;
pub mod domain;
pub mod driver;
pub mod fail_nth;
pub mod fault;
pub mod group;
pub mod hw_queue;
pub mod hwpt;
pub mod ioas;
pub mod mmap;
pub mod object;
pub mod objects;
pub mod selftest;
pub mod test_access;
pub mod test_dmabuf;
pub mod vdevice;
pub mod veventq;
pub mod viommu;
