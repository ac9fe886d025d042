//! Files through the preload library, loaded for real: the selftest access file (its fd, its
//! methods, its release on the last close, `dup` and `dup2`) and `IOMMU_IOAS_MAP_FILE` from
//! memfds and from files that cannot be pinned.
//!
//! As in `preload.rs`, this binary runs itself again with `LD_PRELOAD` and the child performs one
//! scenario; a failed check panics in the child and fails the test with its output.
#![allow(unsafe_code)]

mod common;

use std::ffi::CStr;
use uiommu_uapi::iommufd::{
    IOMMU_DESTROY, IOMMU_IOAS_ALLOC, IOMMU_IOAS_MAP, IOMMU_IOAS_MAP_FILE,
    IOMMU_IOAS_MAP_FIXED_IOVA, IOMMU_IOAS_MAP_READABLE, IOMMU_IOAS_MAP_WRITEABLE, IOMMU_IOAS_UNMAP,
    IommuDestroy, IommuIoasAlloc, IommuIoasMap, IommuIoasMapFile, IommuIoasUnmap,
};
use uiommu_uapi::selftest::{
    IOMMU_TEST_CMD, IommuTestCmd, MOCK_ACCESS_RW_WRITE, MOCK_APERTURE_START,
    MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES, TestAccessPages, TestAccessRw, TestCheckMap,
    TestCheckRefs, TestCreateAccess, TestMockDomain,
};
use zerocopy::IntoBytes;

const SCENARIO_ENV: &str = "UIOMMU_PRELOAD_FILES_SCENARIO";
const PAGE: usize = 4096;

#[test]
fn scenario_entry() {
    let Ok(name) = std::env::var(SCENARIO_ENV) else {
        return;
    };
    match name.as_str() {
        "access_fd" => access_fd(),
        "access_release" => access_release(),
        "access_dup" => access_dup(),
        "access_fork" => access_fork(),
        "fork_shares" => fork_shares(),
        "fork_pins_follow_the_child" => fork_pins_follow_the_child(),
        "map_file" => map_file(),
        "map_file_errors" => map_file_errors(),
        "fault_poll" => fault_poll(),
        other => panic!("unknown scenario {other}"),
    }
    println!("scenario ok");
}

// --- libc and command wrappers ----------------------------------------------------------------

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap()
}

fn check(rc: i32) -> Result<i32, i32> {
    if rc < 0 { Err(errno()) } else { Ok(rc) }
}

fn open(path: &CStr, flags: i32) -> i32 {
    // SAFETY: `path` is NUL-terminated.
    check(unsafe { libc::open(path.as_ptr(), flags) }).unwrap()
}

fn close(fd: i32) -> Result<i32, i32> {
    // SAFETY: closes an fd of this scenario.
    check(unsafe { libc::close(fd) })
}

fn ioctl<T: IntoBytes>(fd: i32, cmd: u32, arg: &mut T) -> Result<i32, i32> {
    // SAFETY: `arg` is a live struct of the command's layout; the preload reads and writes it
    // through process_vm_readv/writev.
    check(unsafe { libc::ioctl(fd, cmd as libc::c_ulong, arg as *mut T) })
}

fn test_cmd(fd: i32, mut cmd: IommuTestCmd) -> Result<IommuTestCmd, i32> {
    ioctl(fd, IOMMU_TEST_CMD, &mut cmd).map(|_| cmd)
}

fn ioas_alloc(fd: i32) -> u32 {
    let mut cmd = IommuIoasAlloc {
        size: size_of::<IommuIoasAlloc>() as u32,
        ..Default::default()
    };
    ioctl(fd, IOMMU_IOAS_ALLOC, &mut cmd).unwrap();
    cmd.out_ioas_id
}

/// Maps `len` bytes of memory at `va` at the fixed `iova`.
fn ioas_map(fd: i32, ioas: u32, va: u64, len: u64, iova: u64) {
    let mut cmd = IommuIoasMap {
        size: size_of::<IommuIoasMap>() as u32,
        flags: IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
        ioas_id: ioas,
        user_va: va,
        length: len,
        iova,
        ..Default::default()
    };
    ioctl(fd, IOMMU_IOAS_MAP, &mut cmd).unwrap();
}

