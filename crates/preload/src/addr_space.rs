//! What is known of this process's address space: `/proc/self/maps`, parsed once and reused
//! until a call that changes the mappings goes by.
//!
//! Reading and parsing the maps file costs tens of microseconds, and every `IOMMU_IOAS_MAP`
//! with a domain attached asks it whether the pages can be pinned ([`crate::maps`]). The
//! exported `mmap`, `munmap`, `mprotect`, `mremap`, `madvise`, `brk` and `sbrk` call
//! [`changed`] after the real call, which makes the next question read the file again; a
//! snapshot is tagged with the count of changes seen before its file was read, so a change
//! that races a read is never missed. A forked child's mappings are kept the same way by the
//! process that serves its calls ([`Kept`], keyed by the count the child sends with each
//! request, see [`crate::share`]).
//!
//! Not every change goes through an exported symbol: libc's own calls (`malloc` growing or
//! trimming its heap, thread stacks) and raw system calls bypass them. So a snapshot is only
//! trusted to say yes: an answer of "not pinnable" is checked again on a fresh read
//! ([`crate::maps`]). What stays possible is a yes for memory that libc itself unmapped or
//! made inaccessible since (a buffer freed by `free` and then mapped into an IOAS, a
//! use-after-free in the program), where the kernel would answer `EFAULT`; the device then
//! finds no memory there when it accesses it.

use crate::maps::{Mapping, parse_line};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Counts the intercepted calls that may have changed the mappings.
static CHANGES: AtomicU64 = AtomicU64::new(0);

/// This process's last snapshot. Only commands take its lock (under the fork gate), so a
/// `fork` never copies it held.
static LAST: Kept = Kept::new();

/// The mappings as one read of the maps file listed them, by address.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub mappings: Vec<Mapping>,
    /// `KernelPageSize` of named mappings already looked up in smaps, by mapping start.
    pub page_sizes: Mutex<Vec<(u64, u64)>>,
}

impl Snapshot {
    fn parse(text: &str) -> Snapshot {
        let mut mappings: Vec<Mapping> = text.lines().filter_map(parse_line).collect();
        mappings.sort_by_key(|m| m.start);
        Snapshot {
            mappings,
            page_sizes: Mutex::new(Vec::new()),
        }
    }

    /// The mappings from the one holding `uva` (or the first after it) on.
    pub fn from(&self, uva: u64) -> &[Mapping] {
        let i = self.mappings.partition_point(|m| m.end <= uva);
        &self.mappings[i..]
    }

    /// The mapping holding `uva`.
    pub fn holding(&self, uva: u64) -> Option<&Mapping> {
        self.from(uva).first().filter(|m| m.start <= uva)
    }
}

/// A snapshot kept with the count of changes before its file was read, reused while the
/// count stays there: this process's (with [`CHANGES`]), or a forked child's (with the count
/// the child sends with each request, see [`crate::share`]).
#[derive(Default)]
pub struct Kept(Mutex<Option<(u64, Arc<Snapshot>)>>);

impl Kept {
    pub const fn new() -> Self {
        Kept(Mutex::new(None))
    }

    /// The snapshot read at `seen` changes, or one `read` now.
    pub fn at(
        &self,
        seen: u64,
        read: impl FnOnce() -> std::io::Result<String>,
    ) -> std::io::Result<Arc<Snapshot>> {
        let mut last = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match &*last {
            Some((at, snap)) if *at == seen => Ok(snap.clone()),
            _ => {
                let snap = Arc::new(Snapshot::parse(&read()?));
                *last = Some((seen, snap.clone()));
                Ok(snap)
            }
        }
    }

    /// A snapshot `read` now, kept for `seen` changes (a kept one said no).
    pub fn fresh(
        &self,
        seen: u64,
        read: impl FnOnce() -> std::io::Result<String>,
    ) -> std::io::Result<Arc<Snapshot>> {
        let snap = Arc::new(Snapshot::parse(&read()?));
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some((seen, snap.clone()));
        Ok(snap)
    }
}

/// After a call that may have changed the mappings: the next question reads them again.
pub fn changed() {
    CHANGES.fetch_add(1, Ordering::AcqRel);
}

/// The count of calls so far that may have changed the mappings.
pub fn changes() -> u64 {
    // `mprotect` and `mremap` are only intercepted where BAR mappings are served.
    if cfg!(not(target_arch = "x86_64")) {
        changed();
    }
    CHANGES.load(Ordering::Acquire)
}

/// The mappings, from the last snapshot if nothing changed since, else read now.
pub fn current() -> std::io::Result<Arc<Snapshot>> {
    LAST.at(changes(), read)
}

/// The mappings read now (a snapshot said no; libc may have mapped memory behind our back).
pub fn fresh() -> std::io::Result<Arc<Snapshot>> {
    changed();
    current()
}

/// Through the fd the library keeps at a high number (see `procfile`), so that reading never
/// takes a number the program is about to use.
fn read() -> std::io::Result<String> {
    crate::procfile::self_maps()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_by_address() {
        let s = Snapshot::parse(
            "00406000-00407000 rw-p 00000000 00:00 0 [heap]\n\
             00400000-00401000 r-xp 00000000 08:01 1234 /bin/prog\n\
             00401000-00403000 rw-p 00000000 00:00 0\n",
        );
        assert_eq!(s.holding(0x400800).map(|m| m.start), Some(0x400000));
        assert_eq!(s.holding(0x402fff).map(|m| m.start), Some(0x401000));
        assert_eq!(s.holding(0x403000), None);
        assert_eq!(s.from(0x403000).first().map(|m| m.start), Some(0x406000));
        assert!(s.from(0x407000).is_empty());
    }

    #[test]
    fn a_change_is_seen_by_the_next_question() {
        let a = current().unwrap();
        changed();
        let c = current().unwrap();
        assert!(!Arc::ptr_eq(&a, &c));
    }
}
