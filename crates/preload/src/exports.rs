//! The exported C symbols that interpose on libc's.
//!
//! Each one converts its C arguments, asks [`crate::ops`] whether the call is about a virtual
//! fd, and either answers (setting `errno` on failure) or forwards the call to the next
//! definition, libc's. Every body runs under [`guard`]: a panic never unwinds into C; it
//! becomes a failed call with `EIO` (no caller input is meant to reach a panic).
//!
//! # C-variadic prototypes
//! `open`, `openat`, `ioctl` and `fcntl` are variadic in C, and stable Rust cannot define a
//! variadic function. They are defined here with their one optional argument as a fixed
//! parameter of register width (`mode`, `arg`). On the x86-64 System V and AArch64 Linux ABIs,
//! variadic integer and pointer arguments are passed in the same registers as fixed ones, so
//! the callee reads the caller's argument exactly where it was put. When the caller passed no
//! optional argument, the register holds garbage, which is only used where C would use it too
//! (`mode` with `O_CREAT`/`O_TMPFILE`) or forwarded unchanged to libc, which ignores it.

use crate::ops;
use crate::sys::{self, set_errno};
use libc::{c_char, c_int, c_uint, c_ulong, c_void, off_t, size_t, ssize_t};
use std::panic::{AssertUnwindSafe, catch_unwind};

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("the variadic-as-fixed prototypes below are only checked for x86-64 and AArch64");

/// Runs `f`, turning a panic into `fail` with `errno = EIO`.
pub(crate) fn guard<T>(fail: T, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(_) => {
            set_errno(libc::EIO);
            fail
        }
    }
}

/// Returns `r`'s value, or sets `errno` and returns `fail`.
pub(crate) fn ret<T>(r: Result<T, sys::Errno>, fail: T) -> T {
    match r {
        Ok(v) => v,
        Err(e) => {
            set_errno(e);
            fail
        }
    }
}

/// The common body of the open family: ours, or forwarded via `next` (then any stale table
/// entry for the returned number is dropped).
///
/// # Safety
/// `path` is null or a NUL-terminated string (the C contract of every open function).
unsafe fn open_common(
    dirfd: Option<c_int>,
    path: *const c_char,
    flags: c_int,
    mode: c_uint,
    next: impl FnOnce() -> c_int,
) -> c_int {
    // SAFETY: forwarded from our caller's contract.
    let p = unsafe { sys::c_str(path) };
    if let Some(r) = p.and_then(|p| ops::open(dirfd, p.to_bytes(), flags, mode)) {
        return ret(r, -1);
    }
    let fd = next();
    keep_errno(|| ops::forget(fd));
    fd
}

/// Runs bookkeeping after a forwarded call without disturbing the `errno` it set.
fn keep_errno(f: impl FnOnce()) {
    let e = sys::errno();
    f();
    set_errno(e);
}

/// `open(path, flags, ...)`.
///
/// # Safety
/// C contract of `open`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn open(path: *const c_char, flags: c_int, mode: c_uint) -> c_int {
    guard(-1, || {
        // SAFETY: our caller's contract.
        unsafe {
            open_common(None, path, flags, mode, || {
                sys::next_open(path, flags, mode)
            })
        }
    })
}

/// `open64(path, flags, ...)`.
///
/// # Safety
/// C contract of `open64`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn open64(path: *const c_char, flags: c_int, mode: c_uint) -> c_int {
    guard(-1, || {
        // SAFETY: our caller's contract.
        unsafe {
            open_common(None, path, flags, mode, || {
                sys::next_open64(path, flags, mode)
            })
        }
    })
}

/// `openat(dirfd, path, flags, ...)`.
///
/// # Safety
/// C contract of `openat`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn openat(
    dirfd: c_int,
    path: *const c_char,
    flags: c_int,
    mode: c_uint,
) -> c_int {
    guard(-1, || {
        let dir = (dirfd != libc::AT_FDCWD).then_some(dirfd);
        // SAFETY: our caller's contract.
        unsafe {
            open_common(dir, path, flags, mode, || {
                sys::next_openat(dirfd, path, flags, mode)
            })
        }
    })
}

