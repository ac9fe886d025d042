//! The raw calls of the tracer: `ptrace(2)` requests, `waitpid(2)` and
//! `process_vm_readv(2)`. Nothing here writes to a tracee: its memory is only read, its
//! registers never touched (arguments and results come from `PTRACE_GET_SYSCALL_INFO`).
//!
//! Every request on a tracee may fail with `ESRCH` when the tracee died meanwhile (killed by
//! a signal while stopped, say); callers treat that as "gone", and its death then arrives
//! through `waitpid`, so nothing waits for a stop that cannot come.
#![allow(unsafe_code)]

use std::io;
use uiommu_abi::{ProcessVm, UserMemory};

/// The options every tracee gets (`ptrace(2)`): syscall stops marked with bit 7
/// (`TRACESYSGOOD`), children and threads traced from their first instruction, `execve`
/// and seccomp stops reported, and the tracees killed if the tracer dies (`EXITKILL`).
pub const OPTIONS: libc::c_int = libc::PTRACE_O_TRACESYSGOOD
    | libc::PTRACE_O_TRACEFORK
    | libc::PTRACE_O_TRACEVFORK
    | libc::PTRACE_O_TRACECLONE
    | libc::PTRACE_O_TRACEEXEC
    | libc::PTRACE_O_TRACESECCOMP
    | libc::PTRACE_O_EXITKILL;

fn check(r: libc::c_long) -> io::Result<libc::c_long> {
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// `PTRACE_SEIZE`: traces `pid` with [`OPTIONS`] without stopping it.
pub fn seize(pid: i32) -> io::Result<()> {
    // SAFETY: PTRACE_SEIZE takes no pointer; `data` is the options word.
    let r = unsafe { libc::ptrace(libc::PTRACE_SEIZE, pid, 0usize, OPTIONS as usize) };
    check(r).map(drop)
}

/// How a stopped tracee goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// `PTRACE_CONT`: to its next seccomp stop, event or signal.
    Cont,
    /// `PTRACE_SYSCALL`: to the next syscall-entry or syscall-exit stop as well.
    Syscall,
    /// `PTRACE_LISTEN`: stays in its group-stop, yet reports the next event (a `SIGCONT`).
    Listen,
}

/// Resumes `pid` from its stop, delivering `sig` (0: none). Only `PTRACE_LISTEN` ignores
/// `sig`, as the kernel does.
pub fn resume(pid: i32, how: Resume, sig: i32) -> io::Result<()> {
    let req = match how {
        Resume::Cont => libc::PTRACE_CONT,
        Resume::Syscall => libc::PTRACE_SYSCALL,
        Resume::Listen => libc::PTRACE_LISTEN,
    };
    // SAFETY: these requests take no pointer; `data` is the signal number.
    let r = unsafe { libc::ptrace(req, pid, 0usize, sig as usize) };
    check(r).map(drop)
}

/// `PTRACE_GETEVENTMSG`: the new task's id at a fork/vfork/clone event, the former thread id
/// at an exec event.
pub fn event_msg(pid: i32) -> io::Result<u64> {
    let mut msg: libc::c_ulong = 0;
    // SAFETY: the kernel stores one unsigned long at `&mut msg`, which lives across the call.
    let r = unsafe { libc::ptrace(libc::PTRACE_GETEVENTMSG, pid, 0usize, &mut msg) };
    check(r).map(|_| msg)
}

/// Where a tracee is in a system call, from `PTRACE_GET_SYSCALL_INFO`
/// (`struct ptrace_syscall_info`, `include/uapi/linux/ptrace.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyscallInfo {
    /// At its entry (a syscall-entry stop, or a seccomp stop): the audit architecture, the
    /// number and the six arguments.
    Entry { arch: u32, nr: u64, args: [u64; 6] },
    /// At its exit: the return value, or the errno (positive) if `is_error`.
    Exit(Result<i64, i32>),
    /// Not in a system call (an event or signal stop).
    None,
}

/// `PTRACE_GET_SYSCALL_INFO` of `pid`, stopped.
pub fn syscall_info(pid: i32) -> io::Result<SyscallInfo> {
    let mut b = [0u8; 88];
    // SAFETY: the kernel writes at most `b.len()` bytes (the size passed as `addr`) to `b`,
    // which lives across the call.
    let r = unsafe { libc::ptrace(libc::PTRACE_GET_SYSCALL_INFO, pid, b.len(), b.as_mut_ptr()) };
    check(r)?;
    let u64_at = |o: usize| u64::from_ne_bytes(b[o..o + 8].try_into().unwrap_or_default());
    let arch = u32::from_ne_bytes(b[4..8].try_into().unwrap_or_default());
    Ok(match b[0] {
        libc::PTRACE_SYSCALL_INFO_ENTRY | libc::PTRACE_SYSCALL_INFO_SECCOMP => SyscallInfo::Entry {
            arch,
            nr: u64_at(24),
            args: std::array::from_fn(|i| u64_at(32 + 8 * i)),
        },
        libc::PTRACE_SYSCALL_INFO_EXIT => {
            let v = u64_at(24) as i64;
            SyscallInfo::Exit(if b[32] != 0 { Err(-v as i32) } else { Ok(v) })
        }
        _ => SyscallInfo::None,
    })
}

/// `waitpid(-1, __WALL)`: the next tracee (or child) whose state changed, with its status.
pub fn wait_any() -> io::Result<(i32, i32)> {
    let mut status = 0;
    // SAFETY: the kernel stores the status at `&mut status`, which lives across the call.
    let pid = unsafe { libc::waitpid(-1, &mut status, libc::__WALL) };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((pid, status))
}

/// Reads `buf.len()` bytes at `addr` of process `pid` (`process_vm_readv`, through
/// [`ProcessVm`]); whether all of them could be read. Only reads: the tracee's memory is never
/// written.
pub fn read_mem(pid: i32, addr: u64, buf: &mut [u8]) -> bool {
    ProcessVm::of_pid(pid as u32).read(addr, buf).is_ok()
}

/// The NUL-terminated string at `addr` of process `pid` (4096 bytes at most, `PATH_MAX`),
/// read page by page so that a string ending just before an unmapped page reads.
pub fn read_cstr(pid: i32, addr: u64) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = addr;
    while out.len() < 4096 {
        let n = (4096 - (at % 4096)) as usize;
        let mut chunk = vec![0u8; n.min(4096 - out.len())];
        if !read_mem(pid, at, &mut chunk) {
            return None;
        }
        if let Some(end) = chunk.iter().position(|&c| c == 0) {
            out.extend_from_slice(&chunk[..end]);
            return Some(out);
        }
        out.extend_from_slice(&chunk);
        at += chunk.len() as u64;
    }
    Some(out)
}
