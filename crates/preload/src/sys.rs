//! The libc and system-call layer: every `unsafe` call the library makes apart from the exported
//! symbols themselves.
//!
//! Two kinds of calls live here:
//! - the *next* definitions of the intercepted functions (`dlsym(RTLD_NEXT, …)`), used to forward
//!   a call that is not ours, so that libc's own semantics (cancellation points, fortify checks,
//!   other preloaded libraries) are kept;
//! - raw system calls for the library's own bookkeeping (`fstat`, `fcntl`, `memfd_create` …),
//!   which must not go through the intercepted symbols again.

use libc::{c_char, c_int, c_long, c_uint, c_ulong, c_void, off_t, size_t, ssize_t};
use std::ffi::CStr;
use std::sync::atomic::{AtomicPtr, Ordering};

/// An errno value.
pub type Errno = c_int;

/// The calling thread's `errno`.
pub fn errno() -> Errno {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// Sets the calling thread's `errno`.
pub fn set_errno(e: Errno) {
    // SAFETY: `__errno_location` has no preconditions; it returns the calling thread's errno
    // slot, valid for the thread's life.
    let slot = unsafe { libc::__errno_location() };
    // SAFETY: writing an int to that slot is what every libc function does on failure.
    unsafe { *slot = e };
}

/// A lazily resolved pointer to the next definition of a libc symbol.
struct Next {
    /// NUL-terminated symbol name.
    name: &'static str,
    ptr: AtomicPtr<c_void>,
}

impl Next {
    const fn new(name: &'static str) -> Self {
        Next {
            name,
            ptr: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// The symbol's address, or null if no later object defines it (e.g. a fortify variant
    /// that this glibc does not have).
    fn get(&self) -> *mut c_void {
        let p = self.ptr.load(Ordering::Acquire);
        if !p.is_null() {
            return p;
        }
        debug_assert!(self.name.ends_with('\0'));
        // SAFETY: `name` is NUL-terminated (every caller appends the NUL); RTLD_NEXT asks the loader for the definition after
        // this object's, which is the real libc one. Racing threads resolve the same address.
        let p = unsafe { libc::dlsym(libc::RTLD_NEXT, self.name.as_ptr().cast()) };
        self.ptr.store(p, Ordering::Release);
        p
    }
}

/// The value a C function returns on failure: -1, or a null pointer.
trait Failed {
    const FAILED: Self;
}

impl Failed for c_int {
    const FAILED: Self = -1;
}

impl Failed for () {
    const FAILED: Self = ();
}

impl Failed for ssize_t {
    const FAILED: Self = -1;
}

impl Failed for off_t {
    const FAILED: Self = -1;
}

impl Failed for size_t {
    const FAILED: Self = libc::SIG_ERR;
}

impl<T> Failed for *mut T {
    const FAILED: Self = std::ptr::null_mut();
}

/// Declares `next_NAME(args) -> ret` calling the next definition of `NAME` (fixed arguments)
/// or failing with `ENOSYS` if there is none.
macro_rules! next_fn {
    ($(fn $f:ident = $sym:literal ($($a:ident: $t:ty),*) -> $r:ty;)*) => {$(
        #[doc = concat!("The next definition of `", $sym, "`.")]
        pub fn $f($($a: $t),*) -> $r {
            static NEXT: Next = Next::new(concat!($sym, "\0"));
            let p = NEXT.get();
            if p.is_null() {
                set_errno(libc::ENOSYS);
                return <$r as Failed>::FAILED;
            }
            // SAFETY: `p` is libc's definition of this symbol, whose C prototype the
            // declared signature matches; the arguments are passed through unchanged from our
            // caller, who made the same call to the same prototype.
            let f: unsafe extern "C" fn($($t),*) -> $r = unsafe { std::mem::transmute(p) };
            // SAFETY: see above: a call with the caller's own arguments.
            unsafe { f($($a),*) }
        }
    )*};
}

/// Declares `next_NAME(fixed…, extra) -> ret` for C-variadic functions, called through a
/// variadic pointer type so that the callee sees a proper variadic call.
macro_rules! next_variadic {
    ($(fn $f:ident = $sym:literal ($($a:ident: $t:ty),*; $x:ident: $xt:ty) -> $r:ty;)*) => {$(
        #[doc = concat!("The next definition of the C-variadic `", $sym, "`.")]
        pub fn $f($($a: $t,)* $x: $xt) -> $r {
            static NEXT: Next = Next::new(concat!($sym, "\0"));
            let p = NEXT.get();
            if p.is_null() {
                set_errno(libc::ENOSYS);
                return <$r as Failed>::FAILED;
            }
            // SAFETY: `p` is libc's definition of this variadic function; calling it with one
            // variadic argument of register width is how C code calls it.
            let f: unsafe extern "C" fn($($t,)* ...) -> $r = unsafe { std::mem::transmute(p) };
            // SAFETY: see above: the caller's own arguments, passed through.
            unsafe { f($($a,)* $x) }
        }
    )*};
}

next_variadic! {
    fn next_open = "open" (path: *const c_char, flags: c_int; mode: c_uint) -> c_int;
    fn next_mremap = "mremap" (old: *mut c_void, old_len: size_t, new_len: size_t, flags: c_int; new_addr: *mut c_void) -> *mut c_void;
    fn next_open64 = "open64" (path: *const c_char, flags: c_int; mode: c_uint) -> c_int;
    fn next_openat = "openat" (dirfd: c_int, path: *const c_char, flags: c_int; mode: c_uint) -> c_int;
    fn next_openat64 = "openat64" (dirfd: c_int, path: *const c_char, flags: c_int; mode: c_uint) -> c_int;
    fn next_ioctl = "ioctl" (fd: c_int, request: c_ulong; arg: c_ulong) -> c_int;
    fn next_fcntl = "fcntl" (fd: c_int, cmd: c_int; arg: c_ulong) -> c_int;
    fn next_fcntl64 = "fcntl64" (fd: c_int, cmd: c_int; arg: c_ulong) -> c_int;
}

next_fn! {
    fn next_sigaction = "sigaction" (sig: c_int, act: *const libc::sigaction, old: *mut libc::sigaction) -> c_int;
    fn next_signal = "signal" (sig: c_int, handler: libc::sighandler_t) -> libc::sighandler_t;
    fn next_mprotect = "mprotect" (addr: *mut c_void, len: size_t, prot: c_int) -> c_int;
    fn next_pthread_sigmask = "pthread_sigmask" (how: c_int, set: *const libc::sigset_t, old: *mut libc::sigset_t) -> c_int;
    fn next_sigprocmask = "sigprocmask" (how: c_int, set: *const libc::sigset_t, old: *mut libc::sigset_t) -> c_int;
    fn next_madvise = "madvise" (addr: *mut c_void, len: size_t, advice: c_int) -> c_int;
    fn next_brk = "brk" (addr: *mut c_void) -> c_int;
    fn next_sbrk = "sbrk" (delta: libc::intptr_t) -> *mut c_void;
    fn next_open_2 = "__open_2" (path: *const c_char, flags: c_int) -> c_int;
    fn next_open64_2 = "__open64_2" (path: *const c_char, flags: c_int) -> c_int;
    fn next_openat_2 = "__openat_2" (dirfd: c_int, path: *const c_char, flags: c_int) -> c_int;
    fn next_openat64_2 = "__openat64_2" (dirfd: c_int, path: *const c_char, flags: c_int) -> c_int;
    fn next_creat = "creat" (path: *const c_char, mode: c_uint) -> c_int;
    fn next_creat64 = "creat64" (path: *const c_char, mode: c_uint) -> c_int;
    fn next_close = "close" (fd: c_int) -> c_int;
    fn next_close_range = "close_range" (first: c_uint, last: c_uint, flags: c_int) -> c_int;
    fn next_closefrom = "closefrom" (first: c_int) -> ();
    fn next_read = "read" (fd: c_int, buf: *mut c_void, count: size_t) -> ssize_t;
    fn next_write = "write" (fd: c_int, buf: *const c_void, count: size_t) -> ssize_t;
    fn next_pread = "pread" (fd: c_int, buf: *mut c_void, count: size_t, pos: off_t) -> ssize_t;
    fn next_pread64 = "pread64" (fd: c_int, buf: *mut c_void, count: size_t, pos: off_t) -> ssize_t;
    fn next_pwrite = "pwrite" (fd: c_int, buf: *const c_void, count: size_t, pos: off_t) -> ssize_t;
    fn next_pwrite64 = "pwrite64" (fd: c_int, buf: *const c_void, count: size_t, pos: off_t) -> ssize_t;
    fn next_read_chk = "__read_chk" (fd: c_int, buf: *mut c_void, count: size_t, buflen: size_t) -> ssize_t;
    fn next_pread_chk = "__pread_chk" (fd: c_int, buf: *mut c_void, count: size_t, pos: off_t, buflen: size_t) -> ssize_t;
    fn next_pread64_chk = "__pread64_chk" (fd: c_int, buf: *mut c_void, count: size_t, pos: off_t, buflen: size_t) -> ssize_t;
    fn next_preadv = "preadv" (fd: c_int, iov: *const libc::iovec, iovcnt: c_int, pos: off_t) -> ssize_t;
    fn next_preadv64 = "preadv64" (fd: c_int, iov: *const libc::iovec, iovcnt: c_int, pos: off_t) -> ssize_t;
    fn next_pwritev = "pwritev" (fd: c_int, iov: *const libc::iovec, iovcnt: c_int, pos: off_t) -> ssize_t;
    fn next_pwritev64 = "pwritev64" (fd: c_int, iov: *const libc::iovec, iovcnt: c_int, pos: off_t) -> ssize_t;
    fn next_preadv2 = "preadv2" (fd: c_int, iov: *const libc::iovec, iovcnt: c_int, pos: off_t, flags: c_int) -> ssize_t;
    fn next_pwritev2 = "pwritev2" (fd: c_int, iov: *const libc::iovec, iovcnt: c_int, pos: off_t, flags: c_int) -> ssize_t;
    fn next_preadv64v2 = "preadv64v2" (fd: c_int, iov: *const libc::iovec, iovcnt: c_int, pos: off_t, flags: c_int) -> ssize_t;
    fn next_pwritev64v2 = "pwritev64v2" (fd: c_int, iov: *const libc::iovec, iovcnt: c_int, pos: off_t, flags: c_int) -> ssize_t;
    fn next_lseek = "lseek" (fd: c_int, off: off_t, whence: c_int) -> off_t;
    fn next_lseek64 = "lseek64" (fd: c_int, off: off_t, whence: c_int) -> off_t;
    fn next_dup = "dup" (fd: c_int) -> c_int;
    fn next_dup2 = "dup2" (old: c_int, new: c_int) -> c_int;
    fn next_dup3 = "dup3" (old: c_int, new: c_int, flags: c_int) -> c_int;
    fn next_opendir = "opendir" (path: *const c_char) -> *mut libc::DIR;
    fn next_fdopendir = "fdopendir" (fd: c_int) -> *mut libc::DIR;
    fn next_readdir = "readdir" (dir: *mut libc::DIR) -> *mut libc::dirent64;
    fn next_readdir64 = "readdir64" (dir: *mut libc::DIR) -> *mut libc::dirent64;
    fn next_closedir = "closedir" (dir: *mut libc::DIR) -> c_int;
    fn next_stat = "stat" (path: *const c_char, buf: *mut libc::stat) -> c_int;
    fn next_stat64 = "stat64" (path: *const c_char, buf: *mut libc::stat) -> c_int;
    fn next_lstat = "lstat" (path: *const c_char, buf: *mut libc::stat) -> c_int;
    fn next_lstat64 = "lstat64" (path: *const c_char, buf: *mut libc::stat) -> c_int;
    fn next_fstat = "fstat" (fd: c_int, buf: *mut libc::stat) -> c_int;
    fn next_fstat64 = "fstat64" (fd: c_int, buf: *mut libc::stat) -> c_int;
    fn next_fxstat = "__fxstat" (ver: c_int, fd: c_int, buf: *mut libc::stat) -> c_int;
    fn next_fxstat64 = "__fxstat64" (ver: c_int, fd: c_int, buf: *mut libc::stat) -> c_int;
    fn next_fstatat = "fstatat" (dirfd: c_int, path: *const c_char, buf: *mut libc::stat, flags: c_int) -> c_int;
    fn next_fstatat64 = "fstatat64" (dirfd: c_int, path: *const c_char, buf: *mut libc::stat, flags: c_int) -> c_int;
    fn next_xstat = "__xstat" (ver: c_int, path: *const c_char, buf: *mut libc::stat) -> c_int;
    fn next_xstat64 = "__xstat64" (ver: c_int, path: *const c_char, buf: *mut libc::stat) -> c_int;
    fn next_lxstat = "__lxstat" (ver: c_int, path: *const c_char, buf: *mut libc::stat) -> c_int;
    fn next_lxstat64 = "__lxstat64" (ver: c_int, path: *const c_char, buf: *mut libc::stat) -> c_int;
    fn next_fxstatat = "__fxstatat" (ver: c_int, dirfd: c_int, path: *const c_char, buf: *mut libc::stat, flags: c_int) -> c_int;
    fn next_fxstatat64 = "__fxstatat64" (ver: c_int, dirfd: c_int, path: *const c_char, buf: *mut libc::stat, flags: c_int) -> c_int;
    fn next_statx = "statx" (dirfd: c_int, path: *const c_char, flags: c_int, mask: c_uint, buf: *mut libc::statx) -> c_int;
    fn next_readlink = "readlink" (path: *const c_char, buf: *mut c_char, size: size_t) -> ssize_t;
    fn next_readlinkat = "readlinkat" (dirfd: c_int, path: *const c_char, buf: *mut c_char, size: size_t) -> ssize_t;
    fn next_access = "access" (path: *const c_char, mode: c_int) -> c_int;
    fn next_faccessat = "faccessat" (dirfd: c_int, path: *const c_char, mode: c_int, flags: c_int) -> c_int;
    fn next_realpath = "realpath" (path: *const c_char, resolved: *mut c_char) -> *mut c_char;
    fn next_realpath_chk = "__realpath_chk" (path: *const c_char, resolved: *mut c_char, len: size_t) -> *mut c_char;
    fn next_canonicalize_file_name = "canonicalize_file_name" (path: *const c_char) -> *mut c_char;
    fn next_getxattr = "getxattr" (path: *const c_char, name: *const c_char, value: *mut c_void, size: size_t) -> ssize_t;
    fn next_lgetxattr = "lgetxattr" (path: *const c_char, name: *const c_char, value: *mut c_void, size: size_t) -> ssize_t;
    fn next_listxattr = "listxattr" (path: *const c_char, list: *mut c_char, size: size_t) -> ssize_t;
    fn next_llistxattr = "llistxattr" (path: *const c_char, list: *mut c_char, size: size_t) -> ssize_t;
    fn next_fopen = "fopen" (path: *const c_char, mode: *const c_char) -> *mut libc::FILE;
    fn next_fopen64 = "fopen64" (path: *const c_char, mode: *const c_char) -> *mut libc::FILE;
}

/// The next definition of `mmap` (or `mmap64`, the same function on 64-bit targets).
pub fn next_mmap(
    sym64: bool,
    addr: *mut c_void,
    len: size_t,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    off: off_t,
) -> *mut c_void {
    static NEXT: Next = Next::new("mmap\0");
    static NEXT64: Next = Next::new("mmap64\0");
    let p = if sym64 { NEXT64.get() } else { NEXT.get() };
    if p.is_null() {
        set_errno(libc::ENOSYS);
        return libc::MAP_FAILED;
    }
    type MmapFn =
        unsafe extern "C" fn(*mut c_void, size_t, c_int, c_int, c_int, off_t) -> *mut c_void;
    // SAFETY: `p` is libc's `mmap`/`mmap64`, whose prototype `MmapFn` is.
    let f: MmapFn = unsafe { std::mem::transmute(p) };
    // SAFETY: the caller's own arguments, passed through.
    unsafe { f(addr, len, prot, flags, fd, off) }
}

/// The next definition of `munmap`.
pub fn next_munmap(addr: *mut c_void, len: size_t) -> c_int {
    static NEXT: Next = Next::new("munmap\0");
    let p = NEXT.get();
    if p.is_null() {
        set_errno(libc::ENOSYS);
        return -1;
    }
    type MunmapFn = unsafe extern "C" fn(*mut c_void, size_t) -> c_int;
    // SAFETY: `p` is libc's `munmap`, whose prototype `MunmapFn` is.
    let f: MunmapFn = unsafe { std::mem::transmute(p) };
    // SAFETY: the caller's own arguments, passed through.
    unsafe { f(addr, len) }
}

/// libc's `syscall(n, a1, ..., a6)`, past the exported `syscall` of this library (which treats
/// the program's `SYS_close` and `SYS_dup*` as its `close` and `dup*`, see
/// [`crate::syscall_exports`]): for this library's own closes and duplicates.
pub fn next_syscall(n: c_long, args: [c_long; 6]) -> c_long {
    static NEXT: Next = Next::new("syscall\0");
    let p = NEXT.get();
    if p.is_null() {
        set_errno(libc::ENOSYS);
        return -1;
    }
    type SyscallFn =
        unsafe extern "C" fn(c_long, c_long, c_long, c_long, c_long, c_long, c_long) -> c_long;
    // SAFETY: `p` is libc's `syscall`, a C-variadic function; on x86-64 and AArch64 Linux the
    // variadic integer arguments sit where fixed ones do, and it reads exactly six.
    let f: SyscallFn = unsafe { std::mem::transmute(p) };
    let [a1, a2, a3, a4, a5, a6] = args;
    // SAFETY: the caller's system call and arguments, passed through.
    unsafe { f(n, a1, a2, a3, a4, a5, a6) }
}

/// `dup3(old, new, flags)` as a raw system call.
pub fn dup3_raw(old: c_int, new: c_int, flags: c_int) -> Result<c_int, Errno> {
    let args = [old as c_long, new as c_long, flags as c_long, 0, 0, 0];
    sys_result(next_syscall(libc::SYS_dup3, args)).map(|v| v as c_int)
}

/// Converts a raw system call result to `Ok(value)` or `Err(errno)`.
fn sys_result(rc: libc::c_long) -> Result<libc::c_long, Errno> {
    if rc < 0 { Err(errno()) } else { Ok(rc) }
}

/// What identifies the file behind an open fd: `(st_dev, st_ino)`, except that every eventfd
/// shares one anonymous inode, so an eventfd is told apart by its `eventfd-id` (fdinfo).
pub fn file_id(fd: c_int) -> Result<(u64, u64), Errno> {
    let id = fstat(fd)?.id;
    if Some(id) != anon_inode_id() {
        return Ok(id);
    }
    Ok(match eventfd_id(fd) {
        Some(n) => (id.0, n | 1 << 63),
        None => id,
    })
}

/// `(st_dev, st_ino)` of the anonymous inode eventfds share, learnt once.
fn anon_inode_id() -> Option<(u64, u64)> {
    static ID: std::sync::OnceLock<Option<(u64, u64)>> = std::sync::OnceLock::new();
    *ID.get_or_init(|| {
        let fd = eventfd().ok()?;
        let id = fstat(fd).ok().map(|st| st.id);
        close_raw(fd);
        id
    })
}

/// The `eventfd-id:` line of `/proc/self/fdinfo/FD`.
fn eventfd_id(fd: c_int) -> Option<u64> {
    let path = format!("/proc/self/fdinfo/{fd}\0");
    let path = CStr::from_bytes_with_nul(path.as_bytes()).ok()?;
    let f = open_raw(path, libc::O_RDONLY | libc::O_CLOEXEC, 0).ok()?;
    let mut buf = [0u8; 512];
    let n = read_raw(f, &mut buf);
    close_raw(f);
    let text = std::str::from_utf8(&buf[..n.ok()?]).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("eventfd-id:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Whether `fd` is an eventfd: its `/proc/self/fd` link names the eventfd anonymous inode.
pub fn is_eventfd(fd: c_int) -> bool {
    let path = format!("/proc/self/fd/{fd}\0");
    CStr::from_bytes_with_nul(path.as_bytes())
        .ok()
        .and_then(readlink)
        .is_some_and(|t| t == b"anon_inode:[eventfd]")
}

/// A close-on-exec duplicate of `fd`, owned (`fcntl(F_DUPFD_CLOEXEC)` as a raw system call).
pub fn dup_owned(fd: c_int) -> Result<std::os::fd::OwnedFd, Errno> {
    // SAFETY: fd-number arguments only.
    let rc = unsafe { libc::syscall(libc::SYS_fcntl, fd, libc::F_DUPFD_CLOEXEC, 0) };
    let new = sys_result(rc)? as c_int;
    // SAFETY: `new` is a fresh fd this call made; nothing else owns it.
    Ok(unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(new) })
}

/// `eventfd2(0, EFD_CLOEXEC | EFD_NONBLOCK)`.
pub fn eventfd() -> Result<c_int, Errno> {
    // SAFETY: no memory is passed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_eventfd2,
            0,
            libc::EFD_CLOEXEC | libc::EFD_NONBLOCK,
        )
    };
    sys_result(rc).map(|v| v as c_int)
}

/// `read(fd, buf)` as a raw system call (not through our own `read`).
pub fn read_raw(fd: c_int, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: `buf` is writable for its length and outlives the call.
    let rc = unsafe { libc::syscall(libc::SYS_read, fd, buf.as_mut_ptr(), buf.len()) };
    sys_result(rc).map(|v| v as usize)
}

/// Makes an eventfd readable (its counter 1) or not (drained): how a queue's readiness shows
/// to `poll`/`epoll` on the fd standing for it.
pub fn eventfd_set(fd: c_int, ready: bool) {
    let mut drain = [0u8; 8];
    // Only when readable: the program may have cleared O_NONBLOCK, and a read must not wait.
    if readable_now(fd) {
        let _ = read_raw(fd, &mut drain);
    }
    if ready {
        let one = 1u64.to_ne_bytes();
        // SAFETY: `one` is 8 readable bytes that outlive the call.
        let _ = unsafe { libc::syscall(libc::SYS_write, fd, one.as_ptr(), one.len()) };
    }
}

/// A listening UNIX stream socket with an automatically bound abstract address
/// (close-on-exec, non-blocking, backlog 1).
pub fn unix_listener() -> Result<c_int, Errno> {
    let fd = unix_socket()?;
    let family = libc::AF_UNIX as libc::sa_family_t;
    // SAFETY: a `sa_family_t` alone is the autobind form of `sockaddr_un`; its size is passed.
    let rc = unsafe {
        libc::bind(
            fd,
            (&raw const family).cast(),
            size_of::<libc::sa_family_t>() as libc::socklen_t,
        )
    };
    let rc = if rc == 0 {
        // SAFETY: no memory is passed.
        unsafe { libc::listen(fd, 1) }
    } else {
        rc
    };
    if let Err(e) = sys_result(rc as i64) {
        close_raw(fd);
        return Err(e);
    }
    Ok(fd)
}

fn unix_socket() -> Result<c_int, Errno> {
    let ty = libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK;
    // SAFETY: no memory is passed.
    let rc = unsafe { libc::socket(libc::AF_UNIX, ty, 0) };
    sys_result(rc as i64).map(|v| v as c_int)
}

/// Accepts and closes every pending connection of `listener`.
pub fn unix_accept_all(listener: c_int) {
    // Only while a connection waits: the program may have cleared O_NONBLOCK.
    while readable_now(listener) {
        // SAFETY: null address and length: the peer's address is not wanted.
        let fd = unsafe {
            libc::accept4(
                listener,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_CLOEXEC,
            )
        };
        if fd < 0 {
            return;
        }
        close_raw(fd);
    }
}

/// Whether `fd` polls readable right now (a zero-timeout `poll`).
fn readable_now(fd: c_int) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `p` is one valid `pollfd` that outlives the call.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    n == 1 && p.revents & libc::POLLIN != 0
}

/// Leaves one connection pending on `listener`, from a socket closed right away.
pub fn unix_connect_once(listener: c_int) {
    // SAFETY: all-zero is a valid `sockaddr_un`.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    let mut len = size_of::<libc::sockaddr_un>() as libc::socklen_t;
    // SAFETY: `addr` is writable for `len` bytes; `len` is updated to the address's size.
    let rc = unsafe { libc::getsockname(listener, (&raw mut addr).cast(), &mut len) };
    if rc != 0 {
        return;
    }
    let Ok(client) = unix_socket() else {
        return;
    };
    // SAFETY: `addr` holds `len` bytes of the listener's own address.
    unsafe { libc::connect(client, (&raw const addr).cast(), len) };
    close_raw(client);
}

/// The access mode of an open file (`O_ACCMODE` of its status flags).
pub fn access_mode(fd: c_int) -> Result<c_int, Errno> {
    Ok(status_flags(fd)? & libc::O_ACCMODE)
}

/// `fcntl(fd, F_GETFL)`: the open file's status flags and access mode.
pub fn status_flags(fd: c_int) -> Result<c_int, Errno> {
    // SAFETY: F_GETFL reads only the fd's flags; no memory is passed.
    let rc = unsafe { libc::syscall(libc::SYS_fcntl, fd, libc::F_GETFL) };
    sys_result(rc).map(|v| v as c_int)
}

/// `gettid()`.
pub fn gettid() -> c_int {
    // SAFETY: no arguments.
    unsafe { libc::syscall(libc::SYS_gettid) as c_int }
}

/// `lseek(fd, off, whence)` as a raw system call; the resulting offset.
pub fn seek(fd: c_int, off: u64, whence: c_int) -> Result<u64, Errno> {
    // SAFETY: no memory is passed.
    let rc = unsafe { libc::syscall(libc::SYS_lseek, fd, off as i64, whence) };
    sys_result(rc).map(|v| v as u64)
}

/// `fcntl(fd, F_GETFD)`: the descriptor flags; `EBADF` if `fd` is not open.
pub fn fd_flags(fd: c_int) -> Result<c_int, Errno> {
    // SAFETY: F_GETFD reads only the descriptor's flags; no memory is passed.
    let rc = unsafe { libc::syscall(libc::SYS_fcntl, fd, libc::F_GETFD) };
    sys_result(rc).map(|v| v as c_int)
}

/// Sets or clears `FD_CLOEXEC` on `fd`.
pub fn set_cloexec(fd: c_int, on: bool) -> Result<(), Errno> {
    let v = if on { libc::FD_CLOEXEC } else { 0 };
    // SAFETY: F_SETFD changes only the descriptor flag; no memory is passed.
    let rc = unsafe { libc::syscall(libc::SYS_fcntl, fd, libc::F_SETFD, v) };
    sys_result(rc).map(|_| ())
}

/// `memfd_create(name, MFD_CLOEXEC)`.
pub fn memfd(name: &CStr) -> Result<c_int, Errno> {
    // SAFETY: `name` is NUL-terminated and lives across the call.
    let rc = unsafe { libc::syscall(libc::SYS_memfd_create, name.as_ptr(), libc::MFD_CLOEXEC) };
    sys_result(rc).map(|v| v as c_int)
}

/// `openat(AT_FDCWD, path, flags, mode)` as a raw system call (not through our own `open`).
pub fn open_raw(path: &CStr, flags: c_int, mode: c_uint) -> Result<c_int, Errno> {
    // SAFETY: `path` is NUL-terminated and lives across the call; the kernel only reads it.
    let rc = unsafe { libc::syscall(libc::SYS_openat, libc::AT_FDCWD, path.as_ptr(), flags, mode) };
    sys_result(rc).map(|v| v as c_int)
}

/// `fcntl(fd, F_DUPFD_CLOEXEC, min)` as a raw system call: a duplicate of one of the library's
/// own fds at the lowest free number from `min`.
pub fn dup_from_raw(fd: c_int, min: c_int) -> Result<c_int, Errno> {
    // SAFETY: no memory is passed; `fd` is the library's own.
    let rc = unsafe { libc::syscall(libc::SYS_fcntl, fd, libc::F_DUPFD_CLOEXEC, min) };
    sys_result(rc).map(|v| v as c_int)
}

/// `write(fd, buf)` as a raw system call, for the library's own fds.
pub fn write_raw(fd: c_int, buf: &[u8]) -> Result<usize, Errno> {
    // SAFETY: `buf` is readable for its length and outlives the call; the kernel only reads it.
    let rc = unsafe { libc::syscall(libc::SYS_write, fd, buf.as_ptr(), buf.len()) };
    sys_result(rc).map(|v| v as usize)
}

/// `pread(fd, buf, offset)` as a raw system call.
pub fn pread_raw(fd: c_int, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
    // SAFETY: `buf` is writable for its length and outlives the call.
    let rc = unsafe { libc::syscall(libc::SYS_pread64, fd, buf.as_mut_ptr(), buf.len(), offset) };
    sys_result(rc).map(|v| v as usize)
}

/// `RLIMIT_NOFILE`'s soft limit (1024 if it cannot be read).
pub fn nofile_limit() -> u64 {
    let mut rl = libc::rlimit {
        rlim_cur: 1024,
        rlim_max: 0,
    };
    // SAFETY: `rl` is a writable rlimit that outlives the call.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) };
    if rc == 0 { rl.rlim_cur } else { 1024 }
}

/// Moves one of the library's own fds above the numbers programs use (near the soft
/// `RLIMIT_NOFILE`, at most 1024): at the lowest free number, which `open`, `socket` and
/// `recvmsg` take, a program's call racing its own `close` of that number would meet our file,
/// and its `dup2` onto it would close ours. Returns the new number (`fd` itself if it cannot
/// be moved).
pub fn lift(fd: c_int) -> c_int {
    let floor = nofile_limit().min(1024).saturating_sub(32).max(64);
    match dup_from_raw(fd, c_int::try_from(floor).unwrap_or(992)) {
        Ok(high) => {
            close_raw(fd);
            high
        }
        Err(_) => fd,
    }
}

/// `ftruncate(fd, len)` as a raw system call.
pub fn ftruncate_raw(fd: c_int, len: u64) -> Result<(), Errno> {
    let len = c_long::try_from(len).map_err(|_| libc::EINVAL)?;
    sys_result(next_syscall(
        libc::SYS_ftruncate,
        [fd as c_long, len, 0, 0, 0, 0],
    ))
    .map(|_| ())
}

/// `close(fd)` as a raw system call, for the library's own temporary fds.
pub fn close_raw(fd: c_int) {
    next_syscall(libc::SYS_close, [fd as c_long, 0, 0, 0, 0, 0]);
}

/// `RLIMIT_MEMLOCK`'s soft limit in bytes (`RLIM_INFINITY` as `u64::MAX`).
pub fn memlock_limit() -> u64 {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `rl` is a writable rlimit that outlives the call.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut rl) };
    if rc != 0 {
        return 0;
    }
    rl.rlim_cur
}

