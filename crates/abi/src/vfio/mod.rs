//! The VFIO container ioctls that iommufd serves on its own fd and on `/dev/vfio/vfio`
//! (`drivers/iommu/iommufd/vfio_compat.c`): the type1 IOMMU emulated over the context's
//! compatibility IOAS. One table, indexed by command number, lists them.
//!
//! - [`container`]: `VFIO_CHECK_EXTENSION`, `VFIO_SET_IOMMU`.
//! - [`map`]: `VFIO_IOMMU_MAP_DMA`, `VFIO_IOMMU_UNMAP_DMA`.
//! - [`info`]: `VFIO_IOMMU_GET_INFO` and its capability chain.
//! - [`device`]: the vfio-pci device file; [`group`]: the group file (`/dev/vfio/N`), whose
//!   container is such a context.
//! - [`spapr`]: not iommufd's: the legacy container of a POWER platform with the SPAPR TCE
//!   backend, which the front end opens instead on that platform.
//! - [`type1`]: not iommufd's either: the legacy container with the type1 backend
//!   (`CONFIG_VFIO_CONTAINER`), which the front end opens for `/dev/vfio/vfio` when asked to.
//!
//! uiommu is built like a kernel without `CONFIG_VFIO_NOIOMMU` (as the reference kernel
//! configuration in `real-kernel/iommu.config`): no no-IOMMU device can put a context in
//! no-IOMMU mode, so that mode never applies here.

mod container;
pub mod device;
pub mod group;
mod info;
mod map;
pub mod spapr;
pub mod type1;

use crate::Caller;
use crate::cmd_table::CmdTable;
use uiommu_core::context::{Context, Handle};
use uiommu_core::object::{Ioas, Object};
use uiommu_uapi::errno::Result;
use uiommu_uapi::ioctl::ioc_nr;
use uiommu_uapi::vfio::{
    VFIO_API_VERSION, VFIO_BASE, VFIO_CHECK_EXTENSION, VFIO_GET_API_VERSION, VFIO_IOMMU_GET_INFO,
    VFIO_IOMMU_MAP_DMA, VFIO_IOMMU_UNMAP_DMA, VFIO_SET_IOMMU, VfioIommuType1DmaMap,
    VfioIommuType1DmaUnmap,
};
use uiommu_uapi::{Errno, offset_of_end};

/// `offsetofend(struct vfio_iommu_type1_dma_map, size)`: the whole struct.
const MAP_MINSZ: usize = offset_of_end!(VfioIommuType1DmaMap, size);
/// `offsetofend(struct vfio_iommu_type1_dma_unmap, size)`: the whole struct.
const UNMAP_MINSZ: usize = offset_of_end!(VfioIommuType1DmaUnmap, size);

/// What a command does with the context, the caller and `arg`: the value `ioctl(2)` returns.
type Handler = fn(&Context, &Caller<'_>, u64) -> Result<i64>;

/// The commands of `iommufd_vfio_ioctl`, by number. The argument of `VFIO_SET_IOMMU` and
/// `VFIO_CHECK_EXTENSION` is a value (an `unsigned long`), not a pointer.
#[rustfmt::skip]
static OPS: CmdTable<Handler, { (ioc_nr(VFIO_IOMMU_UNMAP_DMA) - VFIO_BASE) as usize + 1 }> =
    CmdTable::new(VFIO_BASE, &[
        (VFIO_GET_API_VERSION, |_, _, _| Ok(i64::from(VFIO_API_VERSION))),
        (VFIO_CHECK_EXTENSION, |ctx, _, arg| container::check_extension(ctx, arg)),
        (VFIO_SET_IOMMU, |ctx, _, arg| container::set_iommu(ctx, arg).map(|()| 0)),
        (VFIO_IOMMU_GET_INFO, |ctx, caller, arg| info::get_info(ctx, caller.mem, arg).map(|()| 0)),
        (VFIO_IOMMU_MAP_DMA, |ctx, caller, arg| map::map_dma(ctx, caller, arg).map(|()| 0)),
        (VFIO_IOMMU_UNMAP_DMA, |ctx, caller, arg| map::unmap_dma(ctx, caller.mem, arg).map(|()| 0)),
    ]);

/// An ioctl whose number is outside iommufd's range (`iommufd_vfio_ioctl`). Any number
/// without a row, `VFIO_IOMMU_DIRTY_PAGES` included, is `ENOTTY` (the kernel's
/// `ENOIOCTLCMD` as `ioctl(2)` reports it).
pub(crate) fn dispatch(ctx: &Context, caller: &Caller<'_>, cmd: u32, arg: u64) -> Result<i64> {
    let handler = OPS.get(cmd).ok_or(Errno::ENOTTY)?;
    handler(ctx, caller, arg)
}

/// `get_compat_ioas`: the IOAS the VFIO ioctls act on, `ENODEV` if none is set or it is
/// being destroyed.
fn compat_ioas(ctx: &Context) -> Result<Handle<Ioas>> {
    Handle::new(ctx.vfio_ioas()?).ok_or(Errno::ENODEV)
}

/// `iommufd_vfio_compat_ioas_create`: a new IOAS becomes the compatibility IOAS unless one
/// is live already (then the new one is dropped); the allocation's errors come first.
fn compat_ioas_create(ctx: &Context) -> Result<()> {
    let pending = ctx.objects.reserve()?;
    if ctx.vfio_ioas().is_ok() {
        return Ok(());
    }
    let ioas = pending.finalize(Object::Ioas(Ioas::default()));
    ctx.set_vfio_ioas(Some(&ioas));
    Ok(())
}
