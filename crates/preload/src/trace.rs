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
//! and so is a device file's `pread`/`pwrite`: the region by name, the offset in it, and
//! the value of a register-sized access (`pwrite64(5, BAR0+0x98, 8, [0x3]) = 8`).
//!
//! The variable names a file the lines are appended to (`-` for stderr). The file is opened
//! once per process, above the numbers programs use, and each line is one `write`.

use crate::sys;
use libc::c_int;
use std::fmt::Write as _;
use std::sync::OnceLock;
use std::time::Instant;
use uiommu_uapi::UserMemory;
use uiommu_uapi::catalog::{self, FileKind};
use uiommu_uapi::layout::FieldLayout;
use uiommu_uapi::selftest::{IOMMU_TEST_CMD, TEST_CMD_PAYLOAD_OFFSET};

/// The environment variable naming the trace's file (`-`: stderr).
pub const TRACE_ENV: &str = "UIOMMU_TRACE";

/// Largest struct read for a line: every uAPI struct fits.
const MAX_STRUCT: usize = 256;

/// The fd lines go to, or `None` if tracing is off.
fn sink() -> Option<c_int> {
    static SINK: OnceLock<Option<c_int>> = OnceLock::new();
    *SINK.get_or_init(|| {
        let path = std::env::var_os(TRACE_ENV)?;
        if path == "-" {
            return Some(2);
        }
        let path = std::ffi::CString::new(path.into_encoded_bytes()).ok()?;
        let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND | libc::O_CLOEXEC;
        let fd = sys::open_raw(&path, flags, 0o644).ok()?;
        Some(sys::lift(fd))
    })
}

/// Whether calls are traced.
pub fn enabled() -> bool {
    sink().is_some()
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
    let def = catalog::ioctl(file, cmd);
    let layout = def.and_then(|d| d.c_struct).and_then(catalog::layout);
    let size = layout.map_or(0, |l| l.size.min(MAX_STRUCT));
    let read = |buf: &mut [u8]| mem.read(arg, buf).is_ok();
    let mut before = [0u8; MAX_STRUCT];
    let readable = size > 0 && read(&mut before[..size]);
    let start = Instant::now();
    let r = call();
    let took = start.elapsed().as_secs_f64();
    let mut after = [0u8; MAX_STRUCT];
    let changed = readable && read(&mut after[..size]);
    let mut line = format!("[pid {}] ioctl({fd}, ", crate::process::pid());
    let fields = layout.map(|l| fields(cmd, l.fields, &before[..size]));
    let ioctl_name = def.map(|d| d.name);
    match def {
        Some(d) if cmd == IOMMU_TEST_CMD => {
            let op = u32::from_ne_bytes(before[4..8].try_into().unwrap_or_default());
            let name = catalog::test_op_name(op).unwrap_or("?");
            let _ = write!(line, "{}({name})", d.name);
        }
        Some(d) => line += d.name,
        None => {
            let _ = write!(line, "{cmd:#x}");
        }
    }
    let all = fields.as_deref().unwrap_or_default();
    if readable {
        let _ = write!(line, ", {{{}}})", show(ioctl_name, all, &before, |_| true));
    } else {
        let _ = write!(line, ", {arg:#x})");
    }
    outcome(&mut line, r.map(i64::from));
    if changed {
        let diff = show(ioctl_name, all, &after, |f| {
            bytes(&before, f) != bytes(&after, f)
        });
        if !diff.is_empty() {
            let _ = write!(line, " => {{{diff}}}");
        }
    }
    let _ = writeln!(line, " <{took:.6}>");
    emit(out, line.as_bytes());
    r
}

/// Runs `call`, a `pread64` (`pwrite64` if `write`) of `count` bytes at `buf` and file
/// offset `pos` on the device file `fd`, and traces it if tracing is on: the region by name
/// and the offset in it, and for a register-sized access (8 bytes at most) its value, little
/// endian as the device sees it.
pub fn region(
    fd: c_int,
    write: bool,
    pos: u64,
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
        (n <= 8 && mem.read(buf, &mut b[..n]).is_ok()).then(|| u64::from_le_bytes(b))
    };
    let written = if write { value(count) } else { None };
    let start = Instant::now();
    let r = call();
    let took = start.elapsed().as_secs_f64();
    let index = pos >> uiommu_abi::REGION_SHIFT;
    let offset = pos & ((1 << uiommu_abi::REGION_SHIFT) - 1);
    let name = match index {
        0..=5 => format!("BAR{index}"),
        6 => "ROM".into(),
        7 => "CONFIG".into(),
        8 => "VGA".into(),
        _ => format!("REGION{index}"),
    };
    let call_name = if write { "pwrite64" } else { "pread64" };
    let mut line = format!(
        "[pid {}] {call_name}({fd}, {name}+{offset:#x}, {count}",
        crate::process::pid()
    );
    if let Some(v) = written {
        let _ = write!(line, ", [{v:#x}]");
    }
    line += ")";
    outcome(&mut line, r.map(|n| n as i64));
    if let (Ok(n), false) = (r, write) {
        if let Some(v) = usize::try_from(n).ok().and_then(value) {
            let _ = write!(line, " => [{v:#x}]");
        }
    }
    let _ = writeln!(line, " <{took:.6}>");
    emit(out, line.as_bytes());
    r
}

