//! What each intercepted call does with a virtual fd, in safe code (reads and writes are
//! [`crate::rw`]'s, re-exported here).
//!
//! Every function here answers `None` when the call is not ours (the exported symbol then
//! forwards it to libc unchanged) or `Some(result)` with the value or errno the kernel would
//! give for `/dev/iommu` or `/dev/vfio/vfio`, for a vfio-pci device file (see
//! [`crate::device`]), or for a file a command handed out (an anonymous inode whose only method
//! is `release`). A call on an fd whose close is under way, or that was closed, answers
//! `EBADF` rather than going to the backing file (see [`crate::table`]).

use crate::caller_memory;
use crate::files::Fds;
use crate::share::Kind;
use crate::sys::{self, Errno};
use crate::table::{Entry, Object, TABLE};
use crate::vpath::Target;
use crate::{
    attr, backing, config, container, device, failnth, fork, group, path, process, vdir, vfs, vpath,
};
use libc::{c_int, c_uint, c_ulong};
use uiommu_abi::host::{Context, Node};
use uiommu_abi::{Caller, dispatch};
use uiommu_uapi::catalog::FileKind;

pub use crate::rw::{lseek, pread_pwrite, read_write, vectored};

/// `open`/`openat` of `path` (relative to `dirfd`, `None` for the cwd).
pub fn open(
    dirfd: Option<c_int>,
    path: &[u8],
    flags: c_int,
    mode: c_uint,
) -> Option<Result<c_int, Errno>> {
    if failnth::enabled()
        && let Some(tid) = failnth::task_of(path)
    {
        return Some(open_fail_nth(tid, flags));
    }
    if let Some(node) = path::classify(dirfd, path) {
        return Some(crate::trace::open(dirfd, path, flags, || {
            open_node(node, flags, mode)
        }));
    }
    let r = match vpath::resolve(dirfd, path, flags & libc::O_NOFOLLOW == 0)? {
        Err(e) => Err(e),
        // The device file's fd is in the table already.
        Ok(Target::Virtual(p, node @ uiommu_abi::sysfs::Node::CharDev(..))) => {
            return Some(crate::trace::open(dirfd, path, flags, || {
                vfs::open(&p, node, flags)
            }));
        }
        // So is a writable attribute's opened for writing.
        Ok(Target::Virtual(p, node))
            if node.writable() && flags & libc::O_ACCMODE != libc::O_RDONLY =>
        {
            return Some(vfs::open(&p, node, flags));
        }
        Ok(Target::Real(p)) => sys::open_raw(&p, flags, mode),
        Ok(Target::Virtual(p, node)) => vfs::open(&p, node, flags),
    };
    if let Ok(fd) = r {
        forget(fd);
    }
    Some(r)
}

fn open_fail_nth(tid: c_int, flags: c_int) -> Result<c_int, Errno> {
    let object = Object::FailNth(std::sync::Arc::new(tid));
    TABLE.create(object, || failnth::open(flags))
}

fn open_node(node: Node, flags: c_int, mode: c_uint) -> Result<c_int, Errno> {
    let iommu = config::iommu().ok_or(libc::ENODEV)?;
    if node == Node::VfioContainer && config::legacy_container() {
        return container::open(iommu, flags, mode);
    }
    // The context's allocation (`iommufd_fops_open`).
    uiommu_abi::host::fail_nth::alloc().map_err(|e| e.0)?;
    backing::open_node(backing::name(node), flags, mode, || {
        Ok(Object::Context(Context::new(
            process::current(),
            node,
            iommu,
        )))
    })
}

/// After a forwarded call returned a new fd: the number is no longer virtual.
pub fn forget(fd: c_int) {
    if fd >= 0 {
        drop(TABLE.remove(fd));
    }
}

