//! Contexts shared across `fork`.
//!
//! In the kernel a forked child's fds refer to the parent's open files: both processes use one
//! context, and what either maps, allocates or destroys the other sees. Here a context lives in
//! the memory of the process that opened it (its *owner*), so a child reaches its parent's
//! objects through the owner:
//!
//! - at `fork` (the `prepare` handler), the owner makes a connection — a page both processes
//!   map, whose rings carry the messages, and a connected `SOCK_SEQPACKET` pair for the fds
//!   that go with them and for wake-ups ([`channel`]) — and takes a reference on every
//!   context and file of its fd table, by handle; after the fork a thread of the owner serves
//!   the child on its end ([`session`]), and the child's fds become [`Remote`] handles on the
//!   other end ([`remote`]);
//! - the child's `ioctl`, `read` and `write` on those fds are requests the owner runs with the
//!   child's memory (an `ioctl`'s argument struct comes along in the page, [`window`]; the
//!   child reads, writes and copies the rest itself when asked, [`child_memory`]; pages are
//!   pinned by pid), the child's fd table (commands that make or take fds ask the child) and
//!   the child as the process its new mappings are pinned in (`iopt_alloc_pages` takes
//!   `current`): pinning the pages of a child that has exited fails with `EFAULT`, as on the
//!   kernel;
//! - closing the child's last fd of a handle drops the owner's reference, as the last `fput`
//!   would; when the child exits or execs, its connection closes and the owner drops every
//!   reference it held for it;
//! - a child that forks again asks its owner for a connection for the grandchild, sharing
//!   the same handles: every process reaches an object through the process that owns it.
//!
//! What differs from the kernel:
//! - the objects live as long as their owner: once it has exited, a child's calls on them
//!   fail with `EIO`;
//! - the bytes of mapped pages are read at their address in the memory of the process that
//!   asks (the owner for device DMA and the owner's accesses), which is exact for memory the
//!   processes share (`MAP_SHARED`) and for private pages neither has written since the fork;
//! - `mmap` of a shared context in a child is `ENODEV`, and `IOMMU_IOAS_MAP_FILE` from a
//!   child is `EOPNOTSUPP`: both would need the owner's memory mapped into the child.

mod channel;
mod child_memory;
mod page;
mod remote;
mod session;
mod window;
pub mod wire;

pub use remote::{Kind, Remote};

use crate::seqpacket;
use crate::sys::{self, Errno};
use crate::table::{Entry, Object, TableGuard};
use libc::c_int;
use page::Page;
use remote::Connection;
use session::Handles;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// The owner's ends of the connections it serves, to be closed in a child of the owner.
static SESSION_FDS: Mutex<BTreeSet<c_int>> = Mutex::new(BTreeSet::new());

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn seqpacket_pair() -> Result<(c_int, c_int), Errno> {
    seqpacket::pair()
}

/// A grandchild's end of its connection to an owner, and their page.
type Grandchild = (c_int, Page);

/// What `prepare` made for the fork, for the parent's or the child's handler.
pub struct Pending {
    /// For the objects this process owns: our end, the child's end, the page both use (the
    /// child inherits its mapping), and the handles.
    local: Option<(c_int, c_int, Page, Handles)>,
    /// For each owner this process reaches: the grandchild's end it gave back, if it could,
    /// and the page the grandchild and that owner use (the owner maps it from the fd sent
    /// with the request).
    remote: Vec<(Arc<Connection>, Option<Grandchild>)>,
    /// Held across the fork so that no session is half-registered in the child.
    sessions: MutexGuard<'static, BTreeSet<c_int>>,
}

/// The identity of the object behind an entry, for grouping fds of one object.
fn object_key(object: &Object) -> Option<usize> {
    match object {
        Object::Context(c) => Some(Arc::as_ptr(c) as usize),
        Object::File(f) => Some(Arc::as_ptr(f) as usize),
        // A device or group file, or a legacy container, stays with its opener (see `owned`).
        Object::Device(_)
        | Object::Group(_)
        | Object::Container(_)
        | Object::Remote(_)
        | Object::FailNth(_)
        | Object::Attr(_) => None,
    }
}

/// This process's own objects in fd order, each with its handle: the lowest fd that refers to
/// it. Parent and child compute it from identical tables, so they agree without a message.
fn local_handles(table: &TableGuard<'_>) -> Vec<(c_int, u32, Object)> {
    let mut first_fd: BTreeMap<usize, u32> = BTreeMap::new();
    let mut out = Vec::new();
    for (fd, entry) in table.entries() {
        if let Some(key) = object_key(&entry.object) {
            let handle = *first_fd.entry(key).or_insert(fd as u32);
            out.push((fd, handle, entry.object.clone()));
        }
    }
    out
}

