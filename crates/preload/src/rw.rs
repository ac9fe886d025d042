//! `read` and `write` of a virtual fd, and their positioned and vectored forms, in safe code
//! (the other calls are [`crate::ops`]'): a device file's region I/O, a command's
//! file's records, a `fail-nth` file's text, each traced ([`crate::trace`]).

use crate::caller_memory;
use crate::ops::answer;
use crate::share::Kind;
use crate::sys::{self, Errno};
use crate::table::{Entry, Object};
use crate::{attr, device_io, failnth, fork};
use libc::c_int;
use uiommu_uapi::UserMemory;
use uiommu_uapi::trace::Payload;

/// `read` or `write` of `count` bytes at the caller's `buf` (`vfs_read`/`vfs_write`): `EBADF`
/// for the wrong access mode; then the file's method. The device has neither method
/// (`EINVAL`); a file a command made answers through [`uiommu_abi::File::read`] and
/// [`uiommu_abi::File::write`] (`EINVAL` for one without the method).
pub fn read_write(fd: c_int, write: bool, buf: u64, count: usize) -> Option<Result<isize, Errno>> {
    answer(fd, |entry| {
        let mem = caller_memory();
        let call = || {
            check_access_mode(entry, write)?;
            let n = object_read_write(fd, &entry.object, write, buf, count, &mem)?;
            Ok(isize::try_from(n).unwrap_or(isize::MAX))
        };
        Some(match &entry.object {
            Object::Device(d) => {
                let pos = || device_io::position(d);
                crate::trace::region(fd, write, false, pos, buf, count, &mem, call)
            }
            o => crate::trace::file_io(fd, write, payload(o), buf, count, &mem, call),
        })
    })
}

/// [`read_write`]'s transfer on `object`, once the access mode allowed it.
fn object_read_write(
    fd: c_int,
    object: &Object,
    write: bool,
    buf: u64,
    count: usize,
    mem: &dyn UserMemory,
) -> Result<usize, Errno> {
    let f = match object {
        Object::File(f) => f,
        Object::FailNth(tid) => {
            // Through the fd's own position, as `vfs_read` passes `f_pos`.
            let pos = sys::seek(fd, 0, libc::SEEK_CUR)?;
            let n = fail_nth_io(**tid, write, buf, count, pos)?;
            if !write {
                sys::seek(fd, pos + n as u64, libc::SEEK_SET)?;
            }
            return Ok(n);
        }
        Object::Attr(node) => {
            let pos = sys::seek(fd, 0, libc::SEEK_CUR)?;
            let n = attr::io(node, write, buf, count, pos)?;
            sys::seek(fd, pos + n as u64, libc::SEEK_SET)?;
            return Ok(n);
        }
        // Neither has a read or write method.
        Object::Context(_) | Object::Group(_) | Object::Container(_) => return Err(libc::EINVAL),
        Object::Device(d) => return device_io::read_write(d, write, buf, count),
        Object::Remote(r) if r.kind() == Kind::Context => return Err(libc::EINVAL),
        Object::Remote(r) => {
            let n = r.read_write(write, buf, count)?;
            return Ok(usize::try_from(n).unwrap_or(usize::MAX));
        }
    };
    let _gate = fork::command_guard();
    let r = if write {
        f.file().write(mem, buf, count)
    } else {
        f.file().read(mem, buf, count)
    };
    r.map_err(|e| e.0)
}

/// What a `read` or `write` of `object` moves, for its trace line.
fn payload(object: &Object) -> Payload {
    match object {
        Object::File(f) => match f.file() {
            uiommu_abi::File::Fault(_) => Payload::Fault,
            uiommu_abi::File::Veventq(v) => Payload::Veventq(v.queue.queue.veventq_type),
            _ => Payload::Opaque,
        },
        Object::FailNth(_) | Object::Attr(_) => Payload::Text,
        _ => Payload::Opaque,
    }
}

/// `EBADF` unless the fd was opened for the direction (`vfs_read`/`vfs_write`).
fn check_access_mode(entry: &Entry, write: bool) -> Result<(), Errno> {
    let mode = entry.mode;
    let forbidden = if write {
        libc::O_RDONLY
    } else {
        libc::O_WRONLY
    };
    if mode == forbidden {
        return Err(libc::EBADF);
    }
    Ok(())
}

