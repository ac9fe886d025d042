//! The I/O address space (`drivers/iommu/iommufd/io_pagetable.c`, `pages.c`, `ioas.c`).
//!
//! An [`IoPagetable`] holds the areas (IOVA ranges mapped to user memory or to a file range),
//! the allowed and reserved IOVA ranges, the attached paging domains it keeps filled with every
//! area, and the accesses (in-process users that pin or copy through IOVAs). Each IOAS has its
//! own lock; pages objects shared between IOASes by `IOMMU_IOAS_COPY` have theirs.
//!
//! Errors are the kernel's errno for the same request, with the kernel's order of checks; each
//! method names the kernel function it follows.
//!
//! Lock order: an IOAS lock, then a pages object's lock, then the owner's [`PinRegistry`]. A
//! dma-buf revoke takes the IOAS locks one at a time, holding none of the others.
//! Access callbacks run with no lock held.

mod access_list;
mod account;
mod alloc;
mod allowed;
mod area;
mod dirty;
mod dmabuf;
mod dmabuf_import;
mod fill;
mod map;
mod pages;
mod range_count;
mod reserved;
mod split;
mod unmap;

#[cfg(test)]
mod tests;

pub use access_list::{AccessFlags, AccessId, AccessNotify};
pub use account::{LockedVm, NoAccount, PinAccount, RlimitMode};
pub use alloc::HPAGE_SIZE;
pub use area::AreaInfo;
pub use dmabuf_import::{DmaBuf, DmaBufImporter};
pub use map::Iova;
pub use pages::{FileBacking, PAGE_SIZE, PinMemory, PinOwner, PinRegistry, ProbeMemory};

use crate::iommu::IoptDomain;
use access_list::AccessEntry;
use area::Areas;
use range_count::RangeCount;
use reserved::Reserved;
use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use uiommu_uapi::{Errno, errno::Result};

/// One IOAS's translation state: the kernel's `struct io_pagetable`.
#[derive(Default)]
pub struct IoPagetable {
    /// Shared with the dma-bufs the IOAS maps, which reach it to revoke their areas.
    inner: Arc<RwLock<Inner>>,
}

pub(crate) struct Inner {
    areas: Areas,
    /// Allowed ranges; empty means unrestricted.
    allowed: RangeCount,
    reserved: Reserved,
    domains: Vec<Arc<dyn IoptDomain>>,
    accesses: BTreeMap<u32, AccessEntry>,
    /// `iova_alignment`: 1 for a table with no domain (`iopt_init_table`).
    iova_alignment: u64,
    /// `IOMMU_OPTION_HUGE_PAGES` = 0.
    disable_large_pages: bool,
}

impl Default for Inner {
    fn default() -> Self {
        Self {
            areas: Areas::default(),
            allowed: RangeCount::new(),
            reserved: Reserved::default(),
            domains: Vec::new(),
            accesses: BTreeMap::new(),
            iova_alignment: 1,
            disable_large_pages: false,
        }
    }
}

impl IoPagetable {
    /// An empty IOAS (`iopt_init_table`).
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every area, ascending by IOVA.
    pub fn areas(&self) -> Vec<AreaInfo> {
        self.read().areas.iter().map(|a| a.info()).collect()
    }

    /// Whether every area is backed by a file (what `IOMMU_IOAS_CHANGE_PROCESS` requires).
    pub fn all_areas_file_backed(&self) -> bool {
        self.read().areas.iter().all(|a| a.pages.is_file())
    }

    /// `IOMMU_OPTION_HUGE_PAGES` get: whether large IOPTEs are allowed.
    pub fn huge_pages(&self) -> bool {
        !self.read().disable_large_pages
    }

    /// `IOMMU_OPTION_HUGE_PAGES` set (`iopt_enable_large_pages`, `iopt_disable_large_pages`).
    /// Disabling forces `PAGE_SIZE` alignment and maps domains page by page; it is refused with
    /// `EINVAL` while a domain and an area both exist, and with `EADDRINUSE` if an area is not
    /// `PAGE_SIZE` aligned.
    pub fn set_huge_pages(&self, enable: bool) -> Result<()> {
        let mut g = self.write();
        if enable {
            g.disable_large_pages = false;
            // Alignment can only shrink.
            let _ = g.recalc_alignment();
            return Ok(());
        }
        if g.disable_large_pages {
            return Ok(());
        }
        if !g.domains.is_empty() && !g.areas.is_empty() {
            return Err(Errno::EINVAL);
        }
        g.disable_large_pages = true;
        if let Err(e) = g.recalc_alignment() {
            g.disable_large_pages = false;
            return Err(e);
        }
        Ok(())
    }
}

impl Inner {
    /// `iopt_check_iova_alignment`: every area's IOVA, length and in-page offset conform to
    /// `align`, else `EADDRINUSE`.
    fn check_alignment(&self, align: u64) -> Result<()> {
        let mask = align - 1;
        if self
            .areas
            .iter()
            .any(|a| a.iova & mask != 0 || a.len() & mask != 0 || a.page_offset() & mask != 0)
        {
            return Err(Errno::EADDRINUSE);
        }
        Ok(())
    }

    /// `iopt_calculate_iova_alignment`: `PAGE_SIZE` with large pages disabled, else 1, raised to
    /// every domain's smallest page and every access's alignment. Raising checks the areas.
    fn recalc_alignment(&mut self) -> Result<()> {
        let mut align = if self.disable_large_pages {
            pages::PAGE_SIZE
        } else {
            1
        };
        for d in &self.domains {
            let bitmap = d.pgsize_bitmap();
            if bitmap != 0 {
                align = align.max(1 << bitmap.trailing_zeros());
            }
        }
        for a in self.accesses.values() {
            align = align.max(a.iova_alignment);
        }
        if align > self.iova_alignment {
            self.check_alignment(align)?;
        }
        self.iova_alignment = align;
        Ok(())
    }
}
