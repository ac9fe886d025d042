//! The lines of the other calls on uiommu's files: a `read`/`write` of a file a command made
//! (a fault queue's records, a vEVENTQ's events, a `fail-nth` file's text), vectored region
//! I/O of a device file, and `mmap`/`munmap` of a device's BARs and of iommufd's pages. Each
//! reads what it shows from the caller's memory around the call and leaves the call alone.

use super::{done, emit, sink};
use crate::sys::Errno;
use libc::c_int;
use std::time::Instant;
use uiommu_uapi::UserMemory;
use uiommu_uapi::trace::{self, Iovec, MAX_SHOWN, Payload};

/// Most bytes of a buffer read for a line: 16 records of a fault queue, or of a vEVENTQ's
/// largest event with its header.
const MAX_BYTES: usize = 16 * 40;

/// Runs `call`, a `read` (`write` if `write`) of `count` bytes at `buf` on `fd`, a file whose
/// bytes are `payload`, and traces it if tracing is on: the records (or text) moved.
pub fn file_io(
    fd: c_int,
    write: bool,
    payload: Payload,
    buf: u64,
    count: usize,
    mem: &dyn UserMemory,
    call: impl FnOnce() -> Result<isize, Errno>,
) -> Result<isize, Errno> {
    let Some(out) = sink() else {
        return call();
    };
    let shown = !matches!(payload, Payload::Opaque);
    let take = |n: usize| {
        let mut b = vec![0u8; n.min(MAX_BYTES)];
        (shown && mem.read(buf, &mut b).is_ok()).then_some(b)
    };
    let before = if write { take(count) } else { None };
    let start = Instant::now();
    let r = call();
    let done = done(r.map(|n| n as i64), start);
    let data = match r {
        Ok(n) if !write => take(usize::try_from(n).unwrap_or(0)),
        _ => before,
    };
    let line = trace::FileIo {
        fd,
        write,
        payload,
        buf,
        count,
        data: data.as_deref(),
    }
    .line(&done);
    emit(out, line.as_bytes());
    r
}

/// Runs `call`, a `pread64` (`pwrite64` if `write`) of `count` bytes at `buf` and `pos` on
/// `fd`, a traced file that is not a device's, and traces it if tracing is on (undecoded, as
/// `uiommu trace` shows it).
pub fn positioned(
    fd: c_int,
    write: bool,
    buf: u64,
    count: usize,
    pos: i64,
    call: impl FnOnce() -> Result<isize, Errno>,
) -> Result<isize, Errno> {
    let Some(out) = sink() else {
        return call();
    };
    let start = Instant::now();
    let r = call();
    let done = done(r.map(|n| n as i64), start);
    let name = if write { "pwrite64" } else { "pread64" };
    let args = trace::plain_args(fd, buf, count as u64, Some(pos as u64));
    emit(out, trace::other(name, &args, false, &done).as_bytes());
    r
}

/// Runs `call`, a `preadv`/`pwritev` (`flags`: the `v2` calls) of `iovcnt` iovecs at `iov`
/// and `pos` (`None`: the file position) on the device file `fd`, and traces it if tracing
/// is on.
#[allow(clippy::too_many_arguments)]
pub fn vectored(
    fd: c_int,
    write: bool,
    iov: u64,
    iovcnt: c_int,
    pos: Option<i64>,
    flags: Option<c_int>,
    mem: &dyn UserMemory,
    call: impl FnOnce() -> Result<isize, Errno>,
) -> Result<isize, Errno> {
    let Some(out) = sink() else {
        return call();
    };
    // `struct iovec`: base and length, 8 bytes each.
    let n = usize::try_from(iovcnt).unwrap_or(0).min(MAX_SHOWN + 1);
    let mut raw = vec![0u8; n * 16];
    let read = |addr: u64, b: &mut [u8]| mem.read(addr, b).is_ok();
    let mut iovs = read(iov, &mut raw).then(|| Iovec::parse(&raw));
    if let (Some(v), true) = (iovs.as_mut(), write) {
        Iovec::fill(v, usize::MAX, read);
    }
    let start = Instant::now();
    let r = call();
    let done = done(r.map(|n| n as i64), start);
    if let (Some(v), Ok(n), false) = (iovs.as_mut(), r, write) {
        Iovec::fill(v, usize::try_from(n).unwrap_or(0), read);
    }
    let line = trace::Vectored {
        fd,
        write,
        iov: iovs.as_deref(),
        iov_addr: iov,
        iovcnt,
        pos: pos.map(|p| p as u64),
        flags,
    }
    .line(&done);
    emit(out, line.as_bytes());
    r
}

/// Runs `call`, an `mmap` of `fd` (`device`: a VFIO device file, whose offset names a
/// region), and traces it if tracing is on.
#[allow(clippy::too_many_arguments)]
pub fn mmap(
    addr: usize,
    len: usize,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    off: i64,
    device: bool,
    call: impl FnOnce() -> Result<usize, Errno>,
) -> Result<usize, Errno> {
    let Some(out) = sink() else {
        return call();
    };
    let start = Instant::now();
    let r = call();
    let done = done(r.map(|a| a as i64), start);
    let line = trace::Mmap {
        addr: addr as u64,
        len: len as u64,
        prot,
        flags,
        fd,
        off: off as u64,
        device,
    }
    .line(&done);
    emit(out, line.as_bytes());
    r
}

/// Traces `result`, an `mremap` of a BAR mapping started at `start` (the BAR's bookkeeping
/// runs around the real call), if tracing is on.
#[allow(clippy::too_many_arguments)]
pub fn mremap(
    old: usize,
    old_len: usize,
    new_len: usize,
    flags: c_int,
    new_addr: *mut libc::c_void,
    start: Instant,
    result: Result<usize, Errno>,
) -> Result<usize, Errno> {
    let Some(out) = sink() else {
        return result;
    };
    let line = trace::Mremap {
        old: old as u64,
        old_len: old_len as u64,
        new_len: new_len as u64,
        flags,
        new_addr: new_addr as u64,
    }
    .line(&done(result.map(|a| a as i64), start));
    emit(out, line.as_bytes());
    result
}

/// Runs `call`, a `munmap` of `len` bytes at `addr` that covers one of uiommu's mappings,
/// and traces it if tracing is on (`call` returns 0 or -1 with errno set, as libc's does).
pub fn munmap(addr: usize, len: usize, call: impl FnOnce() -> c_int) -> c_int {
    let Some(out) = sink() else {
        return call();
    };
    let start = Instant::now();
    let rc = call();
    let errno = crate::sys::errno();
    let result = if rc == 0 { Ok(0) } else { Err(errno) };
    let line = trace::other(
        "munmap",
        &format!("{addr:#x}, {len}"),
        false,
        &done(result, start),
    );
    emit(out, line.as_bytes());
    crate::sys::set_errno(errno);
    rc
}
