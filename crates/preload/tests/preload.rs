//! The preload library, loaded for real: this test binary runs itself again with `LD_PRELOAD`
//! pointing at the built `libuiommu_preload.so`, and the child performs one scenario through
//! the ordinary libc calls (`open`, `ioctl`, `dup`, `close`, `poll`, `mmap`, `fork` …).
//!
//! The child prints `ok` on success; any failed check panics, which fails the child and so the
//! test with its output.
#![allow(unsafe_code)]

mod common;

use std::ffi::CStr;
use uiommu_uapi::iommufd::{
    IOMMU_DESTROY, IOMMU_IOAS_ALLOC, IOMMU_IOAS_MAP, IommuDestroy, IommuIoasAlloc, IommuIoasMap,
};
use uiommu_uapi::vfio::VFIO_GET_API_VERSION;
use zerocopy::IntoBytes;

const SCENARIO_ENV: &str = "UIOMMU_PRELOAD_TEST_SCENARIO";

/// The child's entry point: a no-op unless a scenario is selected.
#[test]
fn scenario_entry() {
    let Ok(name) = std::env::var(SCENARIO_ENV) else {
        return;
    };
    match name.as_str() {
        "basic" => basic(),
        "numbering" => numbering(),
        "cloexec_and_dup" => cloexec_and_dup(),
        "poll" => poll(),
        "mmap" => mmap(),
        "access_modes" => access_modes(),
        "openat" => openat(),
        "vfio" => vfio(),
        "fork" => fork(),
        "threads" => threads(),
        other => panic!("unknown scenario {other}"),
    }
    println!("scenario ok");
}

// --- thin libc wrappers -----------------------------------------------------------------------

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap()
}

/// `open(path, flags)`: the fd or the errno.
fn open(path: &CStr, flags: i32) -> Result<i32, i32> {
    // SAFETY: `path` is NUL-terminated.
    let fd = unsafe { libc::open(path.as_ptr(), flags) };
    if fd < 0 { Err(errno()) } else { Ok(fd) }
}

fn close(fd: i32) -> Result<(), i32> {
    // SAFETY: closes an fd of this scenario.
    let rc = unsafe { libc::close(fd) };
    if rc < 0 { Err(errno()) } else { Ok(()) }
}

/// `ioctl(fd, cmd, arg)` with a raw argument.
fn ioctl_raw(fd: i32, cmd: u32, arg: u64) -> Result<i32, i32> {
    // SAFETY: for virtual fds the preload reads `arg` through process_vm_readv (a bad address
    // is EFAULT); for real fds the scenarios pass commands the kernel rejects without memory.
    let rc = unsafe { libc::ioctl(fd, cmd as libc::c_ulong, arg) };
    if rc < 0 { Err(errno()) } else { Ok(rc) }
}

fn ioctl<T: IntoBytes>(fd: i32, cmd: u32, arg: &mut T) -> Result<i32, i32> {
    ioctl_raw(fd, cmd, arg as *mut T as u64)
}

fn ioas_alloc(fd: i32) -> Result<u32, i32> {
    let mut cmd = IommuIoasAlloc {
        size: size_of::<IommuIoasAlloc>() as u32,
        ..Default::default()
    };
    ioctl(fd, IOMMU_IOAS_ALLOC, &mut cmd)?;
    Ok(cmd.out_ioas_id)
}

fn destroy(fd: i32, id: u32) -> Result<(), i32> {
    let mut cmd = IommuDestroy {
        size: size_of::<IommuDestroy>() as u32,
        id,
    };
    ioctl(fd, IOMMU_DESTROY, &mut cmd).map(|_| ())
}

fn fd_flags(fd: i32) -> i32 {
    // SAFETY: F_GETFD takes no argument.
    unsafe { libc::fcntl(fd, libc::F_GETFD) }
}

fn dup(fd: i32) -> i32 {
    // SAFETY: duplicates an fd of this scenario.
    unsafe { libc::dup(fd) }
}

fn dup2(old: i32, new: i32) -> i32 {
    // SAFETY: replaces `new`, an fd of this scenario.
    unsafe { libc::dup2(old, new) }
}

fn dupfd_cloexec(fd: i32) -> i32 {
    // SAFETY: F_DUPFD_CLOEXEC takes a minimum fd number.
    unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) }
}

const DEV_IOMMU: &CStr = c"/dev/iommu";

