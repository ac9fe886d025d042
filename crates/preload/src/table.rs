//! The fd table: which of the process's file descriptors are virtual, and what each stands for:
//! an iommufd context (`/dev/iommu`, `/dev/vfio/vfio`), a vfio-pci device file
//! (`/dev/vfio/devices/vfioN`, see [`crate::device`]), a group file (`/dev/vfio/N`, see
//! [`crate::group`]) or a file a command created (the
//! selftest access file, see [`crate::files`]).
//!
//! Every virtual fd is a real kernel fd (a memfd, see [`crate::backing`]), so the kernel keeps
//! numbering, `dup`, `O_CLOEXEC` and `close` right; this table only maps an fd number to the
//! object behind it. Duplicated fds share one `Arc`, and the object is dropped (a file is
//! released) when the last fd referring to it leaves the table. Entries are always dropped
//! after the table lock is released.
//!
//! Each entry remembers the identity (`st_dev`, `st_ino`) of its memfd. An fd closed behind our
//! back (a raw `close` system call, `closefrom`, a child's `posix_spawn` file action) leaves a
//! stale entry; the identity check on every use notices that the number now names another file
//! and drops the entry instead of answering for the wrong file.

use libc::c_int;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use uiommu_abi::host::Context;

use crate::device::OpenDevice;
use crate::files::OpenFile;
use crate::group::OpenGroup;
use crate::share::Remote;

/// What a virtual fd stands for.
#[derive(Clone)]
pub enum Object {
    /// An iommufd context (shared by all fds duplicated from one open).
    Context(Arc<Context>),
    /// A file a command handed out (shared by all fds duplicated from it).
    File(Arc<OpenFile>),
    /// A vfio-pci device file (shared by all fds duplicated from one open).
    Device(Arc<OpenDevice>),
    /// A VFIO group file (shared by all fds duplicated from one open).
    Group(Arc<OpenGroup>),
    /// A thread's `fail-nth` file (see [`crate::failnth`]), by thread ID.
    FailNth(Arc<i32>),
    /// A context or file of another process, shared since a `fork` (see [`crate::share`]).
    Remote(Arc<Remote>),
}

/// One virtual fd.
#[derive(Clone)]
pub struct Entry {
    /// The object behind the fd.
    pub object: Object,
    /// `(st_dev, st_ino)` of the backing memfd.
    pub id: (u64, u64),
}

impl Entry {
    /// True if both entries stand for the same open (the same object).
    pub fn same(&self, other: &Entry) -> bool {
        let same_object = match (&self.object, &other.object) {
            (Object::Context(a), Object::Context(b)) => Arc::ptr_eq(a, b),
            (Object::File(a), Object::File(b)) => Arc::ptr_eq(a, b),
            (Object::Device(a), Object::Device(b)) => Arc::ptr_eq(a, b),
            (Object::Group(a), Object::Group(b)) => Arc::ptr_eq(a, b),
            (Object::FailNth(a), Object::FailNth(b)) => Arc::ptr_eq(a, b),
            (Object::Remote(a), Object::Remote(b)) => Arc::ptr_eq(a, b),
            _ => false,
        };
        same_object && self.id == other.id
    }

    /// The context, if the fd is one.
    pub fn context(&self) -> Option<&Arc<Context>> {
        match &self.object {
            Object::Context(c) => Some(c),
            Object::File(_)
            | Object::Device(_)
            | Object::Group(_)
            | Object::FailNth(_)
            | Object::Remote(_) => None,
        }
    }
}

/// The table. Lookups take the read lock only long enough to clone an entry: a command runs on
/// its context with no table lock held, so commands on different contexts never wait for each
/// other here.
pub struct FdTable {
    map: RwLock<BTreeMap<c_int, Entry>>,
    /// Number of entries, read without the lock so that the common case of a process with no
    /// virtual fd costs one atomic load per intercepted call.
    len: AtomicUsize,
}

/// The process's table.
pub static TABLE: FdTable = FdTable::new();

