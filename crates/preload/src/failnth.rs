//! Fault injection (`uiommu exec --fault-injection`): each thread's `fail-nth` file and the
//! debugfs knobs programs set before using it (`Documentation/fault-injection/`).
//!
//! A thread's `/proc/self/task/<tid>/fail-nth` (also `/proc/<pid>/task/<tid>/fail-nth` and
//! `/proc/thread-self/fail-nth`) becomes a virtual file over uiommu's own counter
//! ([`uiommu_abi::host::fail_nth`]): writing `N` makes the `N`th injection point the thread passes
//! fail, reading gives what is left (`%u\n`, `proc_fail_nth_read`). Only the calling thread's
//! own file can be written (`EPERM` for another's), since the counter is per thread in this
//! process. `opendir("/sys/kernel/debug")` opens a directory with the `failslab` and
//! `fail_page_alloc` knobs (`ignore-gfp-wait`, `ignore-gfp-highmem`, `verbose`), which
//! accept writes and change nothing: uiommu's points fail however the allocation is made.
//!
//! The stand-in fd is always open for reading and writing, whatever mode the program asked
//! for (the kernel would refuse a write through a read-only fd with `EBADF`).
//!
//! Without the option none of this is touched and the real files answer.

use crate::sys::{self, Errno};
use libc::c_int;
use std::path::PathBuf;
use std::sync::OnceLock;

/// The environment variable that turns fault injection on: the directory to show as debugfs
/// (the launcher makes it and removes it after the program), or `1` for one made here.
pub const ENV: &str = "UIOMMU_FAULT_INJECTION";

/// Whether fault injection is on for this process.
pub fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os(ENV).is_some_and(|v| !v.is_empty()))
}

/// The thread a `fail-nth` path names, if `path` is one (absolute, as programs build it).
pub fn task_of(path: &[u8]) -> Option<i32> {
    let path = std::str::from_utf8(path).ok()?;
    let parts: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    match parts.as_slice() {
        ["proc", "thread-self", "fail-nth"] => Some(sys::gettid()),
        ["proc", pid, "task", tid, "fail-nth"] => {
            let ours = *pid == "self" || pid.parse::<i32>().ok() == Some(std::process::id() as i32);
            ours.then(|| tid.parse().ok()).flatten()
        }
        _ => None,
    }
}

/// The file's content for thread `tid` (`proc_fail_nth_read`).
fn content(tid: i32) -> Result<String, Errno> {
    if tid != sys::gettid() {
        return Err(libc::EPERM);
    }
    Ok(format!("{}\n", uiommu_abi::host::fail_nth::get()))
}

/// `pread` at `pos` (`simple_read_from_buffer`).
pub fn read(tid: i32, pos: u64, buf: &mut [u8]) -> Result<usize, Errno> {
    let text = content(tid)?;
    let bytes = text.as_bytes();
    let start = usize::try_from(pos).unwrap_or(usize::MAX).min(bytes.len());
    let n = buf.len().min(bytes.len() - start);
    buf[..n].copy_from_slice(&bytes[start..start + n]);
    Ok(n)
}

/// `pwrite` (`proc_fail_nth_write`): an unsigned number as `kstrtouint` reads it (base
/// prefix, one trailing newline), else `EINVAL`; the whole write is consumed.
pub fn write(tid: i32, data: &[u8]) -> Result<usize, Errno> {
    let n = parse_uint(data).ok_or(libc::EINVAL)?;
    if tid != sys::gettid() {
        return Err(libc::EPERM);
    }
    uiommu_abi::host::fail_nth::set(n);
    Ok(data.len())
}

/// `kstrtouint(s, 0)`: `0x`/`0` prefixes select hex/octal; a single trailing `\n` is allowed.
fn parse_uint(data: &[u8]) -> Option<u32> {
    let s = std::str::from_utf8(data).ok()?;
    let s = s.strip_suffix('\n').unwrap_or(s);
    let s = s.strip_prefix('+').unwrap_or(s);
    let (digits, radix) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (h, 16)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    u32::from_str_radix(digits, radix).ok()
}

/// A new fd for thread `tid`'s file: a memfd standing for it, close-on-exec as asked.
pub fn open(flags: c_int) -> Result<c_int, Errno> {
    let fd = sys::memfd(c"uiommu:fail-nth")?;
    if let Err(e) = sys::set_cloexec(fd, flags & libc::O_CLOEXEC != 0) {
        sys::close_raw(fd);
        return Err(e);
    }
    Ok(fd)
}

/// Whether `path` names the debugfs root a program looks for the knobs in.
pub fn is_debugfs(path: &[u8]) -> bool {
    let parts: Vec<&[u8]> = path
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .collect();
    path.first() == Some(&b'/') && parts == [&b"sys"[..], b"kernel", b"debug"]
}

/// The directory standing for debugfs: the launcher's, or one made once per process
/// (`uiommu-debugfs-PID` in the temporary directory).
pub fn debugfs_dir() -> Option<&'static PathBuf> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let given = std::env::var_os(ENV).filter(|v| v != "1");
        let dir = given.map(PathBuf::from).unwrap_or_else(|| {
            std::env::temp_dir().join(format!("uiommu-debugfs-{}", std::process::id()))
        });
        make_knobs(&dir).ok()?;
        Some(dir)
    })
    .as_ref()
}

/// Creates the knobs' files under `dir` (kept if they exist).
pub fn make_knobs(dir: &std::path::Path) -> std::io::Result<()> {
    for knob in KNOBS {
        let file = dir.join(knob);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)?;
        }
        if !file.exists() {
            std::fs::write(&file, "N\n")?;
        }
    }
    Ok(())
}

/// The debugfs files the kernel selftests write before injecting.
const KNOBS: [&str; 5] = [
    "failslab/ignore-gfp-wait",
    "failslab/verbose",
    "fail_page_alloc/ignore-gfp-wait",
    "fail_page_alloc/ignore-gfp-highmem",
    "fail_page_alloc/verbose",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_kstrtouint_reads_them() {
        assert_eq!(parse_uint(b"12"), Some(12));
        assert_eq!(parse_uint(b"12\n"), Some(12));
        assert_eq!(parse_uint(b"0x10"), Some(16));
        assert_eq!(parse_uint(b"010"), Some(8));
        assert_eq!(parse_uint(b"0"), Some(0));
        for bad in [
            &b""[..],
            b"\n",
            b"-1",
            b"1x",
            b"12\n\n",
            b"4294967296",
            b"0x",
        ] {
            assert_eq!(parse_uint(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn paths() {
        let me = std::process::id();
        assert_eq!(task_of(b"/proc/self/task/42/fail-nth"), Some(42));
        assert_eq!(
            task_of(format!("/proc/{me}/task/7/fail-nth").as_bytes()),
            Some(7)
        );
        assert_eq!(
            task_of(b"/proc/1/task/1/fail-nth").filter(|_| me != 1),
            None
        );
        assert_eq!(task_of(b"/proc/self/task/x/fail-nth"), None);
        assert_eq!(task_of(b"/proc/self/fail-nth"), None);
        assert!(is_debugfs(b"/sys/kernel/debug/"));
        assert!(!is_debugfs(b"sys/kernel/debug"));
    }
}
