//! UNIX sequenced-packet sockets carrying an fd with a message, and pidfds: the system calls
//! that [`crate::share`] is built on.
//!
//! A `SOCK_SEQPACKET` pair keeps message boundaries and order, so each `send` is one request
//! or answer, read whole by one `recv`. Every fd made or received here is close-on-exec.

use crate::sys::Errno;
use libc::c_int;

fn check(rc: isize) -> Result<usize, Errno> {
    if rc < 0 {
        Err(crate::sys::errno())
    } else {
        Ok(rc as usize)
    }
}

/// A connected pair of close-on-exec `SOCK_SEQPACKET` UNIX sockets.
pub fn pair() -> Result<(c_int, c_int), Errno> {
    let mut fds = [-1 as c_int; 2];
    let ty = libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC;
    // SAFETY: `fds` is two writable ints that outlive the call.
    let rc = unsafe { libc::socketpair(libc::AF_UNIX, ty, 0, fds.as_mut_ptr()) };
    check(rc as isize).map(|_| (crate::sys::lift(fds[0]), crate::sys::lift(fds[1])))
}

/// A control message carrying one fd: `CMSG_SPACE(sizeof(int))` bytes, the header followed by
/// the fd at `CMSG_DATA` (the header's size is a multiple of the data's alignment).
#[repr(C)]
struct FdControl {
    hdr: libc::cmsghdr,
    fd: c_int,
}

/// `CMSG_LEN(sizeof(int))`.
const FD_CMSG_LEN: usize = std::mem::offset_of!(FdControl, fd) + size_of::<c_int>();

fn zeroed_msghdr() -> libc::msghdr {
    // SAFETY: all-zero is a valid `msghdr` (no name, no iovecs, no control).
    unsafe { std::mem::zeroed() }
}

fn zeroed_control() -> FdControl {
    // SAFETY: all-zero is a valid `cmsghdr` and fd.
    unsafe { std::mem::zeroed() }
}

/// Sends `bytes` as one message, with `fd` attached (`SCM_RIGHTS`) if given. Retries on `EINTR`.
pub fn send(sock: c_int, bytes: &[u8], fd: Option<c_int>) -> Result<(), Errno> {
    let mut iov = libc::iovec {
        iov_base: bytes.as_ptr().cast_mut().cast(),
        iov_len: bytes.len(),
    };
    let mut control = zeroed_control();
    let mut msg = zeroed_msghdr();
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    if let Some(fd) = fd {
        control.hdr.cmsg_level = libc::SOL_SOCKET;
        control.hdr.cmsg_type = libc::SCM_RIGHTS;
        control.hdr.cmsg_len = FD_CMSG_LEN as _;
        control.fd = fd;
        msg.msg_control = (&raw mut control).cast();
        msg.msg_controllen = size_of::<FdControl>() as _;
    }
    loop {
        // SAFETY: `msg` points at `iov` (readable `bytes`) and at `control`, both alive for
        // the call; MSG_NOSIGNAL turns a closed peer into EPIPE instead of SIGPIPE.
        let rc = unsafe { libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) };
        match check(rc) {
            Err(libc::EINTR) => continue,
            Err(e) => return Err(e),
            Ok(n) if n != bytes.len() => return Err(libc::EIO),
            Ok(_) => return Ok(()),
        }
    }
}

/// An fd that came with a message, at the lowest free number the kernel put it; the table
/// counts it as arriving ([`crate::table::FdTable::begin_placing`]) until this is dropped, after
/// the receiver mapped, moved or closed it.
pub struct InFlight {
    fd: c_int,
    _placing: crate::table::Placing,
}

impl InFlight {
    /// The fd.
    pub fn fd(&self) -> c_int {
        self.fd
    }
}

/// Receives one message into `buf`: its length (0 when the peer has closed) and the fd that
/// came with it, installed close-on-exec at the lowest free number. Waits for the message
/// first, then takes it without blocking ([`try_recv`]). Retries on `EINTR`.
pub fn recv(sock: c_int, buf: &mut [u8]) -> Result<(usize, Option<InFlight>), Errno> {
    loop {
        wait_readable(sock)?;
        if let Some(got) = try_recv(sock, buf)? {
            return Ok(got);
        }
    }
}

