//! One strace-shaped line per call on an IOMMU/VFIO file, decoded from [`crate::catalog`]:
//! the one formatter behind both of uiommu's traces, the preload library's
//! (`uiommu exec --trace`, which sees the calls from inside the program) and the ptrace
//! tracer's (`uiommu trace`, which sees them from outside on a real kernel), so that the same
//! call prints the same line whichever saw it.
//!
//! ```text
//! [pid 4242] ioctl(3, IOMMU_IOAS_MAP, {size=40, flags=0x7, ioas_id=1, __reserved=0, user_va=0x7f2a4c000000, length=0x100000, iova=0}) = 0 => {iova=0x1000000} <0.000011>
//! [pid 4242] openat(AT_FDCWD, "/dev/iommu", O_RDWR) = -1 ENOENT (No such file or directory) <0.000004>
//! [pid 4242] pwrite64(5, BAR0+0x98, 8, [0x3]) = 8 <0.000002>
//! ```
//!
//! The callers read the memory (the program's own, or the tracee's by `process_vm_readv`)
//! and time the call; this module only turns what they saw into text. Results are the
//! system call's: a value, or a positive errno shown as strace shows it (`-1 ENAME (text)`,
//! [`Errno::describe`]).

use crate::Errno;
use crate::catalog::{self, FileKind};
use crate::layout::FieldLayout;
use crate::selftest::{IOMMU_TEST_CMD, TEST_CMD_PAYLOAD_OFFSET};
use std::fmt::Write as _;
use std::time::Duration;

/// Largest struct read for a line: every uAPI struct fits.
pub const MAX_STRUCT: usize = 256;

/// `AT_FDCWD` (`include/uapi/linux/fcntl.h`).
pub const AT_FDCWD: i32 = -100;

/// A vfio-pci region's offset in the device file is its index shifted by this
/// (`VFIO_PCI_OFFSET_SHIFT`, `drivers/vfio/pci/vfio_pci_priv.h`).
pub const VFIO_PCI_OFFSET_SHIFT: u32 = 40;

/// What every line ends with: who made the call, its result and how long it took.
#[derive(Debug, Clone, Copy)]
pub struct Done {
    /// The caller's pid, shown as the `[pid N] ` prefix; `None` for no prefix.
    pub pid: Option<u32>,
    /// The system call's value, or its errno (positive).
    pub result: Result<i64, i32>,
    /// Entry to exit.
    pub took: Duration,
}

/// An `ioctl(fd, cmd, arg)` on a file of kind `file`, with the struct `arg` points at as it
/// was before the call and after it (each `None` if it could not be read).
#[derive(Debug, Clone, Copy)]
pub struct Ioctl<'a> {
    pub fd: i32,
    pub file: FileKind,
    /// The command as the kernel sees it (`unsigned int cmd`: a wider request's upper bits
    /// dropped).
    pub cmd: u32,
    pub arg: u64,
    pub before: Option<&'a [u8]>,
    pub after: Option<&'a [u8]>,
}

impl Ioctl<'_> {
    /// How many bytes of `arg` a line shows for `cmd` on `file`: the catalog's struct, at
    /// most [`MAX_STRUCT`]; 0 when the argument is a value.
    pub fn struct_size(file: FileKind, cmd: u32) -> usize {
        catalog::ioctl(file, cmd)
            .and_then(|d| d.c_struct)
            .and_then(catalog::layout)
            .map_or(0, |l| l.size.min(MAX_STRUCT))
    }

    /// The line: the command by name (a selftest command with its operation's), the struct's
    /// fields as passed, the outcome, and the fields the call changed.
    pub fn line(&self, done: &Done) -> String {
        let def = catalog::ioctl(self.file, self.cmd);
        let layout = def.and_then(|d| d.c_struct).and_then(catalog::layout);
        let mut line = format!("{}ioctl({}, ", prefix(done), self.fd);
        let before = self.before.filter(|b| layout.is_some() && !b.is_empty());
        let all = match (layout, before) {
            (Some(l), Some(b)) => fields(self.cmd, l.fields, b),
            _ => Vec::new(),
        };
        let ioctl_name = def.map(|d| d.name);
        match def {
            Some(d) if self.cmd == IOMMU_TEST_CMD => {
                let op = before.map_or(0, test_op);
                let name = catalog::test_op_name(op).unwrap_or("?");
                let _ = write!(line, "{}({name})", d.name);
            }
            Some(d) => line += d.name,
            None => {
                let _ = write!(line, "{:#x}", self.cmd);
            }
        }
        match before {
            Some(b) => {
                let _ = write!(line, ", {{{}}})", show(ioctl_name, &all, b, |_| true));
            }
            None => {
                let _ = write!(line, ", {:#x})", self.arg);
            }
        }
        outcome(&mut line, done.result);
        if let (Some(b), Some(a)) = (before, self.after) {
            let diff = show(ioctl_name, &all, a, |f| bytes(b, f) != bytes(a, f));
            if !diff.is_empty() {
                let _ = write!(line, " => {{{diff}}}");
            }
        }
        finish(line, done)
    }
}

