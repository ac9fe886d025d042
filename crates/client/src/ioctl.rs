//! Every system call the client makes that Rust cannot check: `ioctl(2)` with a pointer to a
//! uAPI struct, and `mmap(2)` of the memory that IOAS mappings point at.
//!
//! The crate keeps one invariant for the structs passed here: any user pointer embedded in them
//! (`data_uptr`, `allowed_iovas`, `user_va`, ...) is the address of a buffer the caller borrows
//! for the duration of the call (or, for `user_va`, of a [`Region`] kept alive by the IOAS).
//! The kernel validates every user pointer itself, so a wrong one is `EFAULT`, never a stray
//! write into memory Rust does not expect.

#![allow(unsafe_code)]

use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::NonNull;

use uiommu_uapi::Errno;
use zerocopy::{FromBytes, IntoBytes};

fn last_errno() -> Errno {
    Errno(
        std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO),
    )
}

/// `ioctl(fd, cmd, arg)` with `arg` a uAPI struct the kernel reads and may write back.
pub(crate) fn ioctl<T: IntoBytes + FromBytes>(
    fd: BorrowedFd<'_>,
    cmd: u32,
    arg: &mut T,
) -> Result<i32, Errno> {
    let ptr: *mut T = arg;
    // SAFETY: `ptr` is a unique borrow of a plain-old-data struct valid for `size_of::<T>()`
    // bytes; the kernel writes at most that many (`size`/`argsz` say so), and any bit pattern is
    // a valid `T` (`FromBytes`). Embedded user pointers follow the module invariant.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), cmd as libc::Ioctl, ptr) };
    if rc < 0 { Err(last_errno()) } else { Ok(rc) }
}

/// `ioctl(fd, cmd, buf)` with a byte buffer: variable-length commands (an INFO struct followed
/// by its capability chain, an unmap with a trailing bitmap, a NUL-terminated name).
pub(crate) fn ioctl_bytes(fd: BorrowedFd<'_>, cmd: u32, buf: &mut [u8]) -> Result<i32, Errno> {
    let ptr = buf.as_mut_ptr();
    // SAFETY: `ptr` is a unique borrow of `buf.len()` bytes; the commands passed here write no
    // more than their `argsz`, which callers set to at most `buf.len()`.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), cmd as libc::Ioctl, ptr) };
    if rc < 0 { Err(last_errno()) } else { Ok(rc) }
}

/// `ioctl(fd, cmd, value)` for the commands whose argument is a number, not a pointer
/// (`VFIO_CHECK_EXTENSION`, `VFIO_SET_IOMMU`, `VFIO_GET_API_VERSION`, ...).
pub(crate) fn ioctl_value(
    fd: BorrowedFd<'_>,
    cmd: u32,
    value: libc::c_ulong,
) -> Result<i32, Errno> {
    // SAFETY: these commands take their argument by value and dereference nothing.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), cmd as libc::Ioctl, value) };
    if rc < 0 { Err(last_errno()) } else { Ok(rc) }
}

/// An anonymous or file-backed memory mapping owned by the process, unmapped on drop.
#[derive(Debug)]
pub(crate) struct Region {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the region is plain memory with no thread affinity; all access goes through
// `read`/`write`, which copy bytes, and the kernel or uiommu may write it at any time anyway.
unsafe impl Send for Region {}
// SAFETY: as for `Send`: shared access only copies bytes in and out.
unsafe impl Sync for Region {}

impl Region {
    /// `mmap(NULL, len, prot, flags, fd, offset)`.
    pub(crate) fn map(
        len: usize,
        prot: libc::c_int,
        flags: libc::c_int,
        fd: Option<BorrowedFd<'_>>,
        offset: u64,
    ) -> Result<Self, Errno> {
        let raw_fd = fd.map_or(-1, |fd| fd.as_raw_fd());
        let offset = libc::off_t::try_from(offset).map_err(|_| Errno::EINVAL)?;
        // SAFETY: a new mapping at an address the kernel chooses cannot overlap memory Rust
        // already uses; the result is checked before use.
        let ptr = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, flags, raw_fd, offset) };
        if ptr == libc::MAP_FAILED {
            return Err(last_errno());
        }
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or(Errno::ENOMEM)?;
        Ok(Region { ptr, len })
    }

    /// The user virtual address of the first byte.
    pub(crate) fn addr(&self) -> u64 {
        self.ptr.as_ptr() as u64
    }

    /// Length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Copies `out.len()` bytes from `offset` (which the caller bounds-checks) into `out`.
    pub(crate) fn read(&self, offset: usize, out: &mut [u8]) {
        assert!(
            offset
                .checked_add(out.len())
                .is_some_and(|end| end <= self.len)
        );
        // SAFETY: the source lies inside the mapping (checked above), which is readable for
        // the lifetime of `self`; a device may write it concurrently, so this is a byte copy
        // into a separate buffer and never a reference into the region.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.ptr.as_ptr().wrapping_add(offset),
                out.as_mut_ptr(),
                out.len(),
            )
        };
    }

    /// Copies `data` to `offset` (which the caller bounds-checks).
    pub(crate) fn write(&self, offset: usize, data: &[u8]) {
        assert!(
            offset
                .checked_add(data.len())
                .is_some_and(|end| end <= self.len)
        );
        // SAFETY: the destination lies inside the writable mapping (checked above); no Rust
        // reference into the region exists, so the copy aliases nothing.
        unsafe {
            std::ptr::copy_nonoverlapping(
                data.as_ptr(),
                self.ptr.as_ptr().wrapping_add(offset),
                data.len(),
            )
        };
    }
}

