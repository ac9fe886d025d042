//! `VFIO_IOMMU_MAP_DMA` and `VFIO_IOMMU_UNMAP_DMA` of a SPAPR container (`tce_iommu_ioctl`,
//! `tce_iommu_build`, `tce_iommu_build_v2`, `tce_iommu_clear`), on the type1 structs. The IOVA
//! is a bus address inside a window; sizes and addresses are in the window's IOMMU pages.
//! A v1 container pins each page as it maps it; a v2 container maps only pre-registered
//! memory. A mapping that fails partway is undone.

use super::Dir;
use super::container::TceContainer;
use super::table::TceTable;
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;

/// A `VFIO_IOMMU_MAP_DMA` request (`struct vfio_iommu_type1_dma_map`) whose `argsz` and flags
/// passed the ioctl's checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DmaMap {
    /// User address of the first page.
    pub vaddr: u64,
    /// Bus address of the first page.
    pub iova: u64,
    /// Bytes.
    pub size: u64,
    /// The direction READ and WRITE give; `None` for neither, which the backend refuses
    /// (`EINVAL`) only once the window and alignment checks passed.
    pub dir: Option<Dir>,
}

/// A `VFIO_IOMMU_UNMAP_DMA` request (`struct vfio_iommu_type1_dma_unmap`) whose `argsz` and
/// flags passed the ioctl's checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DmaUnmap {
    /// Bus address of the first page.
    pub iova: u64,
    /// Bytes.
    pub size: u64,
}

/// `iommu_tce_check_ioba`: `npages` from `ioba` inside the table, `ioba` page aligned.
fn check_ioba(t: &TceTable, ioba: u64, npages: u64) -> Result<()> {
    if ioba & ((1 << t.page_shift) - 1) != 0 {
        return Err(Errno::EINVAL);
    }
    let entry = ioba >> t.page_shift;
    if entry < t.offset {
        return Err(Errno::EINVAL);
    }
    match (entry - t.offset).checked_add(npages) {
        Some(end) if entry.checked_add(npages).is_some() && end <= t.size => Ok(()),
        _ => Err(Errno::EINVAL),
    }
}

impl TceContainer {
    /// `VFIO_IOMMU_MAP_DMA`: `EPERM` unless enabled (v1: `VFIO_IOMMU_ENABLE`; v2: memory
    /// registered), then `read` (the copy and its checks), the default window if pending, `ENXIO` if no window holds `iova`, `EINVAL` for a size or `vaddr` not
    /// in IOMMU pages, for neither READ nor WRITE, or for a range outside the window; then the
    /// pages: `EFAULT` if one cannot be pinned (v1), `EINVAL` if not pre-registered (v2),
    /// `EPERM` if backed by pages smaller than the IOMMU page.
    pub fn map_dma(&mut self, mm: u64, read: impl FnOnce() -> Result<DmaMap>) -> Result<()> {
        self.check_mm(mm)?;
        if !self.enabled {
            return Err(Errno::EPERM);
        }
        let p = read()?;
        self.create_default_window()?;
        let (_, t) = self.find_table(p.iova).ok_or(Errno::ENXIO)?;
        let mask = (1u64 << t.page_shift) - 1;
        if p.size & mask != 0 || p.vaddr & mask != 0 {
            return Err(Errno::EINVAL);
        }
        let dir = p.dir.ok_or(Errno::EINVAL)?;
        let npages = p.size >> t.page_shift;
        // The kernel checks the first page only; the rest would run past the table.
        check_ioba(&t, p.iova, npages.max(1))?;
        self.build(&t, p.iova >> t.page_shift, p.vaddr, npages, dir)
    }

    /// `tce_iommu_build` / `_v2`: all `pages` entries from `entry`, or none.
    fn build(&mut self, t: &TceTable, entry: u64, ua: u64, pages: u64, dir: Dir) -> Result<()> {
        let page = 1u64 << t.page_shift;
        for i in 0..pages {
            let at = ua + i * page;
            if let Err(e) = self.build_one(t, entry + i, at, dir) {
                self.clear(t, entry, i);
                return Err(e);
            }
        }
        Ok(())
    }

    fn build_one(&mut self, t: &TceTable, entry: u64, ua: u64, dir: Dir) -> Result<()> {
        let host = self.host.clone();
        let contained = |hpa: u64| host.memory.contiguity(hpa) >> t.page_shift != 0;
        if self.v2 {
            let r = self.prereg.lookup(ua, t.page_shift)?;
            if !contained(ua) {
                return Err(Errno::EPERM);
            }
            r.mapped += 1;
        } else {
            let write = dir != Dir::ToDevice;
            host.memory
                .check_pinnable(ua & !((1 << super::PAGE_SHIFT) - 1), 1, write)
                .map_err(|_| Errno::EFAULT)?;
            if !contained(ua) {
                return Err(Errno::EPERM);
            }
        }
        match t.xchg(entry, Some((ua, dir))) {
            Ok(old) => {
                if old.is_some() && self.v2 {
                    if let Some(old_ua) = t.userspace().remove(&entry) {
                        self.prereg.unuse(old_ua);
                    }
                }
                if self.v2 {
                    t.userspace().insert(entry, ua);
                }
                Ok(())
            }
            Err(e) => {
                if self.v2 {
                    self.prereg.unuse(ua);
                }
                Err(e)
            }
        }
    }

    /// `tce_iommu_clear`: `pages` entries from `entry` become invalid; the pages they held are
    /// unpinned (v1) or their regions' mapping counts drop (v2).
    pub(super) fn clear(&mut self, t: &TceTable, entry: u64, pages: u64) {
        let end = entry.saturating_add(pages);
        for e in t.valid_entries(entry, end) {
            if let Ok(Some(_)) = t.xchg(e, None) {
                if self.v2 {
                    if let Some(ua) = t.userspace().remove(&e) {
                        self.prereg.unuse(ua);
                    }
                }
            }
        }
    }

    /// `VFIO_IOMMU_UNMAP_DMA`: `EPERM` unless enabled, then `read` (the copy and its checks),
    /// the default window if pending, `ENXIO` if no window holds `iova`,
    /// `EINVAL` for a size not in IOMMU pages or a range outside the window. Entries already
    /// invalid are fine.
    pub fn unmap_dma(&mut self, mm: u64, read: impl FnOnce() -> Result<DmaUnmap>) -> Result<()> {
        self.check_mm(mm)?;
        if !self.enabled {
            return Err(Errno::EPERM);
        }
        let p = read()?;
        self.create_default_window()?;
        let (_, t) = self.find_table(p.iova).ok_or(Errno::ENXIO)?;
        if p.size & ((1u64 << t.page_shift) - 1) != 0 {
            return Err(Errno::EINVAL);
        }
        let npages = p.size >> t.page_shift;
        check_ioba(&t, p.iova, npages)?;
        self.clear(&t, p.iova >> t.page_shift, npages);
        Ok(())
    }
}
