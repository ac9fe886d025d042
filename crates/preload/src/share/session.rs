//! The owner's side: one thread per child, serving the child's calls on the objects it shares.
//!
//! A session holds, by handle, every context and file the child has an fd for; the child's
//! requests run here exactly as the owner's own calls do, with the child's memory (its
//! argument struct in the shared page, [`super::window`]; the rest by asking the child,
//! [`super::child_memory`]), the child's fd table (reached through callbacks) and
//! the child as the process its mappings are pinned in. The session ends when the child's end
//! of the connection closes (it exited, or exec'd), dropping every handle it still held.

use super::channel::{AWAIT_REQUEST, Channel};
use super::child_memory::ChildMemory;
use super::page::{End, Page};
use super::remote::Kind;
use super::window::Windowed;
use super::wire::{Msg, Op};
use super::{SESSION_FDS, lock, seqpacket_pair};
use crate::files::{self, OpenFile};
use crate::maps::MapsMemory;
use crate::seqpacket::InFlight;
use crate::sys::{self, Errno};
use crate::table::Object;
use crate::{fork, process};
use libc::c_int;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;
use uiommu_abi::host::FileBacking;
use uiommu_abi::host::Process;
use uiommu_abi::{Caller, FdHost, File, ProcessVm, dispatch};

/// The objects of one child, by handle.
pub type Handles = BTreeMap<u32, Object>;

/// Starts serving the child at the other end of `sock` and `page`, which shares `handles`.
/// On failure the socket is closed, so the child's calls fail and the handles are dropped.
pub fn spawn(sock: c_int, page: Page, handles: Handles) {
    lock(&SESSION_FDS).insert(sock);
    let channel = Channel::new(sock, page, End::Owner);
    let started = std::thread::Builder::new()
        .name("uiommu-share".into())
        .spawn(move || serve(channel, handles));
    if started.is_err() {
        end(sock);
    }
}

fn end(sock: c_int) {
    lock(&SESSION_FDS).remove(&sock);
    sys::close_raw(sock);
}

/// A child being served.
struct Child {
    channel: Channel,
    mem: ProcessVm,
    /// The child's address space as pinning sees it (shared with `process`).
    maps: Arc<MapsMemory>,
    process: Process,
    handles: RefCell<Handles>,
}

fn serve(channel: Channel, handles: Handles) {
    let sock = channel.sock();
    let child = match channel.recv(AWAIT_REQUEST) {
        Ok((m, None)) if m.op == Op::Hello => {
            let pid = m.a as u32;
            MapsMemory::of_pid(pid).ok().map(|maps| {
                let maps = Arc::new(maps);
                Child {
                    channel,
                    mem: ProcessVm::of_pid(pid),
                    process: process::of_child(pid, maps.clone()),
                    maps,
                    handles: RefCell::new(handles),
                }
            })
        }
        _ => None,
    };
    if let Some(child) = child {
        while let Ok((m, fd)) = child.channel.recv(AWAIT_REQUEST) {
            if !child.request(m, fd) {
                break;
            }
        }
        // Objects are released as by a command, with the fork gate held.
        let _gate = fork::command_guard();
        drop(child);
    }
    end(sock);
}

impl Child {
    /// Serves one request, which came with `fd`; false ends the session.
    fn request(&self, m: Msg, fd: Option<InFlight>) -> bool {
        // Only a fork's request brings an fd of use: the new connection's page.
        let page = fd.map(|fd| {
            let page = match m.op {
                Op::Fork => Page::map(fd.fd()),
                _ => Err(libc::EPROTO),
            };
            sys::close_raw(fd.fd());
            page
        });
        let _calling = self.maps.calling(m.maps_changes);
        let reply = match m.op {
            Op::Ioctl => self.ioctl(m.handle, m.a as u32, m.b),
            Op::Read | Op::Write => self.read_write(m.handle, m.op == Op::Write, m.a, m.b),
            Op::Release => {
                let released = self.handles.borrow_mut().remove(&m.handle);
                let _gate = fork::command_guard();
                drop(released);
                return true;
            }
            Op::Fork => return self.fork(page.unwrap_or(Err(libc::EPROTO))),
            _ => return false,
        };
        self.channel
            .send(Msg::result(Op::Reply, reply), None)
            .is_ok()
    }

    fn object(&self, handle: u32) -> Option<Object> {
        self.handles.borrow().get(&handle).cloned()
    }

    fn ioctl(&self, handle: u32, cmd: u32, arg: u64) -> Result<i64, Errno> {
        let Some(Object::Context(ctx)) = self.object(handle) else {
            return Err(libc::EBADF);
        };
        let _gate = fork::command_guard();
        let page = self.channel.page();
        let (addr, bytes, writable) = page.window();
        let child = ChildMemory::new(&self.channel, &self.mem);
        let mem = Windowed::new(addr, bytes, writable, &child);
        let caller = Caller {
            mem: &mem,
            fds: self,
            process: Some(&self.process),
        };
        let r = dispatch(&ctx, &caller, cmd, arg).map_err(|e| e.0);
        mem.finish(page);
        r
    }

