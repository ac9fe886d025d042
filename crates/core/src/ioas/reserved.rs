//! Reserved IOVA ranges (`io_pagetable.c`: `iopt_reserve_iova`, `iopt_remove_reserved_iova`,
//! `iopt_table_enforce_dev_resv_regions`; `ioas.c`: `iommufd_ioas_iova_ranges`).
//!
//! Domains reserve what lies outside their aperture, devices their reserved regions, the
//! selftest `IOMMU_TEST_OP_ADD_RESERVED` anything. Reserved ranges may overlap one another; they
//! must not overlap an area or an allowed range.

use super::range_count::RangeCount;
use super::{Inner, IoPagetable};
use uiommu_uapi::{Errno, errno::Result};

/// Who placed a reservation; all of an owner's reservations go together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Owner {
    /// An attached domain's aperture, keyed by the domain's address.
    Domain(usize),
    /// A caller-chosen owner (a device, or 0 for the selftest's `NULL`).
    External(u64),
}

#[derive(Default)]
pub(crate) struct Reserved {
    list: Vec<(u64, u64, Owner)>,
    pub(crate) cover: RangeCount,
}

impl Reserved {
    fn insert(&mut self, start: u64, last: u64, owner: Owner) {
        self.list.push((start, last, owner));
        self.cover.add(start, last);
    }

    /// `__iopt_remove_reserved_iova`.
    pub(crate) fn remove_owner(&mut self, owner: Owner) {
        let cover = &mut self.cover;
        self.list.retain(|&(s, l, o)| {
            if o == owner {
                cover.remove(s, l);
            }
            o != owner
        });
    }
}

impl Inner {
    /// `iopt_reserve_iova`: `EADDRINUSE` if an area or an allowed range intersects.
    pub(crate) fn reserve_checked(&mut self, start: u64, last: u64, owner: Owner) -> Result<()> {
        if start > last {
            return Err(Errno::EINVAL);
        }
        if self.areas.first_in(start, last).is_some() || self.allowed.intersects(start, last) {
            return Err(Errno::EADDRINUSE);
        }
        self.reserved.insert(start, last, owner);
        Ok(())
    }
}

impl IoPagetable {
    /// Reserves `start..=last` for `owner` (`iopt_reserve_iova`); `EADDRINUSE` over an area or
    /// an allowed range, `EINVAL` if `start > last`.
    pub fn reserve(&self, start: u64, last: u64, owner: u64) -> Result<()> {
        self.write()
            .reserve_checked(start, last, Owner::External(owner))
    }

    /// Reserves every range or none (`iopt_table_enforce_dev_resv_regions`): on a failure the
    /// owner's reservations made so far, and any it had before, are removed, as the kernel
    /// removes everything the device reserved.
    pub fn reserve_all(&self, ranges: &[(u64, u64)], owner: u64) -> Result<()> {
        let mut g = self.write();
        for &(start, last) in ranges {
            if let Err(e) = g.reserve_checked(start, last, Owner::External(owner)) {
                g.reserved.remove_owner(Owner::External(owner));
                return Err(e);
            }
        }
        Ok(())
    }

    /// `IOMMU_TEST_OP_ADD_RESERVED` (`iommufd_test_add_reserved`): `EINVAL` for a zero length,
    /// `EOVERFLOW` if the range wraps, then [`Self::reserve`] with the `NULL` owner 0.
    pub fn add_reserved(&self, start: u64, length: u64) -> Result<()> {
        if length == 0 {
            return Err(Errno::EINVAL);
        }
        let last = start.checked_add(length - 1).ok_or(Errno::EOVERFLOW)?;
        self.reserve(start, last, 0)
    }

    /// Drops every reservation of `owner` (`iopt_remove_reserved_iova`).
    pub fn remove_reserved(&self, owner: u64) {
        self.write().reserved.remove_owner(Owner::External(owner));
    }

    /// `IOMMU_IOAS_IOVA_RANGES`: the gaps between reserved ranges over the whole `u64` space,
    /// ascending. Domain apertures show because they are reserved outside; allowed ranges do
    /// not restrict this list.
    pub fn iova_ranges(&self) -> Vec<(u64, u64)> {
        self.read().reserved.cover.holes(0, u64::MAX)
    }

    /// Reserved ranges merged, ascending (for inspection and tests).
    pub fn reserved_ranges(&self) -> Vec<(u64, u64)> {
        self.read().reserved.cover.used(0, u64::MAX)
    }

    /// `out_iova_alignment` of `IOMMU_IOAS_IOVA_RANGES`: what every IOVA, length and in-page
    /// offset of a new mapping must be aligned to.
    pub fn iova_alignment(&self) -> u64 {
        self.read().iova_alignment
    }
}
