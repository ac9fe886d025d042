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
//! Each entry remembers the identity (`st_dev`, `st_ino`) of its memfd, checked when an entry
//! is made or adopted, not on every call (that `fstat` was most of the cost of a cheap
//! `ioctl`): every way the program gives up or replaces a number goes through the table —
//! `close`, `close_range`, `closefrom`, `dup`, `dup2`, `dup3`, `fcntl(F_DUPFD*)`, and the same
//! system calls made with `syscall()` (see [`crate::syscall_exports`]). A `posix_spawn` file
//! action closes in the child, whose fds are its own. What the table cannot see is a close
//! made with an inline `syscall` instruction or inside libc (`fclose` of a `FILE` opened with
//! `fdopen` on a virtual fd): the number then still counts as ours, and calls on a file later
//! opened at it are answered as for the virtual fd. (On other targets than x86-64, where
//! `syscall()` is not intercepted, each call still checks the identity with `fstat`.)
//!
//! # Closing and opening against concurrent calls
//! A call on an fd looks the number up here, then either answers for the object or, for a
//! number that is not ours, goes to libc with no further check (programs that make many real
//! calls pay one lookup, no system call). So the table must never say "not ours" while the
//! number still names one of our backing fds, or libc would answer for the backing file
//! (`ENOTTY` from a memfd):
//! - `close` and `close_range` ([`FdTable::begin_close`]) mark their entries *closing* before
//!   the real call; a lookup that finds a closing entry answers `EBADF` (the call raced the
//!   close, and the kernel may give either answer). After the call,
//!   [`FdTable::finish_close`] removes each entry only if it is still the one marked (a
//!   concurrent open may have reused the number and put its own there), or unmarks them if
//!   nothing was closed.
//! - A new backing fd is made and mapped under the write lock ([`FdTable::create`]), with the
//!   table counted non-empty from the start, so no lookup sees its number before its entry.
//! - `dup`, `dup2`, `dup3` and `fcntl(F_DUPFD*)` run under the write lock (see
//!   [`crate::ops::duplicate`]), which updates the entry of the new number with the call.
//! - What no lock can cover: a call that found its number not ours, then was preempted before
//!   its system call while other threads closed that fd and made one of ours at the number.
//!   Both make and duplicate advance [`FdTable::generation`]; `ioctl` forwards, and if that
//!   changed during a forwarded call that answered `ENOTTY` (which did nothing), asks again.
//!   A forwarded `read`, `write` or `mmap` cannot be undone, so for them that window (a
//!   preemption spanning a whole close and open by other threads) stays.
//!
//! - The library's own fds (the sockets and pidfds of [`crate::share`], the `/proc/self`
//!   files pinning reads, see [`crate::procfile`]) are moved above the numbers programs use
//!   ([`crate::sys::lift`]); those made while other threads run are made under the write lock
//!   with the generation advanced, so that a program's call on, or `dup2` onto, a number it
//!   just closed never meets them there.
//!
//! A forked child has no thread in the middle of a close: it unmarks every closing entry whose
//! fd still names its memfd, and drops the others ([`TableGuard::settle_closing`]).

use libc::c_int;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use uiommu_abi::host::Context;

use crate::container::OpenContainer;
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
    /// A legacy VFIO container (shared by all fds duplicated from one open).
    Container(Arc<OpenContainer>),
    /// A thread's `fail-nth` file (see [`crate::failnth`]), by thread ID.
    FailNth(Arc<i32>),
    /// A writable sysfs attribute of an emulated device, open for writing (see
    /// [`crate::attr`]).
    Attr(Arc<crate::attr::AttrFile>),
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
    /// The open file's access mode (`O_ACCMODE` of its status flags), which no call changes
    /// after the open: read and write check it without a system call.
    pub mode: c_int,
}

impl Entry {
    /// True if both entries stand for the same open (the same object).
    pub fn same(&self, other: &Entry) -> bool {
        let same_object = match (&self.object, &other.object) {
            (Object::Context(a), Object::Context(b)) => Arc::ptr_eq(a, b),
            (Object::File(a), Object::File(b)) => Arc::ptr_eq(a, b),
            (Object::Device(a), Object::Device(b)) => Arc::ptr_eq(a, b),
            (Object::Group(a), Object::Group(b)) => Arc::ptr_eq(a, b),
            (Object::Container(a), Object::Container(b)) => Arc::ptr_eq(a, b),
            (Object::FailNth(a), Object::FailNth(b)) => Arc::ptr_eq(a, b),
            (Object::Attr(a), Object::Attr(b)) => Arc::ptr_eq(a, b),
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
            | Object::Container(_)
            | Object::FailNth(_)
            | Object::Attr(_)
            | Object::Remote(_) => None,
        }
    }
}