/// A `pread64`/`pwrite64` of `count` bytes at file offset `pos` of a VFIO device file (or a
/// `read`/`write` at the file position `pos`): the region by name and the offset in it
/// (vfio-pci's `VFIO_PCI_OFFSET_SHIFT` layout), and for a register-sized access its value,
/// little endian as the device sees it.
#[derive(Debug, Clone, Copy)]
pub struct RegionIo {
    pub fd: i32,
    pub write: bool,
    /// `pread64`/`pwrite64`; `false`: `read`/`write` at the file position.
    pub positioned: bool,
    pub pos: u64,
    pub count: usize,
    /// The value written (a write of 8 bytes at most whose buffer could be read).
    pub written: Option<u64>,
    /// The value read (a read of 8 bytes at most that succeeded).
    pub read: Option<u64>,
}

impl RegionIo {
    /// The line.
    pub fn line(&self, done: &Done) -> String {
        let call = match (self.positioned, self.write) {
            (true, true) => "pwrite64",
            (true, false) => "pread64",
            (false, true) => "write",
            (false, false) => "read",
        };
        let name = region(self.pos);
        let mut line = format!("{}{call}({}, {name}, {}", prefix(done), self.fd, self.count);
        if let Some(v) = self.written {
            let _ = write!(line, ", [{v:#x}]");
        }
        line += ")";
        outcome(&mut line, done.result);
        if let Some(v) = self.read {
            let _ = write!(line, " => [{v:#x}]");
        }
        finish(line, done)
    }

    /// `buf`'s first `count` bytes as a register value, if `count` is one (8 at most).
    pub fn value(buf: &[u8], count: usize) -> Option<u64> {
        let mut w = [0u8; 8];
        let b = buf.get(..count).filter(|_| count <= 8)?;
        w[..count].copy_from_slice(b);
        Some(u64::from_le_bytes(w))
    }
}

/// An open of an IOMMU/VFIO node, shown as `openat(DIRFD, "PATH", FLAGS)`.
#[derive(Debug, Clone, Copy)]
pub struct Open<'a> {
    /// The directory fd ([`AT_FDCWD`] for the cwd, as `open(2)` is).
    pub dirfd: i32,
    pub path: &'a [u8],
    pub flags: i32,
}

impl Open<'_> {
    /// The line.
    pub fn line(&self, done: &Done) -> String {
        let dir = match self.dirfd {
            AT_FDCWD => "AT_FDCWD".to_string(),
            fd => fd.to_string(),
        };
        let mut line = format!(
            "{}openat({dir}, {:?}, {})",
            prefix(done),
            String::from_utf8_lossy(self.path),
            open_flags(self.flags)
        );
        outcome(&mut line, done.result);
        finish(line, done)
    }
}

/// Any other call on a traced file, its arguments already shown by the caller:
/// `NAME(ARGS) = RESULT <TIME>`, the result in hex if `hex` (an address, as `mmap`'s).
pub fn other(name: &str, args: &str, hex: bool, done: &Done) -> String {
    let mut line = format!("{}{name}({args})", prefix(done));
    match done.result {
        Ok(v) if hex => {
            let _ = write!(line, " = {v:#x}");
        }
        r => outcome(&mut line, r),
    }
    finish(line, done)
}

fn prefix(done: &Done) -> String {
    done.pid.map_or_else(String::new, |p| format!("[pid {p}] "))
}

