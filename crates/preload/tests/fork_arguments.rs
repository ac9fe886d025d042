//! A forked child's `ioctl` arguments, which travel to the process that owns the context in a
//! page both map (see the library's `share::window`): read where the child's struct is, written
//! back where it is writable, and `EFAULT` for a struct that is not all there, as the kernel
//! answers a `copy_from_user` or `copy_to_user` that faults.
//!
//! As in `preload.rs`, this binary runs itself again with `LD_PRELOAD` and the child performs
//! the scenario; a failed check panics in the child and fails the test with its output.
#![allow(unsafe_code)]

mod common;

use uiommu_uapi::iommufd::{IOMMU_DESTROY, IOMMU_IOAS_ALLOC, IommuDestroy, IommuIoasAlloc};
use zerocopy::{FromZeros, IntoBytes};

const SCENARIO_ENV: &str = "UIOMMU_PRELOAD_FORK_ARGUMENTS_SCENARIO";
const PAGE: usize = 4096;

#[test]
fn scenario_entry() {
    let Ok(name) = std::env::var(SCENARIO_ENV) else {
        return;
    };
    match name.as_str() {
        "arguments" => arguments(),
        other => panic!("unknown scenario {other}"),
    }
    println!("scenario ok");
}

#[test]
fn a_forked_childs_arguments_are_read_and_written_as_in_its_memory() {
    common::run(SCENARIO_ENV, "arguments");
}

/// `ioctl(fd, cmd, at)`: the errno on failure.
fn ioctl_at(fd: i32, cmd: u32, at: usize) -> Result<(), i32> {
    // SAFETY: `at` points at a struct of the command's layout, or at memory whose faults the
    // library answers with EFAULT; the scenario checks which.
    let rc = unsafe { libc::ioctl(fd, cmd as libc::c_ulong, at) };
    if rc < 0 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap())
    } else {
        Ok(())
    }
}

/// `mprotect` of the page at `at`.
fn protect(at: usize, prot: i32) {
    // SAFETY: a page of a mapping this scenario made and alone uses.
    let rc = unsafe { libc::mprotect(at as *mut libc::c_void, PAGE, prot) };
    assert_eq!(rc, 0);
}

/// Two fresh pages, the second with protection `second`.
fn two_pages(second: i32) -> usize {
    // SAFETY: a new private anonymous mapping at an address the kernel chooses.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            2 * PAGE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(p, libc::MAP_FAILED);
    protect(p as usize + PAGE, second);
    p as usize
}

/// The first `room` bytes of an `IOMMU_IOAS_ALLOC` struct saying `size`, written at `at`.
fn put_alloc(at: usize, size: u32, room: usize) {
    let cmd = IommuIoasAlloc {
        size,
        ..Default::default()
    };
    let bytes = cmd.as_bytes();
    let n = bytes.len().min(room);
    // SAFETY: the caller gives `room` writable bytes at `at`.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), at as *mut u8, n) };
}

fn arguments() {
    // SAFETY: a NUL-terminated path.
    let fd = unsafe { libc::open(c"/dev/iommu".as_ptr(), libc::O_RDWR) };
    assert!(fd >= 0);
    // SAFETY: the child makes system calls through libc and ends with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        let code = in_child(fd);
        // SAFETY: ends the child without the test harness's teardown.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for the child just forked.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status), "child died: {status:#x}");
    assert_eq!(libc::WEXITSTATUS(status), 0, "child failed");
}

/// The checks, in the child: an exit code naming the first that failed.
fn in_child(fd: i32) -> i32 {
    let size = size_of::<IommuIoasAlloc>();
    // A struct on the stack: the ID comes back, and is a live object.
    let mut cmd = IommuIoasAlloc::new_zeroed();
    cmd.size = size as u32;
    if ioctl_at(
        fd,
        IOMMU_IOAS_ALLOC,
        cmd.as_mut_bytes().as_mut_ptr() as usize,
    )
    .is_err()
        || cmd.out_ioas_id == 0
    {
        return 10;
    }
    let mut destroy = IommuDestroy {
        size: size_of::<IommuDestroy>() as u32,
        id: cmd.out_ioas_id,
    };
    if ioctl_at(
        fd,
        IOMMU_DESTROY,
        destroy.as_mut_bytes().as_mut_ptr() as usize,
    )
    .is_err()
    {
        return 11;
    }
    // The same, where the ID falls on a read-only page: the copy out faults.
    let ro = two_pages(libc::PROT_READ);
    // `size - 4` bytes before the read-only page, on the writable one.
    let at = ro + PAGE - (size - 4);
    put_alloc(at, size as u32, size - 4);
    if ioctl_at(fd, IOMMU_IOAS_ALLOC, at) != Err(libc::EFAULT) {
        return 12;
    }
    // The struct wholly on the read-only page.
    // (made writable a moment to put the struct there).
    let on_ro = ro + PAGE;
    protect(on_ro, libc::PROT_READ | libc::PROT_WRITE);
    put_alloc(on_ro, size as u32, size);
    protect(on_ro, libc::PROT_READ);
    if ioctl_at(fd, IOMMU_IOAS_ALLOC, on_ro) != Err(libc::EFAULT) {
        return 13;
    }
    // A size reaching into an unmapped page: the copy in faults.
    let gone = two_pages(libc::PROT_NONE);
    // 8 bytes before the inaccessible page.
    let at = gone + PAGE - 8;
    put_alloc(at, size as u32, 8);
    if ioctl_at(fd, IOMMU_IOAS_ALLOC, at) != Err(libc::EFAULT) {
        return 14;
    }
    // A command that fails leaves the struct as it was.
    let mut missing = IommuDestroy {
        size: size_of::<IommuDestroy>() as u32,
        id: 0x7fff_0000,
    };
    let before = missing;
    if ioctl_at(
        fd,
        IOMMU_DESTROY,
        missing.as_mut_bytes().as_mut_ptr() as usize,
    ) != Err(libc::ENOENT)
        || missing.as_bytes() != before.as_bytes()
    {
        return 15;
    }
    0
}
