//! Directory listings that include the emulated devices' entries.
//!
//! A directory stream of a directory of both the host and the tree ([`crate::vpath`]) is the
//! host's stream; when it ends, the tree's entries that the host lacks follow. A directory
//! only the tree has is a real stream of `/` whose own entries are hidden: it lists `.`, `..`
//! and the tree's entries, and its fd, like an fd `open` gave for such a directory, stands for
//! the directory in the `*at` calls ([`path_of_fd`]).

use crate::{emulated, sys};
use libc::{c_int, dirent64};
use std::collections::BTreeMap;
use std::ffi::CString;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use uiommu_abi::sysfs::Node;

/// One stream with entries of ours.
struct Stream {
    /// Whether the real stream's entries are hidden (a directory only the tree has).
    hide_real: bool,
    /// The entries still to list after the real ones: name and `d_type`.
    extra: Vec<(String, u8)>,
    next: usize,
    /// Where the current entry is returned (valid until the next call on the stream).
    entry: Box<dirent64>,
}

/// The streams, by `DIR *`.
static STREAMS: Mutex<BTreeMap<usize, Stream>> = Mutex::new(BTreeMap::new());
/// fds standing for directories only the tree has: their paths, and the identity of the file
/// they are open on (`/`), which a number closed behind our back and reused no longer has.
static DIR_FDS: Mutex<BTreeMap<c_int, DirFd>> = Mutex::new(BTreeMap::new());

/// What [`DIR_FDS`] keeps of one fd: the directory's path and the fd's file identity.
type DirFd = (String, (u64, u64));
/// Whether any stream was ever registered (the common process never pays for a lock).
static ANY: AtomicBool = AtomicBool::new(false);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The directory only the tree has that `fd` stands for.
pub fn path_of_fd(fd: c_int) -> Option<String> {
    if !ANY.load(Ordering::Acquire) {
        return None;
    }
    let (path, id) = lock(&DIR_FDS).get(&fd).cloned()?;
    if sys::file_id(fd) != Ok(id) {
        forget_fd(fd);
        return None;
    }
    Some(path)
}

/// `fd` stands for the tree's directory `path`.
pub fn remember_fd(fd: c_int, path: &str) {
    let Ok(id) = sys::file_id(fd) else { return };
    ANY.store(true, Ordering::Release);
    lock(&DIR_FDS).insert(fd, (path.to_string(), id));
}

/// `new` was made from `old` (`dup` and the like): it stands for what `old` stands for.
pub fn duplicated(old: c_int, new: c_int) {
    match path_of_fd(old) {
        Some(p) => remember_fd(new, &p),
        None => forget_fd(new),
    }
}

/// `fd` is closed.
pub fn forget_fd(fd: c_int) {
    if ANY.load(Ordering::Acquire) {
        lock(&DIR_FDS).remove(&fd);
    }
}

fn d_type(node: &Node) -> u8 {
    match node {
        Node::Dir => libc::DT_DIR,
        Node::Link(_) => libc::DT_LNK,
        Node::CharDev(..) => libc::DT_CHR,
        Node::Text(_) | Node::Config(..) | Node::Debugfs { .. } | Node::NumVfs(_) => libc::DT_REG,
    }
}

/// A new stream `dir` of directory `path`: records its entries of the tree, if it has any.
/// `hide_real` for a directory only the tree has (the stream is one of `/`).
pub fn opened(dir: *mut libc::DIR, path: &str, hide_real: bool) {
    let Some(tree) = emulated::tree() else { return };
    if dir.is_null() {
        return;
    }
    let mut extra: Vec<(String, u8)> = Vec::new();
    if hide_real {
        extra.push((".".into(), libc::DT_DIR));
        extra.push(("..".into(), libc::DT_DIR));
        remember_fd(sys::dirfd(dir), path);
    }
    for (name, node) in tree.children(path) {
        let on_host = !hide_real
            && CString::new(format!("{path}/{name}")).is_ok_and(|p| sys::lstat_type(&p).is_ok());
        if !on_host {
            extra.push((name.to_string(), d_type(node)));
        }
    }
    if extra.is_empty() {
        return;
    }
    ANY.store(true, Ordering::Release);
    let entry = Box::new(dirent64 {
        d_ino: 0,
        d_off: 0,
        d_reclen: 0,
        d_type: 0,
        d_name: [0; 256],
    });
    let s = Stream {
        hide_real,
        extra,
        next: 0,
        entry,
    };
    lock(&STREAMS).insert(dir as usize, s);
}

/// What `readdir` does on `dir`.
pub enum Step {
    /// Not one of ours: the host's `readdir`.
    Host,
    /// The host's `readdir` first; at its end, [`next_extra`].
    HostThenExtra,
    /// Only [`next_extra`].
    Extra,
}

/// How `readdir` goes on `dir`.
pub fn step(dir: *mut libc::DIR) -> Step {
    if !ANY.load(Ordering::Acquire) {
        return Step::Host;
    }
    match lock(&STREAMS).get(&(dir as usize)) {
        None => Step::Host,
        Some(s) if s.hide_real => Step::Extra,
        Some(_) => Step::HostThenExtra,
    }
}

/// The next entry of ours on `dir`, or null at the end.
pub fn next_extra(dir: *mut libc::DIR) -> *mut dirent64 {
    let mut streams = lock(&STREAMS);
    let Some(s) = streams.get_mut(&(dir as usize)) else {
        return std::ptr::null_mut();
    };
    let Some((name, ty)) = s.extra.get(s.next) else {
        return std::ptr::null_mut();
    };
    s.next += 1;
    let e = &mut *s.entry;
    e.d_ino = ino_of(name, s.next as u64);
    e.d_off = s.next as i64;
    e.d_reclen = size_of::<dirent64>() as u16;
    e.d_type = *ty;
    e.d_name = [0; 256];
    for (d, b) in e.d_name.iter_mut().zip(name.bytes().take(255)) {
        *d = b as libc::c_char;
    }
    &mut *s.entry
}

/// An inode number for a listed entry (nonzero: `readdir` callers skip 0).
pub fn ino_of(name: &str, salt: u64) -> u64 {
    // FNV-1a.
    let h = name.bytes().fold(0xcbf2_9ce4_8422_2325u64 ^ salt, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    h | 1
}

/// `dir` is being closed.
pub fn closed(dir: *mut libc::DIR) {
    if !ANY.load(Ordering::Acquire) {
        return;
    }
    let removed = lock(&STREAMS).remove(&(dir as usize));
    if removed.is_some_and(|s| s.hide_real) {
        forget_fd(sys::dirfd(dir));
    }
}
