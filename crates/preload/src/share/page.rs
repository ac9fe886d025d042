//! The pages both ends of a connection map: a ring of messages each way, the window of the
//! caller's argument a request brings along ([`super::window`]), and the bytes the owner
//! reads or writes through the child ([`super::child_memory`]). [`super::channel`] builds on
//! it.
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
/// Words from one slot to the next (a cache line): the slot's sequence number (the index of
/// the message it holds, plus 1), then the message.
const SLOT_STRIDE: usize = 8;
/// Per ring (named by the end it carries messages to), each on a cache line of its own, so
/// that a hand-off moves only the lines it must: the sender's count of messages sent and its
/// last look at the receiver's count (the sender's alone); the receiver's count of messages
/// taken (read by the sender only when the ring looks full); and whether the receiver is
/// about to sleep or sleeping (written by the receiver only around a sleep).
const HEAD: usize = 0;
const SEEN_TAIL: usize = 1;
const TAIL: usize = 8;
const SLEEPING: usize = 16;
const END_WORDS: usize = 24;
/// Where the rings start, the one to the owner first.
const RINGS: usize = 2 * END_WORDS;
const RING_WORDS: usize = SLOTS as usize * SLOT_STRIDE;
/// The window: the caller's address, its length, whether the caller may have it written
/// back ([`WINDOW_WRITABLE`]), the range the owner wrote, then its bytes.
const WINDOW: usize = RINGS + 2 * RING_WORDS;
const WINDOW_ADDR: usize = WINDOW;
const WINDOW_LEN: usize = WINDOW + 1;
const WINDOW_FLAGS: usize = WINDOW + 2;
const WINDOW_WRITTEN_START: usize = WINDOW + 3;
const WINDOW_WRITTEN_END: usize = WINDOW + 4;
const WINDOW_BYTES_AT: usize = WINDOW + 5;
/// Bytes a window holds.
pub const WINDOW_BYTES: usize = 512;
/// A window's flag: the owner may store into it, and the caller writes back what it stored.
const WINDOW_WRITABLE: u64 = 1;
const WINDOW_END: usize = WINDOW_BYTES_AT + WINDOW_BYTES / 8;
/// The bytes a memory callback moves, on the second page.
const DATA: usize = 4096 / 8;
/// Bytes a memory callback moves at most.
pub const DATA_BYTES: usize = 4096;
const _: () = assert!(SLOT_WORDS < SLOT_STRIDE);
const _: () = assert!(WINDOW_END <= DATA && (DATA + DATA_BYTES / 8) * 8 <= SharedAtomics::LEN);

/// A mapping of a connection's page.
#[derive(Debug)]
pub struct Page {
    words: SharedAtomics,
}

impl Page {
    /// A new zeroed page, and a close-on-exec fd (a memfd, moved off the program's numbers)
    /// by which another process maps the same page; the caller closes it. Made in the fork
    /// handler, with the fd table's write lock held and its generation advanced, as every fd
    /// of the library's that a program's thread could meet at its number (see
    /// [`crate::table`]).
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

