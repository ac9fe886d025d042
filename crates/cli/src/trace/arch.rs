//! What is x86-64's in the tracer: the system call numbers it watches
//! (`arch/x86/entry/syscalls/syscall_64.tbl`) and the audit architecture seccomp and
//! `PTRACE_GET_SYSCALL_INFO` report for them (`include/uapi/linux/audit.h`). Everything else
//! reads arguments and results through `PTRACE_GET_SYSCALL_INFO`, which is the same on every
//! architecture; porting the tracer means a second copy of this module.

/// `AUDIT_ARCH_X86_64`: a 64-bit x86 system call. Others (i386 by `int 0x80`, x32) are not
/// traced: their numbers and struct layouts differ.
pub const AUDIT_ARCH: u32 = 0xc000_003e;

/// x32 system calls carry this bit (`__X32_SYSCALL_BIT`) in their number.
pub const X32_BIT: u32 = 0x4000_0000;

pub const READ: u64 = 0;
pub const WRITE: u64 = 1;
pub const OPEN: u64 = 2;
pub const CLOSE: u64 = 3;
pub const MMAP: u64 = 9;
pub const IOCTL: u64 = 16;
pub const PREAD64: u64 = 17;
pub const PWRITE64: u64 = 18;
pub const READV: u64 = 19;
pub const WRITEV: u64 = 20;
pub const DUP: u64 = 32;
pub const DUP2: u64 = 33;
pub const FCNTL: u64 = 72;
pub const OPENAT: u64 = 257;
pub const DUP3: u64 = 292;
pub const PREADV: u64 = 295;
pub const PWRITEV: u64 = 296;
pub const PREADV2: u64 = 327;
pub const PWRITEV2: u64 = 328;
pub const CLOSE_RANGE: u64 = 436;
pub const OPENAT2: u64 = 437;

/// Every call the tracer looks at: those that open, duplicate or close a file descriptor,
/// and those that act on one (ioctl, reads and writes, mmap).
pub const WATCHED: &[u64] = &[
    READ,
    WRITE,
    OPEN,
    CLOSE,
    MMAP,
    IOCTL,
    PREAD64,
    PWRITE64,
    READV,
    WRITEV,
    DUP,
    DUP2,
    FCNTL,
    OPENAT,
    DUP3,
    PREADV,
    PWRITEV,
    PREADV2,
    PWRITEV2,
    CLOSE_RANGE,
    OPENAT2,
];

/// The name strace gives call `nr`, for the calls that print a line of their own.
pub fn name(nr: u64) -> &'static str {
    match nr {
        READ => "read",
        WRITE => "write",
        MMAP => "mmap",
        IOCTL => "ioctl",
        PREAD64 => "pread64",
        PWRITE64 => "pwrite64",
        READV => "readv",
        WRITEV => "writev",
        PREADV => "preadv",
        PWRITEV => "pwritev",
        PREADV2 => "preadv2",
        PWRITEV2 => "pwritev2",
        _ => "?",
    }
}
