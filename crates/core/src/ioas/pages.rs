//! The pages object: a linear run of memory that areas slice (`pages.c`: `iopt_pages`,
//! `iopt_alloc_user_pages`, `iopt_alloc_file_pages`, `iopt_area_add_access`,
//! `iopt_pages_update_pinned`).
//!
//! Several areas, in one IOAS or many (through `IOMMU_IOAS_COPY`), share one pages object, so a
//! page is pinned at most once however many domains and accesses use it. Pages are pinned while
//! some holder covers them: every area of an IOAS that has at least one domain (the kernel's
//! `domains_itree`), and every access range (`access_itree`). The first holder pins and charges,
//! the last one unpins and uncharges. Pages imported from a dma-buf are the exporter's memory:
//! holders are counted, but nothing is pinned or charged.

use super::account::PinAccount;
use super::dmabuf_import::{DmaBuf, Imported};
use super::range_count::RangeCount;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use uiommu_uapi::{Errno, UserMemory, errno::Result};

/// The kernel's `PAGE_SIZE`: the granule of pinning and of `iopt_pages` indices.
pub const PAGE_SIZE: u64 = uiommu_uapi::user::USER_PAGE_SIZE;

/// What pinning needs from the address space of the process that mapped: whether
/// `pin_user_pages` would succeed.
pub trait PinMemory: Send + Sync {
    /// `EFAULT` unless the `npages` pages from the page-aligned `uva` are present, and
    /// writable when `write` (pages of a writable mapping are pinned `FOLL_WRITE`).
    fn check_pinnable(&self, uva: u64, npages: u64, write: bool) -> Result<()>;

    /// The size of the physically contiguous block the page at `uva` belongs to: the page size
    /// the kernel would pin it with (a huge page for hugetlb memory, else `PAGE_SIZE`). The
    /// kernel maps no IOPTE larger than the contiguous run of pinned pages, and dirty tracking
    /// reports at IOPTE granularity, so domains are filled in blocks of this size.
    fn contiguity(&self, _uva: u64) -> u64 {
        PAGE_SIZE
    }
}

/// [`PinMemory`] over any [`UserMemory`]: probes one byte per page (reading it, and for a write
/// pin storing the same byte back).
#[derive(Debug, Default)]
pub struct ProbeMemory<M>(pub M);

impl<M: UserMemory + Send + Sync> PinMemory for ProbeMemory<M> {
    fn check_pinnable(&self, uva: u64, npages: u64, write: bool) -> Result<()> {
        for i in 0..npages {
            let addr = i
                .checked_mul(PAGE_SIZE)
                .and_then(|off| uva.checked_add(off))
                .ok_or(Errno::EFAULT)?;
            let mut b = [0u8];
            self.0.read(addr, &mut b)?;
            if write {
                self.0.write(addr, &b)?;
            }
        }
        Ok(())
    }
}

/// A file range source for `IOMMU_IOAS_MAP_FILE`: the front end maps the memfd and tells where
/// its bytes live. Core never sees the fd.
pub trait FileBacking: Send + Sync {
    /// The host address of file byte `offset`, contiguous for `len` bytes. Fails as pinning the
    /// file's folios would (e.g. beyond the end of the file).
    fn resolve(&self, offset: u64, len: u64) -> Result<u64>;

    /// As [`PinMemory::contiguity`], for the file's pages.
    fn contiguity(&self) -> u64 {
        PAGE_SIZE
    }
}

/// Per-page pin counts of one address space: what `IOMMU_TEST_OP_MD_CHECK_REFS` compares with.
#[derive(Debug, Default)]
pub struct PinRegistry {
    pages: Mutex<RangeCount>,
}

impl PinRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Distinct pins on the page containing `addr`.
    pub fn refs(&self, addr: u64) -> u32 {
        lock(&self.pages).get(addr / PAGE_SIZE)
    }

    fn pin(&self, first_pfn: u64, last_pfn: u64) {
        lock(&self.pages).add(first_pfn, last_pfn);
    }

    fn unpin(&self, first_pfn: u64, last_pfn: u64) {
        lock(&self.pages).remove(first_pfn, last_pfn);
    }
}

