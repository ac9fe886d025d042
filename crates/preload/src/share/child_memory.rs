//! A forked child's memory as the owner reaches it while serving the child's request: the
//! child itself reads, writes and copies its bytes, asked through the page they share.
//!
//! Why: the owner can reach another process's memory only by `process_vm_readv`/`writev`, a
//! system call that also pins the pages for each access (1–2 µs here for a few bytes), and a
//! copy within the child (a selftest access reading its pages into its buffer) took two,
//! through a buffer of the owner's. The child, waiting in its exchange for the reply, answers
//! a callback on the page in a fraction of that with its fault-tolerant copy, and a copy within
//! its memory is one `memcpy`. Bytes beyond what the page carries ([`DATA_BYTES`]) still go by
//! `process_vm_readv`/`writev`, whose cost is then in the bytes. Every answer is the one the
//! child's own access gives: `EFAULT` for memory that is not there or not writable.

use super::channel::Channel;
use super::page::{DATA_BYTES, Page};
use super::wire::{Msg, Op};
use crate::user_copy::OwnMemory;
use uiommu_abi::ProcessVm;
use uiommu_uapi::{Errno, UserMemory, errno::Result};

/// The child's memory, for the owner during one of the child's requests.
pub struct ChildMemory<'a> {
    channel: &'a Channel,
    vm: &'a ProcessVm,
}

impl<'a> ChildMemory<'a> {
    /// The memory of the child at the other end of `channel`, reached otherwise with `vm`.
    pub fn new(channel: &'a Channel, vm: &'a ProcessVm) -> Self {
        ChildMemory { channel, vm }
    }

    /// `EFAULT` for memory the child could not reach, and as well when the child is gone or
    /// answered out of turn: its memory cannot be reached then either.
    fn ask(&self, op: Op, a: u64, b: u64) -> Result<()> {
        let answer = self.channel.ask(Msg::new(op, 0, a, b), None);
        answer.map(drop).map_err(|_| Errno::EFAULT)
    }
}

impl UserMemory for ChildMemory<'_> {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        if buf.len() > DATA_BYTES {
            return self.vm.read(addr, buf);
        }
        self.ask(Op::MemRead, addr, buf.len() as u64)?;
        buf.copy_from_slice(&self.channel.page().data(buf.len()));
        Ok(())
    }

    fn write(&self, addr: u64, data: &[u8]) -> Result<()> {
        if data.len() > DATA_BYTES {
            return self.vm.write(addr, data);
        }
        self.channel.page().set_data(data);
        self.ask(Op::MemWrite, addr, data.len() as u64)
    }

    fn copy(&self, dst: u64, src: u64, len: usize) -> Result<()> {
        self.channel.page().set_data(&(len as u64).to_ne_bytes());
        self.ask(Op::MemCopy, dst, src)
    }
}

/// In the child: carries out the owner's memory callback `m` with this process's memory.
pub fn serve(page: &Page, m: &Msg) -> std::result::Result<i64, libc::c_int> {
    let done = match m.op {
        Op::MemRead => {
            let len = usize::try_from(m.b).map_err(|_| libc::EINVAL)?;
            let mut buf = vec![0u8; len.min(DATA_BYTES)];
            OwnMemory.read(m.a, &mut buf).map(|()| page.set_data(&buf))
        }
        Op::MemWrite => {
            let len = usize::try_from(m.b).map_err(|_| libc::EINVAL)?;
            OwnMemory.write(m.a, &page.data(len))
        }
        Op::MemCopy => {
            let word: [u8; 8] = page.data(8).try_into().map_err(|_| libc::EPROTO)?;
            let len = usize::try_from(u64::from_ne_bytes(word)).map_err(|_| libc::EINVAL)?;
            OwnMemory.copy(m.a, m.b, len)
        }
        _ => return Err(libc::EPROTO),
    };
    done.map(|()| 0).map_err(|e| e.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::share::channel::{AWAIT_REPLY, ends_for_tests};

    /// A thread standing for the child: it answers memory callbacks until told to stop.
    fn answering(child: Channel) -> std::thread::JoinHandle<()> {
        std::thread::spawn(move || {
            while let Ok((m, _)) = child.recv(AWAIT_REPLY) {
                if m.op == Op::Release {
                    break;
                }
                let answer = Msg::result(Op::Answer, serve(child.page(), &m));
                child.send(answer, None).unwrap();
            }
        })
    }

    #[test]
    fn the_child_reads_writes_and_copies_its_own_memory() {
        let (child, owner) = ends_for_tests();
        let thread = answering(child);
        let vm = ProcessVm::current();
        let mem = ChildMemory::new(&owner, &vm);
        let mut bytes = vec![0u8; 2 * DATA_BYTES];
        let at = bytes.as_mut_ptr() as u64;
        mem.write(at + 3, b"hello").unwrap();
        let mut got = [0u8; 5];
        mem.read(at + 3, &mut got).unwrap();
        assert_eq!(&got, b"hello");
        mem.copy(at + 100, at + 3, 5).unwrap();
        let mut big = vec![0u8; DATA_BYTES + 1];
        mem.read(at + 99, &mut big).unwrap();
        assert_eq!(
            &big[1..6],
            b"hello",
            "a read larger than the page goes by the system call"
        );
        assert_eq!(mem.read(8, &mut got), Err(Errno::EFAULT));
        let text = answering as *const () as u64;
        assert_eq!(
            mem.write(text, b"x"),
            Err(Errno::EFAULT),
            "code is not writable"
        );
        assert_eq!(mem.copy(at, 8, 4), Err(Errno::EFAULT));
        owner.send(Msg::new(Op::Release, 0, 0, 0), None).unwrap();
        thread.join().unwrap();
        assert_eq!(&bytes[3..8], b"hello");
        assert_eq!(&bytes[100..105], b"hello");
    }
}