fn destroy_id(fd: i32, id: u32) -> Result<i32, i32> {
    let mut cmd = IommuDestroy {
        size: size_of::<IommuDestroy>() as u32,
        id,
    };
    ioctl(fd, IOMMU_DESTROY, &mut cmd)
}

fn ioas_unmap(fd: i32, ioas: u32, iova: u64, len: u64) {
    let mut cmd = IommuIoasUnmap {
        size: size_of::<IommuIoasUnmap>() as u32,
        ioas_id: ioas,
        iova,
        length: len,
    };
    ioctl(fd, IOMMU_IOAS_UNMAP, &mut cmd).unwrap();
}

/// `IOMMU_IOAS_MAP_FILE` of `file`'s `start..start + len`: the IOVA chosen.
fn map_file_at(fd: i32, ioas: u32, file: i32, start: u64, len: u64) -> Result<u64, i32> {
    let mut cmd = IommuIoasMapFile {
        size: size_of::<IommuIoasMapFile>() as u32,
        flags: IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
        ioas_id: ioas,
        fd: file,
        start,
        length: len,
        ..Default::default()
    };
    ioctl(fd, IOMMU_IOAS_MAP_FILE, &mut cmd).map(|_| cmd.iova)
}

/// As [`map_file_at`], at the fixed `iova`.
fn map_file_fixed(fd: i32, ioas: u32, file: i32, len: u64, iova: u64) -> Result<(), i32> {
    let mut cmd = IommuIoasMapFile {
        size: size_of::<IommuIoasMapFile>() as u32,
        flags: IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE,
        ioas_id: ioas,
        fd: file,
        length: len,
        iova,
        ..Default::default()
    };
    ioctl(fd, IOMMU_IOAS_MAP_FILE, &mut cmd).map(|_| ())
}

fn mock_domain(fd: i32, ioas: u32) -> Result<TestMockDomain, i32> {
    test_cmd(fd, IommuTestCmd::new(ioas, TestMockDomain::default()))
        .map(|c| *c.member::<TestMockDomain>())
}

fn create_access(fd: i32, ioas: u32, flags: u32) -> Result<i32, i32> {
    let m = TestCreateAccess {
        flags,
        ..Default::default()
    };
    test_cmd(fd, IommuTestCmd::new(ioas, m))
        .map(|c| c.member::<TestCreateAccess>().out_access_fd as i32)
}

/// `IOMMU_TEST_OP_ACCESS_PAGES` through access fd `access`: the item's ID.
fn access_pages(fd: i32, access: i32, iova: u64, len: u64, uptr: u64) -> Result<u32, i32> {
    let m = TestAccessPages {
        iova,
        length: len,
        uptr,
        ..Default::default()
    };
    test_cmd(fd, IommuTestCmd::new(access as u32, m))
        .map(|c| c.member::<TestAccessPages>().out_access_pages_id)
}

/// `IOMMU_TEST_OP_ACCESS_RW` through access fd `access`.
fn access_rw(fd: i32, access: i32, iova: u64, buf: &mut [u8], write: bool) -> Result<(), i32> {
    let m = TestAccessRw {
        iova,
        length: buf.len() as u64,
        uptr: buf.as_mut_ptr() as u64,
        flags: if write { MOCK_ACCESS_RW_WRITE } else { 0 },
        ..Default::default()
    };
    test_cmd(fd, IommuTestCmd::new(access as u32, m)).map(|_| ())
}

/// `IOMMU_TEST_OP_MD_CHECK_REFS`: every page of `uptr..uptr + len` has `refs` pins.
fn refs_are(fd: i32, uptr: u64, len: u64, refs: u32) -> bool {
    let m = TestCheckRefs {
        length: len,
        uptr,
        refs,
        ..Default::default()
    };
    test_cmd(fd, IommuTestCmd::new(0, m)).is_ok()
}