/// The process a pages object is pinned and charged to (the kernel's `source_mm`,
/// `source_user` and `account_mode`), fixed when the pages object is created.
#[derive(Clone)]
pub struct PinOwner {
    /// Its address space, for pinning user pages.
    pub memory: Arc<dyn PinMemory>,
    /// Where pins are charged.
    pub account: Arc<dyn PinAccount>,
    /// Its per-page pin counts.
    pub registry: Arc<PinRegistry>,
}

/// Where a pages object's bytes come from.
pub(crate) enum Backing {
    /// User memory from the page-aligned `base`.
    User { base: u64 },
    /// A file from the page-aligned offset `base`.
    File {
        file: Arc<dyn FileBacking>,
        base: u64,
    },
    /// A dma-buf from the page-aligned offset `base` (`IOPT_ADDRESS_DMABUF`).
    DmaBuf(Box<Imported>),
}

#[derive(Default)]
struct PinState {
    /// Holders per page index: domain-filled areas and access ranges.
    users: RangeCount,
    /// Access ranges by exact `(first, last)` index, with their user counts.
    accesses: BTreeMap<(u64, u64), u32>,
}

pub(crate) struct Pages {
    backing: Backing,
    npages: u64,
    pub(crate) writable: bool,
    owner: PinOwner,
    state: Mutex<PinState>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Common checks of `iopt_alloc_pages`: a zero length or one past `SIZE_MAX - PAGE_SIZE` is
/// `EINVAL`. Returns the number of pages.
fn npages_for(start_byte: u64, length: u64) -> Result<u64> {
    if length == 0 || length > u64::MAX - PAGE_SIZE {
        return Err(Errno::EINVAL);
    }
    Ok((length + start_byte).div_ceil(PAGE_SIZE))
}

impl Pages {
    /// `iopt_alloc_user_pages`: `EOVERFLOW` if `uva + length` wraps, then the length checks.
    /// Returns the object and the byte offset of `uva` in it.
    pub(crate) fn new_user(
        uva: u64,
        length: u64,
        writable: bool,
        owner: PinOwner,
    ) -> Result<(Arc<Self>, u64)> {
        uva.checked_add(length).ok_or(Errno::EOVERFLOW)?;
        let start_byte = uva % PAGE_SIZE;
        let npages = npages_for(start_byte, length)?;
        let backing = Backing::User {
            base: uva - start_byte,
        };
        Ok((Self::with(backing, npages, writable, owner), start_byte))
    }

    /// `iopt_alloc_file_pages`, after `iopt_map_file_pages` checked the length and overflow.
    pub(crate) fn new_file(
        file: Arc<dyn FileBacking>,
        start: u64,
        length: u64,
        writable: bool,
        owner: PinOwner,
    ) -> Result<(Arc<Self>, u64)> {
        let start_byte = start % PAGE_SIZE;
        let npages = npages_for(start_byte, length)?;
        let backing = Backing::File {
            file,
            base: start - start_byte,
        };
        Ok((Self::with(backing, npages, writable, owner), start_byte))
    }

    /// `iopt_alloc_dmabuf_pages`, after `iopt_map_file_pages` checked the length and overflow:
    /// `EINVAL` unless `start..=start + length - 1` lies inside the buffer, then the length
    /// checks, then the exporter's mapping (`ENODEV` while revoked). A dma-buf is never
    /// pinned page by page nor charged (`IOPT_PAGES_ACCOUNT_NONE`).
    pub(crate) fn new_dmabuf(
        buf: Arc<dyn DmaBuf>,
        start: u64,
        length: u64,
        writable: bool,
        owner: PinOwner,
    ) -> Result<(Arc<Self>, u64)> {
        if buf.size() <= start + (length - 1) {
            return Err(Errno::EINVAL);
        }
        let start_byte = start % PAGE_SIZE;
        let npages = npages_for(start_byte, length)?;
        let backing = Backing::DmaBuf(Box::new(Imported::new(buf.clone(), start - start_byte)));
        let pages = Self::with(backing, npages, writable, owner);
        let importer = Arc::downgrade(&pages);
        let phys = buf.attach(importer)?;
        if let Backing::DmaBuf(imported) = &pages.backing {
            imported.set_phys(phys);
        }
        Ok((pages, start_byte))
    }

