//! Creating areas: `IOMMU_IOAS_MAP`, `IOMMU_IOAS_MAP_FILE` and `IOMMU_IOAS_COPY`
//! (`io_pagetable.c`: `iopt_map_user_pages`, `iopt_map_file_pages`, `iopt_map_pages`,
//! `iopt_alloc_area_pages`, `iopt_insert_area`, `iopt_get_pages`).

use super::area::Area;
use super::fill::{fill_area, unfill_area};
use super::pages::{FileBacking, PAGE_SIZE, Pages, PinOwner};
use super::{Inner, IoPagetable};
use crate::iommu::Prot;
use std::sync::Arc;
use uiommu_uapi::{Errno, errno::Result};

/// Where a new mapping goes: `IOMMU_IOAS_MAP_FIXED_IOVA` with its IOVA, or chosen by the IOAS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Iova {
    /// Exactly here.
    Fixed(u64),
    /// Allocated (`IOPT_ALLOC_IOVA`).
    Auto,
}

/// A slice of a pages object that becomes one area (`struct iopt_pages_list`).
pub(crate) struct Slice {
    pub(crate) pages: Arc<Pages>,
    pub(crate) start_byte: u64,
    pub(crate) length: u64,
}

impl IoPagetable {
    /// `iopt_map_user_pages`: maps `length` bytes of user memory at `uva`. With domains
    /// attached the pages are pinned (and charged to `owner`) now; without, only when an
    /// access pins them. Returns the IOVA.
    ///
    /// Errors in order: `EOVERFLOW` if `uva + length` wraps; `EINVAL` for a zero or huge
    /// length, or a length not aligned to [`Self::iova_alignment`]; then those of the IOVA
    /// choice (see `alloc_iova` and `check_iova`), `EINVAL` if `uva`'s in-page offset is not
    /// aligned, and pinning (`EFAULT`, `ENOMEM`) or domain errors.
    pub fn map_user(
        &self,
        iova: Iova,
        uva: u64,
        length: u64,
        prot: Prot,
        owner: &PinOwner,
    ) -> Result<u64> {
        let (pages, start_byte) =
            Pages::new_user(uva, length, prot.contains(Prot::WRITE), owner.clone())?;
        self.map_one(pages, start_byte, length, iova, prot)
    }

    /// `iopt_map_file_pages`: maps `length` bytes of `file` from byte `start`. `EINVAL` for a
    /// zero length, `EOVERFLOW` if `start + length - 1` wraps, then as [`Self::map_user`]. The
    /// automatic IOVA is aligned like the file offset.
    pub fn map_file(
        &self,
        iova: Iova,
        file: Arc<dyn FileBacking>,
        start: u64,
        length: u64,
        prot: Prot,
        owner: &PinOwner,
    ) -> Result<u64> {
        check_file_range(start, length)?;
        let writable = prot.contains(Prot::WRITE);
        let (pages, start_byte) = Pages::new_file(file, start, length, writable, owner.clone())?;
        self.map_one(pages, start_byte, length, iova, prot)
    }

    /// Maps `length` bytes of one pages object from `start_byte`.
    pub(crate) fn map_one(
        &self,
        pages: Arc<Pages>,
        start_byte: u64,
        length: u64,
        iova: Iova,
        prot: Prot,
    ) -> Result<u64> {
        let slice = Slice {
            pages,
            start_byte,
            length,
        };
        self.map_pages(vec![slice], length, iova, prot)
    }

    /// `IOMMU_IOAS_COPY` after the command checks: maps into `self` the pages that `src` maps
    /// at `src_iova..src_iova + length`, sharing them (no new pins for pages already pinned).
    /// `src` may be `self`. The source range must be covered by areas without a gap
    /// (`iopt_get_pages`: `EINVAL` for zero length, `EOVERFLOW` on wrap, `ENOENT` for a gap), but
    /// may start or end inside an area; then as [`Self::map_user`], plus `EPERM` when asking to
    /// write pages that were mapped read-only.
    pub fn copy(
        &self,
        src: &IoPagetable,
        src_iova: u64,
        length: u64,
        dst_iova: Iova,
        prot: Prot,
    ) -> Result<u64> {
        let slices = src.get_pages(src_iova, length)?;
        self.map_pages(slices, length, dst_iova, prot)
    }

