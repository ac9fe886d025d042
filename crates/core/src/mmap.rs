//! Regions of a context that the caller maps with `mmap(2)` on the iommufd fd
//! (`main.c`: `ictx->mt_mmap`, `iommufd_fops_mmap`; `driver.c`: `_iommufd_alloc_mmap`,
//! `_iommufd_destroy_mmap`).
//!
//! A driver registers memory it shares with the caller (the mock vIOMMU's page, a vSMMU's
//! command queue page) and reports the offset to pass to `mmap`. Offsets are allocated like the
//! kernel's maple tree range allocation: the lowest free range of the region's length at or
//! above one page (offset 0 is never handed out). A mapping holds a user of the region's owner
//! object, so the owner cannot be destroyed while it is mapped.

use crate::object_table::{AnyObjRef, AnyWeakObj};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use uiommu_uapi::user::USER_PAGE_SIZE as PAGE_SIZE;
use uiommu_uapi::{Errno, errno::Result};

/// One page-aligned page of shared memory. Its bytes are atomics because the caller writes
/// them through its own mapping while uiommu may read them.
#[repr(C, align(4096))]
struct Page([AtomicU8; PAGE_SIZE as usize]);

/// Page-aligned memory that a driver shares with the caller through `mmap`: the "MMIO" a
/// region maps (`mmio_addr`). In uiommu its address is a host address of this process.
pub struct MmioPages {
    pages: Box<[Page]>,
}