/// The effective capability set's low 64 bits (`capget`, version 3).
pub fn effective_caps() -> u64 {
    effective_caps_of(0)
}

/// The effective capability set's low 64 bits of process `pid` (0: the calling thread).
pub fn effective_caps_of(pid: c_int) -> u64 {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    let mut hdr = Header {
        version: LINUX_CAPABILITY_VERSION_3,
        pid,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: version 3 takes one header and two data structs, both writable and alive for
    // the call.
    let rc = unsafe { libc::syscall(libc::SYS_capget, &mut hdr as *mut Header, data.as_mut_ptr()) };
    if rc != 0 {
        return 0;
    }
    u64::from(data[0].effective) | (u64::from(data[1].effective) << 32)
}

/// `readlink(path)`, or `None`.
pub fn readlink(path: &CStr) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: `path` is NUL-terminated; `buf` is writable for `buf.len()` bytes.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_readlinkat,
            libc::AT_FDCWD,
            path.as_ptr(),
            buf.as_mut_ptr(),
            buf.len(),
        )
    };
    let n = sys_result(rc).ok()? as usize;
    buf.truncate(n);
    Some(buf)
}

/// The current working directory, or `None`.
pub fn getcwd() -> Option<Vec<u8>> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: `buf` is writable for `buf.len()` bytes; the kernel NUL-terminates what it writes.
    let rc = unsafe { libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len()) };
    sys_result(rc).ok()?;
    let n = buf.iter().position(|&b| b == 0)?;
    buf.truncate(n);
    Some(buf)
}

