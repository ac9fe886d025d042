//! The system calls the stress program makes, through libc so that `uiommu exec`'s preload
//! library sees them as it sees any program's.
#![allow(unsafe_code)]

use zerocopy::{FromBytes, IntoBytes};

/// The calling thread's errno after a failed call.
fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn check(rc: libc::c_int) -> Result<i32, i32> {
    if rc < 0 { Err(errno()) } else { Ok(rc) }
}

/// `ioctl(fd, cmd, arg)`: the value returned, or the errno.
pub fn ioctl<T: IntoBytes + FromBytes>(fd: i32, cmd: u32, arg: &mut T) -> Result<i32, i32> {
    let p = arg.as_mut_bytes().as_mut_ptr();
    // SAFETY: `p` points to a live, writable `T` whose size is what `cmd` encodes; the
    // kernel (or the preload) reads and writes only within it.
    check(unsafe { libc::ioctl(fd, libc::c_ulong::from(cmd), p) })
}

/// `open("/dev/iommu", O_RDWR | O_CLOEXEC)`.
pub fn open_iommu() -> Result<i32, i32> {
    // SAFETY: the path is a NUL-terminated literal.
    check(unsafe { libc::open(c"/dev/iommu".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) })
}

pub fn close(fd: i32) -> Result<i32, i32> {
    // SAFETY: closing a number owned by this program; a stale one is EBADF.
    check(unsafe { libc::close(fd) })
}

pub fn close_range(first: u32, last: u32) -> Result<i32, i32> {
    // SAFETY: as `close`, for the numbers in the range.
    check(unsafe { libc::close_range(first, last, 0) })
}

/// `fcntl(fd, F_DUPFD_CLOEXEC, min)`: a duplicate at the lowest free number from `min`.
pub fn dup_from(fd: i32, min: i32) -> Result<i32, i32> {
    // SAFETY: no memory is passed.
    check(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, min) })
}

pub fn dup2(old: i32, new: i32) -> Result<i32, i32> {
    // SAFETY: no memory is passed; `new` is a number this program owns.
    check(unsafe { libc::dup2(old, new) })
}

/// Forks; the child runs `child` and `_exit`s with its status. The parent gets the pid.
pub fn fork(child: impl FnOnce() -> i32) -> Result<i32, i32> {
    // SAFETY: the child only makes system calls (through the preload, which must cope with a
    // fork taken while other threads are in it) and leaves with `_exit`.
    let pid = check(unsafe { libc::fork() })?;
    if pid == 0 {
        let code = child();
        // SAFETY: `_exit` ends the child without running the parent's destructors.
        unsafe { libc::_exit(code) };
    }
    Ok(pid)
}

/// `waitpid(pid, WNOHANG)`: `Some(status)` once the child has exited.
pub fn try_wait(pid: i32) -> Result<Option<i32>, i32> {
    let mut status = 0;
    // SAFETY: `status` is a live `c_int`.
    let r = check(unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) })?;
    Ok((r == pid).then_some(status))
}

pub fn kill(pid: i32) {
    // SAFETY: no memory is passed; `pid` is a child of this program.
    unsafe { libc::kill(pid, libc::SIGKILL) };
}

/// Anonymous, writable, page-aligned memory that lives as long as the program.
pub fn buffer(len: usize) -> u64 {
    // SAFETY: a fresh private anonymous mapping; no existing memory is touched.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
            -1,
            0,
        )
    };
    assert_ne!(p, libc::MAP_FAILED, "mmap of {len} bytes");
    p as u64
}
