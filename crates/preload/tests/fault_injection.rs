//! `uiommu exec --fault-injection` through the preload library, loaded for real: a thread's
//! `fail-nth` file fails the Nth injection point, reads back what is left, and debugfs shows
//! the knobs the kernel selftests set.
//!
//! As in `preload.rs`, this binary runs itself again with `LD_PRELOAD` and the child performs one
//! scenario; a failed check panics in the child and fails the test with its output.
#![allow(unsafe_code)]

mod common;

use std::ffi::{CStr, CString};
use uiommu_uapi::iommufd::{IOMMU_IOAS_ALLOC, IommuIoasAlloc};

const SCENARIO_ENV: &str = "UIOMMU_PRELOAD_FAULT_SCENARIO";
const ON: &[(&str, &str)] = &[("UIOMMU_FAULT_INJECTION", "1")];

#[test]
fn scenario_entry() {
    let Ok(name) = std::env::var(SCENARIO_ENV) else {
        return;
    };
    match name.as_str() {
        "fail_nth" => fail_nth(),
        "debugfs" => debugfs(),
        other => panic!("unknown scenario {other}"),
    }
    println!("scenario ok");
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap()
}

fn fail_nth_path() -> CString {
    // SAFETY: no arguments.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) };
    CString::new(format!("/proc/self/task/{tid}/fail-nth")).unwrap()
}

fn pread_text(fd: i32) -> String {
    let mut buf = [0u8; 32];
    // SAFETY: `buf` is writable for its length.
    let n = unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
    assert!(n >= 0, "pread: {}", errno());
    String::from_utf8_lossy(&buf[..n as usize]).into_owned()
}

fn pwrite_text(fd: i32, text: &str) -> Result<isize, i32> {
    // SAFETY: `text` is readable for its length.
    let n = unsafe { libc::pwrite(fd, text.as_ptr().cast(), text.len(), 0) };
    if n < 0 { Err(errno()) } else { Ok(n) }
}

fn ioas_alloc(fd: i32) -> Result<u32, i32> {
    let mut cmd = IommuIoasAlloc {
        size: size_of::<IommuIoasAlloc>() as u32,
        ..Default::default()
    };
    // SAFETY: `cmd` is a valid `iommu_ioas_alloc` that outlives the call.
    let rc = unsafe { libc::ioctl(fd, IOMMU_IOAS_ALLOC as _, &mut cmd) };
    if rc < 0 {
        Err(errno())
    } else {
        Ok(cmd.out_ioas_id)
    }
}

fn fail_nth() {
    let path = fail_nth_path();
    // SAFETY: the paths are NUL-terminated.
    let nth = unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    assert!(nth >= 0, "open fail-nth: {}", errno());
    // SAFETY: as above.
    let iommu = unsafe { libc::open(c"/dev/iommu".as_ptr(), libc::O_RDWR) };
    assert!(iommu >= 0);
    assert_eq!(pread_text(nth), "0\n");
    // pread of the device node: it is positionable but has no read method (EINVAL); a
    // negative position is EINVAL first (`ksys_pread64`).
    let mut byte = [0u8; 1];
    // SAFETY: `byte` is writable for its length.
    let r = unsafe { libc::pread(iommu, byte.as_mut_ptr().cast(), 1, 0) };
    assert_eq!((r, errno()), (-1, libc::EINVAL));
    // SAFETY: as above.
    let r = unsafe { libc::pread(nth, byte.as_mut_ptr().cast(), 1, -1) };
    assert_eq!((r, errno()), (-1, libc::EINVAL));
    // The first point fails, and the count shows it was reached.
    assert_eq!(pwrite_text(nth, "1"), Ok(1));
    assert_eq!(ioas_alloc(iommu), Err(libc::ENOMEM));
    assert_eq!(pread_text(nth), "0\n");
    // A later point: the allocation passes its first one and the count shows one left over.
    assert_eq!(pwrite_text(nth, "2\n"), Ok(2));
    assert_eq!(ioas_alloc(iommu), Ok(1));
    assert_eq!(pread_text(nth), "1\n");
    assert_eq!(pwrite_text(nth, "0"), Ok(1));
    assert_eq!(ioas_alloc(iommu), Ok(2));
    // kstrtouint's rules; a failed write changes nothing.
    assert_eq!(pwrite_text(nth, "0x10"), Ok(4));
    assert_eq!(pread_text(nth), "16\n");
    assert_eq!(pwrite_text(nth, "-1"), Err(libc::EINVAL));
    assert_eq!(pwrite_text(nth, "x"), Err(libc::EINVAL));
    assert_eq!(pread_text(nth), "16\n");
    // Opening /dev/iommu is an injection point too (the context's allocation).
    assert_eq!(pwrite_text(nth, "1"), Ok(1));
    // SAFETY: as above.
    let r = unsafe { libc::open(c"/dev/iommu".as_ptr(), libc::O_RDWR) };
    assert_eq!((r, errno()), (-1, libc::ENOMEM));
    // read() goes through the file position, as on the kernel.
    let mut buf = [0u8; 8];
    // SAFETY: `buf` is writable for its length.
    let n = unsafe { libc::read(nth, buf.as_mut_ptr().cast(), buf.len()) };
    assert_eq!(&buf[..n as usize], b"0\n");
    // SAFETY: as above.
    let n = unsafe { libc::read(nth, buf.as_mut_ptr().cast(), buf.len()) };
    assert_eq!(n, 0, "at the end of the text");
}

fn debugfs() {
    // SAFETY: the path is NUL-terminated.
    let dir = unsafe { libc::opendir(c"/sys/kernel/debug/".as_ptr()) };
    assert!(!dir.is_null(), "opendir: {}", errno());
    // SAFETY: `dir` is an open directory stream.
    let dfd = unsafe { libc::dirfd(dir) };
    let knob: &CStr = c"failslab/ignore-gfp-wait";
    // SAFETY: `knob` is NUL-terminated.
    let fd = unsafe { libc::openat(dfd, knob.as_ptr(), libc::O_WRONLY) };
    assert!(fd >= 0, "openat {knob:?}: {}", errno());
    // SAFETY: the byte is readable.
    assert_eq!(unsafe { libc::write(fd, c"N".as_ptr().cast(), 1) }, 1);
    // SAFETY: `fd` is ours to close.
    unsafe { libc::close(fd) };
    // SAFETY: `dir` is ours to close.
    unsafe { libc::closedir(dir) };
    let made = std::env::temp_dir().join(format!("uiommu-debugfs-{}", std::process::id()));
    std::fs::remove_dir_all(made).unwrap();
}

#[test]
fn fail_nth_fails_the_nth_point() {
    common::run_with(SCENARIO_ENV, "fail_nth", ON);
}

#[test]
fn debugfs_shows_the_knobs() {
    common::run_with(SCENARIO_ENV, "debugfs", ON);
}