/// Runs `real`, the `close` of `fd`, with its entry marked closing (see [`crate::table`]);
/// the entry, if this was the context's last fd, is released after the real close, outside
/// every lock.
pub fn close(fd: c_int, real: impl FnOnce() -> c_int) -> c_int {
    vdir::forget_fd(fd);
    let marked = TABLE.begin_close(fd, fd);
    attr_before_close(&marked);
    let rc = real();
    let e = sys::errno();
    // Linux releases the fd whatever `close` answers.
    drop(TABLE.finish_close(marked, true));
    sys::set_errno(e);
    rc
}

/// Runs `real`, `close_range(first, last, flags)`, with the entries it closes marked closing.
/// `CLOSE_RANGE_CLOEXEC` closes nothing. With `CLOSE_RANGE_UNSHARE` in a process whose threads
/// share the fd table, the caller's private copy loses the fds while the other threads keep
/// them; the one table follows the caller.
pub fn close_range(
    first: c_uint,
    last: c_uint,
    flags: c_int,
    real: impl FnOnce() -> c_int,
) -> c_int {
    let closes = flags & libc::CLOSE_RANGE_CLOEXEC as c_int == 0 && first <= last;
    let first = c_int::try_from(first).unwrap_or(c_int::MAX);
    let last = c_int::try_from(last).unwrap_or(c_int::MAX);
    let marked = match closes {
        true => TABLE.begin_close(first, last),
        false => Vec::new(),
    };
    attr_before_close(&marked);
    let rc = real();
    let e = sys::errno();
    drop(TABLE.finish_close(marked, rc == 0));
    sys::set_errno(e);
    rc
}

/// [`attr::before_close`] of the writable attributes among the fds about to be closed.
fn attr_before_close(marked: &[(c_int, Entry)]) {
    for (fd, entry) in marked {
        if let Object::Attr(file) = &entry.object {
            attr::before_close(*fd, file);
        }
    }
}

/// The entry of `fd` if it is virtual: `None` if it is not ours, `EBADF` if it is being closed.
///
/// No system call: every way the program can give up or replace a number goes through the
/// table (`close`, `close_range`, `closefrom`, `dup*`, `fcntl(F_DUPFD*)`, and the same through
/// `syscall()`), so an entry stands for the file at its number (see [`crate::table`]).
#[cfg(target_arch = "x86_64")]
pub(crate) fn lookup(fd: c_int) -> Option<Result<Entry, Errno>> {
    TABLE.get(fd)
}

/// The entry of `fd` if it is virtual and still names its memfd: `None` if it is not ours,
/// `EBADF` if it is being closed or was closed. Where `syscall()` is not intercepted (see
/// [`crate::table`]), a number closed behind our back and reused is caught here: a number that
/// now names another file is looked up again.
#[cfg(not(target_arch = "x86_64"))]
pub(crate) fn lookup(fd: c_int) -> Option<Result<Entry, Errno>> {
    loop {
        let entry = match TABLE.get(fd)? {
            Ok(entry) => entry,
            Err(e) => return Some(Err(e)),
        };
        match sys::file_id(fd) {
            Ok(id) if id == entry.id => return Some(Ok(entry)),
            Ok(_) => drop(TABLE.remove_if(fd, &entry)),
            Err(e) => {
                drop(TABLE.remove_if(fd, &entry));
                return Some(Err(e));
            }
        }
    }
}

/// The entry of `fd` if it is virtual and not being closed.
pub(crate) fn entry(fd: c_int) -> Option<Entry> {
    lookup(fd)?.ok()
}

/// `f` of the entry of `fd` if it is virtual and not being closed, the entry borrowed where
/// the table needs no check of the number ([`lookup`]).
#[cfg(target_arch = "x86_64")]
pub(crate) fn entry_with<T>(fd: c_int, f: impl FnOnce(&Entry) -> Option<T>) -> Option<T> {
    TABLE.with(fd, f)
}

/// `f` of the entry of `fd` if it is virtual and not being closed.
#[cfg(not(target_arch = "x86_64"))]
pub(crate) fn entry_with<T>(fd: c_int, f: impl FnOnce(&Entry) -> Option<T>) -> Option<T> {
    f(&entry(fd)?)
}

