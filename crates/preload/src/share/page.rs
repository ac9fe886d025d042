//! The page both ends of a connection map: a ring of messages each way, and the window of the
//! caller's argument a request brings along ([`super::channel`] builds on it).
//!
//! Why: a forked child's call was a round trip of socket messages, each a `sendmsg`, a `poll`
//! and a `recvmsg`, and a sleeping receiver to wake; where an idle CPU halts (a virtual
//! machine above all) a wake-up costs 10 µs and more, and a system call here 0.5 µs. Through
//! the page a message is a few stores, and a receiver that spins briefly finds it.
//!
//! Each ring has one producer and one consumer (the child's sends are serialized by its
//! connection's lock; the owner serves a child from one thread). Every word of the page is
//! read and written atomically, by both processes.

use crate::sys::{self, Errno, SharedAtomics};
use libc::c_int;
use std::sync::atomic::Ordering;

/// Which end of a connection a ring or flag is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The process that owns the objects and serves the requests.
    Owner = 0,
    /// The child that sends them.
    Child = 1,
}

impl End {
    /// The other end.
    pub fn peer(self) -> End {
        match self {
            End::Owner => End::Child,
            End::Child => End::Owner,
        }
    }
}

/// 64-bit words in a message slot: the message's 4 and its flags.
pub const SLOT_WORDS: usize = 5;
/// A message slot's flags: an fd goes with it, on the socket.
pub const SLOT_HAS_FD: u64 = 1;

/// Slots in each ring.
const SLOTS: u64 = 16;
/// Words from one slot to the next (a cache line).
const SLOT_STRIDE: usize = 8;
/// Per end, on a cache line each: messages sent to it, messages it took, and whether it is
/// about to sleep or sleeping.
const HEAD: usize = 0;
const TAIL: usize = 8;
const SLEEPING: usize = 16;
const END_WORDS: usize = 24;
/// Where the rings start, the one to the owner first.
const RINGS: usize = 2 * END_WORDS;
const RING_WORDS: usize = SLOTS as usize * SLOT_STRIDE;
/// The window: the caller's address, its length, then its bytes.
const WINDOW: usize = RINGS + 2 * RING_WORDS;
/// Bytes a window holds.
pub const WINDOW_BYTES: usize = 512;
const WINDOW_END: usize = WINDOW + 2 + WINDOW_BYTES / 8;
const _: () = assert!(WINDOW_END * 8 <= SharedAtomics::LEN);

/// A mapping of a connection's page.
#[derive(Debug)]
pub struct Page {
    words: SharedAtomics,
}

impl Page {
    /// A new zeroed page, and a close-on-exec fd (a memfd, moved off the program's numbers)
    /// by which another process maps the same page; the caller closes it.
    pub fn create() -> Result<(Page, c_int), Errno> {
        let fd = sys::lift(sys::memfd(c"uiommu-share")?);
        let len = SharedAtomics::LEN as u64;
        match sys::ftruncate_raw(fd, len).and_then(|()| Page::map(fd)) {
            Ok(page) => Ok((page, fd)),
            Err(e) => {
                sys::close_raw(fd);
                Err(e)
            }
        }
    }

    /// The page behind `fd`, from [`Page::create`] in another process.
    pub fn map(fd: c_int) -> Result<Page, Errno> {
        SharedAtomics::map(fd).map(|words| Page { words })
    }

    fn word(&self, end: End, which: usize) -> &std::sync::atomic::AtomicU64 {
        self.words.get(end as usize * END_WORDS + which)
    }

    fn slot(&self, to: End, index: u64) -> usize {
        RINGS + to as usize * RING_WORDS + (index % SLOTS) as usize * SLOT_STRIDE
    }

    /// Puts a message on the ring to `to`; false if the ring is full. The store of the head
    /// is sequentially consistent, so that either `to`, about to sleep, sees the message, or
    /// the sender sees `to`'s flag ([`Page::take_sleeper`]).
    pub fn push(&self, to: End, slot: [u64; SLOT_WORDS]) -> bool {
        let head = self.word(to, HEAD).load(Ordering::Relaxed);
        if head.wrapping_sub(self.word(to, TAIL).load(Ordering::Acquire)) >= SLOTS {
            return false;
        }
        let at = self.slot(to, head);
        for (i, w) in slot.into_iter().enumerate() {
            self.words.get(at + i).store(w, Ordering::Relaxed);
        }
        self.word(to, HEAD)
            .store(head.wrapping_add(1), Ordering::SeqCst);
        true
    }

    /// Takes the next message on the ring to `me`, if there is one.
    pub fn pop(&self, me: End) -> Option<[u64; SLOT_WORDS]> {
        let tail = self.word(me, TAIL).load(Ordering::Relaxed);
        if self.word(me, HEAD).load(Ordering::Acquire) == tail {
            return None;
        }
        let at = self.slot(me, tail);
        let slot = std::array::from_fn(|i| self.words.get(at + i).load(Ordering::Relaxed));
        self.word(me, TAIL)
            .store(tail.wrapping_add(1), Ordering::Release);
        Some(slot)
    }

