//! The iommufd and VFIO character-device ABI over `uiommu-core`.
//!
//! [`dispatch`] is what an `ioctl(2)` on `/dev/iommu` does: route by command number, copy the
//! struct in under the kernel's size rules (`uiommu_uapi::iommufd::UserCmd`), run the command in
//! `core`, write the results back, and return the errno. No transport lives here: the preload
//! library and a daemon both call [`dispatch`] with the caller's [`UserMemory`].

pub mod process_vm;

pub use process_vm::ProcessVm;
pub use uiommu_uapi::UserMemory;
