//! The exported path calls that see the emulated devices' sysfs and `/dev` entries: the
//! `stat` family (with glibc's `__xstat` names, and `fstat` of an fd opened from one of our
//! nodes, [`fd_stat`]), `statx`, `readlink`, `access`, `realpath`,
//! `fopen` and the extended attribute reads (none on our entries, as on sysfs). Each resolves its path ([`vpath::resolve`]): an entry of ours is answered
//! here ([`vfs`]), a host path our links lead to is forwarded with that path, and any other
//! call is forwarded unchanged. Bodies run under [`guard`], as in [`crate::exports`].

use crate::exports::{guard, ret};
use crate::fd_stat;
use crate::sys::{self, Errno, set_errno};
use crate::vfs::{self, Meta};
use crate::vpath::{self, Target};
use libc::{c_char, c_int, c_uint, c_void, size_t, ssize_t};
use std::sync::OnceLock;
use uiommu_abi::sysfs::Node;

// The `64` names take a `struct stat64`, the same structure on these targets.
const _: () = assert!(size_of::<libc::stat>() == size_of::<libc::stat64>());

/// A call on `path` (relative to `dirfd`): `ours` for an entry of ours, else `host` with the
/// path to forward (the host path our links lead to, or the caller's own).
///
/// # Safety
/// `path` is null or NUL-terminated.
unsafe fn on_path<T>(
    dirfd: c_int,
    path: *const c_char,
    follow: bool,
    fail: T,
    ours: impl FnOnce(&str, &'static Node) -> Result<T, Errno>,
    host: impl FnOnce(*const c_char) -> T,
) -> T {
    let dir = (dirfd != libc::AT_FDCWD).then_some(dirfd);
    // SAFETY: our caller's contract.
    let p = unsafe { sys::c_str(path) };
    match p.and_then(|p| vpath::resolve(dir, p.to_bytes(), follow)) {
        None => host(path),
        Some(Err(e)) => {
            set_errno(e);
            fail
        }
        Some(Ok(Target::Real(real))) => host(real.as_ptr()),
        Some(Ok(Target::Virtual(p, node))) => ret(ours(&p, node), fail),
    }
}

/// `st_dev` of our entries: sysfs's own.
fn device() -> u64 {
    static DEV: OnceLock<u64> = OnceLock::new();
    *DEV.get_or_init(|| sys::stat_raw(c"/sys", 0).map_or(0, |s| s.st_dev))
}

fn fill_stat(m: Meta, st: &mut libc::stat) {
    st.st_dev = device();
    st.st_ino = m.ino;
    st.st_nlink = m.nlink;
    st.st_mode = m.mode;
    st.st_uid = 0;
    st.st_gid = 0;
    st.st_rdev = libc::makedev(m.rdev.0, m.rdev.1);
    st.st_size = m.size as i64;
    st.st_blksize = 4096;
    st.st_blocks = 0;
    st.st_atime = 0;
    st.st_atime_nsec = 0;
    st.st_mtime = 0;
    st.st_mtime_nsec = 0;
    st.st_ctime = 0;
    st.st_ctime_nsec = 0;
}

/// The body of every `stat`-like call.
///
/// # Safety
/// `path` is null or NUL-terminated; `buf` is null or a writable `struct stat`.
unsafe fn stat_common(
    dirfd: c_int,
    path: *const c_char,
    buf: *mut libc::stat,
    (follow, empty_path): (bool, bool),
    host: impl FnOnce(*const c_char) -> c_int,
) -> c_int {
    // SAFETY: our caller's contract.
    if empty_path && unsafe { is_empty(path) } {
        // SAFETY: our caller's contract.
        return unsafe { fd_stat_common(dirfd, buf, || host(path)) };
    }
    let ours = |p: &str, node: &Node| {
        // SAFETY: `buf` is null or a writable `struct stat` (our caller's contract).
        let st = unsafe { buf.as_mut() }.ok_or(libc::EFAULT)?;
        fill_stat(vfs::meta(p, node), st);
        Ok(0)
    };
    // SAFETY: our caller's contract.
    guard(-1, || unsafe {
        on_path(dirfd, path, follow, -1, ours, host)
    })
}

/// Whether `path` is `""` (with `AT_EMPTY_PATH`, the call is on the fd itself).
///
/// # Safety
/// `path` is null or NUL-terminated.
unsafe fn is_empty(path: *const c_char) -> bool {
    // SAFETY: our caller's contract.
    unsafe { sys::c_str(path) }.is_some_and(|p| p.is_empty())
}

/// The body of `fstat` and of the `stat` calls on an fd (`AT_EMPTY_PATH`).
///
/// # Safety
/// `buf` is null or a writable `struct stat`.
unsafe fn fd_stat_common(fd: c_int, buf: *mut libc::stat, host: impl FnOnce() -> c_int) -> c_int {
    guard(-1, || match fd_stat::node_meta(fd) {
        None => host(),
        Some(m) => {
            // SAFETY: our caller's contract.
            let st = unsafe { buf.as_mut() };
            ret(
                st.ok_or(libc::EFAULT)
                    .map(|st| fill_stat(m, st))
                    .map(|()| 0),
                -1,
            )
        }
    })
}

/// Declares the `fstat`-like exports: each `NAME(args) => next_NAME` with the fd and buffer
/// named among its arguments.
macro_rules! fstat_exports {
    ($($name:ident($($arg:ident: $ty:ty),*) => $next:ident, fd $fd:ident, buf $buf:ident;)*) => {$(
        #[doc = concat!("`", stringify!($name), "`.")]
        ///
        /// # Safety
        /// C contract of the function.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name($($arg: $ty),*) -> c_int {
            // SAFETY: our caller's contract.
            unsafe { fd_stat_common($fd, $buf, || sys::$next($($arg),*)) }
        }
    )*};
}