fn finish(mut line: String, done: &Done) -> String {
    let _ = writeln!(line, " <{:.6}>", done.took.as_secs_f64());
    line
}

/// `open(2)` flags as strace shows them: the access mode, then the other bits by name
/// (`include/uapi/asm-generic/fcntl.h`, x86's values), unnamed bits in hex.
pub fn open_flags(flags: i32) -> String {
    const O_ACCMODE: i32 = 0o3;
    let mut out = vec![
        match flags & O_ACCMODE {
            0 => "O_RDONLY",
            1 => "O_WRONLY",
            _ => "O_RDWR",
        }
        .to_string(),
    ];
    let mut rest = flags & !O_ACCMODE;
    for (bit, name) in [
        (0o2000000, "O_CLOEXEC"),
        (0o4000, "O_NONBLOCK"),
        (0o400, "O_NOCTTY"),
        (0o10000000, "O_PATH"),
        (0o100000, "O_LARGEFILE"),
    ] {
        if rest & bit == bit {
            out.push(name.into());
            rest &= !bit;
        }
    }
    if rest != 0 {
        out.push(format!("{rest:#x}"));
    }
    out.join("|")
}

/// ` = VALUE`, or ` = -1 ENAME (text)`.
fn outcome(line: &mut String, r: Result<i64, i32>) {
    let _ = match r {
        Ok(v) => write!(line, " = {v}"),
        Err(e) => write!(line, " = -1 {}", Errno(e).describe()),
    };
}

/// The `op` of an `IOMMU_TEST_CMD` struct.
fn test_op(s: &[u8]) -> u32 {
    s.get(4..8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u32::from_ne_bytes)
}

/// The fields of the struct `cmd` takes; for `IOMMU_TEST_CMD`, the header's and those of
/// the union member its `op` selects (at their offsets in the whole struct).
fn fields(cmd: u32, all: &'static [FieldLayout], bytes: &[u8]) -> Vec<FieldLayout> {
    if cmd != IOMMU_TEST_CMD || bytes.len() < 8 {
        return all.to_vec();
    }
    let mut out: Vec<FieldLayout> = all
        .iter()
        .filter(|f| f.offset < TEST_CMD_PAYLOAD_OFFSET)
        .copied()
        .collect();
    if let Some(member) = catalog::test_op_fields(test_op(bytes)) {
        out.extend(member.iter().map(|f| FieldLayout {
            offset: f.offset + TEST_CMD_PAYLOAD_OFFSET,
            ..*f
        }));
    }
    out
}

/// The bytes of field `f` in `s` (empty past its end).
fn bytes<'a>(s: &'a [u8], f: &FieldLayout) -> &'a [u8] {
    s.get(f.offset..f.offset + f.size).unwrap_or_default()
}

/// `name=value` for each field `keep` admits: flags of ioctl `ioctl` by the names of their
/// bits where the uAPI names them ([`catalog::flag_names`]); other fields of 1 to 8 bytes as a
/// number (decimal below 1024, as sizes, IDs and counts are; hex above, as addresses and
/// lengths are); longer ones as hex bytes.
fn show(
    ioctl: Option<&str>,
    fields: &[FieldLayout],
    s: &[u8],
    keep: impl Fn(&FieldLayout) -> bool,
) -> String {
    let mut out = String::new();
    for f in fields.iter().filter(|f| keep(f)) {
        let b = bytes(s, f);
        if b.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out += ", ";
        }
        let name = f.c_path.rsplit('.').next().unwrap_or(f.c_path);
        if b.len() <= 8 {
            let mut w = [0u8; 8];
            w[..b.len()].copy_from_slice(b);
            let v = u64::from_ne_bytes(w);
            if let Some(bits) = ioctl.and_then(|i| catalog::flag_names(i, f.c_path, v)) {
                let _ = write!(out, "{name}={bits}");
                continue;
            }
            let _ = if v < 1024 {
                write!(out, "{name}={v}")
            } else {
                write!(out, "{name}={v:#x}")
            };
        } else {
            let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
            let _ = write!(out, "{name}=0x{hex}");
        }
    }
    out
}

mod io;
mod mm;
pub use io::*;
pub use mm::*;

#[cfg(test)]
mod tests;