/// Runs `call`, an open of one of uiommu's nodes (`/dev/iommu`, `/dev/vfio/vfio`, a group
/// or a device cdev) at `path` with `flags`, and traces it if tracing is on.
pub fn open(
    path: &[u8],
    flags: c_int,
    call: impl FnOnce() -> Result<c_int, sys::Errno>,
) -> Result<c_int, sys::Errno> {
    let Some(out) = sink() else {
        return call();
    };
    let start = Instant::now();
    let r = call();
    let took = start.elapsed().as_secs_f64();
    let mut line = format!(
        "[pid {}] openat(AT_FDCWD, {:?}, {})",
        crate::process::pid(),
        String::from_utf8_lossy(path),
        open_flags(flags)
    );
    outcome(&mut line, r.map(i64::from));
    let _ = writeln!(line, " <{took:.6}>");
    emit(out, line.as_bytes());
    r
}

/// `open` flags as strace shows them: the access mode, then the other bits by name.
fn open_flags(flags: c_int) -> String {
    let mut out = vec![
        match flags & libc::O_ACCMODE {
            libc::O_RDONLY => "O_RDONLY",
            libc::O_WRONLY => "O_WRONLY",
            _ => "O_RDWR",
        }
        .to_string(),
    ];
    let mut rest = flags & !libc::O_ACCMODE;
    for (bit, name) in [
        (libc::O_CLOEXEC, "O_CLOEXEC"),
        (libc::O_NONBLOCK, "O_NONBLOCK"),
        (libc::O_NOCTTY, "O_NOCTTY"),
        (libc::O_PATH, "O_PATH"),
        (libc::O_LARGEFILE, "O_LARGEFILE"),
    ] {
        if bit != 0 && rest & bit == bit {
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
fn outcome(line: &mut String, r: Result<i64, sys::Errno>) {
    match r {
        Ok(v) => {
            let _ = write!(line, " = {v}");
        }
        Err(e) => {
            let _ = write!(line, " = -1 {}", uiommu_uapi::Errno(e).describe());
        }
    }
}

/// The fields of the struct `cmd` takes; for `IOMMU_TEST_CMD`, the header's and those of
/// the union member its `op` selects (at their offsets in the whole struct).
fn fields(cmd: u32, all: &'static [FieldLayout], bytes: &[u8]) -> Vec<FieldLayout> {
    if cmd != IOMMU_TEST_CMD || bytes.len() < 8 {
        return all.to_vec();
    }
    let op = u32::from_ne_bytes(bytes[4..8].try_into().unwrap_or_default());
    let mut out: Vec<FieldLayout> = all
        .iter()
        .filter(|f| f.offset < TEST_CMD_PAYLOAD_OFFSET)
        .copied()
        .collect();
    if let Some(member) = catalog::test_op_fields(op) {
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

/// One `write` of the whole line (retried only if interrupted).
fn emit(fd: c_int, line: &[u8]) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use uiommu_uapi::iommufd::IOMMU_IOAS_MAP;

    #[test]
    fn fields_show_as_numbers_and_only_the_changed_ones_after() {
        let l = catalog::layout("iommu_ioas_map").unwrap();
        let mut s = [0u8; 40];
        s[0..4].copy_from_slice(&40u32.to_ne_bytes());
        s[4..8].copy_from_slice(&7u32.to_ne_bytes());
        s[32..40].copy_from_slice(&0x100_0000u64.to_ne_bytes());
        let f = fields(IOMMU_IOAS_MAP, l.fields, &s);
        let text = show(None, &f, &s, |_| true);
        assert!(text.starts_with("size=40, flags=7, ioas_id=0"), "{text}");
        let named = show(Some("IOMMU_IOAS_MAP"), &f, &s, |_| true);
        assert!(
            named.starts_with(
                "size=40, flags=IOMMU_IOAS_MAP_FIXED_IOVA|IOMMU_IOAS_MAP_WRITEABLE|\
                 IOMMU_IOAS_MAP_READABLE, ioas_id=0"
            ),
            "{named}"
        );
        assert!(text.ends_with("iova=0x1000000"), "{text}");
        let mut t = s;
        t[32..40].copy_from_slice(&0x200_0000u64.to_ne_bytes());
        assert_eq!(
            show(None, &f, &t, |x| bytes(&s, x) != bytes(&t, x)),
            "iova=0x2000000"
        );
    }

    #[test]
    fn a_test_command_shows_its_operation_s_member() {
        use uiommu_uapi::selftest::IOMMU_TEST_OP_ACCESS_RW;
        let l = catalog::layout("iommu_test_cmd").unwrap();
        let mut s = vec![0u8; l.size];
        s[4..8].copy_from_slice(&IOMMU_TEST_OP_ACCESS_RW.to_ne_bytes());
        let names: Vec<_> = fields(IOMMU_TEST_CMD, l.fields, &s)
            .iter()
            .map(|f| f.c_path)
            .collect();
        assert!(names.contains(&"op"), "{names:?}");
        assert!(names.contains(&"access_rw.uptr"), "{names:?}");
        assert!(
            !names.iter().any(|n| n.starts_with("mock_domain")),
            "{names:?}"
        );
    }
}