// --- scenarios --------------------------------------------------------------------------------

fn basic() {
    let fd = open(DEV_IOMMU, libc::O_RDWR).unwrap();
    assert_eq!(ioas_alloc(fd), Ok(1));
    // A dup shares the context: IDs continue.
    let fd2 = dup(fd);
    assert!(fd2 > fd);
    assert_eq!(ioas_alloc(fd2), Ok(2));
    assert_eq!(destroy(fd2, 1), Ok(()));
    assert_eq!(destroy(fd, 1), Err(libc::ENOENT));
    // Bad pointers are EFAULT, unknown commands ENOTTY, and nothing crashes.
    assert_eq!(ioctl_raw(fd, IOMMU_IOAS_ALLOC, 8), Err(libc::EFAULT));
    assert_eq!(ioctl_raw(fd, IOMMU_IOAS_ALLOC, u64::MAX), Err(libc::EFAULT));
    assert_eq!(ioctl_raw(fd, 0x3b00 + 0x7f, 0), Err(libc::ENOTTY));
    // Mapping through the fd, with a real buffer.
    let buf = vec![0u8; 3 * 4096];
    let page = (buf.as_ptr() as u64).next_multiple_of(4096);
    let mut map = IommuIoasMap {
        size: size_of::<IommuIoasMap>() as u32,
        flags: 1 | 2 | 4, // FIXED_IOVA | WRITEABLE | READABLE
        ioas_id: 2,
        user_va: page,
        length: 4096,
        iova: 1 << 20,
        ..Default::default()
    };
    assert_eq!(ioctl(fd, IOMMU_IOAS_MAP, &mut map), Ok(0));
    // The context lives while one fd does.
    close(fd).unwrap();
    assert_eq!(ioas_alloc(fd2), Ok(1));
    close(fd2).unwrap();
    assert_eq!(ioas_alloc(fd2), Err(libc::EBADF));
    assert_eq!(close(fd2), Err(libc::EBADF));
    // A new open is a new context.
    let fd3 = open(DEV_IOMMU, libc::O_RDWR).unwrap();
    assert_eq!(ioas_alloc(fd3), Ok(1));
    close(fd3).unwrap();
}

fn numbering() {
    let probe = open(c"/dev/null", libc::O_RDONLY).unwrap();
    close(probe).unwrap();
    let fd = open(DEV_IOMMU, libc::O_RDWR).unwrap();
    assert_eq!(fd, probe, "the lowest free number, as the kernel gives");
    let next = open(c"/dev/null", libc::O_RDONLY).unwrap();
    assert_eq!(next, fd + 1);
    close(next).unwrap();
    close(fd).unwrap();
    // A real file reusing a closed virtual fd's number is not virtual.
    let real = open(c"/dev/null", libc::O_RDONLY).unwrap();
    assert_eq!(real, fd);
    assert_eq!(ioctl_raw(real, IOMMU_IOAS_ALLOC, 0), Err(libc::ENOTTY));
    close(real).unwrap();
}

fn cloexec_and_dup() {
    let a = open(DEV_IOMMU, libc::O_RDWR | libc::O_CLOEXEC).unwrap();
    assert_eq!(fd_flags(a) & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
    let b = open(DEV_IOMMU, libc::O_RDWR).unwrap();
    assert_eq!(fd_flags(b) & libc::FD_CLOEXEC, 0);
    assert_eq!(ioas_alloc(a), Ok(1));
    assert_eq!(ioas_alloc(b), Ok(1));
    // F_DUPFD_CLOEXEC shares a's context.
    let c = dupfd_cloexec(a);
    assert_eq!(fd_flags(c) & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
    assert_eq!(ioas_alloc(c), Ok(2));
    // dup2 onto a virtual fd replaces its context by the source's.
    assert_eq!(dup2(a, b), b);
    assert_eq!(ioas_alloc(b), Ok(3));
    // dup2 of a real fd onto a virtual one makes it real.
    let null = open(c"/dev/null", libc::O_RDONLY).unwrap();
    assert_eq!(dup2(null, c), c);
    assert_eq!(ioctl_raw(c, IOMMU_IOAS_ALLOC, 0), Err(libc::ENOTTY));
    for fd in [a, b, c, null] {
        close(fd).unwrap();
    }
}

fn poll() {
    let fd = open(DEV_IOMMU, libc::O_RDWR).unwrap();
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN | libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    // A file without a poll method is always ready.
    assert_eq!(n, 1);
    assert_eq!(p.revents, libc::POLLIN | libc::POLLOUT);
    // SAFETY: creates an epoll fd.
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    assert!(ep >= 0);
    let mut ev = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: 0,
    };
    // SAFETY: valid epoll fd and event.
    let rc = unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd, &mut ev) };
    // ... and epoll refuses it, as it refuses /dev/iommu.
    assert_eq!((rc, errno()), (-1, libc::EPERM));
    close(ep).unwrap();
    close(fd).unwrap();
}

