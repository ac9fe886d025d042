//! The type1 backend's mappings (`vfio_iommu_type1.c`: `struct vfio_iommu`, `struct vfio_dma`,
//! `vfio_dma_do_map`, `vfio_dma_do_unmap`, `vfio_iommu_type1_map_dma`,
//! `vfio_iommu_type1_unmap_dma`).
//!
//! Each `VFIO_IOMMU_MAP_DMA` is one entry, kept by IOVA, over one area of the backend's IOAS
//! (one per piece when it runs from memory into a BAR, [`super::pin`]), pinned and mapped in
//! its domains as soon as a device is attached. Entries are never merged or split: unmapping
//! removes whole entries, by v1's or v2's rule.

use super::dirty::{Bitmap, check_loggable, write_bits};
use crate::Caller;
use crate::vfio::{MAP_MINSZ, UNMAP_MINSZ, compat_ioas, compat_ioas_create};
use std::collections::BTreeMap;
use std::sync::Arc;
use uiommu_core::context::{Context, Handle};
use uiommu_core::iommu::Prot;
use uiommu_core::object::Ioas;
use uiommu_uapi::copy::read_vfio;
use uiommu_uapi::errno::Result;
use uiommu_uapi::vfio::{
    VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_VADDR, VFIO_DMA_MAP_FLAG_WRITE,
    VFIO_DMA_UNMAP_FLAG_ALL, VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, VFIO_DMA_UNMAP_FLAG_VADDR,
    VfioIommuType1DmaMap, VfioIommuType1DmaUnmap,
};
use uiommu_uapi::{Errno, UserMemory};
use zerocopy::IntoBytes;

/// `dma_entry_limit`, the module parameter's default (`U16_MAX`): how many mappings one
/// container may hold.
pub(super) const DMA_ENTRY_LIMIT: u32 = u16::MAX as u32;

/// One mapping (`struct vfio_dma`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Dma {
    pub(super) size: u64,
    vaddr: u64,
    /// `vaddr_invalid`: `VFIO_DMA_UNMAP_FLAG_VADDR` took the address away.
    vaddr_invalid: bool,
}

/// The backend of one container (`struct vfio_iommu`).
pub(crate) struct Type1Iommu {
    /// `VFIO_TYPE1v2_IOMMU` was set.
    pub(super) v2: bool,
    pub(super) ctx: Arc<Context>,
    pub(super) ioas: Handle<Ioas>,
    /// `dma_list`, by IOVA.
    pub(super) dmas: BTreeMap<u64, Dma>,
    /// `dma_avail`: further entries allowed.
    pub(super) dma_avail: u32,
    /// `dirty_page_tracking`.
    pub(super) dirty_tracking: bool,
}

impl Type1Iommu {
    /// `vfio_iommu_type1_open` for v1 or v2, over a fresh context `ctx` and its IOAS.
    pub(super) fn open(ctx: Arc<Context>, v2: bool) -> Result<Self> {
        compat_ioas_create(&ctx)?;
        let ioas = compat_ioas(&ctx)?;
        Ok(Type1Iommu {
            v2,
            ctx,
            ioas,
            dmas: BTreeMap::new(),
            dma_avail: DMA_ENTRY_LIMIT,
            dirty_tracking: false,
        })
    }

    /// The context the groups' devices bind to.
    pub(super) fn context(&self) -> Arc<Context> {
        Arc::clone(&self.ctx)
    }

    /// `iommu->pgsize_bitmap` (`vfio_update_pgsize_bitmap`): the page sizes every domain
    /// supports, sub-page sizes folded into `PAGE_SIZE`; every size from `PAGE_SIZE` up
    /// without a domain (`PAGE_MASK`).
    pub(super) fn pgsize_bitmap(&self) -> u64 {
        const PAGE: u64 = uiommu_core::ioas::PAGE_SIZE;
        let mut bitmap = self
            .ioas
            .paging_hwpts()
            .iter()
            .fold(u64::MAX, |acc, h| acc & h.domain.pgsize_bitmap());
        if bitmap & (PAGE - 1) != 0 {
            bitmap = (bitmap & !(PAGE - 1)) | PAGE;
        }
        bitmap
    }

    /// The smallest page size (`1 << __ffs(pgsize_bitmap)`).
    pub(super) fn min_pgsize(&self) -> u64 {
        let bitmap = self.pgsize_bitmap();
        1u64.checked_shl(bitmap.trailing_zeros()).unwrap_or(0)
    }

    /// Whether mapped entries have all their pages in a domain (`dma->iommu_mapped` with a
    /// device that cannot report dirty pages itself, `num_non_pinned_groups`).
    pub(super) fn iommu_mapped(&self) -> bool {
        !self.ioas.paging_hwpts().is_empty()
    }

    /// `vfio_find_dma`: an entry overlapping `iova..iova + size`.
    pub(super) fn find(&self, iova: u64, size: u64) -> Option<(u64, Dma)> {
        let end = iova.saturating_add(size);
        self.dmas
            .range(..end)
            .next_back()
            .filter(|&(&s, d)| s.saturating_add(d.size) > iova)
            .map(|(&s, &d)| (s, d))
    }