/// Registers fork handlers (`pthread_atfork`).
pub fn atfork(prepare: extern "C" fn(), parent: extern "C" fn(), child: extern "C" fn()) {
    // SAFETY: the handlers are plain functions with static lifetime; libc calls them around
    // every fork() of this process.
    unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) };
}

/// Reads a NUL-terminated string the caller passed, or `None` for a null pointer.
///
/// # Safety
/// `p` must be null or point to a NUL-terminated string, as the C prototype requires.
pub unsafe fn c_str<'a>(p: *const c_char) -> Option<&'a CStr> {
    if p.is_null() {
        return None;
    }
    // SAFETY: non-null and NUL-terminated per the function's contract.
    Some(unsafe { CStr::from_ptr(p) })
}

/// What `fstat` tells about an open file.
#[derive(Debug, Clone, Copy)]
pub struct FileStat {
    /// `(st_dev, st_ino)`.
    pub id: (u64, u64),
    /// `st_mode`.
    pub mode: u32,
    /// `st_size`.
    pub size: u64,
    /// `st_blksize` (a hugetlbfs file's huge page size).
    pub blksize: u64,
}

/// `fstat(fd)`.
pub fn fstat(fd: c_int) -> Result<FileStat, Errno> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: `st` is a writable `struct stat` that outlives the call; fstat only writes it.
    let rc = unsafe { libc::syscall(libc::SYS_fstat, fd, st.as_mut_ptr()) };
    sys_result(rc)?;
    // SAFETY: fstat succeeded, so it filled the structure (and it was zeroed before anyway).
    let st = unsafe { st.assume_init() };
    Ok(FileStat {
        id: (st.st_dev, st.st_ino),
        mode: st.st_mode,
        size: u64::try_from(st.st_size).unwrap_or(0),
        blksize: u64::try_from(st.st_blksize).unwrap_or(0),
    })
}