/// `IOMMU_TEST_OP_MD_CHECK_MAP`: HWPT `hwpt` maps `iova..iova + len` to `uptr`.
fn check_map(fd: i32, hwpt: u32, iova: u64, len: u64, uptr: u64) -> Result<(), i32> {
    let m = TestCheckMap {
        iova,
        length: len,
        uptr,
    };
    test_cmd(fd, IommuTestCmd::new(hwpt, m)).map(|_| ())
}

/// Page-aligned anonymous memory, never unmapped (the scenario's process ends soon).
fn buffer(len: usize) -> &'static mut [u8] {
    // SAFETY: a new private anonymous mapping at an address the kernel picks.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(p, libc::MAP_FAILED);
    // SAFETY: the mapping is `len` bytes, readable and writable, and owned by the caller.
    unsafe { std::slice::from_raw_parts_mut(p.cast(), len) }
}

/// A memfd of `len` bytes, mapped shared into this process.
fn memfd(len: usize) -> (i32, &'static mut [u8]) {
    // SAFETY: a NUL-terminated name and no flags.
    let fd = check(unsafe { libc::memfd_create(c"buffer".as_ptr(), 0) }).unwrap();
    // SAFETY: resizes the memfd just made.
    check(unsafe { libc::ftruncate(fd, len as i64) }).unwrap();
    // SAFETY: a new shared mapping of the memfd at an address the kernel picks.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd,
            0,
        )
    };
    assert_ne!(p, libc::MAP_FAILED);
    // SAFETY: the mapping is `len` bytes, readable and writable, and owned by the caller.
    (fd, unsafe { std::slice::from_raw_parts_mut(p.cast(), len) })
}