    /// `VFIO_IOMMU_MAP_DMA` (`vfio_iommu_type1_map_dma`, `vfio_dma_do_map`): `EFAULT`, then
    /// `EINVAL` for a short `argsz` or an unknown flag; `EINVAL` for a zero size; `EOVERFLOW`
    /// if the IOVA or the address range wraps; `EINVAL` unless exactly one of READ/WRITE and
    /// `VADDR` is asked, or if size, IOVA or address are not aligned to the smallest page
    /// size. With `VADDR` the entry at exactly that range gets its address back (`ENOENT`
    /// without an overlapping entry, `EINVAL` if it is not exactly that range or has an
    /// address). Otherwise `EEXIST` over an entry, `ENOSPC` past the entry limit, `EINVAL`
    /// outside the usable IOVA ranges, then pinning and mapping errors (`EFAULT`, `ENOMEM`), and
    /// while logging dirty pages `EINVAL` (unmapped again) for an entry too large for a bitmap.
    /// The parts of the range in a BAR mapping are mapped without pinning (`VM_PFNMAP`).
    pub(super) fn map_dma(&mut self, caller: &Caller<'_>, arg: u64) -> Result<()> {
        let mask = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE | VFIO_DMA_MAP_FLAG_VADDR;
        let map: VfioIommuType1DmaMap = read_vfio(&caller.mem, arg, MAP_MINSZ, mask)?;
        let (iova, vaddr, size) = (map.iova, map.vaddr, map.size);
        let set_vaddr = map.flags & VFIO_DMA_MAP_FLAG_VADDR != 0;
        if size == 0 {
            return Err(Errno::EINVAL);
        }
        if iova.checked_add(size - 1).is_none() || vaddr.checked_add(size - 1).is_none() {
            return Err(Errno::EOVERFLOW);
        }
        let mut prot = Prot::CACHE;
        if map.flags & VFIO_DMA_MAP_FLAG_WRITE != 0 {
            prot = prot | Prot::WRITE;
        }
        if map.flags & VFIO_DMA_MAP_FLAG_READ != 0 {
            prot = prot | Prot::READ;
        }
        let rw = map.flags & (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE) != 0;
        if rw == set_vaddr {
            return Err(Errno::EINVAL);
        }
        let pgsize = self.min_pgsize();
        if (size | iova | vaddr) & pgsize.wrapping_sub(1) != 0 {
            return Err(Errno::EINVAL);
        }
        let found = self.find(iova, size);
        if set_vaddr {
            let (at, dma) = found.ok_or(Errno::ENOENT)?;
            if !dma.vaddr_invalid || at != iova || dma.size != size {
                return Err(Errno::EINVAL);
            }
            let d = self.dmas.get_mut(&at).ok_or(Errno::ENOENT)?;
            d.vaddr = vaddr;
            d.vaddr_invalid = false;
            return Ok(());
        }
        if found.is_some() {
            return Err(Errno::EEXIST);
        }
        if self.dma_avail == 0 {
            return Err(Errno::ENOSPC);
        }
        if !self.iova_valid(iova, iova + (size - 1)) {
            return Err(Errno::EINVAL);
        }
        self.map_pieces(caller, iova, vaddr, size, prot)?;
        // `vfio_dma_bitmap_alloc` while logging: an entry too large for a bitmap goes again.
        if self.dirty_tracking
            && let Err(e) = check_loggable(size, pgsize)
        {
            let _ = self.ioas.iopt.unmap_iova(iova, size);
            return Err(e);
        }
        self.dma_avail -= 1;
        self.dmas.insert(
            iova,
            Dma {
                size,
                vaddr,
                vaddr_invalid: false,
            },
        );
        Ok(())
    }

    /// `vfio_iommu_iova_dma_valid`: `first..=last` lies inside one usable IOVA range (the
    /// holes between the reserved ranges of the attached domains).
    fn iova_valid(&self, first: u64, last: u64) -> bool {
        let ranges = self.ioas.iopt.iova_ranges();
        ranges.is_empty() || ranges.iter().any(|&(s, e)| s <= first && last <= e)
    }

    /// `vfio_remove_dma`: the entry's area leaves the IOAS (unpinned, unmapped from every
    /// domain) and its slot is given back.
    pub(super) fn remove(&mut self, iova: u64) {
        if let Some(dma) = self.dmas.remove(&iova) {
            // Nothing else holds the backend's areas (no access is ever created on its
            // context), so removing one cannot be refused.
            let _ = self.ioas.iopt.unmap_iova(iova, dma.size);
            self.dma_avail += 1;
        }
    }

