//! The writable sysfs attributes of the emulated devices (a PF's `sriov_numvfs`), in safe
//! code: an open for writing is a virtual fd over the attribute ([`Object::Attr`]) whose
//! `write` reaches the attribute's store as `kernfs_fop_write_iter` passes it (the buffer, at
//! most a page, whatever the position), and whose `read` shows the attribute's value at the
//! time of the read from the fd's position (`sysfs_kf_seq_show`). An open for reading only
//! is an ordinary attribute's (a file holding the value, see [`crate::vfs`]).
//!
//! The fd is backed by a memfd reopened with the access mode asked for, so that the kernel's
//! own `fstat`, `lseek` and `close` answer for it and `EBADF` guards the direction. A write
//! that does not come through the interposed `write` (stdio's internal one, as a shell's
//! `echo 1 > sriov_numvfs` makes) lands in the memfd: what it holds is stored when an fd of
//! the open file is closed (`close`, `close_range`, or the number reused by `dup2`/`dup3`), and
//! the memfd emptied. That store's error cannot be reported (the write it belongs to has
//! returned). A `FILE` from `fopen` for writing goes through this library's calls instead
//! (`attr_stream`), so its writes and its close report the store's error.

use crate::sys::{self, Errno};
use crate::table::{Object, TABLE};
use libc::c_int;
use std::ffi::CString;
use std::sync::Arc;
use uiommu_abi::sysfs::Node;

/// `PAGE_SIZE`: kernfs copies at most this much of one write, less its NUL.
const MAX_WRITE: usize = 4095;

/// A writable attribute open for writing.
pub struct AttrFile {
    node: Node,
}

/// `open(path, flags)` of the writable attribute `node`, not read-only.
pub fn open(node: &Node, flags: c_int) -> Result<c_int, Errno> {
    let file = AttrFile { node: node.clone() };
    TABLE.create(Object::Attr(Arc::new(file)), || {
        let memfd = sys::memfd(c"uiommu-sysfs")?;
        let mode = flags & (libc::O_ACCMODE | libc::O_CLOEXEC);
        let fd = reopen(memfd, mode);
        sys::close_raw(memfd);
        fd
    })
}

/// `fd` opened again through `/proc/self/fd` with `flags`.
fn reopen(fd: c_int, flags: c_int) -> Result<c_int, Errno> {
    let own = CString::new(format!("/proc/self/fd/{fd}")).map_err(|_| libc::EINVAL)?;
    sys::open_raw(&own, flags, 0)
}

/// Before `fd`, an fd of `file`, is closed: the bytes that bypassed `write` and landed in
/// the backing memfd are stored, and the memfd emptied (see the module's notes).
pub fn before_close(fd: c_int, file: &AttrFile) {
    let Ok(reader) = reopen(fd, libc::O_RDONLY | libc::O_CLOEXEC) else {
        return;
    };
    let mut bytes = vec![0u8; MAX_WRITE];
    let n = sys::pread_raw(reader, &mut bytes, 0).unwrap_or(0);
    sys::close_raw(reader);
    if n > 0 {
        let _ = sys::ftruncate_raw(fd, 0);
        let _ = write(&file.node, &bytes[..n]);
    }
}

/// `read` (at `pos`) or `write` of `count` bytes at the caller's `buf`: the bytes done.
pub fn io(file: &AttrFile, write: bool, buf: u64, count: usize, pos: u64) -> Result<usize, Errno> {
    let node = &file.node;
    use uiommu_uapi::UserMemory;
    let mem = crate::caller_memory();
    if write {
        let mut bytes = vec![0u8; count.min(MAX_WRITE)];
        mem.read(buf, &mut bytes).map_err(|e| e.0)?;
        return self::write(node, &bytes);
    }
    let mut bytes = vec![0u8; count.min(MAX_WRITE + 1)];
    let n = read(node, pos, &mut bytes);
    mem.write(buf, &bytes[..n]).map_err(|e| e.0)?;
    Ok(n)
}

/// `pread` of the attribute at `pos`.
fn read(node: &Node, pos: u64, buf: &mut [u8]) -> usize {
    let bytes = node.contents();
    let start = usize::try_from(pos).unwrap_or(usize::MAX).min(bytes.len());
    let n = buf.len().min(bytes.len() - start);
    buf[..n].copy_from_slice(&bytes[start..start + n]);
    n
}

/// `write` of `data` (its first page at most) to the attribute: the store's answer.
fn write(node: &Node, data: &[u8]) -> Result<usize, Errno> {
    let data = &data[..data.len().min(MAX_WRITE)];
    // A command of the process: a fork waits for it (see `crate::fork`).
    let _gate = crate::fork::command_guard();
    node.store(data).map_err(|e| e.0)
}