impl std::fmt::Debug for MmioPages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MmioPages")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl MmioPages {
    /// `npages` zeroed pages (`__get_free_pages(__GFP_ZERO)`).
    pub fn new(npages: usize) -> Self {
        let pages = (0..npages)
            .map(|_| Page(std::array::from_fn(|_| AtomicU8::new(0))))
            .collect();
        MmioPages { pages }
    }

    /// Length in bytes.
    pub fn len(&self) -> u64 {
        self.pages.len() as u64 * PAGE_SIZE
    }

    /// Whether there are no pages.
    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }

    /// The host address of the first byte.
    pub fn addr(&self) -> u64 {
        self.pages.as_ptr() as u64
    }

    fn byte(&self, off: u64) -> Option<&AtomicU8> {
        let page = self.pages.get(usize::try_from(off / PAGE_SIZE).ok()?)?;
        page.0.get((off % PAGE_SIZE) as usize)
    }

    /// Stores `data` at byte `off`; `EINVAL` past the end.
    pub fn write(&self, off: u64, data: &[u8]) -> Result<()> {
        for (i, &b) in data.iter().enumerate() {
            self.byte(off + i as u64)
                .ok_or(Errno::EINVAL)?
                .store(b, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Loads `buf.len()` bytes from byte `off`; `EINVAL` past the end.
    pub fn read(&self, off: u64, buf: &mut [u8]) -> Result<()> {
        for (i, b) in buf.iter_mut().enumerate() {
            *b = self
                .byte(off + i as u64)
                .ok_or(Errno::EINVAL)?
                .load(Ordering::Relaxed);
        }
        Ok(())
    }
}

/// A registered region (`struct iommufd_mmap`).
#[derive(Debug)]
struct Region {
    owner: AnyWeakObj,
    length: u64,
    pages: Arc<MmioPages>,
}

/// The mmap regions of a context, by offset.
#[derive(Debug, Default)]
pub struct MmapRegistry {
    regions: Mutex<BTreeMap<u64, Region>>,
}

/// A live mapping of a region: holds a user of its owner (`iommufd_fops_vma_open`) until
/// dropped (`iommufd_fops_vma_close`).
#[derive(Debug)]
pub struct MmapHold {
    _owner: AnyObjRef,
    pages: Arc<MmioPages>,
}

impl MmapHold {
    /// The host address the mapping shows.
    pub fn addr(&self) -> u64 {
        self.pages.addr()
    }

    /// The mapped length.
    pub fn len(&self) -> u64 {
        self.pages.len()
    }

    /// Whether the mapping is empty (never: regions are at least a page).
    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }
}

impl MmapRegistry {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Region>> {
        self.regions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `_iommufd_alloc_mmap`: registers `pages` for `owner` and returns its offset. `EINVAL`
    /// for an empty region; `EBUSY` if no offset range is free (`mtree_alloc_range`).
    pub fn alloc(&self, owner: &AnyObjRef, pages: Arc<MmioPages>) -> Result<u64> {
        let length = pages.len();
        if length == 0 {
            return Err(Errno::EINVAL);
        }
        let mut regions = self.lock();
        // Lowest gap of `length` bytes at or above the first page.
        let mut start = PAGE_SIZE;
        for (&off, r) in regions.iter() {
            if off >= start && off - start >= length {
                break;
            }
            start = start.max(off.checked_add(r.length).ok_or(Errno::EBUSY)?);
        }
        start.checked_add(length - 1).ok_or(Errno::EBUSY)?;
        regions.insert(
            start,
            Region {
                owner: owner.downgrade(),
                length,
                pages,
            },
        );
        Ok(start)
    }

    /// `_iommufd_destroy_mmap`.
    pub fn destroy(&self, offset: u64) {
        self.lock().remove(&offset);
    }

    /// `iommufd_fops_mmap` after the generic checks: the region must start exactly at `offset`
    /// and be exactly `length` bytes (the page-rounded length of the mapping), and its owner
    /// must be live. `ENXIO` otherwise.
    pub fn map(&self, offset: u64, length: u64) -> Result<MmapHold> {
        let (start, region_length, owner, pages) = {
            let regions = self.lock();
            let (&start, region) = regions
                .range(..=offset)
                .next_back()
                .filter(|(s, r)| offset - **s < r.length)
                .ok_or(Errno::ENXIO)?;
            (
                start,
                region.length,
                region.owner.clone(),
                region.pages.clone(),
            )
        };
        // Upgraded and possibly let go outside the lock: the last reference to an owner
        // destroys it, which unregisters its regions.
        let owner = owner.upgrade().ok_or(Errno::ENXIO)?;
        if start != offset || region_length != length {
            return Err(Errno::ENXIO);
        }
        Ok(MmapHold {
            _owner: owner,
            pages,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object_table::ObjectTable;

    /// An object of a table whose bodies are names.
    fn named(table: &ObjectTable<String>) -> AnyObjRef {
        table.reserve().unwrap().finalize("owner".into()).erase()
    }

    fn pages(n: usize) -> Arc<MmioPages> {
        Arc::new(MmioPages::new(n))
    }

    #[test]
    fn offsets_are_the_lowest_fit_from_the_second_page() {
        let table = ObjectTable::<String>::default();
        let owner = named(&table);
        let r = MmapRegistry::default();
        assert_eq!(r.alloc(&owner, pages(2)), Ok(PAGE_SIZE));
        assert_eq!(r.alloc(&owner, pages(1)), Ok(3 * PAGE_SIZE));
        assert_eq!(r.alloc(&owner, pages(1)), Ok(4 * PAGE_SIZE));
        r.destroy(PAGE_SIZE);
        assert_eq!(
            r.alloc(&owner, pages(3)),
            Ok(5 * PAGE_SIZE),
            "the gap is too small"
        );
        assert_eq!(r.alloc(&owner, pages(1)), Ok(PAGE_SIZE));
        assert_eq!(r.alloc(&owner, pages(0)), Err(Errno::EINVAL));
    }

    #[test]
    fn only_the_exact_region_maps_and_the_owner_stays_in_use() {
        let table = ObjectTable::<String>::default();
        let owner = named(&table);
        let id = owner.id();
        let r = MmapRegistry::default();
        let p = pages(2);
        p.write(4, &[7, 8]).unwrap();
        let off = r.alloc(&owner, p).unwrap();
        drop(owner);
        assert_eq!(
            r.map(off + PAGE_SIZE, 2 * PAGE_SIZE).err(),
            Some(Errno::ENXIO)
        );
        assert_eq!(r.map(off, PAGE_SIZE).err(), Some(Errno::ENXIO));
        let hold = r.map(off, 2 * PAGE_SIZE).unwrap();
        let mut b = [0u8; 2];
        hold.pages.read(4, &mut b).unwrap();
        assert_eq!(b, [7, 8]);
        assert_eq!(table.remove(id, false).err(), Some(Errno::EBUSY));
        drop(hold);
        table.remove(id, false).unwrap();
        assert_eq!(r.map(off, 2 * PAGE_SIZE).err(), Some(Errno::ENXIO));
    }
}
