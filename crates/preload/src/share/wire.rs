//! The messages between a child and the process that owns the contexts it shares.
//!
//! Every message is one `SOCK_SEQPACKET` packet of [`Msg::SIZE`] bytes, possibly carrying one
//! fd. A child sends requests and waits for their [`Op::Reply`]; while it waits, the owner may
//! ask it about its fds (the callbacks, answered with [`Op::Answer`]), because commands reach
//! the caller's fd table in the middle of running.

use crate::seqpacket::{self, InFlight};
use crate::sys::Errno;
use libc::c_int;

/// What a message asks or answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Op {
    /// Child → owner, first on a connection: `a` is the child's pid.
    Hello = 1,
    /// `ioctl(fd, a, b)` on the context `handle`.
    Ioctl,
    /// `read(fd, a, b)` on the file `handle`.
    Read,
    /// `write(fd, a, b)` on the file `handle`.
    Write,
    /// The child's last fd of `handle` is closed; no reply.
    Release,
    /// The child is forking: the owner answers with a connection (the fd) for the grandchild,
    /// sharing every handle of this one.
    Fork,
    /// Owner → child: the result of a request, `a` the value or `b` the errno.
    Reply,
    /// Owner → child callback: install the attached fd for the new file `handle` of kind `a`;
    /// answer with its number.
    Install,
    /// Owner → child callback: close fd `a`, made by `Install`, without releasing the file;
    /// answer with its handle.
    Uninstall,
    /// Owner → child callback: the handle of the file behind fd `a`.
    GetFile,
    /// Owner → child callback: whether fd `a` is open (1 or 0).
    IsOpen,
    /// Child → owner: the answer to a callback, `a` the value or `b` the errno.
    Answer,
}

impl Op {
    fn from_u32(v: u32) -> Option<Op> {
        use Op::*;
        [
            Hello, Ioctl, Read, Write, Release, Fork, Reply, Install, Uninstall, GetFile, IsOpen,
            Answer,
        ]
        .into_iter()
        .find(|op| *op as u32 == v)
    }
}

/// One message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Msg {
    pub op: Op,
    pub handle: u32,
    pub a: u64,
    pub b: u64,
    /// On a request: the sender's count of calls that may have changed its mappings
    /// ([`crate::addr_space::changes`]), so that the owner pins its pages against the
    /// mappings it read at that count without reading them again.
    pub maps_changes: u64,
}

impl Msg {
    /// Bytes on the wire.
    pub const SIZE: usize = 32;

    pub fn new(op: Op, handle: u32, a: u64, b: u64) -> Self {
        Msg {
            op,
            handle,
            a,
            b,
            maps_changes: 0,
        }
    }

    /// A reply or answer carrying `r`.
    pub fn result(op: Op, r: Result<i64, Errno>) -> Self {
        match r {
            Ok(v) => Msg::new(op, 0, v as u64, 0),
            Err(e) => Msg::new(op, 0, 0, e as u64),
        }
    }

    /// The result a reply or answer carries.
    pub fn into_result(self) -> Result<i64, Errno> {
        match self.b {
            0 => Ok(self.a as i64),
            e => Err(e as Errno),
        }
    }

    fn encode(&self) -> [u8; Self::SIZE] {
        let mut out = [0u8; Self::SIZE];
        out[0..4].copy_from_slice(&(self.op as u32).to_ne_bytes());
        out[4..8].copy_from_slice(&self.handle.to_ne_bytes());
        out[8..16].copy_from_slice(&self.a.to_ne_bytes());
        out[16..24].copy_from_slice(&self.b.to_ne_bytes());
        out[24..32].copy_from_slice(&self.maps_changes.to_ne_bytes());
        out
    }

    fn decode(bytes: &[u8; Self::SIZE]) -> Option<Self> {
        let u32_at = |at: usize| Some(u32::from_ne_bytes(bytes[at..at + 4].try_into().ok()?));
        let u64_at = |at: usize| Some(u64::from_ne_bytes(bytes[at..at + 8].try_into().ok()?));
        Some(Msg {
            op: Op::from_u32(u32_at(0)?)?,
            handle: u32_at(4)?,
            a: u64_at(8)?,
            b: u64_at(16)?,
            maps_changes: u64_at(24)?,
        })
    }

    /// Sends the message, with `fd` attached if given.
    pub fn send(&self, sock: c_int, fd: Option<c_int>) -> Result<(), Errno> {
        seqpacket::send(sock, &self.encode(), fd)
    }

    /// Receives one message and its fd, still arriving until dropped ([`InFlight`]). `EPIPE`
    /// when the peer has gone; `EPROTO` for a message that is not one of ours (an attached fd
    /// is closed then).
    pub fn recv(sock: c_int) -> Result<(Msg, Option<InFlight>), Errno> {
        let mut buf = [0u8; Self::SIZE];
        let (n, fd) = seqpacket::recv(sock, &mut buf)?;
        let msg = match n {
            0 => Err(libc::EPIPE),
            Self::SIZE => Msg::decode(&buf).ok_or(libc::EPROTO),
            _ => Err(libc::EPROTO),
        };
        if msg.is_err()
            && let Some(fd) = &fd
        {
            crate::sys::close_raw(fd.fd());
        }
        msg.map(|m| (m, fd))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_and_without_an_fd() {
        let (a, b) = seqpacket::pair().unwrap();
        let m = Msg {
            maps_changes: 41,
            ..Msg::new(Op::Ioctl, 7, 0x3b80, u64::MAX - 1)
        };
        m.send(a, None).unwrap();
        let (got, fd) = Msg::recv(b).unwrap();
        assert_eq!(got, m);
        assert!(fd.is_none());
        let r = Msg::result(Op::Reply, Err(libc::ENOENT));
        r.send(b, Some(a)).unwrap();
        let (got, fd) = Msg::recv(a).unwrap();
        assert_eq!(got.into_result(), Err(libc::ENOENT));
        let arrived = fd.expect("an fd came along");
        assert_ne!(arrived.fd(), a);
        assert!(
            crate::table::TABLE.placing(),
            "counted as arriving until dropped"
        );
        crate::sys::close_raw(arrived.fd());
        drop(arrived);
        assert_eq!(Msg::result(Op::Answer, Ok(-1)).into_result(), Ok(-1));
        crate::sys::close_raw(b);
        assert!(matches!(Msg::recv(a), Err(libc::EPIPE)));
        crate::sys::close_raw(a);
    }
}
