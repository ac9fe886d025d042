//! Region I/O on a vfio-pci device file ([`crate::device`]), in safe code: `pread`/`pwrite`
//! and the vectored calls at `index << 40` ([`REGION_SHIFT`]); `read`/`write` at the file
//! position, which each transfer advances as `vfio_pci_rw` advances `*ppos`. The cdev has no
//! `llseek` (`do_dentry_open` then clears `FMODE_LSEEK`), so `lseek` is `ESPIPE`: the position
//! only moves by `read` and `write`.
//!
//! [`REGION_SHIFT`]: uiommu_abi::REGION_SHIFT

use crate::device::OpenDevice;
use crate::ops;
use crate::sys::Errno;
use libc::c_int;
use std::sync::PoisonError;
use uiommu_abi::{UserBuffer, UserMemory, VfioDeviceFile};

/// The most one transfer moves (`MAX_RW_COUNT`: `INT_MAX & PAGE_MASK`).
const MAX_RW_COUNT: usize = 0x7fff_f000;

/// The most buffers one vectored call takes (`UIO_MAXIOV`).
const UIO_MAXIOV: usize = 1024;

/// `read`/`write` of `count` bytes at `buf`, at the file position, which advances by the
/// bytes moved. The caller checked the access mode.
pub fn read_write(dev: &OpenDevice, write: bool, buf: u64, count: usize) -> Result<usize, Errno> {
    let file = dev.serve()?;
    let mut pos = dev.pos.lock().unwrap_or_else(PoisonError::into_inner);
    let n = transfer(
        file,
        write,
        *pos,
        &[UserBuffer {
            addr: buf,
            len: count,
        }],
    )?;
    *pos += n as u64;
    Ok(n)
}

/// The file position `read`/`write` start at.
pub fn position(dev: &OpenDevice) -> u64 {
    *dev.pos.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `pread`/`pwrite` of `count` bytes at `buf`, at `pos` (not negative: the caller checked it,
/// and the access mode).
pub fn pread_pwrite(
    dev: &OpenDevice,
    write: bool,
    buf: u64,
    count: usize,
    pos: u64,
) -> Result<usize, Errno> {
    transfer(
        dev.serve()?,
        write,
        pos,
        &[UserBuffer {
            addr: buf,
            len: count,
        }],
    )
}

/// `preadv2`/`pwritev2` (and the calls without flags) of the caller's `iovcnt` iovecs at
/// `iov`: at `pos`, or at the file position (advanced) for `None` (`vfs_readv`). The caller
/// checked the access mode and that `pos` is not negative.
pub fn vectored(
    dev: &OpenDevice,
    write: bool,
    iov: u64,
    iovcnt: c_int,
    pos: Option<u64>,
    flags: c_int,
) -> Result<usize, Errno> {
    let file = dev.serve()?;
    let bufs = import_iovec(iov, iovcnt)?;
    if bufs.iter().all(|b| b.len == 0) {
        return Ok(0);
    }
    // `do_loop_readv_writev`: the file has `read`/`write` methods, not the `_iter` ones.
    if flags & !libc::RWF_HIPRI != 0 {
        return Err(libc::EOPNOTSUPP);
    }
    match pos {
        Some(pos) => transfer(file, write, pos, &bufs),
        None => {
            let mut at = dev.pos.lock().unwrap_or_else(PoisonError::into_inner);
            let n = transfer(file, write, *at, &bufs)?;
            *at += n as u64;
            Ok(n)
        }
    }
}

/// `import_iovec`: `EINVAL` for more than `UIO_MAXIOV` buffers or a negative length, `EFAULT`
/// if the array cannot be read; the total is cut at `MAX_RW_COUNT`.
fn import_iovec(iov: u64, iovcnt: c_int) -> Result<Vec<UserBuffer>, Errno> {
    let count = usize::try_from(iovcnt).map_err(|_| libc::EINVAL)?;
    if count > UIO_MAXIOV {
        return Err(libc::EINVAL);
    }
    let mut raw = vec![0u8; count * 16];
    crate::caller_memory()
        .read(iov, &mut raw)
        .map_err(|e| e.0)?;
    let mut left = MAX_RW_COUNT;
    let mut bufs = Vec::with_capacity(count);
    for chunk in raw.chunks_exact(16) {
        let word = |i: usize| u64::from_ne_bytes(chunk[i..i + 8].try_into().unwrap_or_default());
        let len = usize::try_from(word(8) as i64).map_err(|_| libc::EINVAL)?;
        let len = len.min(left);
        left -= len;
        bufs.push(UserBuffer { addr: word(0), len });
    }
    Ok(bufs)
}

/// The transfers of `bufs` in turn from `pos` (`rw_verify_area`, then
/// `do_loop_readv_writev`): `EINVAL` if the total passes the largest offset; an error ends
/// the call with it only if nothing moved yet; a short transfer ends it.
fn transfer(
    file: &VfioDeviceFile,
    write: bool,
    pos: u64,
    bufs: &[UserBuffer],
) -> Result<usize, Errno> {
    let total: usize = bufs.iter().map(|b| b.len).sum();
    if isize::try_from(total).is_err()
        || pos
            .checked_add(total as u64)
            .is_none_or(|end| end > i64::MAX as u64)
    {
        return Err(libc::EINVAL);
    }
    let mut done = 0usize;
    for buf in bufs {
        let buf = UserBuffer {
            addr: buf.addr,
            len: buf.len.min(MAX_RW_COUNT.saturating_sub(done)),
        };
        let at = pos + done as u64;
        let r = ops::command(|caller| {
            let n = if write {
                file.region_write(caller, at, buf)?
            } else {
                file.region_read(caller, at, buf)?
            };
            Ok(n as i64)
        });
        let n = match r {
            Ok(n) => n as usize,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        done += n;
        if n != buf.len {
            break;
        }
    }
    Ok(done)
}