fstat_exports! {
    fstat(fd: c_int, buf: *mut libc::stat) => next_fstat, fd fd, buf buf;
    fstat64(fd: c_int, buf: *mut libc::stat) => next_fstat64, fd fd, buf buf;
    // glibc before 2.33 calls these versioned names.
    __fxstat(ver: c_int, fd: c_int, buf: *mut libc::stat) => next_fxstat, fd fd, buf buf;
    __fxstat64(ver: c_int, fd: c_int, buf: *mut libc::stat) => next_fxstat64, fd fd, buf buf;
}

fn follows(flags: c_int) -> bool {
    flags & libc::AT_SYMLINK_NOFOLLOW == 0
}

/// Declares the `stat`-like exports: each `NAME(args) => next_NAME` with the directory, path,
/// buffer and whether a final link is followed, named among its arguments.
macro_rules! stat_exports {
    ($($name:ident($($arg:ident: $ty:ty),*) => $next:ident,
        at $dirfd:expr, path $path:ident, buf $buf:ident, follow $follow:expr;)*) => {$(
        #[doc = concat!("`", stringify!($name), "`.")]
        ///
        /// # Safety
        /// C contract of the function.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name($($arg: $ty),*) -> c_int {
            // SAFETY: our caller's contract.
            unsafe {
                stat_common($dirfd, $path, $buf, $follow, |$path| sys::$next($($arg),*))
            }
        }
    )*};
}

stat_exports! {
    stat(path: *const c_char, buf: *mut libc::stat) => next_stat,
        at libc::AT_FDCWD, path path, buf buf, follow (true, false);
    stat64(path: *const c_char, buf: *mut libc::stat) => next_stat64,
        at libc::AT_FDCWD, path path, buf buf, follow (true, false);
    lstat(path: *const c_char, buf: *mut libc::stat) => next_lstat,
        at libc::AT_FDCWD, path path, buf buf, follow (false, false);
    lstat64(path: *const c_char, buf: *mut libc::stat) => next_lstat64,
        at libc::AT_FDCWD, path path, buf buf, follow (false, false);
    fstatat(dirfd: c_int, path: *const c_char, buf: *mut libc::stat, flags: c_int) => next_fstatat,
        at dirfd, path path, buf buf, follow (follows(flags), flags & libc::AT_EMPTY_PATH != 0);
    fstatat64(dirfd: c_int, path: *const c_char, buf: *mut libc::stat, flags: c_int) => next_fstatat64,
        at dirfd, path path, buf buf, follow (follows(flags), flags & libc::AT_EMPTY_PATH != 0);
    // glibc before 2.33 calls these versioned names.
    __xstat(ver: c_int, path: *const c_char, buf: *mut libc::stat) => next_xstat,
        at libc::AT_FDCWD, path path, buf buf, follow (true, false);
    __xstat64(ver: c_int, path: *const c_char, buf: *mut libc::stat) => next_xstat64,
        at libc::AT_FDCWD, path path, buf buf, follow (true, false);
    __lxstat(ver: c_int, path: *const c_char, buf: *mut libc::stat) => next_lxstat,
        at libc::AT_FDCWD, path path, buf buf, follow (false, false);
    __lxstat64(ver: c_int, path: *const c_char, buf: *mut libc::stat) => next_lxstat64,
        at libc::AT_FDCWD, path path, buf buf, follow (false, false);
    __fxstatat(ver: c_int, dirfd: c_int, path: *const c_char, buf: *mut libc::stat, flags: c_int)
        => next_fxstatat, at dirfd, path path, buf buf, follow (follows(flags), flags & libc::AT_EMPTY_PATH != 0);
    __fxstatat64(ver: c_int, dirfd: c_int, path: *const c_char, buf: *mut libc::stat, flags: c_int)
        => next_fxstatat64, at dirfd, path path, buf buf, follow (follows(flags), flags & libc::AT_EMPTY_PATH != 0);
}