/// An fd arriving ([`FdTable::begin_placing`]); dropped once it is mapped, moved or closed,
/// which advances the generation so that a call that met it asks again.
pub struct Placing(&'static FdTable);

impl Drop for Placing {
    fn drop(&mut self) {
        self.0.generation.fetch_add(1, Ordering::AcqRel);
        self.0.placing.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An entry in the map, marked while a `close` of its fd is under way.
struct Slot {
    entry: Entry,
    closing: bool,
}

/// The table. Lookups take the read lock only long enough to clone an entry: a command runs on
/// its context with no table lock held, so commands on different contexts never wait for each
/// other here.
pub struct FdTable {
    map: RwLock<BTreeMap<c_int, Slot>>,
    /// Number of entries, read without the lock so that the common case of a process with no
    /// virtual fd costs one atomic load per intercepted call.
    len: AtomicUsize,
    /// Counts the calls that may have put one of our files at a number (see
    /// [`FdTable::generation`]).
    generation: AtomicU64,
    /// Fds arriving on the library's sockets right now ([`FdTable::begin_placing`]).
    placing: AtomicUsize,
}

/// The process's table.
pub static TABLE: FdTable = FdTable::new();

impl FdTable {
    const fn new() -> Self {
        FdTable {
            map: RwLock::new(BTreeMap::new()),
            len: AtomicUsize::new(0),
            generation: AtomicU64::new(0),
            placing: AtomicUsize::new(0),
        }
    }

    /// True if no fd is virtual (a hint: may be stale by the time the caller acts on it).
    pub fn is_empty(&self) -> bool {
        self.len.load(Ordering::Acquire) == 0
    }

    fn read(&self) -> RwLockReadGuard<'_, BTreeMap<c_int, Slot>> {
        self.map.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes whenever one of our files may have been put at some number (a new backing fd,
    /// a duplicate), after the table is counted non-empty: a call that found its number not
    /// ours and was forwarded may have reached such a file if this changed meanwhile.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Marks an fd about to arrive on one of the library's sockets (`SCM_RIGHTS`): the kernel
    /// puts it at the lowest free number, which the table learns only when the fd is mapped
    /// (a file the owner installs in a child) or moved up (the library's own). Until the
    /// returned [`Placing`] is dropped, a forwarded call that meets that number and answers
    /// `ENOTTY` waits and asks again ([`FdTable::placing`]).
    pub fn begin_placing(&'static self) -> Placing {
        self.placing.fetch_add(1, Ordering::AcqRel);
        Placing(self)
    }

    /// Whether an fd is arriving ([`FdTable::begin_placing`]).
    pub fn placing(&self) -> bool {
        self.placing.load(Ordering::Acquire) != 0
    }

    /// The write lock, with the generation advanced: the caller is about to put one of our
    /// files at some number.
    pub fn write_new(&self) -> TableGuard<'_> {
        let t = self.write();
        // Not empty from now on: a lookup of the new number waits for this lock.
        t.len.store(t.map.len() + 1, Ordering::Release);
        self.generation.fetch_add(1, Ordering::AcqRel);
        t
    }

    /// The write lock, also taken by the fork handlers.
    pub fn write(&self) -> TableGuard<'_> {
        TableGuard {
            map: self.map.write().unwrap_or_else(|e| e.into_inner()),
            len: &self.len,
        }
    }

    /// The entry for `fd`, if it is virtual: `EBADF` while it is being closed.
    pub fn get(&self, fd: c_int) -> Option<Result<Entry, crate::sys::Errno>> {
        if self.is_empty() {
            return None;
        }
        self.read().get(&fd).map(|s| match s.closing {
            true => Err(libc::EBADF),
            false => Ok(s.entry.clone()),
        })
    }

    /// `f` of the entry for `fd`, if it is virtual and not being closed, under the read lock:
    /// what `f` needs of the entry is taken without cloning all of it. (Where `syscall()` is
    /// not intercepted, a lookup must check the number's file first: see [`crate::ops`].)
    #[cfg(target_arch = "x86_64")]
    pub fn with<T>(&self, fd: c_int, f: impl FnOnce(&Entry) -> Option<T>) -> Option<T> {
        if self.is_empty() {
            return None;
        }
        match self.read().get(&fd) {
            Some(s) if !s.closing => f(&s.entry),
            _ => None,
        }
    }

    /// Some fd that currently stands for `file`.
    pub fn fd_of(&self, file: &Arc<crate::files::OpenFile>) -> Option<c_int> {
        self.read()
            .iter()
            .find_map(|(&fd, s)| match &s.entry.object {
                Object::File(f) if Arc::ptr_eq(f, file) && !s.closing => Some(fd),
                _ => None,
            })
    }

    /// Adds or replaces `fd`; returns the entry it replaced (drop it after the lock is gone).
    pub fn insert(&self, fd: c_int, entry: Entry) -> Option<Entry> {
        self.write().insert(fd, entry)
    }

    /// Maps `fd`, an existing backing fd, to `object`. A stale entry at this number (closed
    /// behind our back) is replaced, and dropped here.
    pub fn register(&self, fd: c_int, object: Object) -> Result<(), crate::sys::Errno> {
        let id = crate::sys::file_id(fd)?;
        let mode = crate::sys::access_mode(fd)?;
        crate::fork::install();
        drop(self.insert(fd, Entry { object, id, mode }));
        Ok(())
    }

    /// Makes a backing fd with `make` (raw system calls only: the write lock is held) and maps
    /// it to `object` before any lookup can see the number; `make`'s fd is closed if its
    /// identity cannot be read. A stale entry at this number is replaced, and dropped here.
    pub fn create(
        &self,
        object: Object,
        make: impl FnOnce() -> Result<c_int, crate::sys::Errno>,
    ) -> Result<c_int, crate::sys::Errno> {
        crate::fork::install();
        let mut t = self.write_new();
        let made = make().and_then(|fd| {
            let ident =
                crate::sys::file_id(fd).and_then(|id| Ok((id, crate::sys::access_mode(fd)?)));
            match ident {
                Ok((id, mode)) => Ok((fd, id, mode)),
                Err(e) => {
                    crate::sys::close_raw(fd);
                    Err(e)
                }
            }
        });
        let (fd, id, mode) = made?;
        let stale = t.insert(fd, Entry { object, id, mode });
        drop(t);
        drop(stale);
        Ok(fd)
    }

    /// Before the real `close`/`close_range` of `first..=last`: marks their entries closing and
    /// returns them, for [`FdTable::finish_close`].
    pub fn begin_close(&self, first: c_int, last: c_int) -> Vec<(c_int, Entry)> {
        if self.is_empty() {
            return Vec::new();
        }
        let mut t = self.write();
        t.map
            .range_mut(first..=last)
            .map(|(&fd, s)| {
                s.closing = true;
                (fd, s.entry.clone())
            })
            .collect()
    }

    /// After the real call: removes the entries `begin_close` marked that are still there
    /// (`closed`), or unmarks them (nothing was closed). Returns the removed entries (drop them
    /// after the lock is gone).
    pub fn finish_close(&self, marked: Vec<(c_int, Entry)>, closed: bool) -> Vec<Entry> {
        if marked.is_empty() {
            return Vec::new();
        }
        let mut t = self.write();
        let mut removed = Vec::new();
        for (fd, entry) in marked {
            match t.map.get_mut(&fd) {
                Some(s) if s.closing && s.entry.same(&entry) && closed => {
                    removed.extend(t.remove(fd));
                }
                Some(s) if s.entry.same(&entry) => s.closing = false,
                _ => {}
            }
        }
        removed
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
            Some(s) if s.entry.same(expected) => t.remove(fd),
            _ => None,
        }
    }
}

/// The table under its write lock, keeping the length hint in step.
pub struct TableGuard<'a> {
    map: RwLockWriteGuard<'a, BTreeMap<c_int, Slot>>,
    len: &'a AtomicUsize,
}