/// Takes one message into `buf` if one is there (`None` if not): its length (0 when the peer
/// has closed) and the fd that came with it, installed close-on-exec at the lowest free number
/// with the fd counted as arriving, so that a program's call racing the arrival at that number
/// asks again instead of answering for our file. Room is made for one fd only: the kernel
/// drops any further fd rather than installing it.
pub fn try_recv(sock: c_int, buf: &mut [u8]) -> Result<Option<(usize, Option<InFlight>)>, Errno> {
    loop {
        let placing = crate::table::TABLE.begin_placing();
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let mut control = zeroed_control();
        let mut msg = zeroed_msghdr();
        msg.msg_iov = &raw mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = (&raw mut control).cast();
        msg.msg_controllen = size_of::<FdControl>() as _;
        let flags = libc::MSG_CMSG_CLOEXEC | libc::MSG_DONTWAIT;
        // SAFETY: `msg` points at `iov` (writable `buf`) and `control` (writable, of the
        // length given), both alive for the call.
        let rc = unsafe { libc::recvmsg(sock, &mut msg, flags) };
        let n = match check(rc) {
            Err(libc::EINTR) => continue,
            // Nothing there, or another reader took it.
            Err(libc::EAGAIN) => return Ok(None),
            r => r?,
        };
        let has_fd = msg.msg_controllen >= FD_CMSG_LEN as _
            && control.hdr.cmsg_level == libc::SOL_SOCKET
            && control.hdr.cmsg_type == libc::SCM_RIGHTS
            && control.hdr.cmsg_len >= FD_CMSG_LEN as _;
        let fd = has_fd.then_some(InFlight {
            fd: control.fd,
            _placing: placing,
        });
        return Ok(Some((n, fd)));
    }
}

/// Waits until `sock` has a message (or its peer closed). Retries on `EINTR`.
pub fn wait_readable(sock: c_int) -> Result<(), Errno> {
    let mut p = libc::pollfd {
        fd: sock,
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: `p` is one valid `pollfd` that outlives the call.
        let rc = unsafe { libc::poll(&mut p, 1, -1) };
        match check(rc as isize) {
            Err(libc::EINTR) => continue,
            r => return r.map(drop),
        }
    }
}

/// `pidfd_open(pid, 0)`: an fd that refers to process `pid` for as long as it is open, even
/// after the process is gone and its number reused. Close-on-exec.
pub fn pidfd_open(pid: u32) -> Result<c_int, Errno> {
    // Made at the lowest free number, then moved up: with the table locked as for any file of
    // ours put at a number, so that a program's call on that number waits or asks again, and
    // its `dup2` there waits (see `crate::table`).
    let _table = crate::table::TABLE.write_new();
    // SAFETY: no memory is passed.
    let rc = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    check(rc as isize).map(|fd| crate::sys::lift(fd as c_int))
}

/// The events of `fd` among `events` (hang-ups and errors always count), looked at without
/// waiting.
fn poll_now(fd: c_int, events: i16) -> i16 {
    let mut p = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // SAFETY: `p` is one valid `pollfd` that outlives the call.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    if n > 0 { p.revents } else { 0 }
}

/// Whether the peer of `sock` has closed its end, without waiting.
pub fn peer_closed(sock: c_int) -> bool {
    poll_now(sock, 0) & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0
}

/// Whether the process of `pidfd` has exited (a pidfd polls readable once it has).
pub fn pidfd_exited(pidfd: c_int) -> bool {
    poll_now(pidfd, libc::POLLIN) != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lowest free number, as `open` would take it now.
    fn lowest_free() -> c_int {
        let fd = crate::sys::open_raw(c"/", libc::O_RDONLY | libc::O_CLOEXEC, 0).unwrap();
        crate::sys::close_raw(fd);
        fd
    }

    #[test]
    fn the_library_s_sockets_and_pidfds_stay_off_the_program_s_numbers() {
        // Other tests of this binary open and close fds meanwhile, so the lowest free number
        // can move under us: a number left behind shows in every attempt, a neighbour's fd
        // in a few.
        let left_nothing = (0..20).any(|_| {
            let low = lowest_free();
            let (a, b) = pair().unwrap();
            let pidfd = pidfd_open(std::process::id()).unwrap();
            for fd in [a, b, pidfd] {
                assert!(fd >= 64 && fd > low, "fd {fd}, lowest free {low}");
            }
            let same = lowest_free() == low;
            for fd in [a, b, pidfd] {
                crate::sys::close_raw(fd);
            }
            same
        });
        assert!(left_nothing, "a number below 64 stayed taken");
    }
}