/// `openat64(dirfd, path, flags, ...)`.
///
/// # Safety
/// C contract of `openat64`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn openat64(
    dirfd: c_int,
    path: *const c_char,
    flags: c_int,
    mode: c_uint,
) -> c_int {
    guard(-1, || {
        let dir = (dirfd != libc::AT_FDCWD).then_some(dirfd);
        // SAFETY: our caller's contract.
        unsafe {
            open_common(dir, path, flags, mode, || {
                sys::next_openat64(dirfd, path, flags, mode)
            })
        }
    })
}

/// `__open_2(path, flags)`: the fortified `open` without `O_CREAT`.
///
/// # Safety
/// C contract of `__open_2`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __open_2(path: *const c_char, flags: c_int) -> c_int {
    guard(-1, || {
        // SAFETY: our caller's contract.
        unsafe { open_common(None, path, flags, 0, || sys::next_open_2(path, flags)) }
    })
}

/// `__open64_2(path, flags)`.
///
/// # Safety
/// C contract of `__open64_2`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __open64_2(path: *const c_char, flags: c_int) -> c_int {
    guard(-1, || {
        // SAFETY: our caller's contract.
        unsafe { open_common(None, path, flags, 0, || sys::next_open64_2(path, flags)) }
    })
}

/// `__openat_2(dirfd, path, flags)`.
///
/// # Safety
/// C contract of `__openat_2`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __openat_2(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int {
    guard(-1, || {
        let dir = (dirfd != libc::AT_FDCWD).then_some(dirfd);
        // SAFETY: our caller's contract.
        unsafe {
            open_common(dir, path, flags, 0, || {
                sys::next_openat_2(dirfd, path, flags)
            })
        }
    })
}

/// `__openat64_2(dirfd, path, flags)`.
///
/// # Safety
/// C contract of `__openat64_2`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __openat64_2(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int {
    guard(-1, || {
        let dir = (dirfd != libc::AT_FDCWD).then_some(dirfd);
        // SAFETY: our caller's contract.
        unsafe {
            open_common(dir, path, flags, 0, || {
                sys::next_openat64_2(dirfd, path, flags)
            })
        }
    })
}

/// `creat(path, mode)`: `open(path, O_CREAT | O_WRONLY | O_TRUNC, mode)`.
///
/// # Safety
/// C contract of `creat`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn creat(path: *const c_char, mode: c_uint) -> c_int {
    let flags = libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC;
    guard(-1, || {
        // SAFETY: our caller's contract.
        unsafe { open_common(None, path, flags, mode, || sys::next_creat(path, mode)) }
    })
}

/// `creat64(path, mode)`.
///
/// # Safety
/// C contract of `creat64`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn creat64(path: *const c_char, mode: c_uint) -> c_int {
    let flags = libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC;
    guard(-1, || {
        // SAFETY: our caller's contract.
        unsafe { open_common(None, path, flags, mode, || sys::next_creat64(path, mode)) }
    })
}

/// `close(fd)`.
#[unsafe(no_mangle)]
pub extern "C" fn close(fd: c_int) -> c_int {
    guard(-1, || ops::close(fd, || sys::next_close(fd)))
}

/// `close_range(first, last, flags)`.
#[unsafe(no_mangle)]
pub extern "C" fn close_range(first: c_uint, last: c_uint, flags: c_int) -> c_int {
    guard(-1, || {
        ops::close_range(first, last, flags, || {
            sys::next_close_range(first, last, flags)
        })
    })
}