fn try_mmap(fd: i32, prot: i32, flags: i32, off: i64) -> Result<(), i32> {
    // SAFETY: a new mapping at an address the kernel picks; unmapped at once if it succeeds.
    let p = unsafe { libc::mmap(std::ptr::null_mut(), 4096, prot, flags, fd, off) };
    if p == libc::MAP_FAILED {
        return Err(errno());
    }
    // SAFETY: the mapping just made.
    unsafe { libc::munmap(p, 4096) };
    Ok(())
}

fn mmap() {
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    let fd = open(DEV_IOMMU, libc::O_RDWR).unwrap();
    assert_eq!(try_mmap(fd, rw, libc::MAP_SHARED, 0), Err(libc::ENXIO));
    assert_eq!(try_mmap(fd, rw, libc::MAP_PRIVATE, 0), Err(libc::EINVAL));
    assert_eq!(
        try_mmap(fd, rw | libc::PROT_EXEC, libc::MAP_SHARED, 0),
        Err(libc::EPERM)
    );
    assert_eq!(try_mmap(fd, rw, libc::MAP_SHARED, 1), Err(libc::EINVAL));
    // Anonymous mappings ignore the fd.
    assert_eq!(
        try_mmap(fd, rw, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, 0),
        Ok(())
    );
    close(fd).unwrap();
    let ro = open(DEV_IOMMU, libc::O_RDONLY).unwrap();
    assert_eq!(try_mmap(ro, rw, libc::MAP_SHARED, 0), Err(libc::EACCES));
    assert_eq!(
        try_mmap(ro, libc::PROT_READ, libc::MAP_SHARED, 0),
        Err(libc::ENXIO)
    );
    close(ro).unwrap();
}

fn read_write(fd: i32) -> (i32, i32) {
    let mut b = [0u8; 8];
    // SAFETY: `b` is writable for its length.
    let r = unsafe { libc::read(fd, b.as_mut_ptr().cast(), b.len()) };
    assert_eq!(r, -1);
    let re = errno();
    // SAFETY: `b` is readable for its length.
    let w = unsafe { libc::write(fd, b.as_ptr().cast(), b.len()) };
    assert_eq!(w, -1);
    (re, errno())
}

fn access_modes() {
    let fd = open(DEV_IOMMU, libc::O_RDWR).unwrap();
    assert_eq!(read_write(fd), (libc::EINVAL, libc::EINVAL));
    close(fd).unwrap();
    let fd = open(DEV_IOMMU, libc::O_RDONLY).unwrap();
    assert_eq!(read_write(fd), (libc::EINVAL, libc::EBADF));
    // ioctl does not depend on the access mode.
    assert_eq!(ioas_alloc(fd), Ok(1));
    close(fd).unwrap();
    assert_eq!(
        open(DEV_IOMMU, libc::O_RDWR | libc::O_DIRECTORY),
        Err(libc::ENOTDIR)
    );
    assert_eq!(
        open(DEV_IOMMU, libc::O_RDWR | libc::O_CREAT | libc::O_EXCL),
        Err(libc::EEXIST)
    );
    // An O_PATH fd names the node without opening it.
    let p = open(DEV_IOMMU, libc::O_PATH).unwrap();
    assert_eq!(ioas_alloc(p), Err(libc::EBADF));
    close(p).unwrap();
}

fn openat() {
    let dir = open(c"/dev", libc::O_RDONLY | libc::O_DIRECTORY).unwrap();
    // SAFETY: NUL-terminated relative path and a directory fd.
    let fd = unsafe { libc::openat(dir, c"iommu".as_ptr(), libc::O_RDWR) };
    assert!(fd >= 0);
    assert_eq!(ioas_alloc(fd), Ok(1));
    close(fd).unwrap();
    close(dir).unwrap();
    let fd = open(c"//dev/./vfio/../iommu", libc::O_RDWR).unwrap();
    assert_eq!(ioas_alloc(fd), Ok(1));
    close(fd).unwrap();
}