    fn with(backing: Backing, npages: u64, writable: bool, owner: PinOwner) -> Arc<Self> {
        Arc::new(Self {
            backing,
            npages,
            writable,
            owner,
            state: Mutex::default(),
        })
    }

    pub(crate) fn npages(&self) -> u64 {
        self.npages
    }

    /// The address `iopt_alloc_area_pages` aligns an automatic IOVA like: the user VA, or the
    /// file offset.
    pub(crate) fn align_hint(&self, start_byte: u64) -> u64 {
        match &self.backing {
            Backing::User { base } | Backing::File { base, .. } => base.wrapping_add(start_byte),
            Backing::DmaBuf(d) => d.base().wrapping_add(start_byte),
        }
    }

    /// The dma-buf these pages import, if they do.
    pub(crate) fn dmabuf(&self) -> Option<&Imported> {
        match &self.backing {
            Backing::DmaBuf(d) => Some(d),
            _ => None,
        }
    }

    /// `iopt_dmabuf_revoked`: the pages import a dma-buf that was revoked.
    pub(crate) fn dmabuf_revoked(&self) -> bool {
        self.dmabuf().is_some_and(Imported::revoked)
    }

    pub(crate) fn is_file(&self) -> bool {
        matches!(self.backing, Backing::File { .. })
    }

    /// Host address of byte `byte`, contiguous for `len` bytes: the output address a domain maps.
    pub(crate) fn host_addr(&self, byte: u64, len: u64) -> Result<u64> {
        match &self.backing {
            Backing::User { base } => base.checked_add(byte).ok_or(Errno::EFAULT),
            Backing::File { file, base } => {
                file.resolve(base.checked_add(byte).ok_or(Errno::EINVAL)?, len)
            }
            Backing::DmaBuf(d) => d.host_addr(byte, len),
        }
    }

    /// The physically contiguous block size of the memory behind byte `byte` (see
    /// [`PinMemory::contiguity`]); always a power of two, at least `PAGE_SIZE`.
    pub(crate) fn contiguity(&self, byte: u64) -> u64 {
        let c = match &self.backing {
            Backing::User { base } => self.owner.memory.contiguity(base.wrapping_add(byte)),
            Backing::File { file, .. } => file.contiguity(),
            // The exporter hands over one physical range (`phys_vec`).
            Backing::DmaBuf(_) => PAGE_SIZE,
        };
        if c.is_power_of_two() {
            c.max(PAGE_SIZE)
        } else {
            PAGE_SIZE
        }
    }

    /// Fails as pinning `byte..byte + len` would, pinning nothing (the `pfn_reader` slow path).
    pub(crate) fn probe(&self, byte: u64, len: u64) -> Result<()> {
        let first = byte / PAGE_SIZE;
        let end = byte.checked_add(len).ok_or(Errno::EFAULT)?;
        let npages = end.div_ceil(PAGE_SIZE) - first;
        match &self.backing {
            Backing::User { base } => {
                let uva = base.checked_add(first * PAGE_SIZE).ok_or(Errno::EFAULT)?;
                self.owner.memory.check_pinnable(uva, npages, self.writable)
            }
            Backing::File { .. } | Backing::DmaBuf(_) => self
                .host_addr(first * PAGE_SIZE, npages * PAGE_SIZE)
                .map(|_| ()),
        }
    }

    /// Host page numbers of the indices `first..=last`.
    fn host_pfns(&self, first: u64, last: u64) -> Result<(u64, u64)> {
        let n = last - first + 1;
        let addr = self.host_addr(first * PAGE_SIZE, n * PAGE_SIZE)?;
        Ok((addr / PAGE_SIZE, addr / PAGE_SIZE + n - 1))
    }