/// `fstatfs(fd).f_type`: the magic number of the filesystem the file lives on.
pub fn fs_type(fd: c_int) -> Result<u64, Errno> {
    let mut st = std::mem::MaybeUninit::<libc::statfs>::zeroed();
    // SAFETY: `st` is a writable `struct statfs` that outlives the call; fstatfs only writes it.
    let rc = unsafe { libc::syscall(libc::SYS_fstatfs, fd, st.as_mut_ptr()) };
    sys_result(rc)?;
    // SAFETY: fstatfs succeeded, so it filled the structure (and it was zeroed before anyway).
    let st = unsafe { st.assume_init() };
    Ok(st.f_type as u64)
}

/// `mmap(NULL, len, prot, flags, fd, 0)` as a raw system call (not through our own `mmap`).
pub fn mmap_raw(len: usize, prot: c_int, flags: c_int, fd: c_int) -> Result<u64, Errno> {
    // SAFETY: a new mapping at an address the kernel chooses (no MAP_FIXED): no existing
    // memory is affected.
    let rc = unsafe { libc::syscall(libc::SYS_mmap, 0usize, len, prot, flags, fd, 0usize) };
    sys_result(rc).map(|v| v as u64)
}

/// The `len` 16-bit atomics at `addr`: a shared mapping of at least `2 * len` bytes this
/// library made with [`mmap_raw`] and never unmaps.
pub fn atomics_at(addr: u64, len: usize) -> &'static [std::sync::atomic::AtomicU16] {
    // SAFETY: the caller's mapping is readable and writable, aligned (page-aligned), at least
    // `2 * len` bytes long and lives as long as the process; atomics are valid for any bit
    // pattern and only ever accessed atomically, by this and other processes alike.
    unsafe { std::slice::from_raw_parts(addr as *const std::sync::atomic::AtomicU16, len) }
}

