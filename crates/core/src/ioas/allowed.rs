//! Allowed IOVA ranges (`ioas.c`: `iommufd_ioas_allow_iovas`, `iommufd_ioas_load_iovas`;
//! `io_pagetable.c`: `iopt_set_allow_iova`).
//!
//! They only steer automatic IOVA allocation; fixed mappings and existing areas are not
//! checked against them. They must not intersect a reserved range, and a reservation must not
//! intersect them.

use super::IoPagetable;
use super::range_count::RangeCount;
use uiommu_uapi::{Errno, errno::Result};

impl IoPagetable {
    /// `IOMMU_IOAS_ALLOW_IOVAS` with the ranges already read from user memory: replaces the
    /// allowed set atomically. `EINVAL` for a range with `start >= last` or overlapping an earlier
    /// one of the list (checked in order), then `EADDRINUSE` if any intersects a reserved range.
    /// An empty list lifts the restriction.
    pub fn set_allow_iovas(&self, ranges: &[(u64, u64)]) -> Result<()> {
        let mut new = RangeCount::new();
        for &(start, last) in ranges {
            if start >= last || new.intersects(start, last) {
                return Err(Errno::EINVAL);
            }
            new.add(start, last);
        }
        let mut g = self.write();
        if ranges
            .iter()
            .any(|&(s, l)| g.reserved.cover.intersects(s, l))
        {
            return Err(Errno::EADDRINUSE);
        }
        g.allowed = new;
        Ok(())
    }

    /// The allowed ranges, adjacent ones merged, ascending; empty when unrestricted.
    pub fn allowed_iovas(&self) -> Vec<(u64, u64)> {
        self.read().allowed.used(0, u64::MAX)
    }
}
