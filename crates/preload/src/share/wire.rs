//! The messages between a child and the process that owns the contexts it shares.
//!
//! Every message is one slot of a ring in the page the two ends share ([`super::page`]), with
//! at most one fd going along on the connection's socket ([`super::channel`]). A child sends
//! requests and waits for their [`Op::Reply`]; while it waits, the owner may
//! ask it about its fds (the callbacks, answered with [`Op::Answer`]), because commands reach
//! the caller's fd table in the middle of running.

use crate::sys::Errno;

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
    /// Owner → child callback: copy `b` bytes at the child's address `a` into the page's data
    /// (see [`super::child_memory`]); answer 0.
    MemRead,
    /// Owner → child callback: store the page's first `b` bytes of data at the child's
    /// address `a`; answer 0.
    MemWrite,
    /// Owner → child callback: copy, in the child's memory, to `a` from `b` as many bytes as
    /// the page's first data word says; answer 0.
    MemCopy,
}

impl Op {
    fn from_u32(v: u32) -> Option<Op> {
        use Op::*;
        [
            Hello, Ioctl, Read, Write, Release, Fork, Reply, Install, Uninstall, GetFile, IsOpen,
            Answer, MemRead, MemWrite, MemCopy,
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
    /// Words in a ring slot.
    pub const WORDS: usize = 4;

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

    /// The message as the words of a ring slot ([`super::page`]).
    pub fn to_words(&self) -> [u64; Self::WORDS] {
        [
            u64::from(self.op as u32) | u64::from(self.handle) << 32,
            self.a,
            self.b,
            self.maps_changes,
        ]
    }

    /// The message in a ring slot; `None` if it is not one of ours.
    pub fn from_words(w: &[u64]) -> Option<Self> {
        let &[head, a, b, maps_changes, ..] = w else {
            return None;
        };
        Some(Msg {
            op: Op::from_u32(head as u32)?,
            handle: (head >> 32) as u32,
            a,
            b,
            maps_changes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_round_trips_through_words() {
        let m = Msg {
            maps_changes: 41,
            ..Msg::new(Op::Ioctl, 7, 0x3b80, u64::MAX - 1)
        };
        assert_eq!(Msg::from_words(&m.to_words()), Some(m));
        let r = Msg::result(Op::Reply, Err(libc::ENOENT));
        assert_eq!(
            Msg::from_words(&r.to_words()).unwrap().into_result(),
            Err(libc::ENOENT)
        );
        assert_eq!(Msg::result(Op::Answer, Ok(-1)).into_result(), Ok(-1));
        assert_eq!(Msg::from_words(&[0, 0, 0, 0]), None, "no op 0");
        assert_eq!(Msg::from_words(&[1, 0, 0]), None, "too short");
    }
}
