//! The library's reads of `/proc/self/maps` and `/proc/self/smaps`, through fds it keeps
//! open at high numbers, so that pinning never opens a file at the program's numbers.
//!
//! An `open` takes the lowest free number. A program that closes an fd while another of its
//! threads still calls on it, or `dup2`s onto a number it just closed, would otherwise meet
//! the file the library opened there in between: its `ioctl` answered from `/proc/self/maps`
//! (`ENOTTY` where the kernel says `EBADF`), its `dup2` closing the library's file mid-read
//! (a map failing with `EFAULT`) or answering `EBUSY`. The kernel opens nothing at the
//! program's numbers, so neither may we.
//!
//! Each file is opened once per process (again in a forked child, whose `/proc/self` is
//! another process, and again if the program closed or replaced the fd), moved above the
//! numbers a program normally uses, and read with `pread` from offset 0, which makes procfs
//! generate the file afresh.

use crate::sys;
use libc::c_int;
use std::sync::{Mutex, PoisonError};

/// One kept file: its fd, the process that opened it, and the file's identity.
#[derive(Clone, Copy)]
struct Held {
    fd: c_int,
    pid: u32,
    id: (u64, u64),
}

static MAPS: Mutex<Option<Held>> = Mutex::new(None);
static SMAPS: Mutex<Option<Held>> = Mutex::new(None);

/// Opens `path` read-only as a file of the library's own: under the fd table's write lock
/// with its generation advanced, and moved above the program's numbers before the lock goes,
/// as every fd the library makes while the program's threads run (see [`crate::table`]).
fn open_own(path: &std::ffi::CStr) -> std::io::Result<c_int> {
    let _table = crate::table::TABLE.write_new();
    let fd = sys::open_raw(path, libc::O_RDONLY | libc::O_CLOEXEC, 0)
        .map_err(std::io::Error::from_raw_os_error)?;
    Ok(sys::lift(fd))
}

/// The text of `path` (another process's file under `/proc`), read through a file of the
/// library's own ([`open_own`]).
pub fn read_own(path: &std::ffi::CStr) -> std::io::Result<String> {
    let fd = open_own(path)?;
    let text = read_all(fd);
    sys::close_raw(fd);
    text.ok_or_else(|| std::io::ErrorKind::InvalidData.into())
}

fn open(path: &std::ffi::CStr) -> Option<Held> {
    let fd = open_own(path).ok()?;
    match sys::fstat(fd) {
        Ok(st) => Some(Held {
            fd,
            pid: std::process::id(),
            id: st.id,
        }),
        Err(_) => {
            sys::close_raw(fd);
            None
        }
    }
}

/// Whether `h` is still this process's file at its number.
fn valid(h: &Held) -> bool {
    h.pid == std::process::id() && sys::fstat(h.fd).is_ok_and(|st| st.id == h.id)
}

fn read_all(fd: c_int) -> Option<String> {
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        let n = sys::pread_raw(fd, &mut chunk, out.len() as u64).ok()?;
        if n == 0 {
            return String::from_utf8(out).ok();
        }
        out.extend_from_slice(&chunk[..n]);
    }
}

fn read(slot: &Mutex<Option<Held>>, path: &std::ffi::CStr) -> std::io::Result<String> {
    let mut held = slot.lock().unwrap_or_else(PoisonError::into_inner);
    if !held.as_ref().is_some_and(valid) {
        // A forked child's copy of the parent's fd is ours to close; any other stale number is
        // not: the program may have reused it.
        if let Some(h) = held.take()
            && h.pid != std::process::id()
            && sys::fstat(h.fd).is_ok_and(|st| st.id == h.id)
        {
            sys::close_raw(h.fd);
        }
        *held = open(path);
    }
    let h = held.ok_or(std::io::ErrorKind::NotFound)?;
    read_all(h.fd).ok_or_else(|| std::io::ErrorKind::InvalidData.into())
}

/// The text of `/proc/self/maps`.
pub fn self_maps() -> std::io::Result<String> {
    read(&MAPS, c"/proc/self/maps")
}

/// The text of `/proc/self/smaps`.
pub fn self_smaps() -> std::io::Result<String> {
    read(&SMAPS, c"/proc/self/smaps")
}

/// Opens the kept files while the program has no threads yet.
pub fn init() {
    let _ = self_maps();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_are_read_at_a_high_number_and_reread_afresh() {
        let first = self_maps().unwrap();
        assert!(first.lines().any(|l| l.ends_with("[stack]")), "{first}");
        let fd = MAPS.lock().unwrap().unwrap().fd;
        assert!(fd >= 64, "kept at fd {fd}");
        // A new mapping shows in the next read through the same fd.
        let v = vec![0u8; 64 << 20];
        let start = format!("{:x}-", v.as_ptr() as usize & !0xfff);
        let again = self_maps().unwrap();
        assert!(again.lines().any(|l| l.contains(&start)) || again != first);
        assert_eq!(MAPS.lock().unwrap().unwrap().fd, fd);
    }

    #[test]
    fn a_closed_fd_is_opened_again() {
        self_maps().unwrap();
        let fd = MAPS.lock().unwrap().unwrap().fd;
        sys::close_raw(fd);
        assert!(self_maps().unwrap().contains("[stack]"));
        assert!(valid(&MAPS.lock().unwrap().unwrap()));
    }
}