    /// `iopt_get_pages`.
    fn get_pages(&self, iova: u64, length: u64) -> Result<Vec<Slice>> {
        if length == 0 {
            return Err(Errno::EINVAL);
        }
        let last = iova.checked_add(length - 1).ok_or(Errno::EOVERFLOW)?;
        let g = self.read();
        let (steps, done) = g.areas.contig(iova, last);
        if !done {
            return Err(Errno::ENOENT);
        }
        Ok(steps
            .iter()
            .filter_map(|s| {
                let a = g.areas.get(s.area)?;
                Some(Slice {
                    pages: a.pages.clone(),
                    start_byte: a.byte_of(s.cur),
                    length: s.last - s.cur + 1,
                })
            })
            .collect())
    }

    /// Tracks every dma-buf among `slices` as mapped by this IOAS.
    fn track_dmabufs(&self, slices: &[Slice]) {
        for s in slices {
            if let Some(imported) = s.pages.dmabuf() {
                imported.track(&self.inner);
            }
        }
    }

    /// `iopt_map_pages`: places the slices back to back from the chosen IOVA, fills the
    /// domains, and only then makes the areas visible. Nothing changes on failure.
    pub(crate) fn map_pages(
        &self,
        slices: Vec<Slice>,
        length: u64,
        iova: Iova,
        prot: Prot,
    ) -> Result<u64> {
        self.track_dmabufs(&slices);
        let mut g = self.write();
        let inner = &mut *g;
        if length & (inner.iova_alignment - 1) != 0 || length == 0 {
            return Err(Errno::EINVAL);
        }
        let first = slices.first().ok_or(Errno::EINVAL)?;
        let start = match iova {
            Iova::Auto => inner.alloc_iova(first.pages.align_hint(first.start_byte), length)?,
            Iova::Fixed(iova) => {
                inner.check_iova(iova, length)?;
                iova
            }
        };
        let mut areas = Vec::with_capacity(slices.len());
        let mut at = start;
        for s in slices {
            // `iopt_alloc_area`.
            crate::fail_nth::alloc()?;
            let area = inner.new_area(s, at, prot)?;
            at = area.last.wrapping_add(1);
            areas.push(area);
        }
        for (i, area) in areas.iter().enumerate() {
            if let Err(e) = fill_area(inner, area) {
                for done in &areas[..i] {
                    unfill_area(inner, done);
                }
                return Err(e);
            }
        }
        for area in areas {
            inner.areas.insert(area);
        }
        Ok(start)
    }
}

/// `iopt_map_file_pages`'s first checks: `EINVAL` for a zero length, `EOVERFLOW` if
/// `start + length - 1` wraps.
pub(crate) fn check_file_range(start: u64, length: u64) -> Result<()> {
    if length == 0 {
        return Err(Errno::EINVAL);
    }
    start.checked_add(length - 1).ok_or(Errno::EOVERFLOW)?;
    Ok(())
}

impl Inner {
    /// `iopt_insert_area`'s checks: `EPERM` for a writable mapping of read-only pages,
    /// `EINVAL` for an unaligned in-page offset, `EOVERFLOW` for a wrapping range.
    fn new_area(&self, s: Slice, iova: u64, prot: Prot) -> Result<Area> {
        if prot.contains(Prot::WRITE) && !s.pages.writable {
            return Err(Errno::EPERM);
        }
        if (s.start_byte % PAGE_SIZE) & (self.iova_alignment - 1) != 0 {
            return Err(Errno::EINVAL);
        }
        let len_m1 = s.length.checked_sub(1).ok_or(Errno::EINVAL)?;
        let last = iova.checked_add(len_m1).ok_or(Errno::EOVERFLOW)?;
        let last_byte = s.start_byte.checked_add(len_m1).ok_or(Errno::EOVERFLOW)?;
        if last_byte / PAGE_SIZE >= s.pages.npages() {
            return Err(Errno::EOVERFLOW);
        }
        // A new area over a revoked import starts out unmapped.
        let revoked = s.pages.dmabuf_revoked();
        Ok(Area {
            iova,
            last,
            pages: s.pages,
            start_byte: s.start_byte,
            prot,
            prevent_access: false,
            num_accesses: 0,
            num_locks: 0,
            revoked,
        })
    }
}