    fn read_write(&self, handle: u32, write: bool, buf: u64, count: u64) -> Result<i64, Errno> {
        let Some(Object::File(f)) = self.object(handle) else {
            return Err(libc::EINVAL);
        };
        let _gate = fork::command_guard();
        let count = usize::try_from(count).map_err(|_| libc::EINVAL)?;
        let mem = ChildMemory::new(&self.channel, &self.mem);
        let r = if write {
            f.file().write(&mem, buf, count)
        } else {
            f.file().read(&mem, buf, count)
        };
        r.map(|n| i64::try_from(n).unwrap_or(i64::MAX))
            .map_err(|e| e.0)
    }

    /// The child forks: a session for the grandchild with the same handles, over the page
    /// the child made for it, whose end of the connection goes back with the reply.
    fn fork(&self, page: Result<Page, Errno>) -> bool {
        let made = page.and_then(|page| seqpacket_pair().map(|pair| (pair, page)));
        let reply = Msg::result(Op::Reply, made.as_ref().map(|_| 0).map_err(|e| *e));
        let Ok(((ours, theirs), page)) = made else {
            return self.channel.send(reply, None).is_ok();
        };
        spawn(ours, page, self.handles.borrow().clone());
        let sent = self.channel.send(reply, Some(theirs));
        sys::close_raw(theirs);
        sent.is_ok()
    }

    fn next_handle(&self) -> u32 {
        let handles = self.handles.borrow();
        handles
            .last_key_value()
            .map_or(0, |(&h, _)| h.wrapping_add(1))
    }

    fn install_file(&self, file: File) -> Result<i32, Errno> {
        let (fd, queue) = files::stand_in(&file)?;
        let handle = self.next_handle();
        let kind = match file {
            File::DmaBuf(_) => Kind::DmaBuf,
            _ => Kind::File,
        };
        let open = OpenFile::new(file.clone());
        self.handles
            .borrow_mut()
            .insert(handle, Object::File(open.clone()));
        let answer = self
            .channel
            .ask(Msg::new(Op::Install, handle, kind.to_wire(), 0), Some(fd));
        let child_fd = answer.and_then(|v| i32::try_from(v).map_err(|_| libc::EPROTO));
        match (child_fd, queue) {
            (Ok(child_fd), Some(stand_in)) => {
                // The stand-in is one kernel object with the child's fd: keep our fd to set
                // its readiness as the queue changes.
                let ours = Arc::new(OwnedFd(fd));
                file.watch_input(Arc::new(move |ready| stand_in.set(ours.0, ready)));
                Ok(child_fd)
            }
            (Ok(child_fd), None) => {
                sys::close_raw(fd);
                Ok(child_fd)
            }
            (Err(e), _) => {
                sys::close_raw(fd);
                open.disarm();
                let removed = self.handles.borrow_mut().remove(&handle);
                drop(removed);
                Err(e)
            }
        }
    }
}

/// An fd closed when the last user goes.
struct OwnedFd(c_int);

impl Drop for OwnedFd {
    fn drop(&mut self) {
        sys::close_raw(self.0);
    }
}

impl FdHost for Child {
    /// A new fd in the child, at its lowest free number, close-on-exec.
    fn install(&self, file: File) -> uiommu_uapi::errno::Result<i32> {
        self.install_file(file)
            .map_err(|_| uiommu_uapi::Errno::ENOMEM)
    }

    /// Closes the child's fd without releasing its file.
    fn uninstall(&self, fd: i32) {
        let Ok(handle) = self
            .channel
            .ask(Msg::new(Op::Uninstall, 0, fd as u64, 0), None)
        else {
            return;
        };
        let removed = self.handles.borrow_mut().remove(&(handle as u32));
        if let Some(Object::File(f)) = &removed {
            f.disarm();
        }
        drop(removed);
    }

    /// The file behind the child's `fd`, if it is one it shares with us.
    fn get(&self, fd: i32) -> Option<File> {
        let handle = self
            .channel
            .ask(Msg::new(Op::GetFile, 0, fd as u64, 0), None)
            .ok()?;
        match self.object(handle as u32)? {
            Object::File(f) => Some(f.file().clone()),
            _ => None,
        }
    }

    fn is_open(&self, fd: i32) -> bool {
        self.channel
            .ask(Msg::new(Op::IsOpen, 0, fd as u64, 0), None)
            == Ok(1)
    }

    /// Not served for a child: the file would be mapped here, at addresses of this process,
    /// while the child's own accesses read its memory.
    fn map_file(&self, _fd: i32) -> uiommu_uapi::errno::Result<Arc<dyn FileBacking>> {
        Err(uiommu_uapi::Errno::EOPNOTSUPP)
    }
}