    /// A new zeroed page that a child forked after this shares, made without a file (no
    /// `memfd_create`, which a sandbox may refuse).
    pub fn for_fork() -> Result<Page, Errno> {
        SharedAtomics::anonymous().map(|words| Page { words })
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

    /// Puts a message on the ring to `to`; false if the ring is full. The store of the
    /// slot's sequence number publishes the message and is sequentially consistent, so that
    /// either `to`, about to sleep, sees the message, or the sender sees `to`'s flag
    /// ([`Page::take_sleeper`]).
    pub fn push(&self, to: End, slot: [u64; SLOT_WORDS]) -> bool {
        let head = self.word(to, HEAD).load(Ordering::Relaxed);
        if head.wrapping_sub(self.word(to, SEEN_TAIL).load(Ordering::Relaxed)) >= SLOTS {
            let tail = self.word(to, TAIL).load(Ordering::Acquire);
            self.word(to, SEEN_TAIL).store(tail, Ordering::Relaxed);
            if head.wrapping_sub(tail) >= SLOTS {
                return false;
            }
        }
        let at = self.slot(to, head);
        for (i, w) in slot.into_iter().enumerate() {
            self.words.get(at + 1 + i).store(w, Ordering::Relaxed);
        }
        let next = head.wrapping_add(1);
        self.words.get(at).store(next, Ordering::SeqCst);
        self.word(to, HEAD).store(next, Ordering::Relaxed);
        true
    }

    /// Takes the next message on the ring to `me`, if there is one.
    pub fn pop(&self, me: End) -> Option<[u64; SLOT_WORDS]> {
        let tail = self.word(me, TAIL).load(Ordering::Relaxed);
        let at = self.slot(me, tail);
        if self.words.get(at).load(Ordering::Acquire) != tail.wrapping_add(1) {
            return None;
        }
        let slot = std::array::from_fn(|i| self.words.get(at + 1 + i).load(Ordering::Relaxed));
        self.word(me, TAIL)
            .store(tail.wrapping_add(1), Ordering::Release);
        Some(slot)
    }

    /// Whether a message waits on the ring to `me`: a look at the one slot it would be in.
    pub fn pending(&self, me: End) -> bool {
        let tail = self.word(me, TAIL).load(Ordering::Relaxed);
        let at = self.slot(me, tail);
        self.words.get(at).load(Ordering::SeqCst) == tail.wrapping_add(1)
    }

    /// `me` is about to sleep (true) or awake (false).
    pub fn set_sleeping(&self, me: End, sleeping: bool) {
        self.word(me, SLEEPING)
            .store(u64::from(sleeping), Ordering::SeqCst);
    }

    /// After a push to `to`: whether `to` sleeps and must be woken (clearing its flag, so that
    /// one wake serves every message until it sleeps again). The flag is only read unless it
    /// is set, so that its line stays shared between the two CPUs.
    pub fn take_sleeper(&self, to: End) -> bool {
        std::sync::atomic::fence(Ordering::SeqCst);
        let flag = self.word(to, SLEEPING);
        flag.load(Ordering::SeqCst) != 0 && flag.swap(0, Ordering::SeqCst) != 0
    }

    /// Stores the caller's bytes at `addr` as the window of the next request, `writable` if
    /// the owner may store into it; false (and no window) if they do not fit.
    pub fn set_window(&self, addr: u64, bytes: &[u8], writable: bool) -> bool {
        if bytes.len() > WINDOW_BYTES {
            self.clear_window();
            return false;
        }
        self.store_bytes(WINDOW_BYTES_AT, 0, bytes);
        self.set(WINDOW_ADDR, addr);
        self.set(WINDOW_LEN, bytes.len() as u64);
        self.set(WINDOW_FLAGS, if writable { WINDOW_WRITABLE } else { 0 });
        self.set(WINDOW_WRITTEN_START, 0);
        self.set(WINDOW_WRITTEN_END, 0);
        true
    }

    /// No window with the next request.
    pub fn clear_window(&self) {
        self.set(WINDOW_LEN, 0);
        self.set(WINDOW_WRITTEN_START, 0);
        self.set(WINDOW_WRITTEN_END, 0);
    }

    /// The window the request just taken brought: the caller's address, its bytes, and
    /// whether the owner may store into it.
    pub fn window(&self) -> (u64, Vec<u8>, bool) {
        let len = (self.get(WINDOW_LEN) as usize).min(WINDOW_BYTES);
        let writable = self.get(WINDOW_FLAGS) & WINDOW_WRITABLE != 0;
        (
            self.get(WINDOW_ADDR),
            self.load_bytes(WINDOW_BYTES_AT, 0, len),
            writable,
        )
    }

    /// The owner stored `bytes` at `offset` into the window: for the caller to write back
    /// when the reply comes.
    pub fn set_written(&self, offset: usize, bytes: &[u8]) {
        let end = offset + bytes.len();
        if end > WINDOW_BYTES {
            return;
        }
        // Whole words: the bytes around the range in its first and last word are the
        // window's own, unchanged.
        let (first, last) = (offset / 8 * 8, end.next_multiple_of(8).min(WINDOW_BYTES));
        let mut words = self.load_bytes(WINDOW_BYTES_AT, first, last - first);
        words[offset - first..end - first].copy_from_slice(bytes);
        self.store_bytes(WINDOW_BYTES_AT, first, &words);
        self.set(WINDOW_WRITTEN_START, offset as u64);
        self.set(WINDOW_WRITTEN_END, end as u64);
    }

    /// What the owner stored into the window of the request just answered: its offset and
    /// bytes (none if it stored nothing).
    pub fn written(&self) -> (usize, Vec<u8>) {
        let start = (self.get(WINDOW_WRITTEN_START) as usize).min(WINDOW_BYTES);
        let end = (self.get(WINDOW_WRITTEN_END) as usize).clamp(start, WINDOW_BYTES);
        (start, self.load_bytes(WINDOW_BYTES_AT, start, end - start))
    }

    /// Puts the bytes of a memory callback (at most [`DATA_BYTES`]).
    pub fn set_data(&self, bytes: &[u8]) {
        self.store_bytes(DATA, 0, &bytes[..bytes.len().min(DATA_BYTES)]);
    }

    /// The first `len` bytes of a memory callback's (at most [`DATA_BYTES`]).
    pub fn data(&self, len: usize) -> Vec<u8> {
        self.load_bytes(DATA, 0, len.min(DATA_BYTES))
    }

    fn get(&self, word: usize) -> u64 {
        self.words.get(word).load(Ordering::Relaxed)
    }

    fn set(&self, word: usize, value: u64) {
        self.words.get(word).store(value, Ordering::Relaxed);
    }

    /// Stores `bytes` into the bytes from word `at`, from `offset`, a multiple of 8; the rest
    /// of a last partial word is zeroed.
    fn store_bytes(&self, at: usize, offset: usize, bytes: &[u8]) {
        for (i, chunk) in bytes.chunks(8).enumerate() {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.set(at + offset / 8 + i, u64::from_ne_bytes(w));
        }
    }

    /// `len` bytes of those from word `at`, from `offset`.
    fn load_bytes(&self, at: usize, offset: usize, len: usize) -> Vec<u8> {
        let first = offset / 8;
        let last = (offset + len).div_ceil(8);
        let mut out = Vec::with_capacity((last - first) * 8);
        for i in first..last {
            out.extend_from_slice(&self.get(at + i).to_ne_bytes());
        }
        out.drain(..offset - first * 8);
        out.truncate(len);
        out
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
        assert!(child.set_window(0x7000_1234, &bytes, true));
        assert_eq!(owner.window(), (0x7000_1234, bytes, true));
        assert!(!child.set_window(0x7000, &[1; WINDOW_BYTES + 1], true));
        assert_eq!(owner.window().1, Vec::<u8>::new());
        assert!(child.set_window(0x7000, &[], false));
        assert_eq!(owner.window(), (0x7000, vec![], false));
    }

    #[test]
    fn a_callbacks_bytes_cross_up_to_the_data_size() {
        let (child, owner) = pair();
        let bytes: Vec<u8> = (0..DATA_BYTES + 9).map(|i| i as u8).collect();
        owner.set_data(&bytes[..13]);
        assert_eq!(child.data(13), bytes[..13]);
        child.set_data(&bytes);
        assert_eq!(
            owner.data(DATA_BYTES + 9),
            bytes[..DATA_BYTES],
            "cut at the size"
        );
        assert_eq!(owner.window().1, Vec::<u8>::new(), "apart from the window");
    }

    #[test]
    fn what_the_owner_stores_comes_back_and_nothing_else() {
        let (child, owner) = pair();
        let bytes: Vec<u8> = (0..40).collect();
        child.set_window(0x1000, &bytes, true);
        assert_eq!(child.written(), (0, vec![]), "nothing stored yet");
        owner.set_written(13, &[0xee; 6]);
        assert_eq!(child.written(), (13, vec![0xee; 6]));
        let (_, now, _) = owner.window();
        assert_eq!(now[..13], bytes[..13], "the bytes around it stay");
        assert_eq!(now[19..], bytes[19..]);
        child.set_window(0x1000, &bytes, true);
        assert_eq!(child.written(), (0, vec![]), "a new window forgets it");
    }
}