fn fill_statx(m: Meta, stx: &mut libc::statx) {
    let dev = device();
    stx.stx_mask = libc::STATX_BASIC_STATS;
    stx.stx_blksize = 4096;
    stx.stx_attributes = 0;
    stx.stx_nlink = m.nlink as u32;
    stx.stx_uid = 0;
    stx.stx_gid = 0;
    stx.stx_mode = m.mode as u16;
    stx.stx_ino = m.ino;
    stx.stx_size = m.size;
    stx.stx_blocks = 0;
    stx.stx_attributes_mask = 0;
    for t in [
        &mut stx.stx_atime,
        &mut stx.stx_btime,
        &mut stx.stx_ctime,
        &mut stx.stx_mtime,
    ] {
        t.tv_sec = 0;
        t.tv_nsec = 0;
    }
    stx.stx_rdev_major = m.rdev.0;
    stx.stx_rdev_minor = m.rdev.1;
    stx.stx_dev_major = libc::major(dev);
    stx.stx_dev_minor = libc::minor(dev);
}

/// `statx(dirfd, path, flags, mask, buf)`.
///
/// # Safety
/// C contract of `statx`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn statx(
    dirfd: c_int,
    path: *const c_char,
    flags: c_int,
    mask: c_uint,
    buf: *mut libc::statx,
) -> c_int {
    let ours = |p: &str, node: &Node| {
        // SAFETY: `buf` is null or a writable `struct statx` (the C contract).
        let stx = unsafe { buf.as_mut() }.ok_or(libc::EFAULT)?;
        fill_statx(vfs::meta(p, node), stx);
        Ok(0)
    };
    guard(-1, || {
        // SAFETY: our caller's contract.
        if flags & libc::AT_EMPTY_PATH != 0 && unsafe { is_empty(path) } {
            if let Some(m) = fd_stat::node_meta(dirfd) {
                // SAFETY: `buf` is null or a writable `struct statx` (the C contract).
                let stx = unsafe { buf.as_mut() };
                return ret(
                    stx.ok_or(libc::EFAULT)
                        .map(|s| fill_statx(m, s))
                        .map(|()| 0),
                    -1,
                );
            }
        }
        // SAFETY: our caller's contract.
        unsafe {
            on_path(dirfd, path, follows(flags), -1, ours, |p| {
                sys::next_statx(dirfd, p, flags, mask, buf)
            })
        }
    })
}

/// Copies `bytes` to the caller's `buf` of `size` bytes: `readlink`'s result.
fn copy_link(bytes: &[u8], buf: *mut c_char, size: size_t) -> Result<ssize_t, Errno> {
    if buf.is_null() {
        return Err(libc::EFAULT);
    }
    let n = bytes.len().min(size);
    // SAFETY: `buf` is writable for `size` bytes (the C contract of readlink) and `n <= size`;
    // `bytes` is ours and does not overlap it.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf.cast(), n) };
    Ok(n as ssize_t)
}

/// `readlink(path, buf, size)`.
///
/// # Safety
/// C contract of `readlink`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn readlink(path: *const c_char, buf: *mut c_char, size: size_t) -> ssize_t {
    // SAFETY: our caller's contract.
    unsafe { readlinkat(libc::AT_FDCWD, path, buf, size) }
}