/// `ioctl(fd, request, ...)`.
///
/// # Safety
/// C contract of `ioctl`: `arg` is what the command expects (for ours, a user address the
/// command reads and writes through the kernel, never dereferenced here).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioctl(fd: c_int, request: c_ulong, arg: c_ulong) -> c_int {
    guard(-1, || {
        let mut rc = -1;
        for _ in 0..64 {
            let generation = ops::generation();
            if let Some(r) = ops::ioctl(fd, request, arg) {
                return ret(r, -1);
            }
            rc = sys::next_ioctl(fd, request, arg);
            // One of our files put at this number since the lookup (the old fd closed) may
            // have been reached, answering ENOTTY and doing nothing: ask again, as the call
            // raced that open. An fd still arriving on the library's sockets is waited for.
            if rc != -1 || sys::errno() != libc::ENOTTY || !ops::settled_since(generation) {
                break;
            }
        }
        rc
    })
}

/// `read(fd, buf, count)`.
///
/// # Safety
/// C contract of `read`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn read(fd: c_int, buf: *mut c_void, count: size_t) -> ssize_t {
    guard(-1, || match ops::read_write(fd, false, buf as u64, count) {
        Some(r) => ret(r, -1),
        None => sys::next_read(fd, buf, count),
    })
}

/// `write(fd, buf, count)`.
///
/// # Safety
/// C contract of `write`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn write(fd: c_int, buf: *const c_void, count: size_t) -> ssize_t {
    guard(-1, || match ops::read_write(fd, true, buf as u64, count) {
        Some(r) => ret(r, -1),
        None => sys::next_write(fd, buf, count),
    })
}

/// The common body of `pread`/`pwrite` and their `64` names: ours, or forwarded via `next`.
pub(crate) fn positioned_io(
    fd: c_int,
    write: bool,
    buf: u64,
    count: size_t,
    pos: off_t,
    next: impl FnOnce() -> ssize_t,
) -> ssize_t {
    guard(-1, || match ops::pread_pwrite(fd, write, buf, count, pos) {
        Some(r) => ret(r, -1),
        None => next(),
    })
}

/// `pread(fd, buf, count, pos)`.
///
/// # Safety
/// C contract of `pread`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pread(fd: c_int, buf: *mut c_void, count: size_t, pos: off_t) -> ssize_t {
    positioned_io(fd, false, buf as u64, count, pos, || {
        sys::next_pread(fd, buf, count, pos)
    })
}

/// `pread64(fd, buf, count, pos)`: `pread` on 64-bit targets.
///
/// # Safety
/// C contract of `pread64`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pread64(
    fd: c_int,
    buf: *mut c_void,
    count: size_t,
    pos: off_t,
) -> ssize_t {
    positioned_io(fd, false, buf as u64, count, pos, || {
        sys::next_pread64(fd, buf, count, pos)
    })
}

/// `pwrite(fd, buf, count, pos)`.
///
/// # Safety
/// C contract of `pwrite`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pwrite(
    fd: c_int,
    buf: *const c_void,
    count: size_t,
    pos: off_t,
) -> ssize_t {
    positioned_io(fd, true, buf as u64, count, pos, || {
        sys::next_pwrite(fd, buf, count, pos)
    })
}

/// `pwrite64(fd, buf, count, pos)`: `pwrite` on 64-bit targets.
///
/// # Safety
/// C contract of `pwrite64`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pwrite64(
    fd: c_int,
    buf: *const c_void,
    count: size_t,
    pos: off_t,
) -> ssize_t {
    positioned_io(fd, true, buf as u64, count, pos, || {
        sys::next_pwrite64(fd, buf, count, pos)
    })
}

fn mmap_common(
    sym64: bool,
    addr: *mut c_void,
    len: size_t,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    off: off_t,
) -> *mut c_void {
    guard(libc::MAP_FAILED, || {
        let p = match ops::mmap(addr as usize, len, prot, flags, fd, off) {
            Some(r) => ret(r.map(|a| a as *mut c_void), libc::MAP_FAILED),
            None => sys::next_mmap(sym64, addr, len, prot, flags, fd, off),
        };
        crate::addr_space::changed();
        p
    })
}

/// `mmap(addr, len, prot, flags, fd, off)`.
///
/// # Safety
/// C contract of `mmap`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mmap(
    addr: *mut c_void,
    len: size_t,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    off: off_t,
) -> *mut c_void {
    mmap_common(false, addr, len, prot, flags, fd, off)
}

