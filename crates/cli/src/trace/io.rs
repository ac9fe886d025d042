//! The reads, writes and mmaps of a tracee's IOMMU/VFIO descriptors: what to read at the
//! entry (a written buffer, the iovecs, a device file's position) and at the exit (the bytes
//! read), and the line [`uiommu_uapi::trace`] makes of them, as `uiommu exec --trace` prints
//! the same calls.

use super::arch;
use super::fds::Node;
use super::ptrace::read_mem;
use uiommu_uapi::catalog::FileKind;
use uiommu_uapi::trace::{self, Done, Iovec, MAX_SHOWN, Payload};

/// Most bytes of a buffer read for a line (as the preload's trace reads).
const MAX_BYTES: usize = 16 * 40;

/// A read, write or mmap seen at its entry.
#[derive(Debug)]
pub enum IoCall {
    /// A device file's register access, at an offset or at the file position.
    Region {
        io: trace::RegionIo,
        buf: u64,
    },
    /// A `read`/`write` of another traced file, with the buffer as written.
    File {
        fd: i32,
        write: bool,
        payload: Payload,
        buf: u64,
        count: usize,
        written: Option<Vec<u8>>,
    },
    /// A device file's vectored I/O.
    Vectored {
        fd: i32,
        write: bool,
        iov: Option<Vec<Iovec>>,
        iov_addr: u64,
        iovcnt: i32,
        pos: Option<u64>,
        flags: Option<i32>,
    },
    Mmap(trace::Mmap),
}

/// The call `nr` with `args` of tracee `pid` on a file of kind `node`, if it is one of
/// those this module shows.
pub fn entry(pid: i32, nr: u64, args: [u64; 6], node: Node) -> Option<IoCall> {
    let fd = args[0] as i32;
    let device = node == Node::File(FileKind::Device);
    let write = matches!(
        nr,
        arch::WRITE | arch::PWRITE64 | arch::PWRITEV | arch::PWRITEV2
    );
    Some(match nr {
        arch::PREAD64 | arch::PWRITE64 if device => region(pid, fd, write, true, args[3], args),
        arch::READ | arch::WRITE => match device.then(|| position(pid, fd)).flatten() {
            Some(pos) => region(pid, fd, write, false, pos, args),
            None => file(pid, fd, write, node, args),
        },
        arch::PREADV | arch::PWRITEV | arch::PREADV2 | arch::PWRITEV2 if device => {
            let v2 = matches!(nr, arch::PREADV2 | arch::PWRITEV2);
            let iovcnt = args[2] as i32;
            let n = usize::try_from(iovcnt).unwrap_or(0).min(MAX_SHOWN + 1);
            let mut iov = read_vec(pid, args[1], n * 16).map(|raw| Iovec::parse(&raw));
            if let (Some(v), true) = (iov.as_mut(), write) {
                Iovec::fill(v, usize::MAX, |a, b| read_mem(pid, a, b));
            }
            IoCall::Vectored {
                fd,
                write,
                iov,
                iov_addr: args[1],
                iovcnt,
                pos: (!v2 || args[3] as i64 != -1).then_some(args[3]),
                flags: v2.then_some(args[5] as i32),
            }
        }
        arch::MMAP => IoCall::Mmap(trace::Mmap {
            addr: args[0],
            len: args[1],
            prot: args[2] as i32,
            flags: args[3] as i32,
            fd: args[4] as i32,
            off: args[5],
            device,
        }),
        _ => return None,
    })
}

/// The line at the exit, reading what the call read.
pub fn exit(pid: i32, call: IoCall, done: &Done) -> String {
    match call {
        IoCall::Region { mut io, buf } => {
            if let (Ok(n), false) = (done.result, io.write) {
                let mut b = [0u8; 8];
                let n = usize::try_from(n).unwrap_or(usize::MAX);
                io.read = (n <= 8 && read_mem(pid, buf, &mut b[..n]))
                    .then(|| trace::RegionIo::value(&b, n))
                    .flatten();
            }
            io.line(done)
        }
        IoCall::File {
            fd,
            write,
            payload,
            buf,
            count,
            written,
        } => {
            let data = match done.result {
                Ok(n) if !write && payload != Payload::Opaque => {
                    read_vec(pid, buf, usize::try_from(n).unwrap_or(0).min(MAX_BYTES))
                }
                _ => written,
            };
            let io = trace::FileIo {
                fd,
                write,
                payload,
                buf,
                count,
                data: data.as_deref(),
            };
            io.line(done)
        }
        IoCall::Vectored {
            fd,
            write,
            mut iov,
            iov_addr,
            iovcnt,
            pos,
            flags,
        } => {
            if let (Some(v), Ok(n), false) = (iov.as_mut(), done.result, write) {
                Iovec::fill(v, usize::try_from(n).unwrap_or(0), |a, b| {
                    read_mem(pid, a, b)
                });
            }
            trace::Vectored {
                fd,
                write,
                iov: iov.as_deref(),
                iov_addr,
                iovcnt,
                pos,
                flags,
            }
            .line(done)
        }
        IoCall::Mmap(m) => m.line(done),
    }
}

fn region(pid: i32, fd: i32, write: bool, positioned: bool, pos: u64, args: [u64; 6]) -> IoCall {
    let count = args[2] as usize;
    let mut b = [0u8; 8];
    let written = (write && count <= 8 && read_mem(pid, args[1], &mut b[..count]))
        .then(|| trace::RegionIo::value(&b, count))
        .flatten();
    let io = trace::RegionIo {
        fd,
        write,
        positioned,
        pos,
        count,
        written,
        read: None,
    };
    IoCall::Region { io, buf: args[1] }
}

fn file(pid: i32, fd: i32, write: bool, node: Node, args: [u64; 6]) -> IoCall {
    let payload = match node {
        Node::Queue(p) => p,
        Node::File(_) => Payload::Opaque,
    };
    let count = args[2] as usize;
    let written = (write && payload != Payload::Opaque)
        .then(|| read_vec(pid, args[1], count.min(MAX_BYTES)))
        .flatten();
    IoCall::File {
        fd,
        write,
        payload,
        buf: args[1],
        count,
        written,
    }
}

fn read_vec(pid: i32, addr: u64, len: usize) -> Option<Vec<u8>> {
    let mut b = vec![0u8; len];
    read_mem(pid, addr, &mut b).then_some(b)
}

/// The file position of `fd` in `pid` (`/proc/PID/fdinfo/FD`'s `pos:`).
fn position(pid: i32, fd: i32) -> Option<u64> {
    let info = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix("pos:"))
        .and_then(|v| v.trim().parse().ok())
}