/// See [`crate::table::FdTable::generation`].
pub fn generation() -> u64 {
    TABLE.generation()
}

/// After a forwarded call answered `ENOTTY`: waits for the fds arriving on the library's
/// sockets to be placed ([`crate::table::FdTable::begin_placing`]; microseconds), then whether
/// one of our files may have been at the number since `generation` was read. errno is kept.
pub fn settled_since(generation: u64) -> bool {
    let errno = sys::errno();
    // Bounded: a placement is a few system calls; never wait forever on a bug.
    for _ in 0..100_000 {
        if !TABLE.placing() {
            break;
        }
        std::thread::yield_now();
    }
    sys::set_errno(errno);
    TABLE.generation() != generation
}

/// Answers with `f` for the entry of `fd`: `None` if `fd` is not ours, `EBADF` if it is being
/// closed or was closed. The entry is lent where the lookup left it: a move of it costs more
/// than its size suggests, as reads of the moved copy wait for the stores that made it.
pub(crate) fn answer<T>(
    fd: c_int,
    f: impl FnOnce(&Entry) -> Option<Result<T, Errno>>,
) -> Option<Result<T, Errno>> {
    match lookup(fd)? {
        Ok(ref entry) => f(entry),
        Err(e) => Some(Err(e)),
    }
}

/// `ioctl(fd, request, arg)`.
pub fn ioctl(fd: c_int, request: c_ulong, arg: c_ulong) -> Option<Result<c_int, Errno>> {
    answer(fd, |entry| {
        // `do_vfs_ioctl` answers these for every file before the driver sees the command, and
        // they act on the fd or the open file, which the backing fd is.
        if matches!(
            request,
            libc::FIOCLEX | libc::FIONCLEX | libc::FIONBIO | libc::FIOASYNC
        ) {
            return None;
        }
        // The kernel's ioctl takes `unsigned int cmd`: the upper bits of the request are dropped.
        let cmd = request as u32;
        let traced = |kind, f: &mut dyn FnMut() -> Result<c_int, Errno>| {
            crate::trace::ioctl(fd, kind, cmd, arg, &caller_memory(), f)
        };
        let ctx = match &entry.object {
            Object::Context(ctx) => ctx,
            Object::Remote(r) if r.kind() == Kind::Context => {
                return Some(traced(FileKind::Iommufd, &mut || {
                    let r = r.ioctl(cmd, arg);
                    r.map(|v| c_int::try_from(v).unwrap_or(c_int::MAX))
                }));
            }
            Object::Device(d) => {
                return Some(traced(FileKind::Device, &mut || device::ioctl(d, cmd, arg)));
            }
            Object::Group(g) => {
                return Some(traced(FileKind::Group, &mut || group::ioctl(g, cmd, arg)));
            }
            Object::Container(c) => {
                return Some(traced(FileKind::Container, &mut || {
                    container::ioctl(c, cmd, arg)
                }));
            }
            Object::File(_) | Object::FailNth(_) | Object::Attr(_) | Object::Remote(_) => {
                return file_ioctl(request);
            }
        };
        let r = traced(FileKind::Iommufd, &mut || {
            command(|caller| dispatch(ctx, caller, cmd, arg))
        });
        if crate::config::log_hwpt() {
            let mem = caller_memory();
            if let Some(l) = crate::hwpt_log::line(request as u32, arg, r, &mem) {
                eprintln!("uiommu: {l}");
            }
        }
        Some(r)
    })
}