/// `readlinkat(dirfd, path, buf, size)`.
///
/// # Safety
/// C contract of `readlinkat`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn readlinkat(
    dirfd: c_int,
    path: *const c_char,
    buf: *mut c_char,
    size: size_t,
) -> ssize_t {
    let ours = |_: &str, node: &Node| copy_link(vfs::readlink(node)?, buf, size);
    guard(-1, || {
        // SAFETY: our caller's contract.
        let fd_link =
            unsafe { sys::c_str(path) }.and_then(|p| crate::fd_stat::proc_fd_link(p.to_bytes()));
        if let Some(node) = fd_link {
            return ret(copy_link(node.as_bytes(), buf, size), -1);
        }
        // SAFETY: our caller's contract.
        unsafe {
            on_path(dirfd, path, false, -1, ours, |p| {
                if dirfd == libc::AT_FDCWD {
                    sys::next_readlink(p, buf, size)
                } else {
                    sys::next_readlinkat(dirfd, p, buf, size)
                }
            })
        }
    })
}

/// `access(path, mode)`.
///
/// # Safety
/// C contract of `access`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn access(path: *const c_char, mode: c_int) -> c_int {
    let ours = |_: &str, node: &Node| vfs::access(node, mode).map(|()| 0);
    guard(-1, || {
        // SAFETY: our caller's contract.
        unsafe {
            on_path(libc::AT_FDCWD, path, true, -1, ours, |p| {
                sys::next_access(p, mode)
            })
        }
    })
}

/// `faccessat(dirfd, path, mode, flags)`.
///
/// # Safety
/// C contract of `faccessat`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn faccessat(
    dirfd: c_int,
    path: *const c_char,
    mode: c_int,
    flags: c_int,
) -> c_int {
    let ours = |_: &str, node: &Node| vfs::access(node, mode).map(|()| 0);
    guard(-1, || {
        // SAFETY: our caller's contract.
        unsafe {
            on_path(dirfd, path, follows(flags), -1, ours, |p| {
                sys::next_faccessat(dirfd, p, mode, flags)
            })
        }
    })
}

/// `path` in `resolved` (`PATH_MAX` bytes, or at most `len`), or in a new `malloc`ed
/// string if `resolved` is null: what `realpath` returns.
fn give_path(path: &str, resolved: *mut c_char, len: usize) -> Result<*mut c_char, Errno> {
    let n = path.len();
    if n >= len {
        return Err(libc::ENAMETOOLONG);
    }
    let out: *mut c_char = if resolved.is_null() {
        // SAFETY: a plain allocation the caller frees with `free`, as `realpath`'s.
        unsafe { libc::malloc(n + 1) }.cast()
    } else {
        resolved
    };
    if out.is_null() {
        return Err(libc::ENOMEM);
    }
    let mut bytes = path.as_bytes().to_vec();
    bytes.push(0);
    // SAFETY: `out` is writable for `n + 1` bytes: allocated so, or the caller's buffer of
    // `len > n` bytes (`PATH_MAX` by `realpath`'s contract); `bytes` does not overlap it.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), out.cast(), n + 1) };
    Ok(out)
}

/// `__realpath_chk(path, resolved, len)`: the fortified `realpath`.
///
/// # Safety
/// C contract of `__realpath_chk`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __realpath_chk(
    path: *const c_char,
    resolved: *mut c_char,
    len: size_t,
) -> *mut c_char {
    let null = std::ptr::null_mut();
    let ours = |p: &str, _: &Node| give_path(p, resolved, len);
    guard(null, || {
        // SAFETY: our caller's contract.
        unsafe {
            on_path(libc::AT_FDCWD, path, true, null, ours, |p| {
                sys::next_realpath_chk(p, resolved, len)
            })
        }
    })
}

/// `realpath(path, resolved)`: glibc's resolves links with its own internal calls, which
/// would not see ours.
///
/// # Safety
/// C contract of `realpath`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn realpath(path: *const c_char, resolved: *mut c_char) -> *mut c_char {
    let null = std::ptr::null_mut();
    let ours = |p: &str, _: &Node| give_path(p, resolved, libc::PATH_MAX as usize);
    guard(null, || {
        // SAFETY: our caller's contract.
        unsafe {
            on_path(libc::AT_FDCWD, path, true, null, ours, |p| {
                sys::next_realpath(p, resolved)
            })
        }
    })
}

