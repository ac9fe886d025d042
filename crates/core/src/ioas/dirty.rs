//! Dirty tracking through the IOAS (`io_pagetable.c`: `iopt_read_and_clear_dirty_data`,
//! `iommufd_check_iova_range`, `iommu_read_and_clear_dirty`, `iopt_set_dirty_tracking`,
//! `iopt_clear_dirty_data`).

use super::IoPagetable;
use crate::iommu::domain::{DirtyRecorder, IoptDomain};
use uiommu_uapi::{Errno, errno::Result};

/// Discards what it is given: clearing dirty bits without reporting them.
struct Discard;

impl DirtyRecorder for Discard {
    fn record(&mut self, _iova: u64, _length: u64) {}
}

impl IoPagetable {
    /// `iommufd_check_iova_range` for `IOMMU_HWPT_GET_DIRTY_BITMAP`: `EINVAL` for a zero length,
    /// `EOVERFLOW` if the range wraps, `EINVAL` if its start or end is not aligned to the IOAS
    /// alignment, `EINVAL` for a zero `page_size` or ends not aligned to it.
    pub fn check_dirty_range(&self, iova: u64, length: u64, page_size: u64) -> Result<()> {
        if length == 0 {
            return Err(Errno::EINVAL);
        }
        let last = iova.checked_add(length - 1).ok_or(Errno::EOVERFLOW)?;
        let align = self.iova_alignment();
        // `last + 1` wraps to 0 for a range ending at the top, which every mask accepts.
        let end = last.wrapping_add(1);
        if iova & (align - 1) != 0 || end & (align - 1) != 0 {
            return Err(Errno::EINVAL);
        }
        if page_size == 0 {
            return Err(Errno::EINVAL);
        }
        let mask = page_size.wrapping_sub(1);
        if iova & mask != 0 || end & mask != 0 {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }

    /// `iopt_read_and_clear_dirty_data`: after [`Self::check_dirty_range`], `EOPNOTSUPP` if the
    /// domain has no dirty tracking; then asks the domain about each run of areas that covers
    /// the range contiguously from `iova`. Like the kernel (whose `iova_bitmap_for_each` result
    /// is dropped), a gap or a domain error ends the walk but is not reported.
    pub fn read_and_clear_dirty(
        &self,
        domain: &dyn IoptDomain,
        iova: u64,
        length: u64,
        page_size: u64,
        no_clear: bool,
        bitmap: &mut dyn DirtyRecorder,
    ) -> Result<()> {
        self.check_dirty_range(iova, length, page_size)?;
        if !domain.has_dirty_tracking() {
            return Err(Errno::EOPNOTSUPP);
        }
        let last = iova + (length - 1);
        let g = self.read();
        let (steps, _done) = g.areas.contig(iova, last);
        for s in steps {
            if domain
                .read_and_clear_dirty(s.cur, s.last - s.cur + 1, no_clear, bitmap)
                .is_err()
            {
                break;
            }
        }
        Ok(())
    }

    /// `iopt_set_dirty_tracking`: `EOPNOTSUPP` without dirty tracking; enabling first clears
    /// the dirty state of every area so tracking starts from a clean snapshot.
    pub fn set_dirty_tracking(&self, domain: &dyn IoptDomain, enable: bool) -> Result<()> {
        if !domain.has_dirty_tracking() {
            return Err(Errno::EOPNOTSUPP);
        }
        let g = self.read();
        if enable {
            for a in g.areas.iter() {
                domain.read_and_clear_dirty(a.iova, a.len(), false, &mut Discard)?;
            }
        }
        domain.set_dirty_tracking(enable)
    }
}
