//! The exported reads and writes beyond `read`/`write`/`pread`/`pwrite` ([`crate::exports`]):
//! the fortified `__read_chk` and `__pread_chk`, the vectored positioned calls, and `lseek`.
//! Each answers for a virtual fd through [`crate::ops`] or forwards the call to libc, under
//! [`guard`], as the calls of [`crate::exports`] do.

use crate::exports::{guard, positioned_io, ret};
use crate::ops;
use crate::sys;
use libc::{c_int, c_void, off_t, size_t, ssize_t};

/// `__read_chk(fd, buf, count, buflen)`: the fortified `read`. A `count` past the buffer is
/// libc's to refuse (it aborts, as it would without this library).
///
/// # Safety
/// C contract of `__read_chk`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __read_chk(
    fd: c_int,
    buf: *mut c_void,
    count: size_t,
    buflen: size_t,
) -> ssize_t {
    let next = || sys::next_read_chk(fd, buf, count, buflen);
    if count > buflen {
        return next();
    }
    guard(-1, || match ops::read_write(fd, false, buf as u64, count) {
        Some(r) => ret(r, -1),
        None => next(),
    })
}

/// The common body of the fortified `pread`s: a `count` past the buffer is libc's to refuse.
fn pread_chk(
    fd: c_int,
    buf: *mut c_void,
    count: size_t,
    pos: off_t,
    buflen: size_t,
    next: impl FnOnce() -> ssize_t,
) -> ssize_t {
    if count > buflen {
        return next();
    }
    positioned_io(fd, false, buf as u64, count, pos, next)
}

/// Declares the fortified `pread`s, `__pread_chk` and `__pread64_chk`.
macro_rules! pread_chk_exports {
    ($($name:ident = $next:ident;)*) => {$(
        #[doc = concat!("`", stringify!($name), "(fd, buf, count, pos, buflen)`.")]
        ///
        /// # Safety
        /// The C contract of the call.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name(
            fd: c_int,
            buf: *mut c_void,
            count: size_t,
            pos: off_t,
            buflen: size_t,
        ) -> ssize_t {
            pread_chk(fd, buf, count, pos, buflen, || {
                sys::$next(fd, buf, count, pos, buflen)
            })
        }
    )*};
}

pread_chk_exports! {
    __pread_chk = next_pread_chk;
    __pread64_chk = next_pread64_chk;
}

/// The common body of the vectored positioned calls: ours, or forwarded via `next`.
fn vectored_io(
    fd: c_int,
    write: bool,
    iov: *const libc::iovec,
    iovcnt: c_int,
    pos: Option<off_t>,
    flags: Option<c_int>,
    next: impl FnOnce() -> ssize_t,
) -> ssize_t {
    guard(-1, || {
        match ops::vectored(fd, write, iov as u64, iovcnt, pos, flags) {
            Some(r) => ret(r, -1),
            None => next(),
        }
    })
}

/// Declares the vectored positioned calls: `preadv`, `pwritev` and their `64` names, and
/// with `flags`, `preadv2`, `pwritev2` and their `64v2` names, for which `pos` -1 is the file
/// position.
macro_rules! vectored_exports {
    ($($name:ident = $next:ident, $write:literal $(, $flags:ident)?;)*) => {$(
        #[doc = concat!("`", stringify!($name), "(fd, iov, iovcnt, pos", $(", ", stringify!($flags),)? ")`.")]
        ///
        /// # Safety
        /// The C contract of the call.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name(
            fd: c_int,
            iov: *const libc::iovec,
            iovcnt: c_int,
            pos: off_t,
            $($flags: c_int,)?
        ) -> ssize_t {
            let flags: Option<c_int> = None $(.or(Some($flags)))?;
            let at = (flags.is_none() || pos != -1).then_some(pos);
            vectored_io(fd, $write, iov, iovcnt, at, flags, || {
                sys::$next(fd, iov, iovcnt, pos $(, $flags)?)
            })
        }
    )*};
}

vectored_exports! {
    preadv = next_preadv, false;
    preadv64 = next_preadv64, false;
    pwritev = next_pwritev, true;
    pwritev64 = next_pwritev64, true;
    preadv2 = next_preadv2, false, flags;
    pwritev2 = next_pwritev2, true, flags;
    preadv64v2 = next_preadv64v2, false, flags;
    pwritev64v2 = next_pwritev64v2, true, flags;
}

/// `lseek(fd, off, whence)`.
#[unsafe(no_mangle)]
pub extern "C" fn lseek(fd: c_int, off: off_t, whence: c_int) -> off_t {
    guard(-1, || match ops::lseek(fd) {
        Some(r) => ret(r, -1),
        None => sys::next_lseek(fd, off, whence),
    })
}

/// `lseek64(fd, off, whence)`: `lseek` on 64-bit targets.
#[unsafe(no_mangle)]
pub extern "C" fn lseek64(fd: c_int, off: off_t, whence: c_int) -> off_t {
    guard(-1, || match ops::lseek(fd) {
        Some(r) => ret(r, -1),
        None => sys::next_lseek64(fd, off, whence),
    })
}