/// The first pages of a file mapped shared (`MAP_SHARED`), read and written only as 64-bit
/// atomics, by this process and others that map the same file; unmapped on drop.
#[derive(Debug)]
pub struct SharedAtomics {
    addr: u64,
}

impl SharedAtomics {
    /// Bytes mapped: two pages.
    pub const LEN: usize = 8192;

    /// The first [`Self::LEN`] bytes of `fd`, which must be at least that long.
    pub fn map(fd: c_int) -> Result<SharedAtomics, Errno> {
        let prot = libc::PROT_READ | libc::PROT_WRITE;
        let addr = mmap_raw(Self::LEN, prot, libc::MAP_SHARED, fd)?;
        Ok(SharedAtomics { addr })
    }

    /// New zeroed memory of no file, which a child made by `fork` shares.
    pub fn anonymous() -> Result<SharedAtomics, Errno> {
        let prot = libc::PROT_READ | libc::PROT_WRITE;
        let addr = mmap_raw(Self::LEN, prot, libc::MAP_SHARED | libc::MAP_ANONYMOUS, -1)?;
        Ok(SharedAtomics { addr })
    }

    /// The `index`th of the mapping's 64-bit words.
    pub fn get(&self, index: usize) -> &std::sync::atomic::AtomicU64 {
        assert!(index < Self::LEN / 8, "word {index} is outside the mapping");
        let at = self.addr as usize + index * 8;
        // SAFETY: `at` is 8-byte aligned and inside the mapping, which stays readable and
        // writable until `self` is dropped, so for the borrow's whole life. Any bit pattern is
        // a valid `AtomicU64`, and the page is only ever accessed atomically, here and by the
        // other processes alike.
        unsafe { &*(at as *const std::sync::atomic::AtomicU64) }
    }
}