fn vfio() {
    let fd = open(c"/dev/vfio/vfio", libc::O_RDWR).unwrap();
    assert_eq!(ioctl_raw(fd, VFIO_GET_API_VERSION, 0), Ok(0));
    close(fd).unwrap();
}

fn fork() {
    let fd = open(DEV_IOMMU, libc::O_RDWR).unwrap();
    assert_eq!(ioas_alloc(fd), Ok(1));
    // SAFETY: the child only makes system calls through libc and exits with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        // The inherited fd is the parent's context, as on the kernel.
        let ok = ioas_alloc(fd) == Ok(2) && destroy(fd, 1).is_ok();
        // SAFETY: ends the child without running the parent's test harness teardown.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    let mut status = 0;
    // SAFETY: waits for the child just forked.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert_eq!(status, 0, "child failed");
    // What the child made and destroyed is the parent's.
    assert_eq!(destroy(fd, 1), Err(libc::ENOENT));
    assert_eq!(destroy(fd, 2), Ok(()));
    // IDs are the lowest free, as the kernel's xarray gives them.
    assert_eq!(ioas_alloc(fd), Ok(1));
    close(fd).unwrap();
}

fn threads() {
    let shared = open(DEV_IOMMU, libc::O_RDWR).unwrap();
    let workers: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || {
                // One context per thread, and one shared by all.
                let own = open(DEV_IOMMU, libc::O_RDWR).unwrap();
                for _ in 0..200 {
                    let id = ioas_alloc(own).unwrap();
                    destroy(own, id).unwrap();
                    let id = ioas_alloc(shared).unwrap();
                    destroy(shared, id).unwrap();
                    let d = dup(own);
                    close(d).unwrap();
                }
                close(own).unwrap();
            })
        })
        .collect();
    // Fork while the threads run: the child must not inherit a held lock, and its IOAS is
    // made in the shared context (its ID comes back as the exit status).
    let mut made = Vec::new();
    for _ in 0..20 {
        // SAFETY: the child only makes system calls through libc and exits with _exit.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let fd = open(DEV_IOMMU, libc::O_RDWR).unwrap_or(-1);
            let id = match (fd >= 0 && ioas_alloc(fd).is_ok(), ioas_alloc(shared)) {
                (true, Ok(id)) if id < 255 => id as i32,
                _ => 255,
            };
            // SAFETY: ends the child at once.
            unsafe { libc::_exit(id) };
        }
        let mut status = 0;
        // SAFETY: waits for the child just forked.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(libc::WIFEXITED(status));
        assert_ne!(libc::WEXITSTATUS(status), 255, "child failed");
        made.push(libc::WEXITSTATUS(status) as u32);
    }
    for w in workers {
        w.join().unwrap();
    }
    for id in made {
        assert_eq!(destroy(shared, id), Ok(()));
    }
    assert_eq!(ioas_alloc(shared), Ok(1));
    close(shared).unwrap();
}

// --- the tests ----------------------------------------------------------------------------------

#[test]
fn open_ioctl_dup_close() {
    common::run(SCENARIO_ENV, "basic");
}

#[test]
fn fd_numbers_are_the_kernels() {
    common::run(SCENARIO_ENV, "numbering");
}

#[test]
fn cloexec_dup2_and_fcntl_dupfd() {
    common::run(SCENARIO_ENV, "cloexec_and_dup");
}

#[test]
fn poll_and_epoll_behave_like_the_device() {
    common::run(SCENARIO_ENV, "poll");
}

#[test]
fn mmap_errors() {
    common::run(SCENARIO_ENV, "mmap");
}

#[test]
fn read_write_and_open_flags() {
    common::run(SCENARIO_ENV, "access_modes");
}

#[test]
fn openat_and_path_normalisation() {
    common::run(SCENARIO_ENV, "openat");
}

#[test]
fn vfio_container_node() {
    common::run(SCENARIO_ENV, "vfio");
}

#[test]
fn fork_child_shares_the_context() {
    common::run(SCENARIO_ENV, "fork");
}

#[test]
fn threads_and_fork_under_load() {
    common::run(SCENARIO_ENV, "threads");
}
