//! `UIOMMU_TRACE`: one line for each ioctl a program makes on uiommu's nodes and the files
//! they hand out, decoded from the uAPI's own tables ([`uiommu_uapi::catalog`]): the
//! command's name, the struct's fields as the program passed them, the result or the errno
//! by name, the fields the call changed, and the time it took, in strace's shape so that
//! the two read side by side:
//!
//! ```text
//! [pid 4242] ioctl(3, IOMMU_IOAS_MAP, {size=40, flags=0x7, ioas_id=1, __reserved=0, user_va=0x7f2a4c000000, length=0x100000, iova=0}) = 0 => {iova=0x1000000} <0.000011>
//! [pid 4242] ioctl(3, IOMMU_TEST_CMD(IOMMU_TEST_OP_ACCESS_RW), {…}) = -1 ENOENT (No such file or directory) <0.000002>
//! ```
//!
//! Opening one of uiommu's nodes is a line (`openat(AT_FDCWD, "/dev/iommu", O_RDWR) = 3`),
//! and so is a device file's `pread`/`pwrite`/`read`/`write`: the region by name, the offset
//! in it, and the value of a register-sized access (`pwrite64(5, BAR0+0x98, 8, [0x3]) = 8`).
//! The other calls on uiommu's files (`io`: a queue's records read and written, vectored
//! region I/O, `mmap`) and what the models raise (`events`: `--- IOMMU fault {…} ---`) are
//! lines too.
//!
//! The lines are [`uiommu_uapi::trace`]'s, which `uiommu trace` prints too for a program on
//! a real kernel; this module reads the caller's memory, times the call and writes the line.
//! The variable names a file the lines are appended to (`-` for stderr). The file is opened
//! once per process, above the numbers programs use, and each line is one `write`.

mod events;
mod io;

pub use events::dma_log;
pub use io::{file_io, mmap, mremap, munmap, positioned, vectored};

use crate::sys;
use libc::c_int;
use std::sync::OnceLock;
use std::time::Instant;
use uiommu_uapi::UserMemory;
use uiommu_uapi::catalog::FileKind;
use uiommu_uapi::trace::{self, Done, MAX_STRUCT};

/// The environment variable naming the trace's file (`-`: stderr).
pub const TRACE_ENV: &str = "UIOMMU_TRACE";

/// The fd lines go to, or `None` if tracing is off.
pub(crate) fn sink() -> Option<c_int> {
    static SINK: OnceLock<Option<c_int>> = OnceLock::new();
    *SINK.get_or_init(|| {
        let fd = open_sink()?;
        events::install(fd);
        Some(fd)
    })
}

/// The file [`TRACE_ENV`] names, opened for appending (stderr for `-`).
fn open_sink() -> Option<c_int> {
    let path = std::env::var_os(TRACE_ENV)?;
    if path == "-" {
        return Some(2);
    }
    let path = std::ffi::CString::new(path.into_encoded_bytes()).ok()?;
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND | libc::O_CLOEXEC;
    let fd = sys::open_raw(&path, flags, 0o644).ok()?;
    Some(sys::lift(fd))
}

/// Whether calls are traced.
pub fn enabled() -> bool {
    sink().is_some()
}

/// How a call ended, for its line: with this process's pid as the `[pid N] ` prefix every
/// line of this trace has (each process traces its own calls, so the pid tells the lines of
/// a program's processes apart), its result, and the time since `start`.
pub(crate) fn done(result: Result<i64, sys::Errno>, start: Instant) -> Done {
    Done {
        pid: Some(crate::process::pid()),
        result,
        took: start.elapsed(),
    }
}

/// Runs `call`, the ioctl `cmd` with argument `arg` on `fd`, a file of kind `file`, and
/// traces it if tracing is on: the struct is read from `mem` before and after.
pub fn ioctl(
    fd: c_int,
    file: FileKind,
    cmd: u32,
    arg: u64,
    mem: &dyn UserMemory,
    call: impl FnOnce() -> Result<c_int, sys::Errno>,
) -> Result<c_int, sys::Errno> {
    let Some(out) = sink() else {
        return call();
    };
    let size = trace::Ioctl::struct_size(file, cmd);
    let read = |buf: &mut [u8]| mem.read(arg, buf).is_ok();
    let mut before = [0u8; MAX_STRUCT];
    let readable = size > 0 && read(&mut before[..size]);
    let start = Instant::now();
    let r = call();
    let done = done(r.map(i64::from), start);
    let mut after = [0u8; MAX_STRUCT];
    let changed = readable && read(&mut after[..size]);
    let line = trace::Ioctl {
        fd,
        file,
        cmd,
        arg,
        before: readable.then_some(&before[..size]),
        after: changed.then_some(&after[..size]),
    }
    .line(&done);
    emit(out, line.as_bytes());
    r
}

/// Runs `call`, a `pread64` (`pwrite64` if `write`; `read`/`write` unless `positioned`) of
/// `count` bytes at `buf` and file offset `pos()` on the device file `fd`, and traces it if
/// tracing is on: the region by name and the offset in it, and for a register-sized access
/// (8 bytes at most) its value, little endian as the device sees it.
#[allow(clippy::too_many_arguments)]
pub fn region(
    fd: c_int,
    write: bool,
    positioned: bool,
    pos: impl FnOnce() -> u64,
    buf: u64,
    count: usize,
    mem: &dyn UserMemory,
    call: impl FnOnce() -> Result<isize, sys::Errno>,
) -> Result<isize, sys::Errno> {
    let Some(out) = sink() else {
        return call();
    };
    let value = |n: usize| {
        let mut b = [0u8; 8];
        (n <= 8 && mem.read(buf, &mut b[..n]).is_ok())
            .then(|| trace::RegionIo::value(&b, n))
            .flatten()
    };
    let written = if write { value(count) } else { None };
    let pos = pos();
    let start = Instant::now();
    let r = call();
    let done = done(r.map(|n| n as i64), start);
    let read = match (r, write) {
        (Ok(n), false) => usize::try_from(n).ok().and_then(value),
        _ => None,
    };
    let line = trace::RegionIo {
        fd,
        write,
        positioned,
        pos,
        count,
        written,
        read,
    }
    .line(&done);
    emit(out, line.as_bytes());
    r
}

/// Runs `call`, an open of one of uiommu's nodes (`/dev/iommu`, `/dev/vfio/vfio`, a group
/// or a device cdev) at `path` relative to `dirfd` (`None`: the cwd) with `flags`, and
/// traces it if tracing is on.
pub fn open(
    dirfd: Option<c_int>,
    path: &[u8],
    flags: c_int,
    call: impl FnOnce() -> Result<c_int, sys::Errno>,
) -> Result<c_int, sys::Errno> {
    let Some(out) = sink() else {
        return call();
    };
    let start = Instant::now();
    let r = call();
    let done = done(r.map(i64::from), start);
    let line = trace::Open {
        dirfd: dirfd.unwrap_or(trace::AT_FDCWD),
        path,
        flags,
    }
    .line(&done);
    emit(out, line.as_bytes());
    r
}

/// One `write` of the whole line (retried only if interrupted).
pub(crate) fn emit(fd: c_int, line: &[u8]) {
    let mut done = 0;
    while done < line.len() {
        match sys::write_raw(fd, &line[done..]) {
            Ok(0) => return,
            Ok(n) => done += n,
            Err(libc::EINTR) => continue,
            Err(_) => return,
        }
    }
}
