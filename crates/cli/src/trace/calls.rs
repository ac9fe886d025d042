//! One system call of a tracee, from its entry to its exit: what to read at the entry (the
//! path an open names, the struct an ioctl points at, the value a register write carries),
//! what to read at the exit (the struct as the kernel left it, the value read), the line
//! [`uiommu_uapi::trace`] makes of it, and what it does to the descriptor table.
//!
//! Only calls on IOMMU/VFIO files make lines: opens of their nodes (failed ones included),
//! ioctls, reads, writes and mmaps of their descriptors. The other calls the seccomp filter
//! stops (opens of other files, dup, close) only keep the table right.

use super::arch;
use super::fds::{self, Classifier, Node, Table};
use super::io;
use super::ptrace::read_mem;
use std::time::Instant;
use uiommu_uapi::catalog::{self, FileKind};
use uiommu_uapi::trace::{self, AT_FDCWD, Done, MAX_STRUCT, Payload};
use uiommu_uapi::vfio::VFIO_GROUP_GET_DEVICE_FD;

/// `close_range`'s flag that marks the range close-on-exec instead of closing it.
const CLOSE_RANGE_CLOEXEC: u64 = 1 << 2;
/// `F_DUPFD` and `F_DUPFD_CLOEXEC` (`include/uapi/linux/fcntl.h`).
const F_DUPFD: u64 = 0;
const F_DUPFD_CLOEXEC: u64 = 1030;

/// The tracee a call is made by.
pub struct Ctx<'a> {
    pub pid: i32,
    pub table: &'a Table,
    pub classifier: &'a Classifier,
}

/// A call seen at its entry, waiting for its exit.
#[derive(Debug)]
pub struct Pending {
    start: Instant,
    call: Call,
}

#[derive(Debug)]
enum Call {
    /// An open; `named`: the path names a node (the line shows even if it fails).
    Open {
        dirfd: i32,
        path: Vec<u8>,
        flags: i32,
        named: bool,
    },
    Ioctl {
        fd: i32,
        file: FileKind,
        cmd: u32,
        arg: u64,
        before: Option<Vec<u8>>,
    },
    /// A read, write or mmap [`io`] shows.
    Io(io::IoCall),
    Other {
        name: &'static str,
        args: String,
        hex: bool,
    },
    /// A dup of `from` (`None`: not a traced file) to the result.
    Dup {
        from: Option<Node>,
    },
    CloseRange {
        first: i32,
        last: i32,
    },
}

/// The call `nr` with `args` at its entry, if its exit matters.
pub fn entry(ctx: &Ctx<'_>, nr: u64, args: [u64; 6]) -> Option<Pending> {
    let fd = |i: usize| args[i] as i32;
    let node = |fd: i32| ctx.table.borrow().get(&fd).copied();
    let call = match nr {
        arch::OPEN => open(ctx, AT_FDCWD, args[0], args[1] as i32)?,
        arch::OPENAT => open(ctx, fd(0), args[1], args[2] as i32)?,
        arch::OPENAT2 => {
            // struct open_how's first field is the flags (include/uapi/linux/openat2.h).
            let mut how = [0u8; 8];
            let flags = read_mem(ctx.pid, args[2], &mut how).then(|| u64::from_ne_bytes(how));
            open(ctx, fd(0), args[1], flags.unwrap_or(0) as i32)?
        }
        arch::IOCTL => ioctl(ctx, node(fd(0))?, fd(0), args[1] as u32, args[2])?,
        arch::MMAP => Call::Io(io::entry(ctx.pid, nr, args, node(fd(4))?)?),
        arch::READ
        | arch::WRITE
        | arch::PREAD64
        | arch::PWRITE64
        | arch::PREADV
        | arch::PWRITEV
        | arch::PREADV2
        | arch::PWRITEV2
            if let Some(c) = io::entry(ctx.pid, nr, args, node(fd(0))?) =>
        {
            Call::Io(c)
        }
        arch::READV | arch::WRITEV => {
            node(fd(0))?;
            other(nr, trace::plain_args(fd(0), args[1], args[2], None), false)
        }
        arch::PREAD64 | arch::PWRITE64 | arch::PREADV | arch::PWRITEV => {
            node(fd(0))?;
            let a = trace::plain_args(fd(0), args[1], args[2], Some(args[3]));
            other(nr, a, false)
        }
        arch::PREADV2 | arch::PWRITEV2 => {
            node(fd(0))?;
            let a = format!(
                "{}, {:#x}, {}, {:#x}, {:#x}",
                fd(0),
                args[1],
                args[2],
                args[3],
                args[5]
            );
            other(nr, a, false)
        }
        arch::CLOSE => {
            // Linux releases the descriptor even when close fails (close(2)).
            ctx.table.borrow_mut().remove(&fd(0));
            return None;
        }
        arch::CLOSE_RANGE => {
            let (first, last) = (fd(0), args[1].min(i32::MAX as u64) as i32);
            let any = ctx
                .table
                .borrow()
                .keys()
                .any(|k| (first..=last).contains(k));
            if !any || args[2] & CLOSE_RANGE_CLOEXEC != 0 {
                return None;
            }
            Call::CloseRange { first, last }
        }
        arch::DUP => Call::Dup {
            from: Some(node(fd(0))?),
        },
        arch::DUP2 | arch::DUP3 => {
            let from = node(fd(0));
            if from.is_none() && node(fd(1)).is_none() {
                return None;
            }
            Call::Dup { from }
        }
        arch::FCNTL if matches!(args[1], F_DUPFD | F_DUPFD_CLOEXEC) => Call::Dup {
            from: Some(node(fd(0))?),
        },
        _ => return None,
    };
    Some(Pending {
        start: Instant::now(),
        call,
    })
}