impl Region {
    /// Checks that a `size`-byte access at `offset` is aligned and inside the mapping.
    fn check_mmio(&self, offset: usize, size: usize) {
        assert!(
            offset % size == 0 && offset.checked_add(size).is_some_and(|end| end <= self.len),
            "MMIO access of {size} bytes at {offset:#x} in a {:#x}-byte region",
            self.len
        );
    }

    /// One 4-byte volatile load at `offset` (aligned, in bounds: panics otherwise), as a
    /// device register read must be: exactly one access of exactly that width.
    pub(crate) fn read_volatile_u32(&self, offset: usize) -> u32 {
        self.check_mmio(offset, 4);
        // SAFETY: the address is inside the readable mapping and 4-byte aligned (checked
        // above); a volatile load creates no Rust reference into the region.
        unsafe { std::ptr::read_volatile(self.ptr.as_ptr().wrapping_add(offset).cast::<u32>()) }
    }

    /// One 8-byte volatile load at `offset` (aligned, in bounds: panics otherwise).
    pub(crate) fn read_volatile_u64(&self, offset: usize) -> u64 {
        self.check_mmio(offset, 8);
        // SAFETY: as for `read_volatile_u32`, with 8 bytes.
        unsafe { std::ptr::read_volatile(self.ptr.as_ptr().wrapping_add(offset).cast::<u64>()) }
    }

    /// One 4-byte volatile store at `offset` (aligned, in bounds: panics otherwise).
    pub(crate) fn write_volatile_u32(&self, offset: usize, value: u32) {
        self.check_mmio(offset, 4);
        // SAFETY: the address is inside the mapping and 4-byte aligned (checked above), and
        // callers only store to mappings they made with PROT_WRITE; a volatile store creates
        // no Rust reference into the region.
        unsafe {
            std::ptr::write_volatile(self.ptr.as_ptr().wrapping_add(offset).cast::<u32>(), value)
        }
    }

    /// One 8-byte volatile store at `offset` (aligned, in bounds: panics otherwise).
    pub(crate) fn write_volatile_u64(&self, offset: usize, value: u64) {
        self.check_mmio(offset, 8);
        // SAFETY: as for `write_volatile_u32`, with 8 bytes.
        unsafe {
            std::ptr::write_volatile(self.ptr.as_ptr().wrapping_add(offset).cast::<u64>(), value)
        }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: the mapping was created by `Region::map` with this length and is unmapped
        // exactly once; nothing borrows into it.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// `memfd_create(name, MFD_CLOEXEC)`.
pub(crate) fn memfd_create(name: &std::ffi::CStr) -> Result<std::os::fd::OwnedFd, Errno> {
    use std::os::fd::FromRawFd;
    // SAFETY: `name` is a valid NUL-terminated string for the call.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(last_errno());
    }
    // SAFETY: `fd` was just returned by the kernel and is owned by nobody else.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// `poll(2)` of one fd for `events` (`POLLIN`, `POLLOUT`, ...) with a timeout in
/// milliseconds (negative: wait forever, 0: just look). Returns `revents`.
pub(crate) fn poll(fd: BorrowedFd<'_>, events: i16, timeout_ms: i32) -> Result<i16, Errno> {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events,
        revents: 0,
    };
    loop {
        // SAFETY: `pfd` is one valid pollfd the call may write `revents` of.
        let rc = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        if rc >= 0 {
            return Ok(pfd.revents);
        }
        let e = last_errno();
        if e != Errno(libc::EINTR) {
            return Err(e);
        }
    }
}

/// `pread(2)` of `buf.len()` bytes at `offset`.
pub(crate) fn pread(fd: BorrowedFd<'_>, buf: &mut [u8], offset: i64) -> Result<usize, Errno> {
    // SAFETY: `buf` is a unique borrow of `buf.len()` writable bytes.
    let n = unsafe { libc::pread(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), offset) };
    if n < 0 {
        Err(last_errno())
    } else {
        Ok(n as usize)
    }
}

/// The system page size.
pub(crate) fn page_size() -> usize {
    // SAFETY: sysconf reads a constant and has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(n).unwrap_or(4096)
}

/// Takes ownership of an fd number the kernel returned in an ioctl's output struct
/// (`out_fault_fd`, `out_veventq_fd`, `out_access_fd`) or as an ioctl's return value.
pub(crate) fn own_fd(fd: i32) -> std::os::fd::OwnedFd {
    use std::os::fd::FromRawFd;
    assert!(fd >= 0, "the kernel returned fd {fd}");
    // SAFETY: the kernel installed `fd` for this process in the call that just returned it,
    // and nothing else knows the number, so this is its only owner.
    unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }
}