    /// Whether a message waits on the ring to `me`.
    pub fn pending(&self, me: End) -> bool {
        self.word(me, HEAD).load(Ordering::SeqCst) != self.word(me, TAIL).load(Ordering::Relaxed)
    }

    /// `me` is about to sleep (true) or awake (false).
    pub fn set_sleeping(&self, me: End, sleeping: bool) {
        self.word(me, SLEEPING)
            .store(u64::from(sleeping), Ordering::SeqCst);
    }

    /// After a push to `to`: whether `to` sleeps and must be woken (clearing its flag, so that
    /// one wake serves every message until it sleeps again).
    pub fn take_sleeper(&self, to: End) -> bool {
        std::sync::atomic::fence(Ordering::SeqCst);
        self.word(to, SLEEPING).swap(0, Ordering::SeqCst) != 0
    }

    /// Stores the caller's bytes at `addr` as the window of the next request; false (and no
    /// window) if they do not fit.
    pub fn set_window(&self, addr: u64, bytes: &[u8]) -> bool {
        if bytes.len() > WINDOW_BYTES {
            self.clear_window();
            return false;
        }
        for (i, chunk) in bytes.chunks(8).enumerate() {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.words
                .get(WINDOW + 2 + i)
                .store(u64::from_ne_bytes(w), Ordering::Relaxed);
        }
        self.words.get(WINDOW).store(addr, Ordering::Relaxed);
        self.words
            .get(WINDOW + 1)
            .store(bytes.len() as u64, Ordering::Relaxed);
        true
    }

    /// No window with the next request.
    pub fn clear_window(&self) {
        self.words.get(WINDOW + 1).store(0, Ordering::Relaxed);
    }

    /// The window the request just taken brought: the caller's address and its bytes.
    pub fn window(&self) -> (u64, Vec<u8>) {
        let addr = self.words.get(WINDOW).load(Ordering::Relaxed);
        let len = self.words.get(WINDOW + 1).load(Ordering::Relaxed) as usize;
        let len = len.min(WINDOW_BYTES);
        let mut bytes = Vec::with_capacity(len.next_multiple_of(8));
        for i in 0..len.div_ceil(8) {
            let w = self.words.get(WINDOW + 2 + i).load(Ordering::Relaxed);
            bytes.extend_from_slice(&w.to_ne_bytes());
        }
        bytes.truncate(len);
        (addr, bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (Page, Page) {
        let (ours, fd) = Page::create().unwrap();
        let theirs = Page::map(fd).unwrap();
        sys::close_raw(fd);
        (ours, theirs)
    }

    #[test]
    fn messages_pushed_through_one_mapping_are_popped_in_order_through_another() {
        let (child, owner) = pair();
        assert_eq!(owner.pop(End::Owner), None);
        for i in 0..SLOTS {
            assert!(child.push(End::Owner, [i, i + 1, i + 2, i + 3, i + 4]));
        }
        assert!(!child.push(End::Owner, [0; SLOT_WORDS]), "the ring is full");
        assert_eq!(child.pop(End::Child), None, "each direction has its ring");
        for i in 0..SLOTS {
            assert!(owner.pending(End::Owner));
            assert_eq!(owner.pop(End::Owner), Some([i, i + 1, i + 2, i + 3, i + 4]));
            assert!(
                child.push(End::Owner, [SLOTS + i; SLOT_WORDS]),
                "room again"
            );
        }
        for i in 0..SLOTS {
            assert_eq!(owner.pop(End::Owner), Some([SLOTS + i; SLOT_WORDS]));
        }
        assert!(!owner.pending(End::Owner));
    }

    #[test]
    fn a_sleeper_is_woken_once() {
        let (child, owner) = pair();
        assert!(!child.take_sleeper(End::Owner));
        owner.set_sleeping(End::Owner, true);
        assert!(child.take_sleeper(End::Owner));
        assert!(!child.take_sleeper(End::Owner), "its flag was cleared");
    }

    #[test]
    fn a_window_crosses_whole_or_not_at_all() {
        let (child, owner) = pair();
        let bytes: Vec<u8> = (0..13).collect();
        assert!(child.set_window(0x7000_1234, &bytes));
        assert_eq!(owner.window(), (0x7000_1234, bytes));
        assert!(!child.set_window(0x7000, &[1; WINDOW_BYTES + 1]));
        assert_eq!(owner.window().1, Vec::<u8>::new());
        assert!(child.set_window(0x7000, &[]));
        assert_eq!(owner.window(), (0x7000, vec![]));
    }
}