/// `canonicalize_file_name(path)`: `realpath(path, NULL)`.
///
/// # Safety
/// C contract of `canonicalize_file_name`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn canonicalize_file_name(path: *const c_char) -> *mut c_char {
    let null = std::ptr::null_mut();
    let ours = |p: &str, _: &Node| give_path(p, null, usize::MAX);
    guard(null, || {
        // SAFETY: our caller's contract.
        unsafe {
            on_path(libc::AT_FDCWD, path, true, null, ours, |p| {
                sys::next_canonicalize_file_name(p)
            })
        }
    })
}

/// The body of `fopen`/`fopen64`: glibc's opens with its own internal call.
///
/// # Safety
/// `path` and `mode` are null or NUL-terminated.
unsafe fn fopen_common(
    path: *const c_char,
    mode: *const c_char,
    host: impl FnOnce(*const c_char) -> *mut libc::FILE,
) -> *mut libc::FILE {
    let null = std::ptr::null_mut();
    // SAFETY: our caller's contract.
    let Some(m) = (unsafe { sys::c_str(mode) }) else {
        return host(path);
    };
    let ours = |p: &str, node: &Node| {
        let flags = vfs::fopen_flags(m.to_bytes());
        let fd = vfs::open(p, node, flags)?;
        let f = if node.writable() && flags & libc::O_ACCMODE != libc::O_RDONLY {
            crate::attr_stream::open(fd, m)
        } else {
            sys::fdopen(fd, m)
        };
        if f.is_null() {
            let e = sys::errno();
            sys::close_raw(fd);
            return Err(e);
        }
        Ok(f)
    };
    guard(null, || {
        // SAFETY: our caller's contract.
        unsafe { on_path(libc::AT_FDCWD, path, true, null, ours, host) }
    })
}

/// `fopen(path, mode)`.
///
/// # Safety
/// C contract of `fopen`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fopen(path: *const c_char, mode: *const c_char) -> *mut libc::FILE {
    // SAFETY: our caller's contract.
    unsafe { fopen_common(path, mode, |p| sys::next_fopen(p, mode)) }
}

/// `fopen64(path, mode)`.
///
/// # Safety
/// C contract of `fopen64`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fopen64(path: *const c_char, mode: *const c_char) -> *mut libc::FILE {
    // SAFETY: our caller's contract.
    unsafe { fopen_common(path, mode, |p| sys::next_fopen64(p, mode)) }
}

/// Declares `getxattr`-like exports `NAME(path, name, value, size)`: no attribute on ours.
macro_rules! getxattr_exports {
    ($($name:ident = $next:ident, follow: $follow:expr;)*) => {$(
        #[doc = concat!("`", stringify!($name), "(path, name, value, size)`.")]
        ///
        /// # Safety
        /// C contract of the function.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name(
            path: *const c_char,
            name: *const c_char,
            value: *mut c_void,
            size: size_t,
        ) -> ssize_t {
            guard(-1, || {
                // SAFETY: our caller's contract.
                unsafe {
                    on_path(libc::AT_FDCWD, path, $follow, -1, |_, _| Err(libc::ENODATA), |p| {
                        sys::$next(p, name, value, size)
                    })
                }
            })
        }
    )*};
}

getxattr_exports! {
    getxattr = next_getxattr, follow: true;
    lgetxattr = next_lgetxattr, follow: false;
}

/// Declares `listxattr`-like exports `NAME(path, list, size)`: an empty list on ours.
macro_rules! listxattr_exports {
    ($($name:ident = $next:ident, follow: $follow:expr;)*) => {$(
        #[doc = concat!("`", stringify!($name), "(path, list, size)`.")]
        ///
        /// # Safety
        /// C contract of the function.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name(path: *const c_char, list: *mut c_char, size: size_t) -> ssize_t {
            guard(-1, || {
                // SAFETY: our caller's contract.
                unsafe {
                    on_path(libc::AT_FDCWD, path, $follow, -1, |_, _| Ok(0), |p| {
                        sys::$next(p, list, size)
                    })
                }
            })
        }
    )*};
}

listxattr_exports! {
    listxattr = next_listxattr, follow: true;
    llistxattr = next_llistxattr, follow: false;
}
