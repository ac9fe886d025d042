//! Removing areas: `IOMMU_IOAS_UNMAP` (`ioas.c`: `iommufd_ioas_unmap`; `io_pagetable.c`:
//! `iopt_unmap_iova`, `iopt_unmap_all`, `iopt_unmap_iova_range`; `device.c`:
//! `iommufd_access_notify_unmap`).

use super::IoPagetable;
use super::fill::unfill_area;
use uiommu_uapi::{Errno, errno::Result};

/// How many times unmap asks the accesses of one area to let go before giving up with
/// `EDEADLK` (the kernel's `tries > 100`).
const MAX_NOTIFY_TRIES: u32 = 100;

impl IoPagetable {
    /// `IOMMU_IOAS_UNMAP`: `iova == 0 && length == u64::MAX` unmaps everything (0 bytes is
    /// success). Otherwise `EOVERFLOW` if either is `u64::MAX`, then [`Self::unmap_iova`], and
    /// `ENOENT` if nothing was unmapped. Returns the bytes unmapped.
    pub fn unmap(&self, iova: u64, length: u64) -> Result<u64> {
        if iova == 0 && length == u64::MAX {
            return self.unmap_all();
        }
        if iova == u64::MAX || length == u64::MAX {
            return Err(Errno::EOVERFLOW);
        }
        match self.unmap_iova(iova, length)? {
            0 => Err(Errno::ENOENT),
            n => Ok(n),
        }
    }

    /// `iopt_unmap_all`: unmaps every area; an empty IOAS gives `Ok(0)`.
    pub fn unmap_all(&self) -> Result<u64> {
        counted_result(self.unmap_range(0, u64::MAX))
    }

    /// [`Self::unmap_all`] that also reports the bytes removed before an error, as
    /// `iopt_unmap_all`'s `unmapped` does (VFIO's UNMAP_DMA reports them on failure).
    pub fn unmap_all_counted(&self) -> (u64, Result<()>) {
        self.unmap_range(0, u64::MAX)
    }

    /// [`Self::unmap_iova`] that also reports the bytes removed before an error.
    pub fn unmap_iova_counted(&self, iova: u64, length: u64) -> (u64, Result<()>) {
        if length == 0 {
            return (0, Err(Errno::EINVAL));
        }
        match iova.checked_add(length - 1) {
            Some(last) => self.unmap_range(iova, last),
            None => (0, Err(Errno::EOVERFLOW)),
        }
    }

    /// `iopt_unmap_iova`: `EINVAL` for a zero length, `EOVERFLOW` if the range wraps, then
    /// unmaps every area inside `iova..iova + length`; 0 bytes is not an error here.
    pub fn unmap_iova(&self, iova: u64, length: u64) -> Result<u64> {
        if length == 0 {
            return Err(Errno::EINVAL);
        }
        let last = iova.checked_add(length - 1).ok_or(Errno::EOVERFLOW)?;
        counted_result(self.unmap_range(iova, last))
    }

    /// `iopt_unmap_iova_range`: removes areas from the lowest up. An area locked by an internal
    /// access is `EBUSY`; one that sticks out of the range is `ENOENT`. An area that accesses
    /// have pinned is closed to new pins, every access is told to unmap it (with no lock held),
    /// and the walk restarts there; after 100 fruitless rounds on one area it fails with
    /// `EDEADLK`. Areas removed before an error stay removed, as in the kernel, and are counted
    /// in the bytes returned with the outcome.
    fn unmap_range(&self, start: u64, last: u64) -> (u64, Result<()>) {
        let mut start = start;
        let mut unmapped = 0u64;
        let mut tries = 0u32;
        loop {
            let mut g = self.write();
            let notify = loop {
                let Some(area) = g.areas.first_in(start, last) else {
                    return (unmapped, Ok(()));
                };
                let (first, area_last) = (area.iova, area.last);
                if area.num_locks != 0 {
                    return (unmapped, Err(Errno::EBUSY));
                }
                if first < start || area_last > last {
                    return (unmapped, Err(Errno::ENOENT));
                }
                if first != start {
                    tries = 0;
                }
                if area.num_accesses != 0 {
                    start = first;
                    if let Some(a) = g.areas.get_mut(first) {
                        a.prevent_access = true;
                    }
                    break (first, area_last - first + 1, g.notifiers());
                }
                if let Some(area) = g.areas.remove(first) {
                    unfill_area(&g, &area);
                }
                unmapped += area_last - first + 1;
                if area_last >= last {
                    return (unmapped, Ok(()));
                }
                start = area_last + 1;
            };
            drop(g);
            let (iova, length, notifiers) = notify;
            for n in notifiers {
                n.unmap(iova, length);
            }
            tries += 1;
            if tries > MAX_NOTIFY_TRIES {
                return (unmapped, Err(Errno::EDEADLK));
            }
        }
    }
}

fn counted_result((bytes, result): (u64, Result<()>)) -> Result<u64> {
    result.map(|()| bytes)
}