impl Drop for SharedAtomics {
    fn drop(&mut self) {
        munmap_raw(self.addr, Self::LEN);
    }
}

/// How many CPUs this thread may run on (`sched_getaffinity`), 1 if that cannot be read.
/// No file is opened, unlike `std::thread::available_parallelism`, which reads cgroup files:
/// a file the library opens lands at the lowest free number, where a program's thread may
/// be calling on an fd it just closed.
pub fn cpus_allowed() -> usize {
    // SAFETY: all-zero is an empty CPU set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a writable `cpu_set_t` of the size given, alive for the call.
    let rc = unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return 1;
    }
    // SAFETY: `set` was filled in by the kernel.
    (unsafe { libc::CPU_COUNT(&set) }).max(1) as usize
}

/// `munmap(addr, len)` of a mapping this library made with [`mmap_raw`].
pub fn munmap_raw(addr: u64, len: usize) {
    // SAFETY: `addr..addr + len` is a mapping this library created and owns; nothing else
    // refers to it any more when it is unmapped (its owner is being dropped).
    unsafe { libc::syscall(libc::SYS_munmap, addr as usize, len) };
}

/// `write(fd, data)` as a raw system call, all of it.
pub fn write_all_raw(fd: c_int, mut data: &[u8]) -> Result<(), Errno> {
    while !data.is_empty() {
        // SAFETY: `data` is readable for its length and outlives the call.
        let rc = unsafe { libc::syscall(libc::SYS_write, fd, data.as_ptr(), data.len()) };
        let n = sys_result(rc)? as usize;
        data = &data[n.max(1).min(data.len())..];
    }
    Ok(())
}

