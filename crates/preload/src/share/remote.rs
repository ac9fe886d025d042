//! The child's side: fds whose objects live in another process, and the connection to it.
//!
//! A [`Remote`] is what a virtual fd stands for in a child: a handle, in the owner's session
//! for this child, to a context or a file. Calls on the fd become requests on the
//! [`Connection`]; closing the last fd of a handle tells the owner to drop it, as the kernel
//! drops the file's reference at the last `close`.

use super::channel::{AWAIT_REPLY, Channel};
use super::page::{End, Page};
use super::wire::{Msg, Op};
use super::{child_memory, window};
use crate::seqpacket::InFlight;
use crate::sys::{self, Errno};
use crate::table::{Entry, Object, TABLE};
use crate::{fork, ops};
use libc::c_int;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// What a handle stands for, as far as the child answers calls itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A context: `ioctl` goes to the owner.
    Context,
    /// A file a command made: `read` and `write` go to the owner.
    File,
    /// The selftest's dma-buf (`mmap` is `EINVAL` rather than `ENODEV`).
    DmaBuf,
}

impl Kind {
    /// The kind sent with [`Op::Install`].
    pub fn from_wire(v: u64) -> Kind {
        match v {
            2 => Kind::DmaBuf,
            _ => Kind::File,
        }
    }

    /// This kind on the wire.
    pub fn to_wire(self) -> u64 {
        match self {
            Kind::Context => 0,
            Kind::File => 1,
            Kind::DmaBuf => 2,
        }
    }
}

/// A connection to the owner of some of this process's objects.
#[derive(Debug)]
pub struct Connection {
    channel: Channel,
    /// One exchange (a request, its callbacks, its reply) at a time.
    lock: Mutex<()>,
    /// The thread in an exchange ([`this_thread`]; 0: none): its drops are deferred, not
    /// sent mid-exchange.
    holder: AtomicUsize,
    /// Handles released during an exchange, sent when it ends.
    deferred: Mutex<Vec<u32>>,
    /// In a child of this process: the socket is the parent's and is never used again.
    defunct: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A number for the calling thread, unique among the live threads of this process and never
/// 0: the address of a thread-local (the thread ID would take a system call each time).
fn this_thread() -> usize {
    thread_local! {
        static MARK: u8 = const { 0 };
    }
    MARK.with(|m| std::ptr::from_ref(m) as usize)
}

/// Any failure to reach the owner (it has exited, or the socket was closed behind our back).
const OWNER_GONE: Errno = libc::EIO;

impl Connection {
    /// A connection over `sock` and `page`, announcing this process to the owner.
    pub fn open(sock: c_int, page: Page) -> Arc<Connection> {
        let conn = Arc::new(Connection {
            channel: Channel::new(sock, page, End::Child),
            lock: Mutex::new(()),
            holder: AtomicUsize::new(0),
            deferred: Mutex::new(Vec::new()),
            defunct: AtomicBool::new(false),
        });
        let hello = Msg::new(Op::Hello, 0, u64::from(std::process::id()), 0);
        let _ = conn.channel.send(hello, None);
        conn
    }

    /// Stops using the connection (in a child that inherited it) and closes its socket.
    pub fn abandon(&self) {
        if !self.defunct.swap(true, Ordering::AcqRel) {
            sys::close_raw(self.channel.sock());
        }
    }

    /// Sends `msg`, with `fd` attached if given and the argument at `arg` if it is an
    /// `ioctl` ([`window`]), and waits for its reply, answering the owner's callbacks
    /// meanwhile: the reply's value and attached fd.
    pub fn call(
        self: &Arc<Self>,
        mut msg: Msg,
        fd: Option<c_int>,
        arg: Option<u64>,
    ) -> Result<(i64, Option<c_int>), Errno> {
        msg.maps_changes = crate::addr_space::changes();
        if self.defunct.load(Ordering::Acquire) {
            return Err(OWNER_GONE);
        }
        let _exchange = lock(&self.lock);
        if let Some(arg) = arg {
            window::capture(self.channel.page(), arg);
        }
        self.holder.store(this_thread(), Ordering::Release);
        self.flush_deferred();
        let mut r = self.exchange(msg, fd);
        // The stores the command made into the argument's window; if they cannot land, the
        // call fails as a `copy_to_user` that faulted would have made it fail.
        if let Some(arg) = arg
            && r.as_ref().err() != Some(&OWNER_GONE)
            && window::write_back(self.channel.page(), arg).is_err()
        {
            r = Err(libc::EFAULT);
        }
        self.holder.store(0, Ordering::Release);
        self.flush_deferred();
        r
    }

    fn exchange(
        self: &Arc<Self>,
        msg: Msg,
        fd: Option<c_int>,
    ) -> Result<(i64, Option<c_int>), Errno> {
        self.channel.send(msg, fd).map_err(|_| OWNER_GONE)?;
        loop {
            let (m, fd) = self.channel.recv(AWAIT_REPLY).map_err(|_| OWNER_GONE)?;
            match m.op {
                // An fd with a reply is the library's own (a connection's socket): moved up,
                // off the program's numbers, before it counts as arrived.
                Op::Reply => return m.into_result().map(|v| (v, fd.map(|f| sys::lift(f.fd())))),
                Op::Install
                | Op::Uninstall
                | Op::GetFile
                | Op::IsOpen
                | Op::MemRead
                | Op::MemWrite
                | Op::MemCopy => {
                    let answer = Msg::result(Op::Answer, self.callback(m, fd));
                    self.channel.send(answer, None).map_err(|_| OWNER_GONE)?;
                }
                _ => {
                    if let Some(fd) = fd {
                        sys::close_raw(fd.fd());
                    }
                    return Err(OWNER_GONE);
                }
            }
        }
    }