fn link(fd: i32) -> String {
    std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

const DEV_IOMMU: &CStr = c"/dev/iommu";

// --- scenarios --------------------------------------------------------------------------------

/// The access file's fd: lowest free number, close-on-exec, named as the kernel names it, and
/// the errors of a file whose only method is `release`.
fn access_fd() {
    let fd = open(DEV_IOMMU, libc::O_RDWR);
    let ioas = ioas_alloc(fd);
    let access = create_access(fd, ioas, 0).unwrap();
    assert_eq!(access, fd + 1);
    // SAFETY: F_GETFD takes no argument.
    let fd_flags = unsafe { libc::fcntl(access, libc::F_GETFD) };
    assert_eq!(fd_flags, libc::FD_CLOEXEC);
    assert!(
        link(access).contains("[iommufd_test_staccess]"),
        "{}",
        link(access)
    );
    let mut b = [0u8; 8];
    // SAFETY: `b` is writable for its length.
    assert_eq!(unsafe { libc::read(access, b.as_mut_ptr().cast(), 8) }, -1);
    assert_eq!(errno(), libc::EINVAL);
    // SAFETY: `b` is readable for its length.
    assert_eq!(unsafe { libc::write(access, b.as_ptr().cast(), 8) }, -1);
    assert_eq!(errno(), libc::EINVAL);
    // No unlocked_ioctl: ENOTTY, even for iommufd's own commands; FIONBIO is the VFS's.
    assert_eq!(
        ioctl(access, IOMMU_IOAS_ALLOC, &mut [0u64; 2]),
        Err(libc::ENOTTY)
    );
    let mut one = 1i32;
    assert_eq!(ioctl(access, libc::FIONBIO as u32, &mut one), Ok(0));
    // SAFETY: F_GETFL takes no argument.
    let fl = unsafe { libc::fcntl(access, libc::F_GETFL) };
    assert_ne!(fl & libc::O_NONBLOCK, 0);
    // No mmap method: ENODEV after the generic checks; the anonymous inode is noexec.
    for (prot, flags, want) in [
        (libc::PROT_READ, libc::MAP_SHARED, libc::ENODEV),
        (libc::PROT_READ, libc::MAP_PRIVATE, libc::ENODEV),
        (
            libc::PROT_READ | libc::PROT_EXEC,
            libc::MAP_SHARED,
            libc::EPERM,
        ),
    ] {
        // SAFETY: asks for a new mapping; it is refused.
        let p = unsafe { libc::mmap(std::ptr::null_mut(), PAGE, prot, flags, access, 0) };
        assert_eq!(p, libc::MAP_FAILED);
        assert_eq!(errno(), want);
    }
    // A context fd is no access: EBADFD.
    let m = TestAccessRw::default();
    assert_eq!(
        test_cmd(fd, IommuTestCmd::new(fd as u32, m)).err(),
        Some(libc::EBADFD)
    );
    close(access).unwrap();
    close(fd).unwrap();
}

/// Used through its fd, then closed: the release unpins what it pinned, and the fd no longer
/// names an access.
fn access_release() {
    let fd = open(DEV_IOMMU, libc::O_RDWR);
    let ioas = ioas_alloc(fd);
    let buf = buffer(2 * PAGE);
    buf[PAGE..PAGE + 5].copy_from_slice(b"hello");
    let va = buf.as_ptr() as u64;
    ioas_map(fd, ioas, va, 2 * PAGE as u64, MOCK_APERTURE_START);
    let access = create_access(fd, ioas, MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES).unwrap();
    let mut got = [0u8; 5];
    access_rw(
        fd,
        access,
        MOCK_APERTURE_START + PAGE as u64,
        &mut got,
        false,
    )
    .unwrap();
    assert_eq!(&got, b"hello");
    let mut world = *b"world";
    access_rw(fd, access, MOCK_APERTURE_START, &mut world, true).unwrap();
    assert_eq!(&buf[..5], b"world");
    access_pages(fd, access, MOCK_APERTURE_START, 2 * PAGE as u64, va).unwrap();
    assert!(refs_are(fd, va, 2 * PAGE as u64, 1));
    close(access).unwrap();
    assert!(refs_are(fd, va, 2 * PAGE as u64, 0));
    assert_eq!(
        access_rw(fd, access, MOCK_APERTURE_START, &mut got, false),
        Err(libc::EBADFD)
    );
    // The IOAS is free again: the released access no longer holds the range.
    ioas_unmap(fd, ioas, MOCK_APERTURE_START, 2 * PAGE as u64);
    close(fd).unwrap();
}

/// A dup shares the access: it is released with the last fd, and `dup2` over it counts as a
/// close.
fn access_dup() {
    let fd = open(DEV_IOMMU, libc::O_RDWR);
    let ioas = ioas_alloc(fd);
    let buf = buffer(PAGE);
    let va = buf.as_ptr() as u64;
    ioas_map(fd, ioas, va, PAGE as u64, MOCK_APERTURE_START);
    let flags = MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES;
    let a = create_access(fd, ioas, flags).unwrap();
    // SAFETY: duplicates an fd of this scenario.
    let b = check(unsafe { libc::dup(a) }).unwrap();
    access_pages(fd, b, MOCK_APERTURE_START, PAGE as u64, va).unwrap();
    close(a).unwrap();
    assert!(refs_are(fd, va, PAGE as u64, 1));
    let mut got = [0u8; 4];
    access_rw(fd, b, MOCK_APERTURE_START, &mut got, false).unwrap();
    close(b).unwrap();
    assert!(refs_are(fd, va, PAGE as u64, 0));
    // dup2 of another file over the last fd of an access releases it.
    let c = create_access(fd, ioas, flags).unwrap();
    access_pages(fd, c, MOCK_APERTURE_START, PAGE as u64, va).unwrap();
    assert!(refs_are(fd, va, PAGE as u64, 1));
    let null = open(c"/dev/null", libc::O_RDONLY);
    // SAFETY: replaces `c`, an fd of this scenario.
    assert_eq!(unsafe { libc::dup2(null, c) }, c);
    assert!(refs_are(fd, va, PAGE as u64, 0));
    assert_eq!(
        access_rw(fd, c, MOCK_APERTURE_START, &mut got, false),
        Err(libc::EBADFD)
    );
    close(c).unwrap();
    close(null).unwrap();
    close(fd).unwrap();
}

/// A forked child inherits the access fd: it is the parent's access, which closing the
/// child's fd does not release.
fn access_fork() {
    let fd = open(DEV_IOMMU, libc::O_RDWR);
    let ioas = ioas_alloc(fd);
    let buf = buffer(PAGE);
    let va = buf.as_ptr() as u64;
    ioas_map(fd, ioas, va, PAGE as u64, MOCK_APERTURE_START);
    let a = create_access(fd, ioas, MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES).unwrap();
    access_pages(fd, a, MOCK_APERTURE_START, PAGE as u64, va).unwrap();
    // SAFETY: the child makes system calls through libc and ends with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        // The child's fds are the parent's files: the access is the one the parent made, and
        // closing the child's fd leaves it open in the parent, with its pins.
        let mut got = [0u8; 4];
        let ok = access_rw(fd, a, MOCK_APERTURE_START, &mut got, false).is_ok()
            && refs_are(fd, va, PAGE as u64, 1)
            && close(a).is_ok()
            && refs_are(fd, va, PAGE as u64, 1);
        // SAFETY: ends the child without running the test harness's teardown.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    let mut status = 0;
    // SAFETY: waits for the child just forked.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert_eq!(status, 0, "child failed");
    assert!(refs_are(fd, va, PAGE as u64, 1));
    close(a).unwrap();
    assert!(refs_are(fd, va, PAGE as u64, 0));
    close(fd).unwrap();
}

/// Runs `child` in a forked child and returns its exit status.
fn in_child(child: impl FnOnce() -> i32) -> i32 {
    // SAFETY: the child makes system calls through libc and ends with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        let code = child();
        // SAFETY: ends the child without running the test harness's teardown.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for the child just forked.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status), "child died: {status:#x}");
    libc::WEXITSTATUS(status)
}

/// A forked child and its own child share the parent's context, as on the kernel: what they
/// map, allocate and write through an access they made is the parent's; fds a command makes
/// in a child are the child's; and once a child is gone, its unpinned pages cannot be pinned.
fn fork_shares() {
    let fd = open(DEV_IOMMU, libc::O_RDWR);
    let ioas = ioas_alloc(fd);
    let (mfd, buf) = memfd(PAGE);
    let va = buf.as_ptr() as u64;
    let status = in_child(|| {
        let mut data = *b"from the child";
        let Ok(a) = create_access(fd, ioas, 0) else {
            return 10;
        };
        let mut m = IommuIoasMap {
            size: size_of::<IommuIoasMap>() as u32,
            flags: IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
            ioas_id: ioas,
            user_va: va,
            length: PAGE as u64,
            iova: MOCK_APERTURE_START,
            ..Default::default()
        };
        if ioctl(fd, IOMMU_IOAS_MAP, &mut m).is_err() {
            return 11;
        }
        // The access fd is the child's: its number, a method, a command taking it.
        if a <= fd || access_rw(fd, a, MOCK_APERTURE_START, &mut data, true).is_err() {
            return 12;
        }
        // SAFETY: reading a byte of the child's mapping of the memfd.
        if unsafe { *(va as *const u8) } != b'f' {
            return 13;
        }
        // What a child cannot do on a shared context (see the preload's `share` docs): map
        // its regions, whose memory is the parent's, or map a file into it.
        // SAFETY: asks for a new shared mapping of the context fd; nothing is mapped on failure.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                PAGE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        if p != libc::MAP_FAILED || errno() != libc::ENODEV {
            return 14;
        }
        if map_file_at(fd, ioas, mfd, 0, PAGE as u64) != Err(libc::EOPNOTSUPP) {
            return 15;
        }
        // The grandchild reaches the same context.
        in_child(|| ioas_alloc(fd) as i32)
    });
    assert_eq!(status, ioas as i32 + 2, "child failed ({status})");
    // The grandchild's IOAS (after the child's access) is in the parent's context.
    destroy_id(fd, status as u32).unwrap();
    // The child's mapping is the parent's, and so are the bytes it wrote.
    let a = create_access(fd, ioas, 0).unwrap();
    let mut got = [0u8; 14];
    access_rw(fd, a, MOCK_APERTURE_START, &mut got, false).unwrap();
    assert_eq!(&got, b"from the child");
    close(a).unwrap();
    // A child's pages mapped without a domain are pinned only when one attaches; once the
    // child is gone that fails (`EFAULT`), as the kernel finds no mm to pin from.
    let gone = ioas_alloc(fd);
    let status = in_child(|| {
        let mut m = IommuIoasMap {
            size: size_of::<IommuIoasMap>() as u32,
            flags: IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
            ioas_id: gone,
            user_va: va,
            length: PAGE as u64,
            iova: MOCK_APERTURE_START,
            ..Default::default()
        };
        i32::from(ioctl(fd, IOMMU_IOAS_MAP, &mut m).is_err())
    });
    assert_eq!(status, 0);
    assert_eq!(mock_domain(fd, gone).err(), Some(libc::EFAULT));
    close(fd).unwrap();
}

