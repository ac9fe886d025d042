//! The cost of iommufd calls as a program sees them, side by side with a real system call and
//! `memcpy` timed in the same process.
//!
//! Run it under uiommu (`uiommu exec -- bench`) and on a kernel built with
//! `CONFIG_IOMMUFD_TEST` alike: the ratios, not the nanoseconds, are what compare. Each figure
//! is the best of several rounds (the least disturbed by other load on the machine) of many
//! calls, in ns per call. `bench --fork` runs the same figures in a forked child that keeps
//! its parent's iommufd. `bench --rounds N` changes the number of rounds, `--fewer-calls N`
//! divides the calls in each by N, `--no-edu` leaves edu's DMA out. With an edu device
//! (`uiommu exec --device edu -- bench`) it also times edu's DMA through the IOMMU.
//! `--only access-rw` times ACCESS_RW's 4 KiB read alone, in a loop long enough to profile.
//!
//! Timed calls go straight to `ioctl(2)` with prepared structs so that only the call itself is
//! measured, not the client's bookkeeping; setup goes through the client.

#![allow(unsafe_code)]

use std::hint::black_box;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use uiommu_client::uapi::iommufd::*;
use uiommu_client::uapi::selftest::*;
use uiommu_client::{Iommufd, MappedBuffer};

mod edu;

/// `ioctl(fd, cmd, arg)`; the result is returned, not checked, except where a caller asks.
fn ioctl<T>(fd: RawFd, cmd: u32, arg: &mut T) -> i32 {
    let ptr: *mut T = arg;
    // SAFETY: `arg` is a uAPI struct borrowed for the call; the embedded user pointers the
    // callers set name live buffers at least as long as the lengths they give.
    unsafe { libc::ioctl(fd, cmd as libc::Ioctl, ptr) }
}

fn must(what: &str, rc: i32) {
    if rc < 0 {
        panic!("{what}: {}", std::io::Error::last_os_error());
    }
}

/// What every round's number of calls is divided by (`--fewer-calls N`): an emulated CPU
/// (the real-kernel leg runs under TCG) takes minutes over the full counts.
static CALLS_DIVISOR: AtomicU32 = AtomicU32::new(1);

/// Best-of-`rounds` ns per call of `f`, each round `iters` calls (fewer with `--fewer-calls`).
fn time(rounds: u32, iters: u32, mut f: impl FnMut()) -> f64 {
    let iters = (iters / CALLS_DIVISOR.load(Ordering::Relaxed)).max(5);
    for _ in 0..iters.min(100) {
        f();
    }
    let mut best = f64::INFINITY;
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..iters {
            f();
        }
        best = best.min(t.elapsed().as_nanos() as f64 / iters as f64);
    }
    best
}

struct Report {
    syscall_ns: f64,
}

impl Report {
    fn call(&self, name: &str, ns: f64) {
        println!(
            "{name:<36} {ns:>12.0} ns {:>9.2}x syscall",
            ns / self.syscall_ns
        );
    }

    fn copy(&self, name: &str, ns: f64, bytes: usize, memcpy_ns: f64) {
        let gbs = bytes as f64 / ns;
        println!(
            "{name:<36} {ns:>12.0} ns {gbs:>8.2} GB/s {:>6.2}x memcpy",
            memcpy_ns / ns
        );
    }
}

/// The calls `--only` narrows the bench to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Only {
    AccessRw,
}