    /// Adds one holder over page indices `first..=last`, pinning and charging the pages that
    /// had none. On failure nothing changes (`pfn_reader` unwinds what it pinned).
    pub(crate) fn hold(&self, first: u64, last: u64) -> Result<()> {
        let mut st = lock(&self.state);
        self.hold_locked(&mut st, first, last)
    }

    fn hold_locked(&self, st: &mut PinState, first: u64, last: u64) -> Result<()> {
        if self.dmabuf().is_some() {
            st.users.add(first, last);
            return Ok(());
        }
        let fresh = st.users.holes(first, last);
        if !fresh.is_empty() {
            // The `pfn_reader` batch and the pins.
            crate::fail_nth::alloc()?;
        }
        let mut pfns = Vec::with_capacity(fresh.len());
        let mut count = 0u64;
        for &(a, b) in &fresh {
            if let Backing::User { base } = &self.backing {
                let uva = base.checked_add(a * PAGE_SIZE).ok_or(Errno::EFAULT)?;
                self.owner
                    .memory
                    .check_pinnable(uva, b - a + 1, self.writable)?;
            }
            pfns.push(self.host_pfns(a, b)?);
            count += b - a + 1;
        }
        if count != 0 {
            self.owner.account.charge(count)?;
        }
        st.users.add(first, last);
        for (a, b) in pfns {
            self.owner.registry.pin(a, b);
        }
        Ok(())
    }

    /// Removes one holder over `first..=last`; pages left with none are unpinned and uncharged.
    pub(crate) fn release(&self, first: u64, last: u64) {
        let mut st = lock(&self.state);
        self.release_locked(&mut st, first, last);
    }

    fn release_locked(&self, st: &mut PinState, first: u64, last: u64) {
        let gone = st.users.remove(first, last);
        if self.dmabuf().is_some() {
            return;
        }
        let mut count = 0;
        for (a, b) in gone {
            // These pages resolved when they were pinned; the front end keeps a mapped file
            // mapped while pages use it.
            if let Ok((pa, pb)) = self.host_pfns(a, b) {
                self.owner.registry.unpin(pa, pb);
            }
            count += b - a + 1;
        }
        if count != 0 {
            self.owner.account.uncharge(count);
        }
    }

    /// `iopt_area_add_access`: an exact range already held gains a user, else it is pinned.
    pub(crate) fn add_access(&self, first: u64, last: u64) -> Result<()> {
        let mut st = lock(&self.state);
        if let Some(users) = st.accesses.get_mut(&(first, last)) {
            *users += 1;
            return Ok(());
        }
        // The `iopt_pages_access` (`iopt_area_add_access`).
        crate::fail_nth::alloc()?;
        self.hold_locked(&mut st, first, last)?;
        st.accesses.insert((first, last), 1);
        Ok(())
    }

    /// `iopt_area_remove_access`; false if no access holds exactly `first..=last`.
    pub(crate) fn remove_access(&self, first: u64, last: u64) -> bool {
        let mut st = lock(&self.state);
        let Some(users) = st.accesses.get_mut(&(first, last)) else {
            return false;
        };
        *users -= 1;
        if *users == 0 {
            st.accesses.remove(&(first, last));
            self.release_locked(&mut st, first, last);
        }
        true
    }
}

impl Drop for Pages {
    fn drop(&mut self) {
        // Every holder releases before the last reference goes; this only guards the
        // accounting against a bug elsewhere.
        let st = std::mem::take(self.state.get_mut().unwrap_or_else(PoisonError::into_inner));
        if self.dmabuf().is_some() {
            return;
        }
        for (a, b) in st.users.used(0, u64::MAX) {
            if let Ok((pa, pb)) = self.host_pfns(a, b) {
                self.owner.registry.unpin(pa, pb);
            }
            self.owner.account.uncharge(b - a + 1);
        }
    }
}
