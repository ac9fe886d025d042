//! Pre-registered memory of a v2 container (`arch/powerpc/mm/book3s64/iommu_api.c`,
//! `mm_iommu_*`): regions of the process's memory pinned and charged to its `locked_vm` once,
//! at `VFIO_IOMMU_SPAPR_REGISTER_MEMORY`, so that mapping only looks addresses up.
//!
//! The kernel keeps regions per address space and lists the ones a container registered; one
//! container per process is the case modelled, so the two lists are one, with a flag for a
//! region the container let go of while TCEs still used it (`tce_iommu_unregister_pages`
//! succeeds then, and the region stays until its mappings are gone and the container is).

use super::PAGE_SHIFT;
use crate::ioas::{PinAccount, PinMemory};
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;

const PAGE_MASK: u64 = (1 << PAGE_SHIFT) - 1;

/// A registered region (`struct mm_iommu_table_group_mem_t`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// First user address.
    pub ua: u64,
    /// Pages.
    pub entries: u64,
    /// The largest IOMMU page every part of the region can back (`pageshift`).
    pub pageshift: u32,
    /// TCEs pointing into it (`mapped`, less its bias).
    pub mapped: u64,
    /// On the container's list.
    listed: bool,
}

impl Region {
    fn end(&self) -> u64 {
        self.ua + (self.entries << PAGE_SHIFT)
    }
}

/// The regions.
#[derive(Debug, Default)]
pub struct Prereg {
    regions: Vec<Region>,
}

impl Prereg {
    fn exact(&mut self, ua: u64, entries: u64) -> Option<&mut Region> {
        self.regions
            .iter_mut()
            .find(|r| r.ua == ua && r.entries == entries)
    }

    /// `tce_iommu_register_pages`: `EINVAL` if unaligned or wrapping; a region registered
    /// before is `EBUSY` if listed (and listed again otherwise); a new one is charged
    /// (`ENOMEM`), pinned (`EFAULT`) and must not overlap another (`EINVAL`).
    pub fn register(
        &mut self,
        ua: u64,
        size: u64,
        mem: &dyn PinMemory,
        account: &dyn PinAccount,
    ) -> Result<()> {
        if ua & PAGE_MASK != 0 || size & PAGE_MASK != 0 || ua.checked_add(size).is_none() {
            return Err(Errno::EINVAL);
        }
        let entries = size >> PAGE_SHIFT;
        if let Some(r) = self.exact(ua, entries) {
            if r.listed {
                return Err(Errno::EBUSY);
            }
            r.listed = true;
            return Ok(());
        }
        account.charge(entries)?;
        let pinned = mem.check_pinnable(ua, entries, true).and_then(|()| {
            let overlaps = self
                .regions
                .iter()
                .any(|r| r.ua < ua + size && ua < r.end());
            if overlaps { Err(Errno::EINVAL) } else { Ok(()) }
        });
        if let Err(e) = pinned {
            account.uncharge(entries);
            return Err(e);
        }
        let mut pageshift = (ua | size).trailing_zeros().min(63);
        for page in 0..entries {
            let at = ua + (page << PAGE_SHIFT);
            pageshift = pageshift.min(mem.contiguity(at).max(1).ilog2());
        }
        self.regions.push(Region {
            ua,
            entries,
            pageshift,
            mapped: 0,
            listed: true,
        });
        Ok(())
    }

    /// `tce_iommu_unregister_pages`: `EINVAL` if unaligned, `ENOENT` unless exactly a listed
    /// region. A region still mapped is only taken off the list (and the call succeeds).
    pub fn unregister(&mut self, ua: u64, size: u64, account: &dyn PinAccount) -> Result<()> {
        if ua & PAGE_MASK != 0 || size & PAGE_MASK != 0 {
            return Err(Errno::EINVAL);
        }
        let entries = size >> PAGE_SHIFT;
        let r = self.exact(ua, entries).ok_or(Errno::ENOENT)?;
        if !r.listed {
            return Err(Errno::ENOENT);
        }
        if r.mapped > 0 {
            r.listed = false;
            return Ok(());
        }
        self.regions
            .retain(|r| !(r.ua == ua && r.entries == entries));
        account.uncharge(entries);
        Ok(())
    }

    /// `mm_iommu_lookup` + `mm_iommu_ua_to_hpa`: the region holding `ua..ua + 2^shift`, if
    /// its pages can back a `2^shift` IOMMU page; `EINVAL` otherwise
    /// (`tce_iommu_prereg_ua_to_hpa`).
    pub fn lookup(&mut self, ua: u64, shift: u32) -> Result<&mut Region> {
        let size = 1u64.checked_shl(shift).ok_or(Errno::EINVAL)?;
        let end = ua.checked_add(size).ok_or(Errno::EINVAL)?;
        let r = self
            .regions
            .iter_mut()
            .find(|r| r.ua <= ua && end <= r.end())
            .ok_or(Errno::EINVAL)?;
        if shift > r.pageshift {
            return Err(Errno::EINVAL);
        }
        Ok(r)
    }

    /// A TCE pointing at `ua` went away (`tce_iommu_unuse_page_v2`, `mm_iommu_mapped_dec`).
    pub fn unuse(&mut self, ua: u64) {
        if let Some(r) = self.regions.iter_mut().find(|r| r.ua <= ua && ua < r.end()) {
            r.mapped = r.mapped.saturating_sub(1);
        }
    }

    /// The container goes: every region is released and uncharged.
    pub fn release(&mut self, account: &dyn PinAccount) {
        for r in self.regions.drain(..) {
            account.uncharge(r.entries);
        }
    }

    /// The regions, for inspection.
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }
}
