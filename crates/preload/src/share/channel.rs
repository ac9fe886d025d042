//! One end of a connection: messages on the rings of the shared page ([`super::page`]), and
//! the socket for what a page cannot carry.
//!
//! The socket carries packets of one byte: an fd going with a message ([`PACKET_FD`], sent
//! before the message is put on its ring, so that the receiver finds it), and a wake-up for a
//! receiver that sleeps ([`PACKET_WAKE`]). A receiver sleeps in `poll` on the socket, so it
//! also learns at once that the peer has gone: the kernel closes the peer's end when it exits
//! or execs. A receiver spins briefly before sleeping: a reply or the next request of a run
//! usually comes within that time, and is then taken without a system call on either side.

use super::page::{End, Page, SLOT_HAS_FD, SLOT_WORDS};
use super::wire::{Msg, Op};
use crate::seqpacket::{self, InFlight};
use crate::sys::{self, Errno};
use libc::c_int;
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// How long a child spins for the reply to its request, or the owner for the answer to its
/// callback, before it sleeps. Spinning costs the waiter's own CPU, which would sit idle
/// meanwhile; most commands take well under this.
pub const AWAIT_REPLY: Duration = Duration::from_micros(200);

/// How long the owner spins for a child's next request after serving one: calls tend to come
/// in runs, and a run is served without a wake-up while this lasts.
pub const AWAIT_REQUEST: Duration = Duration::from_micros(50);

/// How long a receiver spins before it yields the CPU between looks: about what the owner
/// takes for a cheap command.
const SPIN_WITHOUT_YIELDING: Duration = Duration::from_micros(2);

/// A socket packet: the fd attached goes with the next message that says so.
const PACKET_FD: u8 = b'f';
/// A socket packet: the receiver slept, and a message is on its ring.
const PACKET_WAKE: u8 = b'w';

/// What came on the socket ahead of the messages it goes with.
#[derive(Default)]
struct Inbox {
    /// Fds, in the order they were sent.
    fds: VecDeque<InFlight>,
    /// The peer has closed its end.
    closed: bool,
}