/// `mmap64(addr, len, prot, flags, fd, off)`.
///
/// # Safety
/// C contract of `mmap64`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mmap64(
    addr: *mut c_void,
    len: size_t,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    off: off_t,
) -> *mut c_void {
    mmap_common(true, addr, len, prot, flags, fd, off)
}

/// `munmap(addr, len)`: a region of an iommufd mapping is given back to uiommu; the rest of
/// the range goes to libc.
///
/// # Safety
/// C contract of `munmap`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn munmap(addr: *mut c_void, len: size_t) -> c_int {
    guard(-1, || {
        if crate::trace::enabled() && ours(addr as usize, len) {
            return crate::trace::munmap(addr as usize, len, || unmap(addr, len));
        }
        unmap(addr, len)
    })
}

/// Whether `addr..addr + len` covers one of uiommu's mappings (iommufd's, a BAR's).
fn ours(addr: usize, len: usize) -> bool {
    #[cfg(target_arch = "x86_64")]
    if crate::mmio::ranges::overlaps(addr, len) {
        return true;
    }
    crate::regions::overlaps(addr as u64, len as u64)
}

/// `munmap`'s body.
fn unmap(addr: *mut c_void, len: size_t) -> c_int {
    let rc = match crate::regions::unmap(addr as u64, len as u64) {
        None => sys::next_munmap(addr, len),
        Some(rest) => {
            let mut rc = 0;
            for (a, l) in rest {
                if sys::next_munmap(a as *mut c_void, l as size_t) != 0 {
                    rc = -1;
                }
            }
            rc
        }
    };
    #[cfg(target_arch = "x86_64")]
    if rc == 0 {
        keep_errno(|| crate::mmio::unmapped(addr as usize, len));
    }
    crate::addr_space::changed();
    rc
}

/// `dup(fd)`.
#[unsafe(no_mangle)]
pub extern "C" fn dup(fd: c_int) -> c_int {
    guard(-1, || ops::duplicate(fd, None, || sys::next_dup(fd)))
}

/// `dup2(old, new)`.
#[unsafe(no_mangle)]
pub extern "C" fn dup2(old: c_int, new: c_int) -> c_int {
    guard(-1, || {
        ops::duplicate(old, Some(new), || sys::next_dup2(old, new))
    })
}

/// `dup3(old, new, flags)`.
#[unsafe(no_mangle)]
pub extern "C" fn dup3(old: c_int, new: c_int, flags: c_int) -> c_int {
    guard(-1, || {
        ops::duplicate(old, Some(new), || sys::next_dup3(old, new, flags))
    })
}

fn fcntl_common(fd: c_int, cmd: c_int, next: impl FnOnce() -> c_int) -> c_int {
    guard(-1, || match cmd {
        libc::F_DUPFD | libc::F_DUPFD_CLOEXEC => ops::duplicate(fd, None, next),
        _ => next(),
    })
}

/// `fcntl(fd, cmd, ...)`.
///
/// # Safety
/// C contract of `fcntl`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fcntl(fd: c_int, cmd: c_int, arg: c_ulong) -> c_int {
    fcntl_common(fd, cmd, || sys::next_fcntl(fd, cmd, arg))
}

/// `fcntl64(fd, cmd, ...)`.
///
/// # Safety
/// C contract of `fcntl64`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fcntl64(fd: c_int, cmd: c_int, arg: c_ulong) -> c_int {
    fcntl_common(fd, cmd, || sys::next_fcntl64(fd, cmd, arg))
}

/// Runs when the library is loaded: adopts inherited virtual fds, and opens the `/proc` files
/// pinning reads while the program has no other thread to race it (see `procfile`).
extern "C" fn on_load() {
    guard((), ops::adopt_inherited);
    guard((), crate::procfile::init);
}

/// The loader calls the functions of `.init_array` when it maps the library.
#[used]
#[unsafe(link_section = ".init_array")]
static ON_LOAD: extern "C" fn() = on_load;