/// A child's maps behind a domain are pinned against its address space as it is at each
/// call: the owner keeps what it read of the child's mappings only while the child reports no
/// change, so an unmapped or read-only page is refused at once, and becomes pinnable again
/// once mapped writable.
fn fork_pins_follow_the_child() {
    let fd = open(DEV_IOMMU, libc::O_RDWR);
    let ioas = ioas_alloc(fd);
    mock_domain(fd, ioas).unwrap();
    let status = in_child(|| {
        let map = |va: u64, writeable: bool| {
            let mut m = IommuIoasMap {
                size: size_of::<IommuIoasMap>() as u32,
                flags: IOMMU_IOAS_MAP_FIXED_IOVA
                    | IOMMU_IOAS_MAP_READABLE
                    | if writeable {
                        IOMMU_IOAS_MAP_WRITEABLE
                    } else {
                        0
                    },
                ioas_id: ioas,
                user_va: va,
                length: PAGE as u64,
                iova: MOCK_APERTURE_START,
                ..Default::default()
            };
            let r = ioctl(fd, IOMMU_IOAS_MAP, &mut m).map(|_| ());
            if r.is_ok() {
                ioas_unmap(fd, ioas, MOCK_APERTURE_START, PAGE as u64);
            }
            r
        };
        let prot_rw = libc::PROT_READ | libc::PROT_WRITE;
        // SAFETY: a new private anonymous page; no other code uses it.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                PAGE,
                prot_rw,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return 20;
        }
        let va = p as u64;
        // Twice: the second answer comes from what the owner kept.
        if map(va, true).is_err() || map(va, true).is_err() {
            return 21;
        }
        // SAFETY: the page mapped above, made read-only.
        if unsafe { libc::mprotect(p, PAGE, libc::PROT_READ) } != 0 {
            return 22;
        }
        if map(va, true) != Err(libc::EFAULT) || map(va, false).is_err() {
            return 23;
        }
        // SAFETY: the page mapped above, writable again.
        if unsafe { libc::mprotect(p, PAGE, prot_rw) } != 0 || map(va, true).is_err() {
            return 24;
        }
        // SAFETY: the page mapped above, gone.
        if unsafe { libc::munmap(p, PAGE) } != 0 || map(va, false) != Err(libc::EFAULT) {
            return 25;
        }
        0
    });
    assert_eq!(status, 0, "child failed ({status})");
    close(fd).unwrap();
}