/// One end of a connection.
pub struct Channel {
    sock: c_int,
    page: Page,
    me: End,
    inbox: Mutex<Inbox>,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("sock", &self.sock)
            .field("me", &self.me)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Channel {
    /// The end `me` of a connection over `sock` and `page`.
    pub fn new(sock: c_int, page: Page, me: End) -> Channel {
        Channel {
            sock,
            page,
            me,
            inbox: Mutex::default(),
        }
    }

    /// The socket.
    pub fn sock(&self) -> c_int {
        self.sock
    }

    /// The shared page.
    pub fn page(&self) -> &Page {
        &self.page
    }

    /// Sends `msg`, with `fd` attached if given. `EPIPE` once the peer has gone.
    pub fn send(&self, msg: Msg, fd: Option<c_int>) -> Result<(), Errno> {
        if let Some(fd) = fd {
            seqpacket::send(self.sock, &[PACKET_FD], Some(fd))?;
        }
        let mut slot = [0; SLOT_WORDS];
        slot[..Msg::WORDS].copy_from_slice(&msg.to_words());
        slot[Msg::WORDS] = if fd.is_some() { SLOT_HAS_FD } else { 0 };
        let to = self.me.peer();
        // Full only while the peer is behind on messages that need no reply (releases).
        while !self.page.push(to, slot) {
            if seqpacket::peer_closed(self.sock) {
                return Err(libc::EPIPE);
            }
            std::thread::yield_now();
        }
        if self.page.take_sleeper(to) {
            seqpacket::send(self.sock, &[PACKET_WAKE], None)?;
        }
        Ok(())
    }

    /// Receives the next message and the fd that came with it, spinning up to `spin` for it
    /// before sleeping. `EPIPE` once the peer has gone and every message it sent is taken;
    /// `EPROTO` for a message that is not one of ours.
    pub fn recv(&self, spin: Duration) -> Result<(Msg, Option<InFlight>), Errno> {
        loop {
            if let Some(slot) = self.page.pop(self.me) {
                let msg = Msg::from_words(&slot).ok_or(libc::EPROTO)?;
                let fd = match slot[Msg::WORDS] & SLOT_HAS_FD {
                    0 => None,
                    _ => Some(self.take_fd()?),
                };
                return Ok((msg, fd));
            }
            if lock(&self.inbox).closed {
                return Err(libc::EPIPE);
            }
            if self.spin_for_message(spin) {
                continue;
            }
            self.page.set_sleeping(self.me, true);
            if !self.page.pending(self.me) {
                seqpacket::wait_readable(self.sock)?;
            }
            self.page.set_sleeping(self.me, false);
            self.drain()?;
        }
    }

    /// The owner's callback in the middle of a command: sends `msg` (with `fd`) and waits for
    /// the child's answer.
    pub fn ask(&self, msg: Msg, fd: Option<c_int>) -> Result<i64, Errno> {
        self.send(msg, fd)?;
        let (answer, fd) = self.recv(AWAIT_REPLY)?;
        if let Some(fd) = fd {
            sys::close_raw(fd.fd());
        }
        if answer.op != Op::Answer {
            return Err(libc::EPROTO);
        }
        answer.into_result()
    }

    /// Spins until a message is on our ring, or `limit` has passed: whether one is. After a
    /// short while each look yields the CPU first: where every CPU is busy, the peer may be
    /// waiting for this one.
    fn spin_for_message(&self, limit: Duration) -> bool {
        if !may_spin() {
            return false;
        }
        let start = Instant::now();
        loop {
            // The clock is read once in a while: a look at the ring costs far less.
            for _ in 0..64 {
                if self.page.pending(self.me) {
                    return true;
                }
                std::hint::spin_loop();
            }
            let spun = start.elapsed();
            if spun >= limit {
                return false;
            }
            if spun >= SPIN_WITHOUT_YIELDING {
                std::thread::yield_now();
            }
        }
    }

    /// The fd that goes with the message just taken: sent on the socket before it.
    fn take_fd(&self) -> Result<InFlight, Errno> {
        loop {
            let mut inbox = lock(&self.inbox);
            if let Some(fd) = inbox.fds.pop_front() {
                return Ok(fd);
            }
            if inbox.closed {
                return Err(libc::EPIPE);
            }
            let mut byte = [0u8; 1];
            let got = seqpacket::recv(self.sock, &mut byte)?;
            file(&mut inbox, byte[0], got);
        }
    }

    /// Takes every packet now on the socket.
    fn drain(&self) -> Result<(), Errno> {
        let mut inbox = lock(&self.inbox);
        let mut byte = [0u8; 1];
        while !inbox.closed {
            match seqpacket::try_recv(self.sock, &mut byte)? {
                Some(got) => file(&mut inbox, byte[0], got),
                None => break,
            }
        }
        Ok(())
    }
}

/// Files a packet taken off the socket: an fd is kept for its message, a wake-up has done its
/// work, an end of file means the peer has gone; anything else is not ours (its fd is closed).
fn file(inbox: &mut Inbox, kind: u8, (len, fd): (usize, Option<InFlight>)) {
    match (len, kind, fd) {
        (0, _, fd) => {
            if let Some(fd) = fd {
                sys::close_raw(fd.fd());
            }
            inbox.closed = true;
        }
        (1, PACKET_FD, Some(fd)) => inbox.fds.push_back(fd),
        (_, _, Some(fd)) => sys::close_raw(fd.fd()),
        (_, _, None) => {}
    }
}

/// Whether this process may run on more than one CPU, read once. Where it may not, a spinning
/// receiver would only keep its peer from running.
fn may_spin() -> bool {
    static MANY: OnceLock<bool> = OnceLock::new();
    *MANY.get_or_init(|| sys::cpus_allowed() > 1)
}

/// The child's and the owner's ends of a new connection within this process, for tests.
#[cfg(test)]
pub fn ends_for_tests() -> (Channel, Channel) {
    tests::ends()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn ends() -> (Channel, Channel) {
        let (a, b) = seqpacket::pair().unwrap();
        let (ours, fd) = Page::create().unwrap();
        let theirs = Page::map(fd).unwrap();
        sys::close_raw(fd);
        (
            Channel::new(a, ours, End::Child),
            Channel::new(b, theirs, End::Owner),
        )
    }

    #[test]
    fn messages_and_fds_cross_in_order() {
        let (child, owner) = ends();
        let (x, y) = seqpacket::pair().unwrap();
        child.send(Msg::new(Op::Ioctl, 0, 0, 0), None).unwrap();
        child.send(Msg::new(Op::Fork, 1, 0, 0), Some(x)).unwrap();
        child.send(Msg::new(Op::Release, 2, 0, 0), None).unwrap();
        let (m, fd) = owner.recv(AWAIT_REQUEST).unwrap();
        assert_eq!((m.op, m.handle, fd.is_none()), (Op::Ioctl, 0, true));
        let (m, fd) = owner.recv(AWAIT_REQUEST).unwrap();
        let fd = fd.expect("the fd came with its message");
        assert_eq!((m.op, m.handle), (Op::Fork, 1));
        assert_eq!(sys::file_id(fd.fd()), sys::file_id(x), "the same socket");
        sys::close_raw(fd.fd());
        let (m, fd) = owner.recv(AWAIT_REQUEST).unwrap();
        assert_eq!((m.op, m.handle, fd.is_none()), (Op::Release, 2, true));
        for fd in [x, y] {
            sys::close_raw(fd);
        }
    }

    #[test]
    fn a_sleeping_receiver_is_woken_by_a_message() {
        let (child, owner) = ends();
        let server = std::thread::spawn(move || {
            // No spin: the owner sleeps at once, and must be woken.
            let (m, _) = owner.recv(Duration::ZERO).unwrap();
            owner
                .send(Msg::result(Op::Reply, Ok(m.a as i64 + 1)), None)
                .unwrap();
            owner
        });
        std::thread::sleep(Duration::from_millis(20));
        child.send(Msg::new(Op::Ioctl, 0, 41, 0), None).unwrap();
        let (m, _) = child.recv(Duration::ZERO).unwrap();
        assert_eq!(m.into_result(), Ok(42));
        let owner = server.join().unwrap();
        sys::close_raw(owner.sock());
        drop(owner);
        assert_eq!(child.recv(AWAIT_REPLY).err(), Some(libc::EPIPE));
        sys::close_raw(child.sock());
    }

    #[test]
    fn messages_sent_before_the_peer_closed_are_still_taken() {
        let (child, owner) = ends();
        child.send(Msg::new(Op::Release, 5, 0, 0), None).unwrap();
        sys::close_raw(child.sock());
        let (m, _) = owner.recv(Duration::ZERO).unwrap();
        assert_eq!((m.op, m.handle), (Op::Release, 5));
        assert_eq!(owner.recv(Duration::ZERO).err(), Some(libc::EPIPE));
        sys::close_raw(owner.sock());
    }
}