/// The connections this process reaches owners through, each once.
fn connections(table: &TableGuard<'_>) -> Vec<Arc<Connection>> {
    let mut seen: Vec<Arc<Connection>> = Vec::new();
    for (_, entry) in table.entries() {
        if let Object::Remote(r) = &entry.object
            && !seen.iter().any(|c| Arc::ptr_eq(c, r.connection()))
        {
            seen.push(r.connection().clone());
        }
    }
    seen
}

/// Before `fork`, with the fd table locked and no command running.
pub fn prepare(table: &TableGuard<'_>) -> Pending {
    let handles: Handles = local_handles(table)
        .into_iter()
        .map(|(_, handle, object)| (handle, object))
        .collect();
    let local = if handles.is_empty() {
        None
    } else {
        connection_ends().map(|(ours, theirs, page)| (ours, theirs, page, handles))
    };
    let remote = connections(table)
        .into_iter()
        .map(|conn| {
            let grandchild = Page::create().ok().and_then(|(page, page_fd)| {
                let fork = wire::Msg::new(wire::Op::Fork, 0, 0, 0);
                let answer = conn.call(fork, Some(page_fd), None);
                sys::close_raw(page_fd);
                Some((answer.ok()?.1?, page))
            });
            (conn, grandchild)
        })
        .collect();
    Pending {
        local,
        remote,
        sessions: lock(&SESSION_FDS),
    }
}

/// The two sockets and the page of a new connection, whose ends both inherit the page's
/// mapping; `None` if they cannot all be made.
fn connection_ends() -> Option<(c_int, c_int, Page)> {
    let (ours, theirs) = seqpacket_pair().ok()?;
    match Page::for_fork() {
        Ok(page) => Some((ours, theirs, page)),
        Err(_) => {
            sys::close_raw(ours);
            sys::close_raw(theirs);
            None
        }
    }
}

/// After `fork` in the parent (whether or not a child was made: if none was, its ends close
/// here and the sessions made for it end at once).
pub fn parent(pending: Pending) {
    let Pending {
        local,
        remote,
        sessions,
    } = pending;
    drop(sessions);
    // The grandchild's end and page are its own and its owner's: dropping ours unmaps it.
    for (_, grandchild) in remote {
        if let Some((fd, _page)) = grandchild {
            sys::close_raw(fd);
        }
    }
    if let Some((ours, theirs, page, handles)) = local {
        sys::close_raw(theirs);
        session::spawn(ours, page, handles);
    }
}

/// After `fork` in the child, with the fd table still locked: every context and file becomes
/// a handle on a connection to its owner. The child's copies of its parent's objects are
/// forgotten, never dropped: dropping one would act on state (queue readiness, stand-in fds)
/// the parent still uses.
pub fn child(pending: Pending, table: &mut TableGuard<'_>) {
    let Pending {
        local,
        remote,
        mut sessions,
    } = pending;
    // The parent's sessions are not ours to serve.
    for fd in std::mem::take(&mut *sessions) {
        sys::close_raw(fd);
    }
    drop(sessions);
    let mut forgotten = Vec::new();
    if let Some((ours, theirs, page, _)) = local {
        sys::close_raw(ours);
        let conn = Connection::open(theirs, page);
        let mut remotes: BTreeMap<u32, Arc<Remote>> = BTreeMap::new();
        for (fd, handle, object) in local_handles(table) {
            let kind = match &object {
                Object::File(f) if matches!(f.file(), uiommu_abi::File::DmaBuf(_)) => Kind::DmaBuf,
                Object::File(_) => Kind::File,
                _ => Kind::Context,
            };
            let remote = remotes
                .entry(handle)
                .or_insert_with(|| Remote::new(conn.clone(), handle, kind))
                .clone();
            forgotten.extend(replace(table, fd, Object::Remote(remote)));
        }
    }
    for (old, grandchild) in remote {
        old.abandon();
        let Some((fd, page)) = grandchild else {
            continue;
        };
        let conn = Connection::open(fd, page);
        let mut remotes: BTreeMap<u32, Arc<Remote>> = BTreeMap::new();
        let fds: Vec<(c_int, u32, Kind)> = table
            .entries()
            .filter_map(|(fd, e)| match &e.object {
                Object::Remote(r) if Arc::ptr_eq(r.connection(), &old) => {
                    Some((fd, r.handle(), r.kind()))
                }
                _ => None,
            })
            .collect();
        for (fd, handle, kind) in fds {
            let remote = remotes
                .entry(handle)
                .or_insert_with(|| Remote::new(conn.clone(), handle, kind))
                .clone();
            // The old handle's drop says nothing: its connection is abandoned.
            drop(replace(table, fd, Object::Remote(remote)));
        }
    }
    std::mem::forget(forgotten);
}

fn replace(table: &mut TableGuard<'_>, fd: c_int, object: Object) -> Option<Entry> {
    let old = table.get(fd)?;
    let (id, mode) = (old.id, old.mode);
    table.insert(fd, Entry { object, id, mode })
}
