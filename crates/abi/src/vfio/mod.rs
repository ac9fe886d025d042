//! The VFIO container ioctls that iommufd serves on its own fd and on `/dev/vfio/vfio`
//! (`drivers/iommu/iommufd/vfio_compat.c`): the type1 IOMMU emulated over the context's
//! compatibility IOAS.
//!
//! - [`container`]: `VFIO_CHECK_EXTENSION`, `VFIO_SET_IOMMU`.
//! - [`map`]: `VFIO_IOMMU_MAP_DMA`, `VFIO_IOMMU_UNMAP_DMA`.
//! - [`info`]: `VFIO_IOMMU_GET_INFO` and its capability chain.
//! - [`spapr`]: not iommufd's: the legacy container of a POWER platform with the SPAPR TCE
//!   backend, which the front end opens instead on that platform.
//!
//! uiommu is built like a kernel without `CONFIG_VFIO_NOIOMMU` (as the reference kernel
//! configuration in `real-kernel/iommu.config`): no no-IOMMU device can put a context in
//! no-IOMMU mode, so that mode never applies here.

mod container;
mod info;
mod map;
pub mod spapr;

use crate::Caller;
use uiommu_core::context::{Context, Handle};
use uiommu_core::objects::Ioas;
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;
use uiommu_uapi::vfio::{
    VFIO_API_VERSION, VFIO_CHECK_EXTENSION, VFIO_GET_API_VERSION, VFIO_IOMMU_GET_INFO,
    VFIO_IOMMU_MAP_DMA, VFIO_IOMMU_UNMAP_DMA, VFIO_SET_IOMMU,
};

/// An ioctl whose number is outside iommufd's range (`iommufd_vfio_ioctl`). The argument of
/// `VFIO_SET_IOMMU` and `VFIO_CHECK_EXTENSION` is a value (an `unsigned long`), not a pointer.
/// Any other number, `VFIO_IOMMU_DIRTY_PAGES` included, is `ENOTTY` (the kernel's
/// `ENOIOCTLCMD` as `ioctl(2)` reports it).
pub(crate) fn dispatch(ctx: &Context, caller: &Caller<'_>, cmd: u32, arg: u64) -> Result<i64> {
    let mem = caller.mem;
    match cmd {
        VFIO_GET_API_VERSION => Ok(i64::from(VFIO_API_VERSION)),
        VFIO_SET_IOMMU => container::set_iommu(ctx, arg).map(|()| 0),
        VFIO_CHECK_EXTENSION => container::check_extension(ctx, arg),
        VFIO_IOMMU_GET_INFO => info::get_info(ctx, mem, arg).map(|()| 0),
        VFIO_IOMMU_MAP_DMA => map::map_dma(ctx, caller, arg).map(|()| 0),
        VFIO_IOMMU_UNMAP_DMA => map::unmap_dma(ctx, mem, arg).map(|()| 0),
        _ => Err(Errno::ENOTTY),
    }
}

/// `get_compat_ioas`: the IOAS the VFIO ioctls act on, `ENODEV` if none is set or it is
/// being destroyed.
fn compat_ioas(ctx: &Context) -> Result<Handle<Ioas>> {
    Handle::new(ctx.vfio_ioas()?).ok_or(Errno::ENODEV)
}