fn other(nr: u64, args: String, hex: bool) -> Call {
    Call::Other {
        name: arch::name(nr),
        args,
        hex,
    }
}

fn open(ctx: &Ctx<'_>, dirfd: i32, path: u64, flags: i32) -> Option<Call> {
    let path = super::ptrace::read_cstr(ctx.pid, path)?;
    let base = match (path.first(), dirfd) {
        (Some(b'/'), _) => None,
        (_, AT_FDCWD) => fds::link(ctx.pid, "cwd"),
        (_, d) => fds::link(ctx.pid, &format!("fd/{d}")),
    };
    let named = ctx
        .classifier
        .classify(&fds::absolute(base.as_deref(), &path))
        .is_some();
    Some(Call::Open {
        dirfd,
        path,
        flags,
        named,
    })
}

fn ioctl(ctx: &Ctx<'_>, node: Node, fd: i32, cmd: u32, arg: u64) -> Option<Call> {
    let Node::File(file) = node else {
        return Some(other(
            arch::IOCTL,
            format!("{fd}, {cmd:#x}, {arg:#x}"),
            false,
        ));
    };
    // `do_vfs_ioctl` answers these for every file; the node's driver never sees them.
    let generic = [libc::FIOCLEX, libc::FIONCLEX, libc::FIONBIO, libc::FIOASYNC];
    if generic.iter().any(|&g| g as u32 == cmd) {
        return None;
    }
    let size = trace::Ioctl::struct_size(file, cmd);
    let mut b = vec![0u8; size];
    let before = (size > 0 && read_mem(ctx.pid, arg, &mut b)).then_some(b);
    Some(Call::Ioctl {
        fd,
        file,
        cmd,
        arg,
        before,
    })
}

/// The call's exit with `result`: the table updated, and its line if it makes one (with
/// `pid` as the prefix).
pub fn exit(
    ctx: &Ctx<'_>,
    p: Pending,
    result: Result<i64, i32>,
    pid: Option<u32>,
) -> Option<String> {
    let done = Done {
        pid,
        result,
        took: p.start.elapsed(),
    };
    let new_fd = |fd: i64, node: Option<Node>| {
        let mut t = ctx.table.borrow_mut();
        t.remove(&(fd as i32));
        if let Some(n) = node {
            t.insert(fd as i32, n);
        }
    };
    match p.call {
        Call::Open {
            dirfd,
            path,
            flags,
            named,
        } => {
            let node = result
                .ok()
                .and_then(|fd| fds::probe(ctx.pid, fd, ctx.classifier));
            if let Ok(fd) = result {
                new_fd(fd, node);
            }
            (named || node.is_some()).then(|| {
                trace::Open {
                    dirfd,
                    path: &path,
                    flags,
                }
                .line(&done)
            })
        }
        Call::Ioctl {
            fd,
            file,
            cmd,
            arg,
            before,
        } => {
            let after = before.as_ref().and_then(|b| {
                let mut a = vec![0u8; b.len().min(MAX_STRUCT)];
                read_mem(ctx.pid, arg, &mut a).then_some(a)
            });
            if result.is_ok() {
                for fd in handed_out(file, cmd, result, after.as_deref()) {
                    let node = fds::probe(ctx.pid, fd, ctx.classifier).map(|n| match n {
                        Node::Queue(Payload::Veventq(_)) => {
                            Node::Queue(Payload::Veventq(veventq_type(after.as_deref())))
                        }
                        n => n,
                    });
                    new_fd(fd, node);
                }
            }
            let call = trace::Ioctl {
                fd,
                file,
                cmd,
                arg,
                before: before.as_deref(),
                after: after.as_deref(),
            };
            Some(call.line(&done))
        }
        Call::Io(c) => Some(io::exit(ctx.pid, c, &done)),
        Call::Other { name, args, hex } => Some(trace::other(name, &args, hex, &done)),
        Call::Dup { from } => {
            if let Ok(fd) = result {
                new_fd(fd, from);
            }
            None
        }
        Call::CloseRange { first, last } => {
            if result.is_ok() {
                ctx.table
                    .borrow_mut()
                    .retain(|k, _| !(first..=last).contains(k));
            }
            None
        }
    }
}