impl Drop for TableGuard<'_> {
    /// The hint is exact again when the lock goes (see [`FdTable::write_new`]).
    fn drop(&mut self) {
        self.len.store(self.map.len(), Ordering::Release);
    }
}

impl TableGuard<'_> {
    /// The entry for `fd` (closing or not).
    pub fn get(&self, fd: c_int) -> Option<&Entry> {
        self.map.get(&fd).map(|s| &s.entry)
    }

    /// Adds or replaces `fd`.
    pub fn insert(&mut self, fd: c_int, entry: Entry) -> Option<Entry> {
        let slot = Slot {
            entry,
            closing: false,
        };
        let old = self.map.insert(fd, slot);
        self.len.store(self.map.len(), Ordering::Release);
        old.map(|s| s.entry)
    }

    /// Removes `fd`.
    pub fn remove(&mut self, fd: c_int) -> Option<Entry> {
        let old = self.map.remove(&fd);
        self.len.store(self.map.len(), Ordering::Release);
        old.map(|s| s.entry)
    }

    /// Every entry, by fd.
    pub fn entries(&self) -> impl Iterator<Item = (c_int, &Entry)> {
        self.map.iter().map(|(&fd, s)| (fd, &s.entry))
    }

    /// In a forked child, where no close is under way: an entry whose close was under way in
    /// the parent stays if its fd still names its memfd in the child (the close had not run
    /// yet), and goes otherwise. Returns the entries removed (drop them after the lock).
    pub fn settle_closing(&mut self) -> Vec<Entry> {
        let closing: Vec<c_int> = self
            .map
            .iter()
            .filter(|(_, s)| s.closing)
            .map(|(&fd, _)| fd)
            .collect();
        let mut removed = Vec::new();
        for fd in closing {
            let open = self
                .map
                .get(&fd)
                .is_some_and(|s| crate::sys::file_id(fd).is_ok_and(|id| id == s.entry.id));
            match open {
                true => {
                    if let Some(s) = self.map.get_mut(&fd) {
                        s.closing = false;
                    }
                }
                false => removed.extend(self.remove(fd)),
            }
        }
        removed
    }
}
