//! `fopen` of a writable attribute for writing ([`crate::attr`]): a stream whose reads,
//! writes and close go through this library's own `read`, `write` and `close` of the fd
//! (`fopencookie`), so that `fprintf` and `fclose` reach the attribute's store and report its
//! error, which libc's internal calls on an `fdopen` stream would not.

use crate::exports::{guard, ret};
use crate::{ops, sys};
use libc::{c_char, c_int, c_void, size_t, ssize_t};
use std::ffi::CStr;

/// glibc's `cookie_io_functions_t`.
#[repr(C)]
struct CookieIo {
    read: Option<unsafe extern "C" fn(*mut c_void, *mut c_char, size_t) -> ssize_t>,
    write: Option<unsafe extern "C" fn(*mut c_void, *const c_char, size_t) -> ssize_t>,
    seek: Option<unsafe extern "C" fn(*mut c_void, *mut i64, c_int) -> c_int>,
    close: Option<unsafe extern "C" fn(*mut c_void) -> c_int>,
}

// SAFETY: glibc's `fopencookie` (`stdio.h`, `_GNU_SOURCE`), declared as glibc declares it.
unsafe extern "C" {
    fn fopencookie(cookie: *mut c_void, mode: *const c_char, io: CookieIo) -> *mut libc::FILE;
}

/// The fd a stream's cookie stands for.
fn fd_of(cookie: *mut c_void) -> c_int {
    cookie as usize as c_int
}

/// `read` of the fd.
extern "C" fn read(cookie: *mut c_void, buf: *mut c_char, size: size_t) -> ssize_t {
    io(fd_of(cookie), false, buf as u64, size)
}

/// `write` of the fd.
extern "C" fn write(cookie: *mut c_void, buf: *const c_char, size: size_t) -> ssize_t {
    io(fd_of(cookie), true, buf as u64, size)
}

/// `close` of the fd.
extern "C" fn close(cookie: *mut c_void) -> c_int {
    let fd = fd_of(cookie);
    guard(-1, || ops::close(fd, || sys::next_close(fd)))
}

/// The fd's `read` or `write` of `size` bytes at `buf` (`EBADF` if the fd is no longer one
/// of the library's).
fn io(fd: c_int, write: bool, buf: u64, size: usize) -> ssize_t {
    guard(-1, || {
        let r = ops::read_write(fd, write, buf, size).unwrap_or(Err(libc::EBADF));
        ret(r, -1)
    })
}

/// A stream over `fd`, an attribute's fd, opened with `mode`; null (with `errno`) on failure,
/// the fd then still the caller's.
pub fn open(fd: c_int, mode: &CStr) -> *mut libc::FILE {
    let io = CookieIo {
        read: Some(read),
        write: Some(write),
        seek: None,
        close: Some(close),
    };
    // SAFETY: `mode` is NUL-terminated; the cookie is a number the callbacks read back, and
    // they are valid for the stream's life (functions of this library).
    unsafe { fopencookie(fd as usize as *mut c_void, mode.as_ptr(), io) }
}