/// MAP_FILE of a memfd into an IOAS with a mock domain: the domain maps the program's pages
/// of the file, pinned once while mapped.
fn map_file() {
    let fd = open(DEV_IOMMU, libc::O_RDWR);
    let ioas = ioas_alloc(fd);
    let md = mock_domain(fd, ioas).unwrap();
    let len = 16 * PAGE;
    let (mfd, buf) = memfd(len);
    let va = buf.as_ptr() as u64;
    let iova = map_file_at(fd, ioas, mfd, 0, len as u64).unwrap();
    check_map(fd, md.out_hwpt_id, iova, len as u64, va).unwrap();
    assert!(refs_are(fd, va, len as u64, 1));
    // A second map of part of the file pins the same pages again.
    let iova2 = map_file_at(fd, ioas, mfd, 4 * PAGE as u64, PAGE as u64).unwrap();
    check_map(fd, md.out_hwpt_id, iova2, PAGE as u64, va + 4 * PAGE as u64).unwrap();
    assert!(refs_are(fd, va + 4 * PAGE as u64, PAGE as u64, 2));
    ioas_unmap(fd, ioas, iova2, PAGE as u64);
    ioas_unmap(fd, ioas, iova, len as u64);
    assert!(refs_are(fd, va, len as u64, 0));
    // The file's bytes are what the domain reads through an access.
    let access = create_access(fd, ioas, 0).unwrap();
    buf[PAGE..PAGE + 3].copy_from_slice(b"abc");
    let iova = map_file_at(fd, ioas, mfd, PAGE as u64, PAGE as u64).unwrap();
    let mut got = [0u8; 3];
    access_rw(fd, access, iova, &mut got, false).unwrap();
    assert_eq!(&got, b"abc");
    close(access).unwrap();
    // A memfd the program never mapped is pinned through the library's own mapping.
    // SAFETY: a NUL-terminated name and no flags.
    let unmapped = check(unsafe { libc::memfd_create(c"other".as_ptr(), 0) }).unwrap();
    // SAFETY: resizes the memfd just made.
    check(unsafe { libc::ftruncate(unmapped, 2 * PAGE as i64) }).unwrap();
    map_file_at(fd, ioas, unmapped, 0, 2 * PAGE as u64).unwrap();
    close(unmapped).unwrap();
    close(mfd).unwrap();
    close(fd).unwrap();
}