fn run(rounds: u32, fork: bool, no_edu: bool, only: Option<Only>) -> uiommu_client::Result<()> {
    let fd = Iommufd::open()?;
    let raw = fd.as_fd().as_raw_fd();
    let ioas = fd.alloc_ioas()?;
    let test = fd.test();
    let _dev = test.mock_domain(&ioas)?;
    let access = test.create_access(&ioas, 0)?;
    let big = MappedBuffer::new(1 << 20)?;
    big.fill(0x5a);
    if fork && !in_child()? {
        return Ok(());
    }
    if only == Some(Only::AccessRw) {
        return access_rw_only(&fd, &ioas, &access, &big, rounds);
    }

    let null = std::fs::File::open("/dev/null").expect("/dev/null");
    let getppid = time(rounds, 20_000, || {
        // SAFETY: getppid takes no arguments and cannot fail.
        black_box(unsafe { libc::syscall(libc::SYS_getppid) });
    });
    let r = Report {
        syscall_ns: getppid,
    };
    println!(
        "{:<36} {:>12.0} ns {:>9.2}x syscall",
        "syscall getppid", getppid, 1.0
    );
    let mut n = 0i32;
    let null_ns = time(rounds, 20_000, || {
        ioctl(null.as_raw_fd(), libc::FIONREAD as u32, &mut n);
    });
    r.call("ioctl /dev/null FIONREAD", null_ns);

    let mut opt = IommuOption {
        size: size_of::<IommuOption>() as u32,
        option_id: IOMMU_OPTION_RLIMIT_MODE,
        op: IOMMU_OPTION_OP_GET,
        ..Default::default()
    };
    must("IOMMU_OPTION", ioctl(raw, IOMMU_OPTION, &mut opt));
    r.call(
        "IOMMU_OPTION get",
        time(rounds, 20_000, || {
            ioctl(raw, IOMMU_OPTION, &mut opt);
        }),
    );

    let mut ranges = [IommuIovaRange::default(); 4];
    let mut ir = IommuIoasIovaRanges {
        size: size_of::<IommuIoasIovaRanges>() as u32,
        ioas_id: ioas.id().raw(),
        num_iovas: 4,
        allowed_iovas: ranges.as_mut_ptr() as u64,
        ..Default::default()
    };
    must(
        "IOAS_IOVA_RANGES",
        ioctl(raw, IOMMU_IOAS_IOVA_RANGES, &mut ir),
    );
    r.call(
        "IOAS_IOVA_RANGES",
        time(rounds, 20_000, || {
            ir.num_iovas = 4;
            ioctl(raw, IOMMU_IOAS_IOVA_RANGES, &mut ir);
        }),
    );

    let mut destroy = IommuDestroy {
        size: size_of::<IommuDestroy>() as u32,
        id: 0xfff_fff0,
    };
    r.call(
        "DESTROY missing ID (ENOENT)",
        time(rounds, 20_000, || {
            ioctl(raw, IOMMU_DESTROY, &mut destroy);
        }),
    );

    for (name, len, iters) in [
        ("IOAS_MAP+UNMAP 4 KiB, mock domain", 4096u64, 2_000),
        ("IOAS_MAP+UNMAP 1 MiB, mock domain", 1 << 20, 500),
    ] {
        let mut map = IommuIoasMap {
            size: size_of::<IommuIoasMap>() as u32,
            flags: IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
            ioas_id: ioas.id().raw(),
            user_va: big.addr(),
            length: len,
            iova: MOCK_APERTURE_START,
            ..Default::default()
        };
        let mut unmap = IommuIoasUnmap {
            size: size_of::<IommuIoasUnmap>() as u32,
            ioas_id: ioas.id().raw(),
            iova: MOCK_APERTURE_START,
            length: len,
        };
        must("IOAS_MAP", ioctl(raw, IOMMU_IOAS_MAP, &mut map));
        must("IOAS_UNMAP", ioctl(raw, IOMMU_IOAS_UNMAP, &mut unmap));
        r.call(
            name,
            time(rounds, iters, || {
                ioctl(raw, IOMMU_IOAS_MAP, &mut map);
                unmap.length = len;
                ioctl(raw, IOMMU_IOAS_UNMAP, &mut unmap);
            }),
        );
    }

    // An emulated device's DMA: ACCESS_RW reads IOVA memory into a user buffer.
    map_for_access(raw, &ioas, &big);
    let src = big.to_vec();
    for (name, len, iters) in [
        ("ACCESS_RW read 4 KiB", 4096usize, 5_000),
        ("ACCESS_RW read 1 MiB", 1 << 20, 200),
    ] {
        let mut out = vec![0u8; len];
        let memcpy_ns = time(rounds, iters, || {
            out.copy_from_slice(black_box(&src[..len]));
            black_box(&mut out);
        });
        let mut cmd = access_read(&access, &mut out);
        must("ACCESS_RW", ioctl(raw, IOMMU_TEST_CMD, &mut cmd));
        assert!(out.iter().all(|&b| b == 0x5a), "ACCESS_RW read wrong data");
        let ns = time(rounds, iters, || {
            ioctl(raw, IOMMU_TEST_CMD, &mut cmd);
        });
        r.copy(
            &format!("memcpy {}", &name[15..]),
            memcpy_ns,
            len,
            memcpy_ns,
        );
        r.copy(name, ns, len, memcpy_ns);
    }
    if !no_edu {
        edu_dma(rounds, &r);
    }
    Ok(())
}

