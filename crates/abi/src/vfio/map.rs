//! DMA map and unmap (`vfio_compat.c`: `iommufd_vfio_map_dma`, `iommufd_vfio_unmap_dma`).

use super::{MAP_MINSZ, UNMAP_MINSZ, compat_ioas};
use crate::Caller;
use uiommu_core::context::Context;
use uiommu_core::ioas::Iova;
use uiommu_core::iommu::Prot;
use uiommu_uapi::copy::read_vfio;
use uiommu_uapi::errno::Result;
use uiommu_uapi::vfio::{
    VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_WRITE, VFIO_DMA_UNMAP_FLAG_ALL, VfioIommuType1DmaMap,
    VfioIommuType1DmaUnmap,
};
use uiommu_uapi::{Errno, UserMemory};
use zerocopy::IntoBytes;

/// `VFIO_IOMMU_MAP_DMA` (`iommufd_vfio_map_dma`): `EFAULT`, then `EINVAL` for a short `argsz`
/// or a flag other than READ/WRITE (`VADDR` included), then `ENODEV` without a compatibility
/// IOAS, then what mapping at the fixed `iova` reports (`iopt_map_user_pages`: `EOVERFLOW`
/// if `vaddr + size` wraps, `EINVAL` for a zero or unaligned size or IOVA or over a reserved
/// range such as outside a domain's aperture, `EEXIST` over a mapping, `EFAULT`/`ENOMEM`
/// while pinning, and a domain's own errors). Unlike `IOMMU_IOAS_MAP`, neither READ nor
/// WRITE passes the command checks: the mapping has only the cache attribute, which an IOAS
/// without domains keeps and a page table refuses (`EINVAL`). Pins are charged per the
/// context's accounting mode. Nothing is written back.
pub(super) fn map_dma(ctx: &Context, caller: &Caller<'_>, arg: u64) -> Result<()> {
    let map: VfioIommuType1DmaMap = read_vfio(
        &caller.mem,
        arg,
        MAP_MINSZ,
        VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
    )?;
    let mut prot = Prot::CACHE;
    if map.flags & VFIO_DMA_MAP_FLAG_READ != 0 {
        prot = prot | Prot::READ;
    }
    if map.flags & VFIO_DMA_MAP_FLAG_WRITE != 0 {
        prot = prot | Prot::WRITE;
    }
    let ioas = compat_ioas(ctx)?;
    ioas.iopt.map_user(
        Iova::Fixed(map.iova),
        map.vaddr,
        map.size,
        prot,
        &caller.pin_owner(ctx),
    )?;
    Ok(())
}

/// `VFIO_IOMMU_UNMAP_DMA` (`iommufd_vfio_unmap_dma`): `EFAULT`, then `EINVAL` for a short
/// `argsz` or a flag other than `ALL` (`GET_DIRTY_BITMAP` and `VADDR` are not offered), then
/// `ENODEV` without a compatibility IOAS.
///
/// - `ALL` needs `iova == 0 && size == 0` (`EINVAL`, nothing written back) and unmaps
///   everything.
/// - Otherwise, when the IOAS has large pages disabled (TYPE1, or `IOMMU_OPTION_HUGE_PAGES`
///   = 0), the areas holding `iova - 1` and `iova + size - 1` are first cut there so that the
///   range can be unmapped from inside mappings (a failed cut returns its errno with nothing
///   written back). Then the range is unmapped as `iopt_unmap_iova` does: `EINVAL` for a zero
///   size, `EOVERFLOW` if it wraps, `ENOENT` if a mapping sticks out of it, `EBUSY` if one is
///   locked. Unmapping nothing succeeds.
///
/// The bytes unmapped are written back to `size` on success and on the unmap's own failure
/// (areas removed before it stay removed and are counted); a fault on that write is `EFAULT`.
pub(super) fn unmap_dma(ctx: &Context, mem: &dyn UserMemory, arg: u64) -> Result<()> {
    let mut unmap: VfioIommuType1DmaUnmap =
        read_vfio(&mem, arg, UNMAP_MINSZ, VFIO_DMA_UNMAP_FLAG_ALL)?;
    let ioas = compat_ioas(ctx)?;
    let iopt = &ioas.iopt;
    let (rc, unmapped) = if unmap.flags & VFIO_DMA_UNMAP_FLAG_ALL != 0 {
        if unmap.iova != 0 || unmap.size != 0 {
            return Err(Errno::EINVAL);
        }
        swap(iopt.unmap_all_counted())
    } else {
        if !iopt.huge_pages() {
            // A cut at `iova - 1` is only needed when something can lie below `iova`.
            let cuts = [
                unmap.iova.wrapping_add(unmap.size).wrapping_sub(1),
                unmap.iova.wrapping_sub(1),
            ];
            let n = if unmap.iova != 0 { 2 } else { 1 };
            iopt.cut_iova(&cuts[..n])?;
        }
        swap(iopt.unmap_iova_counted(unmap.iova, unmap.size))
    };
    unmap.size = unmapped;
    mem.write(arg, unmap.as_bytes())?;
    rc
}

/// The outcome first, then the bytes removed, which the kernel reports even when the unmap fails
/// partway (`iopt_unmap_iova_range` sets `*unmapped` on every path).
fn swap((bytes, rc): (u64, Result<()>)) -> (Result<()>, u64) {
    (rc, bytes)
}