    /// `VFIO_IOMMU_UNMAP_DMA` (`vfio_iommu_type1_unmap_dma`): `EFAULT`, then `EINVAL` for a
    /// short `argsz` or an unknown flag, or `GET_DIRTY_BITMAP` with `ALL` or `VADDR`; with
    /// `GET_DIRTY_BITMAP` the bitmap after the struct (`EINVAL` if `argsz` lacks it, `EFAULT`,
    /// `EINVAL` for a bad address or size). Then [`Self::do_unmap`]; on success the bytes
    /// unmapped are written back to `size` (`EFAULT`). On failure nothing is written back.
    pub(super) fn unmap_dma(&mut self, mem: &dyn UserMemory, arg: u64) -> Result<()> {
        let mask = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP
            | VFIO_DMA_UNMAP_FLAG_VADDR
            | VFIO_DMA_UNMAP_FLAG_ALL;
        let mut unmap: VfioIommuType1DmaUnmap = read_vfio(&mem, arg, UNMAP_MINSZ, mask)?;
        let dirty = unmap.flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP != 0;
        if dirty && unmap.flags & (VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR) != 0 {
            return Err(Errno::EINVAL);
        }
        let bitmap = if dirty {
            Some(Bitmap::read_after(
                mem,
                arg,
                unmap.argsz,
                UNMAP_MINSZ,
                unmap.size,
            )?)
        } else {
            None
        };
        unmap.size = self.do_unmap(mem, &unmap, bitmap.as_ref())?;
        mem.write(arg, &unmap.as_bytes()[..UNMAP_MINSZ])
    }

    /// `vfio_dma_do_unmap`: the bytes unmapped. `EINVAL` for an IOVA not aligned to the
    /// smallest page size; with `ALL` a nonzero IOVA or size is `EINVAL`; otherwise a zero or
    /// unaligned size is `EINVAL` and a wrapping range `EOVERFLOW`; with `GET_DIRTY_BITMAP`,
    /// `EINVAL` unless dirty logging is on and the bitmap's page size is the smallest. v2
    /// refuses (`EINVAL`) a range that cuts an entry at either end; v1 stops at the first
    /// entry that starts before `iova`, so a range from inside an entry unmaps nothing and
    /// succeeds, and an entry that starts inside the range goes whole. `VADDR` marks the
    /// entries' addresses invalid instead (`EINVAL`, undoing the marks of this call, if one
    /// is invalid already).
    fn do_unmap(
        &mut self,
        mem: &dyn UserMemory,
        unmap: &VfioIommuType1DmaUnmap,
        bitmap: Option<&Bitmap>,
    ) -> Result<u64> {
        let (iova, size) = (unmap.iova, unmap.size);
        let all = unmap.flags & VFIO_DMA_UNMAP_FLAG_ALL != 0;
        let vaddr = unmap.flags & VFIO_DMA_UNMAP_FLAG_VADDR != 0;
        let pgsize = self.min_pgsize();
        if iova & pgsize.wrapping_sub(1) != 0 {
            return Err(Errno::EINVAL);
        }
        let last = if all {
            if iova != 0 || size != 0 {
                return Err(Errno::EINVAL);
            }
            u64::MAX
        } else {
            if size == 0 || size & pgsize.wrapping_sub(1) != 0 {
                return Err(Errno::EINVAL);
            }
            iova.checked_add(size - 1).ok_or(Errno::EOVERFLOW)?
        };
        if let Some(b) = bitmap
            && (!self.dirty_tracking || b.pgsize != pgsize)
        {
            return Err(Errno::EINVAL);
        }
        if self.v2 && !all {
            self.check_not_bisected(iova, last)?;
        }
        // `vfio_find_dma_first_node`: the first entry overlapping the range.
        let first = self
            .find(iova, 1)
            .map(|(at, _)| at)
            .unwrap_or(iova)
            .min(iova);
        let targets: Vec<(u64, Dma)> = self
            .dmas
            .range(first..=last)
            .map(|(&a, &d)| (a, d))
            .filter(|&(a, d)| a.saturating_add(d.size) > iova)
            .collect();
        let mut unmapped = 0u64;
        let mut marked = Vec::new();
        for (at, dma) in targets {
            if !self.v2 && iova > at {
                break;
            }
            if vaddr {
                if dma.vaddr_invalid {
                    for m in marked {
                        if let Some(d) = self.dmas.get_mut(&m) {
                            d.vaddr_invalid = false;
                        }
                    }
                    return Err(Errno::EINVAL);
                }
                if let Some(d) = self.dmas.get_mut(&at) {
                    d.vaddr_invalid = true;
                }
                marked.push(at);
                unmapped += dma.size;
                continue;
            }
            if let Some(b) = bitmap {
                write_bits(mem, b, iova, at, dma.size, self.iommu_mapped())?;
            }
            unmapped += dma.size;
            self.remove(at);
        }
        Ok(unmapped)
    }

    /// v2's rule, also `GET_BITMAP`'s: no entry may stick out of `iova..=last` at either end
    /// (`EINVAL`).
    pub(super) fn check_not_bisected(&self, iova: u64, last: u64) -> Result<()> {
        if let Some((at, _)) = self.find(iova, 1)
            && at != iova
        {
            return Err(Errno::EINVAL);
        }
        if let Some((at, d)) = self.find(last, 1)
            && at + (d.size - 1) != last
        {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }
}
