//! The iommufd and VFIO character-device ABI over `uiommu-core`.
//!
//! [`dispatch`] is what an `ioctl(2)` on `/dev/iommu` does: find the command's row in the
//! node's ioctl table by its number, copy the struct in under the kernel's size rules, check
//! its arguments, run the command in `core`, write the results back, and return the errno. No transport lives here: the preload
//! library and a daemon both call [`dispatch`] with the caller's [`UserMemory`].

mod cmd_table;
mod fault_file;
pub mod files;
pub mod host;
mod iommufd;
mod mmap;
pub mod placement;
pub mod process_vm;
pub mod sriov;
pub mod sysfs;
mod vfio;

pub use files::{Caller, EventfdTrigger, FaultFile, FdHost, File, NoFiles, Readiness, VeventqFile};
pub use iommufd::table::{IoctlOp, iommufd_ioctls};
pub use mmap::{Mapping, mmap};
pub use process_vm::ProcessVm;
pub use uiommu_uapi::UserMemory;
pub use vfio::device::{BarMapping, PciAddress, REGION_SHIFT, UserBuffer, VfioDeviceFile};
pub use vfio::group::{GroupDevice, GroupFile, GroupMember, VfioGroup};
pub use vfio::spapr::SpaprContainer;
pub use vfio::type1::Type1Container;

use uiommu_core::context::Context;
use uiommu_uapi::errno::Result;

/// `ioctl(fd, cmd, arg)` on an iommufd context by `caller`: the value the syscall returns, or
/// its errno.
pub fn dispatch(ctx: &Context, caller: &Caller<'_>, cmd: u32, arg: u64) -> Result<i64> {
    if iommufd::owns(cmd) {
        iommufd::ioctl(ctx, caller, cmd, arg).map(|()| 0)
    } else {
        // The VFIO type1 compatibility layer answers every other number.
        vfio::dispatch(ctx, caller, cmd, arg)
    }
}