    /// Tells the owner that `handle` has no fd left here: now, or at the end of the exchange
    /// this thread is in.
    fn release(&self, handle: u32) {
        if self.defunct.load(Ordering::Acquire) {
            return;
        }
        if self.holder.load(Ordering::Acquire) == this_thread() {
            lock(&self.deferred).push(handle);
            return;
        }
        let _exchange = lock(&self.lock);
        let _ = self.channel.send(Msg::new(Op::Release, handle, 0, 0), None);
    }

    fn flush_deferred(&self) {
        let handles = std::mem::take(&mut *lock(&self.deferred));
        for handle in handles {
            let _ = self.channel.send(Msg::new(Op::Release, handle, 0, 0), None);
        }
    }

    /// What the owner asks about this process's fds and memory while a command runs.
    fn callback(self: &Arc<Self>, m: Msg, fd: Option<InFlight>) -> Result<i64, Errno> {
        match m.op {
            Op::MemRead | Op::MemWrite | Op::MemCopy => {
                child_memory::serve(self.channel.page(), &m)
            }
            Op::Install => self.install(m.handle, Kind::from_wire(m.a), fd.ok_or(libc::EPROTO)?),
            Op::Uninstall => self.uninstall(m.a as c_int),
            Op::GetFile => match self.remote_file(m.a as c_int) {
                Some(r) => Ok(i64::from(r.handle)),
                None => Err(libc::EBADF),
            },
            Op::IsOpen => Ok(i64::from(sys::fd_flags(m.a as c_int).is_ok())),
            _ => Err(libc::EPROTO),
        }
    }

    /// The fd arrived close-on-exec at the lowest free number, as the kernel's
    /// `get_unused_fd_flags(O_CLOEXEC)` would place it; it counts as arriving until mapped.
    fn install(self: &Arc<Self>, handle: u32, kind: Kind, arrived: InFlight) -> Result<i64, Errno> {
        let fd = arrived.fd();
        let ident = sys::file_id(fd).and_then(|id| Ok((id, sys::access_mode(fd)?)));
        let (id, mode) = match ident {
            Ok(ident) => ident,
            Err(e) => {
                sys::close_raw(fd);
                return Err(e);
            }
        };
        fork::install();
        let remote = Remote::new(self.clone(), handle, kind);
        drop(TABLE.insert(
            fd,
            Entry {
                object: Object::Remote(remote),
                id,
                mode,
            },
        ));
        // Mapped: a call that met the number before now asks again.
        drop(arrived);
        Ok(i64::from(fd))
    }

    fn uninstall(self: &Arc<Self>, fd: c_int) -> Result<i64, Errno> {
        let entry = ops::entry(fd).ok_or(libc::EBADF)?;
        let Object::Remote(r) = &entry.object else {
            return Err(libc::EBADF);
        };
        if !Arc::ptr_eq(&r.conn, self) {
            return Err(libc::EBADF);
        }
        r.armed.store(false, Ordering::Release);
        let handle = r.handle;
        let removed = TABLE.remove_if(fd, &entry);
        sys::close_raw(fd);
        drop(removed);
        Ok(i64::from(handle))
    }

    /// The remote file of this connection behind `fd`.
    fn remote_file(self: &Arc<Self>, fd: c_int) -> Option<Arc<Remote>> {
        match ops::entry(fd)?.object {
            Object::Remote(r) if Arc::ptr_eq(&r.conn, self) && r.kind != Kind::Context => Some(r),
            _ => None,
        }
    }
}

/// An object of the owner's, by its handle in this process's session.
#[derive(Debug)]
pub struct Remote {
    conn: Arc<Connection>,
    handle: u32,
    kind: Kind,
    /// Whether dropping the last fd tells the owner (not for an fd the owner takes back).
    armed: AtomicBool,
}

impl Remote {
    /// A handle on `conn`.
    pub fn new(conn: Arc<Connection>, handle: u32, kind: Kind) -> Arc<Remote> {
        Arc::new(Remote {
            conn,
            handle,
            kind,
            armed: AtomicBool::new(true),
        })
    }

    /// What the handle stands for.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The handle.
    pub fn handle(&self) -> u32 {
        self.handle
    }

    /// The connection.
    pub fn connection(&self) -> &Arc<Connection> {
        &self.conn
    }

    /// `ioctl(fd, request, arg)` on a context, run by the owner with this process's memory.
    pub fn ioctl(&self, request: u32, arg: u64) -> Result<i64, Errno> {
        let _gate = fork::command_guard();
        let msg = Msg::new(Op::Ioctl, self.handle, u64::from(request), arg);
        self.conn.call(msg, None, Some(arg)).map(|(v, _)| v)
    }

    /// `read` or `write` of a file, run by the owner with this process's memory.
    pub fn read_write(&self, write: bool, buf: u64, count: usize) -> Result<i64, Errno> {
        let _gate = fork::command_guard();
        let op = if write { Op::Write } else { Op::Read };
        let msg = Msg::new(op, self.handle, buf, count as u64);
        self.conn.call(msg, None, None).map(|(v, _)| v)
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        if *self.armed.get_mut() {
            self.conn.release(self.handle);
        }
    }
}