/// `pread`/`pwrite` at `pos` (`ksys_pread64`): a negative `pos` is `EINVAL`; the anonymous
/// files have no `FMODE_PREAD` (`ESPIPE`); the iommufd nodes have it, then fail as `read`
/// does (`EBADF` for the wrong access mode, `EINVAL` without the method); a device file and
/// the `fail-nth` file answer.
pub fn pread_pwrite(
    fd: c_int,
    write: bool,
    buf: u64,
    count: usize,
    pos: i64,
) -> Option<Result<isize, Errno>> {
    answer(fd, |entry| {
        let call = || match &entry.object {
            _ if pos < 0 => Err(libc::EINVAL),
            Object::File(_) => Err(libc::ESPIPE),
            Object::Remote(r) if r.kind() != Kind::Context => Err(libc::ESPIPE),
            Object::Context(_) | Object::Group(_) | Object::Container(_) | Object::Remote(_) => {
                check_access_mode(entry, write).and(Err(libc::EINVAL))
            }
            Object::FailNth(tid) => check_access_mode(entry, write)
                .and_then(|()| fail_nth_io(**tid, write, buf, count, pos as u64))
                .map(|n| isize::try_from(n).unwrap_or(isize::MAX)),
            Object::Attr(node) => check_access_mode(entry, write)
                .and_then(|()| attr::io(node, write, buf, count, pos as u64))
                .map(|n| isize::try_from(n).unwrap_or(isize::MAX)),
            Object::Device(d) => check_access_mode(entry, write)
                .and_then(|()| device_io::pread_pwrite(d, write, buf, count, pos as u64))
                .map(|n| isize::try_from(n).unwrap_or(isize::MAX)),
        };
        Some(match &entry.object {
            Object::Device(_) if pos >= 0 => {
                let mem = caller_memory();
                crate::trace::region(fd, write, true, || pos as u64, buf, count, &mem, call)
            }
            _ => crate::trace::positioned(fd, write, buf, count, pos, call),
        })
    })
}

/// `preadv`/`pwritev` and `preadv2`/`pwritev2` at `pos` (`None`: the file position, as
/// `preadv2` takes -1) of the caller's `iovcnt` iovecs at `iov`, on a device file (`do_preadv`,
/// `vfs_readv`): `EINVAL` for another negative `pos`, `EBADF` for the wrong access mode. The
/// other virtual fds are their backing files' here, as before these calls were intercepted.
pub fn vectored(
    fd: c_int,
    write: bool,
    iov: u64,
    iovcnt: c_int,
    pos: Option<i64>,
    flags: Option<c_int>,
) -> Option<Result<isize, Errno>> {
    answer(fd, |entry| {
        let Object::Device(d) = &entry.object else {
            return None;
        };
        let mem = caller_memory();
        Some(crate::trace::vectored(
            fd,
            write,
            iov,
            iovcnt,
            pos,
            flags,
            &mem,
            || {
                pos.map(|p| u64::try_from(p).map_err(|_| libc::EINVAL))
                    .transpose()
                    .and_then(|pos| {
                        check_access_mode(entry, write)?;
                        device_io::vectored(d, write, iov, iovcnt, pos, flags.unwrap_or(0))
                    })
                    .map(|n| isize::try_from(n).unwrap_or(isize::MAX))
            },
        ))
    })
}

/// `lseek` of a device or group file or a legacy container: `ESPIPE` (none has `llseek`);
/// other fds are the kernel's.
pub fn lseek(fd: c_int) -> Option<Result<i64, Errno>> {
    answer(fd, |entry| match entry.object {
        Object::Device(_) | Object::Group(_) | Object::Container(_) => Some(Err(libc::ESPIPE)),
        _ => None,
    })
}

/// A read or write of a `fail-nth` file through the caller's buffer.
fn fail_nth_io(tid: c_int, write: bool, buf: u64, count: usize, pos: u64) -> Result<usize, Errno> {
    use uiommu_uapi::UserMemory;
    let mem = caller_memory();
    // The text is at most 11 bytes; `kstrtouint_from_user` parses at most the first 66
    // bytes written and consumes them all.
    let mut bytes = vec![0u8; count.min(if write { 66 } else { 16 })];
    if write {
        mem.read(buf, &mut bytes).map_err(|e| e.0)?;
        return failnth::write(tid, &bytes).map(|_| count);
    }
    let n = failnth::read(tid, pos, &mut bytes)?;
    mem.write(buf, &bytes[..n]).map_err(|e| e.0)?;
    Ok(n)
}