/// MAP_FILE's errors: `EBADF` for an fd that is not open (when the file is looked up), and
/// `memfd_pin_folios`'s `EINVAL` (when the pages are pinned) for a file that is neither shmem
/// nor hugetlbfs and for a range past the end of the file.
fn map_file_errors() {
    let fd = open(DEV_IOMMU, libc::O_RDWR);
    let ioas = ioas_alloc(fd);
    let p = PAGE as u64;
    assert_eq!(map_file_at(fd, ioas, -1, 0, p), Err(libc::EBADF));
    assert_eq!(map_file_at(fd, ioas, 999, 0, p), Err(libc::EBADF));
    let opath = open(c"/dev/null", libc::O_PATH);
    assert_eq!(map_file_at(fd, ioas, opath, 0, p), Err(libc::EBADF));
    // With no domain nothing is pinned: any open file maps...
    let null = open(c"/dev/null", libc::O_RDWR);
    map_file_fixed(fd, ioas, null, p, MOCK_APERTURE_START).unwrap();
    // ...and the domain that would pin it fails.
    assert_eq!(mock_domain(fd, ioas).err(), Some(libc::EINVAL));
    ioas_unmap(fd, ioas, MOCK_APERTURE_START, p);
    let md = mock_domain(fd, ioas).unwrap();
    assert!(md.out_hwpt_id != 0);
    // With a domain, pinning happens at once.
    let mut pipe = [0i32; 2];
    // SAFETY: `pipe` has room for the two fds.
    check(unsafe { libc::pipe(pipe.as_mut_ptr()) }).unwrap();
    for bad in [null, pipe[0], fd] {
        assert_eq!(
            map_file_at(fd, ioas, bad, 0, p),
            Err(libc::EINVAL),
            "fd {bad}"
        );
    }
    let (mfd, _buf) = memfd(4 * PAGE);
    assert_eq!(map_file_at(fd, ioas, mfd, 0, 4 * p + 1), Err(libc::EINVAL));
    assert_eq!(map_file_at(fd, ioas, mfd, 4 * p, 1), Err(libc::EINVAL));
    map_file_at(fd, ioas, mfd, 0, 4 * p).unwrap();
    // SAFETY: truncates the memfd of this scenario.
    check(unsafe { libc::ftruncate(mfd, 0) }).unwrap();
    assert_eq!(map_file_at(fd, ioas, mfd, 0, p), Err(libc::EINVAL));
    close(fd).unwrap();
}

// --- tests ------------------------------------------------------------------------------------

