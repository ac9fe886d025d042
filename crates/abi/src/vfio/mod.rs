//! The VFIO container ioctls that iommufd serves on its own fd and on `/dev/vfio/vfio`
//! (`drivers/iommu/iommufd/vfio_compat.c`).

use uiommu_core::context::Context;
use uiommu_uapi::errno::Result;
use uiommu_uapi::{Errno, UserMemory};

/// An ioctl whose number is outside iommufd's range (`iommufd_vfio_ioctl`).
pub(crate) fn dispatch(_ctx: &Context, _mem: &dyn UserMemory, _cmd: u32, _arg: u64) -> Result<i64> {
    Err(Errno::ENOTTY)
}