impl FdTable {
    const fn new() -> Self {
        FdTable {
            map: RwLock::new(BTreeMap::new()),
            len: AtomicUsize::new(0),
        }
    }

    /// True if no fd is virtual (a hint: may be stale by the time the caller acts on it).
    pub fn is_empty(&self) -> bool {
        self.len.load(Ordering::Acquire) == 0
    }

    fn read(&self) -> RwLockReadGuard<'_, BTreeMap<c_int, Entry>> {
        self.map.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The write lock, also taken by the fork handlers.
    pub fn write(&self) -> TableGuard<'_> {
        TableGuard {
            map: self.map.write().unwrap_or_else(|e| e.into_inner()),
            len: &self.len,
        }
    }

    /// The entry for `fd`, if it is virtual.
    pub fn get(&self, fd: c_int) -> Option<Entry> {
        if self.is_empty() {
            return None;
        }
        self.read().get(&fd).cloned()
    }

    /// Some fd that currently stands for `file`.
    pub fn fd_of(&self, file: &Arc<crate::files::OpenFile>) -> Option<c_int> {
        self.read().iter().find_map(|(&fd, e)| match &e.object {
            Object::File(f) if Arc::ptr_eq(f, file) => Some(fd),
            _ => None,
        })
    }

    /// Adds or replaces `fd`; returns the entry it replaced (drop it after the lock is gone).
    pub fn insert(&self, fd: c_int, entry: Entry) -> Option<Entry> {
        self.write().insert(fd, entry)
    }

    /// Maps `fd`, a fresh backing fd, to `object`. A stale entry at this number (closed
    /// behind our back) is replaced, and dropped here.
    pub fn register(&self, fd: c_int, object: Object) -> Result<(), crate::sys::Errno> {
        let id = crate::sys::file_id(fd)?;
        crate::fork::install();
        drop(self.insert(fd, Entry { object, id }));
        Ok(())
    }

    /// Removes `fd`; returns its entry (drop it after the lock is gone).
    pub fn remove(&self, fd: c_int) -> Option<Entry> {
        if self.is_empty() {
            return None;
        }
        self.write().remove(fd)
    }

    /// Removes `fd` only if it still holds `expected` (a stale entry found by a lookup).
    pub fn remove_if(&self, fd: c_int, expected: &Entry) -> Option<Entry> {
        let mut t = self.write();
        match t.map.get(&fd) {
            Some(e) if e.same(expected) => t.remove(fd),
            _ => None,
        }
    }
}

/// The table under its write lock, keeping the length hint in step.
pub struct TableGuard<'a> {
    map: RwLockWriteGuard<'a, BTreeMap<c_int, Entry>>,
    len: &'a AtomicUsize,
}

impl TableGuard<'_> {
    /// The entry for `fd`.
    pub fn get(&self, fd: c_int) -> Option<&Entry> {
        self.map.get(&fd)
    }

    /// Adds or replaces `fd`.
    pub fn insert(&mut self, fd: c_int, entry: Entry) -> Option<Entry> {
        let old = self.map.insert(fd, entry);
        self.len.store(self.map.len(), Ordering::Release);
        old
    }

    /// Removes `fd`.
    pub fn remove(&mut self, fd: c_int) -> Option<Entry> {
        let old = self.map.remove(&fd);
        self.len.store(self.map.len(), Ordering::Release);
        old
    }

    /// Every entry, by fd.
    pub fn entries(&self) -> impl Iterator<Item = (c_int, &Entry)> {
        self.map.iter().map(|(&fd, e)| (fd, e))
    }

    /// Removes every fd in `first..=last`.
    pub fn remove_range(&mut self, first: c_int, last: c_int) -> Vec<Entry> {
        let fds: Vec<c_int> = self
            .map
            .keys()
            .copied()
            .filter(|fd| (first..=last).contains(fd))
            .collect();
        fds.into_iter().filter_map(|fd| self.remove(fd)).collect()
    }
}