/// The `type` of an `IOMMU_VEVENTQ_ALLOC`'s struct as the kernel left it (`u32::MAX` if
/// unread): what the queue's events carry.
fn veventq_type(after: Option<&[u8]>) -> u32 {
    let f = catalog::layout("iommu_veventq_alloc")
        .and_then(|l| l.fields.iter().find(|f| f.c_path == "type"));
    f.and_then(|f| after?.get(f.offset..f.offset + 4))
        .and_then(|b| b.try_into().ok())
        .map_or(u32::MAX, u32::from_ne_bytes)
}

/// The descriptors a successful ioctl handed out: `VFIO_GROUP_GET_DEVICE_FD`'s result, and
/// the `out_*_fd` fields of its struct (`IOMMU_FAULT_QUEUE_ALLOC`'s `out_fault_fd`,
/// `IOMMU_VEVENTQ_ALLOC`'s `out_veventq_fd`).
fn handed_out(
    file: FileKind,
    cmd: u32,
    result: Result<i64, i32>,
    after: Option<&[u8]>,
) -> Vec<i64> {
    let mut out = Vec::new();
    if let (FileKind::Group, VFIO_GROUP_GET_DEVICE_FD, Ok(fd)) = (file, cmd, result) {
        out.push(fd);
    }
    let fields = catalog::ioctl(file, cmd)
        .and_then(|d| d.c_struct)
        .and_then(catalog::layout)
        .map_or(&[][..], |l| l.fields);
    for f in fields {
        let name = f.c_path;
        if name.starts_with("out_") && name.ends_with("_fd") && f.size == 4 {
            let v = after
                .and_then(|a| a.get(f.offset..f.offset + 4))
                .and_then(|b| b.try_into().ok())
                .map(i32::from_ne_bytes);
            out.extend(v.map(i64::from));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use uiommu_uapi::iommufd::{IOMMU_FAULT_QUEUE_ALLOC, IOMMU_IOAS_ALLOC};

    #[test]
    fn fd_returning_ioctls_name_their_descriptors() {
        let l = catalog::layout("iommu_fault_alloc").unwrap();
        let mut s = vec![0u8; l.size];
        let f = l
            .fields
            .iter()
            .find(|f| f.c_path == "out_fault_fd")
            .unwrap();
        s[f.offset..f.offset + 4].copy_from_slice(&9i32.to_ne_bytes());
        assert_eq!(
            handed_out(FileKind::Iommufd, IOMMU_FAULT_QUEUE_ALLOC, Ok(0), Some(&s)),
            [9]
        );
        assert_eq!(
            handed_out(FileKind::Group, VFIO_GROUP_GET_DEVICE_FD, Ok(7), None),
            [7]
        );
        assert!(handed_out(FileKind::Iommufd, IOMMU_IOAS_ALLOC, Ok(0), Some(&[0; 12])).is_empty());
    }

    #[test]
    fn a_veventq_s_records_are_of_the_type_its_alloc_asked_for() {
        let l = catalog::layout("iommu_veventq_alloc").unwrap();
        let mut s = vec![0u8; l.size];
        let f = l.fields.iter().find(|f| f.c_path == "type").unwrap();
        s[f.offset..f.offset + 4].copy_from_slice(&0xbeef_beefu32.to_ne_bytes());
        assert_eq!(veventq_type(Some(&s)), 0xbeef_beef);
        assert_eq!(veventq_type(None), u32::MAX);
    }
}