/// The file type bits (`S_IFMT`) of `path`, not following a final symbolic link.
pub fn lstat_type(path: &CStr) -> Result<u32, Errno> {
    Ok(stat_raw(path, libc::AT_SYMLINK_NOFOLLOW)?.st_mode & libc::S_IFMT)
}

/// `fstatat(AT_FDCWD, path, flags)` as a raw system call.
pub fn stat_raw(path: &CStr, flags: c_int) -> Result<libc::stat, Errno> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: `path` is NUL-terminated; `st` is a writable `struct stat` that outlives the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_newfstatat,
            libc::AT_FDCWD,
            path.as_ptr(),
            st.as_mut_ptr(),
            flags,
        )
    };
    sys_result(rc)?;
    // SAFETY: the call succeeded, so it filled the structure (zeroed before anyway).
    Ok(unsafe { st.assume_init() })
}

/// `fdopen(fd, mode)` (not intercepted): a stream over an fd this library opened.
pub fn fdopen(fd: c_int, mode: &CStr) -> *mut libc::FILE {
    // SAFETY: `mode` is NUL-terminated; `fd` is an open fd the stream takes over.
    unsafe { libc::fdopen(fd, mode.as_ptr()) }
}

/// `dirfd(dir)`: the fd of a directory stream.
pub fn dirfd(dir: *mut libc::DIR) -> c_int {
    // SAFETY: `dir` is a stream libc's `opendir`/`fdopendir` returned and not yet closed.
    unsafe { libc::dirfd(dir) }
}