/// `poll` on a fault queue's fd reports `POLLIN` exactly while a fault waits, and always
/// `POLLOUT` (responses can be written).
fn fault_poll() {
    use uiommu_uapi::iommufd::{
        IOMMU_FAULT_QUEUE_ALLOC, IOMMU_HWPT_ALLOC, IOMMU_HWPT_FAULT_ID_VALID, IommuFaultAlloc,
        IommuHwptAlloc, IommuHwptPgfault,
    };
    use uiommu_uapi::selftest::{TestMockDomainReplace, TestTriggerIopf};
    let fd = open(DEV_IOMMU, libc::O_RDWR);
    let ioas = ioas_alloc(fd);
    let dev = test_cmd(fd, IommuTestCmd::new(ioas, TestMockDomain::default())).unwrap();
    let dev = *dev.member::<TestMockDomain>();
    let mut fault = IommuFaultAlloc {
        size: size_of::<IommuFaultAlloc>() as u32,
        ..Default::default()
    };
    ioctl(fd, IOMMU_FAULT_QUEUE_ALLOC, &mut fault).unwrap();
    // A program may make the fd blocking: keeping its readiness must never wait on it.
    // SAFETY: F_SETFL with no flags passes no memory.
    let rc = unsafe { libc::fcntl(fault.out_fault_fd as i32, libc::F_SETFL, 0) };
    assert_eq!(rc, 0);
    let mut hwpt = IommuHwptAlloc {
        size: size_of::<IommuHwptAlloc>() as u32,
        flags: IOMMU_HWPT_FAULT_ID_VALID,
        dev_id: dev.out_idev_id,
        pt_id: ioas,
        fault_id: fault.out_fault_id,
        ..Default::default()
    };
    ioctl(fd, IOMMU_HWPT_ALLOC, &mut hwpt).unwrap();
    let replace = TestMockDomainReplace {
        pt_id: hwpt.out_hwpt_id,
    };
    test_cmd(fd, IommuTestCmd::new(dev.out_stdev_id, replace)).unwrap();
    let poll = || {
        let mut p = libc::pollfd {
            fd: fault.out_fault_fd as i32,
            events: libc::POLLIN | libc::POLLOUT,
            revents: 0,
        };
        // SAFETY: one pollfd, valid for the call.
        assert_eq!(unsafe { libc::poll(&mut p, 1, 0) }, 1);
        p.revents
    };
    assert_eq!(poll(), libc::POLLOUT, "nothing to read yet");
    let trigger = TestTriggerIopf {
        dev_id: dev.out_idev_id,
        pasid: 0,
        grpid: 1,
        perm: 1,
        addr: 0x1000,
    };
    test_cmd(fd, IommuTestCmd::new(0, trigger)).unwrap();
    assert_eq!(poll(), libc::POLLIN | libc::POLLOUT, "a fault waits");
    let mut rec = IommuHwptPgfault::default();
    // SAFETY: `rec` is writable for its size.
    let n = unsafe {
        libc::read(
            fault.out_fault_fd as i32,
            (&mut rec as *mut IommuHwptPgfault).cast(),
            size_of::<IommuHwptPgfault>(),
        )
    };
    assert_eq!(n as usize, size_of::<IommuHwptPgfault>());
    assert_eq!(poll(), libc::POLLOUT, "read");
}

#[test]
fn fault_fd_polls_readable_while_faults_wait() {
    common::run(SCENARIO_ENV, "fault_poll");
}

#[test]
fn access_fd_numbering_flags_and_methods() {
    common::run(SCENARIO_ENV, "access_fd");
}

#[test]
fn closing_the_access_fd_releases_it() {
    common::run(SCENARIO_ENV, "access_release");
}

#[test]
fn dup_and_dup2_of_an_access_fd() {
    common::run(SCENARIO_ENV, "access_dup");
}

#[test]
fn fork_child_shares_the_parents_access() {
    common::run(SCENARIO_ENV, "access_fork");
}

#[test]
fn fork_children_share_the_context() {
    common::run(SCENARIO_ENV, "fork_shares");
}

#[test]
fn a_forked_childs_pins_follow_its_mappings() {
    common::run(SCENARIO_ENV, "fork_pins_follow_the_child");
}

#[test]
fn map_file_from_a_memfd() {
    common::run(SCENARIO_ENV, "map_file");
}

#[test]
fn map_file_errors_when_looked_up_and_when_pinned() {
    common::run(SCENARIO_ENV, "map_file_errors");
}
