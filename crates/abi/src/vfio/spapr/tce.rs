//! The SPAPR TCE backend's ioctls (`drivers/vfio/vfio_iommu_spapr_tce.c`, `tce_iommu_ioctl`):
//! each copies its struct in, checks `argsz` and flags (`EINVAL`), and hands core's
//! [`TceContainer`] a typed request. Core runs the checks that precede the copy first, so the
//! copy happens where the kernel's does.

use crate::vfio::{MAP_MINSZ, UNMAP_MINSZ};
use uiommu_core::driver::tce::{Dir, DmaMap, DmaUnmap, MemRange, TceContainer, WindowSpec};
use uiommu_uapi::UserMemory;
use uiommu_uapi::copy::read_vfio;
use uiommu_uapi::errno::Result;
use uiommu_uapi::offset_of_end;
use uiommu_uapi::vfio::*;
use zerocopy::IntoBytes;

/// A backend ioctl: the container, the caller's address space, its memory and `arg`.
pub(super) type Ioctl = fn(&mut TceContainer, u64, &dyn UserMemory, u64) -> Result<()>;

/// `offsetofend(struct vfio_iommu_spapr_tce_info, dma32_window_size)`.
const INFO_MINSZ: usize = offset_of_end!(VfioIommuSpaprTceInfo, dma32_window_size);
/// `offsetofend(struct vfio_iommu_spapr_tce_info, ddw)`.
const INFO_DDWSZ: usize = offset_of_end!(VfioIommuSpaprTceInfo, ddw);
/// `offsetofend(struct vfio_iommu_spapr_register_memory, size)`.
const REGISTER_MINSZ: usize = offset_of_end!(VfioIommuSpaprRegisterMemory, size);
/// `offsetofend(struct vfio_iommu_spapr_tce_create, start_addr)`.
const CREATE_MINSZ: usize = offset_of_end!(VfioIommuSpaprTceCreate, start_addr);
/// `offsetofend(struct vfio_iommu_spapr_tce_remove, start_addr)`.
const REMOVE_MINSZ: usize = offset_of_end!(VfioIommuSpaprTceRemove, start_addr);

/// `VFIO_IOMMU_SPAPR_TCE_GET_INFO`: `ENXIO` without a group, then the copy and `argsz`
/// (`EINVAL`; flags are not checked, they are an output). The DDW part is written back only
/// if `argsz` covers it.
pub(super) fn get_info(
    b: &mut TceContainer,
    _mm: u64,
    mem: &dyn UserMemory,
    arg: u64,
) -> Result<()> {
    let facts = b.info()?;
    let mut info: VfioIommuSpaprTceInfo = read_vfio(&mem, arg, INFO_MINSZ, u32::MAX)?;
    info.dma32_window_start = facts.dma32_window_start;
    info.dma32_window_size = facts.dma32_window_size;
    info.flags = if facts.ddw.is_some() {
        VFIO_IOMMU_SPAPR_INFO_DDW
    } else {
        0
    };
    info.ddw = facts.ddw.unwrap_or_default();
    let len = if info.argsz as usize >= INFO_DDWSZ {
        INFO_DDWSZ
    } else {
        INFO_MINSZ
    };
    mem.write(arg, &info.as_bytes()[..len])
}

/// The direction of a mapping's READ and WRITE flags; `None` for neither.
fn direction(flags: u32) -> Option<Dir> {
    match (
        flags & VFIO_DMA_MAP_FLAG_READ != 0,
        flags & VFIO_DMA_MAP_FLAG_WRITE != 0,
    ) {
        (true, true) => Some(Dir::Bidirectional),
        (true, false) => Some(Dir::ToDevice),
        (false, true) => Some(Dir::FromDevice),
        (false, false) => None,
    }
}

/// `VFIO_IOMMU_MAP_DMA`: `EINVAL` for a short `argsz` or a flag other than READ and WRITE.
pub(super) fn map_dma(b: &mut TceContainer, mm: u64, mem: &dyn UserMemory, arg: u64) -> Result<()> {
    b.map_dma(mm, || {
        let valid = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
        let p: VfioIommuType1DmaMap = read_vfio(&mem, arg, MAP_MINSZ, valid)?;
        Ok(DmaMap {
            vaddr: p.vaddr,
            iova: p.iova,
            size: p.size,
            dir: direction(p.flags),
        })
    })
}

/// `VFIO_IOMMU_UNMAP_DMA`: `EINVAL` for a short `argsz` or any flag.
pub(super) fn unmap_dma(
    b: &mut TceContainer,
    mm: u64,
    mem: &dyn UserMemory,
    arg: u64,
) -> Result<()> {
    b.unmap_dma(mm, || {
        let p: VfioIommuType1DmaUnmap = read_vfio(&mem, arg, UNMAP_MINSZ, 0)?;
        Ok(DmaUnmap {
            iova: p.iova,
            size: p.size,
        })
    })
}

/// The range of `VFIO_IOMMU_SPAPR_REGISTER_MEMORY` and `_UNREGISTER_MEMORY`: `EINVAL` for a
/// short `argsz` or any flag.
pub(super) fn mem_range(mem: &dyn UserMemory, arg: u64) -> Result<MemRange> {
    let p: VfioIommuSpaprRegisterMemory = read_vfio(&mem, arg, REGISTER_MINSZ, 0)?;
    Ok(MemRange {
        vaddr: p.vaddr,
        size: p.size,
    })
}

/// `VFIO_IOMMU_SPAPR_TCE_CREATE`: `EINVAL` for a short `argsz` or any flag; the struct as read
/// goes back with `start_addr` filled in.
pub(super) fn create(b: &mut TceContainer, mm: u64, mem: &dyn UserMemory, arg: u64) -> Result<()> {
    let mut read = None;
    let start_addr = b.tce_create(mm, || {
        let c: VfioIommuSpaprTceCreate = read_vfio(&mem, arg, CREATE_MINSZ, 0)?;
        read = Some(c);
        Ok(WindowSpec {
            page_shift: c.page_shift,
            window_size: c.window_size,
            levels: c.levels,
        })
    })?;
    let mut c = read.expect("a window is created only from a struct read");
    c.start_addr = start_addr;
    mem.write(arg, &c.as_bytes()[..CREATE_MINSZ])
}

/// `VFIO_IOMMU_SPAPR_TCE_REMOVE`: `EINVAL` for a short `argsz` or any flag.
pub(super) fn remove(b: &mut TceContainer, mm: u64, mem: &dyn UserMemory, arg: u64) -> Result<()> {
    b.tce_remove(mm, || {
        let r: VfioIommuSpaprTceRemove = read_vfio(&mem, arg, REMOVE_MINSZ, 0)?;
        Ok(r.start_addr)
    })
}