/// Runs `f` as a command of this process, on its memory and fds, with the fork gate held:
/// the value it returns (as the syscall's `int`) or its errno.
pub(crate) fn command(
    f: impl FnOnce(&Caller<'_>) -> uiommu_uapi::errno::Result<i64>,
) -> Result<c_int, Errno> {
    let _gate = fork::command_guard();
    let mem = caller_memory();
    let caller = Caller::opener(&mem, &Fds);
    f(&caller)
        .map(|v| c_int::try_from(v).unwrap_or(c_int::MAX))
        .map_err(|e| e.0)
}

/// `ioctl` on a file with no `unlocked_ioctl` (`fs/ioctl.c: vfs_ioctl`): `ENOTTY`, but for
/// `FIGETBSZ`, which `do_vfs_ioctl` answers from the superblock (the anonymous inode
/// filesystem's block size is `PAGE_SIZE`, as the memfd's is).
fn file_ioctl(request: c_ulong) -> Option<Result<c_int, Errno>> {
    const FIGETBSZ: c_ulong = 2;
    if request as u32 as c_ulong == FIGETBSZ {
        return None;
    }
    Some(Err(libc::ENOTTY))
}

/// `mmap` of a virtual fd: `do_mmap`'s checks, then `iommufd_fops_mmap`'s for a context;
/// for a file with no `mmap` method, `ENODEV` (`can_mmap_file`); `EINVAL` for a dma-buf.
pub fn mmap(
    addr: usize,
    len: usize,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    off: i64,
) -> Option<Result<usize, Errno>> {
    if flags & libc::MAP_ANONYMOUS != 0 {
        return None;
    }
    answer(fd, |entry| {
        let device = matches!(entry.object, Object::Device(_));
        Some(crate::trace::mmap(
            addr,
            len,
            prot,
            flags,
            fd,
            off,
            device,
            || map(entry, addr, len, prot, flags, fd, off),
        ))
    })
}

/// [`mmap`]'s answer for `entry`.
fn map(
    entry: &Entry,
    addr: usize,
    len: usize,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    off: i64,
) -> Result<usize, Errno> {
    match &entry.object {
        Object::Context(ctx) => mmap_checks(len, prot, flags, fd, off).and_then(|shared| {
            // iommufd_fops_mmap.
            if !shared {
                return Err(libc::EINVAL);
            }
            if prot & libc::PROT_EXEC != 0 {
                return Err(libc::EPERM);
            }
            if flags & (libc::MAP_FIXED | libc::MAP_FIXED_NOREPLACE) != 0 {
                return Err(libc::EINVAL);
            }
            let m = uiommu_abi::mmap(ctx, off as u64, len as u64).map_err(|e| e.0)?;
            Ok(crate::regions::insert(m) as usize)
        }),
        Object::FailNth(_) | Object::Attr(_) | Object::Group(_) | Object::Container(_) => {
            mmap_checks(len, prot, flags, fd, off).and(Err(libc::ENODEV))
        }
        // `vfio_device_fops_mmap`: a BAR served as MMIO.
        Object::Device(d) => d.serve().and_then(|f| {
            let shared = mmap_checks(len, prot, flags, fd, off)?;
            let m = f.mmap(off as u64, len as u64, shared).map_err(|e| e.0)?;
            bar_map(d, m, addr, len, flags)
        }),
        // A context or file shared since a fork: its memory is its owner's (see `share`).
        Object::Remote(r) => mmap_checks(len, prot, flags, fd, off).and_then(|_| match r.kind() {
            Kind::DmaBuf => Err(libc::EINVAL),
            Kind::Context | Kind::File => Err(libc::ENODEV),
        }),
        Object::File(f) => mmap_checks(len, prot, flags, fd, off).and_then(|_| {
            // The anonymous inode and dma-buf filesystems are `SB_I_NOEXEC` (`path_noexec`).
            if prot & libc::PROT_EXEC != 0 {
                return Err(libc::EPERM);
            }
            match f.file() {
                // `dma_buf_mmap_internal`: the test exporter has no `mmap`.
                uiommu_abi::File::DmaBuf(_) => Err(libc::EINVAL),
                _ => Err(libc::ENODEV),
            }
        }),
    }
}

/// Serves the mapping `m` of `d` as MMIO; only x86-64 accesses are decoded: elsewhere a BAR
/// cannot be mapped.
fn bar_map(
    d: &std::sync::Arc<device::OpenDevice>,
    m: uiommu_abi::BarMapping,
    addr: usize,
    len: usize,
    flags: c_int,
) -> Result<usize, Errno> {
    #[cfg(target_arch = "x86_64")]
    let r = crate::mmio::map(d, m, addr, len, flags);
    #[cfg(not(target_arch = "x86_64"))]
    let r = {
        let _ = (d, m, addr, len, flags);
        Err(libc::EINVAL)
    };
    r
}

/// `do_mmap`'s checks up to the file's own: whether the mapping is shared.
fn mmap_checks(len: usize, prot: c_int, flags: c_int, fd: c_int, off: i64) -> Result<bool, Errno> {
    const PAGE: i64 = 4096;
    if off & (PAGE - 1) != 0 || len == 0 {
        return Err(libc::EINVAL);
    }
    if len.checked_next_multiple_of(PAGE as usize).is_none() {
        return Err(libc::ENOMEM);
    }
    let mode = sys::access_mode(fd)?;
    let readable = mode != libc::O_WRONLY;
    let writable = mode != libc::O_RDONLY;
    let shared = match flags & libc::MAP_TYPE {
        libc::MAP_SHARED | libc::MAP_SHARED_VALIDATE => true,
        libc::MAP_PRIVATE => false,
        _ => return Err(libc::EINVAL),
    };
    if shared && prot & libc::PROT_WRITE != 0 && !writable {
        return Err(libc::EACCES);
    }
    if !readable {
        return Err(libc::EACCES);
    }
    Ok(shared)
}

/// Runs `real`, a `dup`, `dup2`, `dup3` or `fcntl(F_DUPFD*)` of `old` that returns the new fd,
/// with the table locked: no other thread sees the new number half-mapped, and `old`'s entry
/// (closing or not: the real call found it open) cannot leave before it is copied. `onto` is
/// the number `dup2`/`dup3` close first if open: a writable attribute's there is flushed
/// as its `close` would be ([`attr::before_close`]).
pub fn duplicate(old: c_int, onto: Option<c_int>, real: impl FnOnce() -> c_int) -> c_int {
    if let Some(new) = onto.filter(|&n| n != old)
        && let Some(Ok(entry)) = TABLE.get(new)
        && let Object::Attr(file) = &entry.object
    {
        attr::before_close(new, file);
    }
    let mut t = (!TABLE.is_empty()).then(|| TABLE.write_new());
    let rc = real();
    let e = sys::errno();
    let mut replaced = None;
    if rc >= 0 && rc != old {
        vdir::duplicated(old, rc);
        if let Some(t) = t.as_mut() {
            let old_entry = t.get(old).cloned();
            replaced = match old_entry {
                Some(e) => t.insert(rc, e),
                None => t.remove(rc),
            };
        }
    }
    drop(t);
    drop(replaced);
    sys::set_errno(e);
    rc
}

/// At load: fds inherited across `execve` that name one of our nodes become fresh contexts
/// (a legacy VFIO container's, a fresh container).
///
/// The kernel keeps the context (and its mappings of the old address space) across exec; in
/// process the old image's objects are gone, so the new image gets an empty context on the
/// same fd. That covers the common case of a launcher opening `/dev/iommu` and passing the fd
/// to the program it runs.
pub fn adopt_inherited() {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    for ent in dir.flatten() {
        let Some(fd) = ent
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<c_int>().ok())
        else {
            continue;
        };
        // The system call itself: the exported `readlink` shows a virtual fd's node instead.
        let Some(target) = std::ffi::CString::new(format!("/proc/self/fd/{fd}"))
            .ok()
            .and_then(|p| sys::readlink(&p))
        else {
            continue;
        };
        if let Some(node) = backing::node_of_link(&target)
            && let Some(iommu) = config::iommu()
        {
            let ctx = Context::new(process::current(), node, iommu);
            let _ = TABLE.register(fd, Object::Context(ctx));
        } else if container::is_backing_link(&target)
            && let Some(iommu) = config::iommu()
        {
            let _ = TABLE.register(fd, container::fresh(iommu));
        }
    }
}