/// Sends `sig` to the calling thread (`tgkill`): delivered when the signal handler that sends
/// it returns.
pub fn raise_here(sig: c_int) {
    let pid = std::process::id() as c_int;
    let tid = gettid();
    // SAFETY: `tgkill` with our own process and thread IDs has no memory effects.
    unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, sig) };
}

/// Adds `mask` to the thread's blocked signals (then unblocks `sig` if `unblock`); the mask
/// before.
pub fn block_signals(mask: &libc::sigset_t, unblock: bool, sig: c_int) -> libc::sigset_t {
    // SAFETY: an all-zero `sigset_t` is a valid (empty) set.
    let mut saved: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: both sets are valid; `pthread_sigmask` is async-signal-safe.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, mask, &mut saved) };
    if unblock {
        // SAFETY: as above.
        let mut one: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: `one` is a valid set.
        unsafe { libc::sigaddset(&mut one, sig) };
        // SAFETY: as above.
        unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &one, std::ptr::null_mut()) };
    }
    saved
}

/// Restores the thread's blocked signals to `saved`.
pub fn restore_signals(saved: &libc::sigset_t) {
    // SAFETY: `saved` is a valid set.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, saved, std::ptr::null_mut()) };
}

/// Reads the code at `addr` into `buf` (`process_vm_readv` on ourselves: an unreadable page
/// stops the copy instead of faulting), up to the first unreadable byte; the bytes read.
pub fn read_code(addr: u64, buf: &mut [u8]) -> usize {
    let page_end = (addr | 4095).wrapping_add(1);
    let first = buf.len().min(page_end.wrapping_sub(addr) as usize);
    let pid = std::process::id() as c_int;
    let mut done = 0;
    for want in [buf.len(), first] {
        let local = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: want,
        };
        let remote = libc::iovec {
            iov_base: addr as *mut c_void,
            iov_len: want,
        };
        // SAFETY: `local` is `buf`'s own memory; a bad `remote` is an error, not a fault.
        let n = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
        if n > 0 {
            done = n as usize;
            break;
        }
    }
    done
}