/// Maps the 1 MiB of `big` at the mock aperture's start, for the accesses to read.
fn map_for_access(raw: RawFd, ioas: &uiommu_client::Ioas, big: &MappedBuffer) {
    let mut map = IommuIoasMap {
        size: size_of::<IommuIoasMap>() as u32,
        flags: IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
        ioas_id: ioas.id().raw(),
        user_va: big.addr(),
        length: 1 << 20,
        iova: MOCK_APERTURE_START,
        ..Default::default()
    };
    must("IOAS_MAP", ioctl(raw, IOMMU_IOAS_MAP, &mut map));
}

/// `IOMMU_TEST_OP_ACCESS_RW` reading `out.len()` bytes from the aperture's start into `out`.
fn access_read(access: &uiommu_client::Access, out: &mut [u8]) -> IommuTestCmd {
    IommuTestCmd::new(
        access.as_fd().as_raw_fd() as u32,
        TestAccessRw {
            iova: MOCK_APERTURE_START,
            length: out.len() as u64,
            uptr: out.as_mut_ptr() as u64,
            ..Default::default()
        },
    )
}

/// ACCESS_RW reading 4 KiB, `rounds` rounds of a million calls: nothing else runs, so a
/// profile of the process is the call's.
fn access_rw_only(
    fd: &Iommufd,
    ioas: &uiommu_client::Ioas,
    access: &uiommu_client::Access,
    big: &MappedBuffer,
    rounds: u32,
) -> uiommu_client::Result<()> {
    let raw = fd.as_fd().as_raw_fd();
    map_for_access(raw, ioas, big);
    let mut out = vec![0u8; 4096];
    let mut cmd = access_read(access, &mut out);
    let ns = time(rounds, 1_000_000, || {
        ioctl(raw, IOMMU_TEST_CMD, &mut cmd);
    });
    assert!(out.iter().all(|&b| b == 0x5a), "ACCESS_RW read wrong data");
    println!("{:<36} {ns:>12.0} ns", "ACCESS_RW read 4 KiB");
    Ok(())
}

/// The emulated edu's DMA of 4 KiB each way, if an edu is there (see [`edu`]).
fn edu_dma(rounds: u32, r: &Report) {
    let src = vec![0x3cu8; edu::LEN];
    let mut dst = vec![0u8; edu::LEN];
    let memcpy_ns = time(rounds, 5_000, || {
        dst.copy_from_slice(black_box(&src));
        black_box(&mut dst);
    });
    let mut timer = |iters: u32, f: &mut dyn FnMut()| time(rounds, iters, f);
    match edu::run(&mut timer) {
        Ok(rows) if rows.is_empty() => {
            println!("(no edu device: run under `uiommu exec --device edu` for its DMA)")
        }
        Ok(rows) => {
            for (name, ns) in rows {
                r.copy(name, ns, edu::LEN, memcpy_ns);
            }
        }
        Err(e) => println!("edu DMA: {e}"),
    }
}

/// Forks; the child returns true and runs the figures with its parent's iommufd, the parent
/// waits for it and returns false (failing if the child failed).
fn in_child() -> uiommu_client::Result<bool> {
    // SAFETY: the program is single-threaded here; the child runs the bench and exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        panic!("fork: {}", std::io::Error::last_os_error());
    }
    if pid == 0 {
        println!("(in a forked child sharing its parent's iommufd)");
        return Ok(true);
    }
    let mut status = 0;
    // SAFETY: waits for the child just forked; `status` is a valid out-pointer.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        panic!("the forked child failed: status {status:#x}");
    }
    Ok(false)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let fork = args.iter().any(|a| a == "--fork");
    let rounds = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(5);
    if let Some(n) = args
        .iter()
        .position(|a| a == "--fewer-calls")
        .and_then(|i| args.get(i + 1)?.parse::<u32>().ok())
    {
        CALLS_DIVISOR.store(n.max(1), Ordering::Relaxed);
    }
    let no_edu = args.iter().any(|a| a == "--no-edu");
    let only = match args
        .iter()
        .position(|a| a == "--only")
        .map(|i| args.get(i + 1))
    {
        None => None,
        Some(Some(w)) if w == "access-rw" => Some(Only::AccessRw),
        Some(w) => {
            eprintln!("bench: --only takes access-rw, not {w:?}");
            return ExitCode::FAILURE;
        }
    };
    match run(rounds, fork, no_edu, only) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}
