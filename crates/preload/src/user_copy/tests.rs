//! The bad pointers the fault-tolerant copy must survive, and the program's own fault handler
//! still running for its own faults.

use super::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};

const PAGE: usize = 4096;

/// `pages` fresh pages of anonymous memory with protection `prot`.
fn map(pages: usize, prot: libc::c_int) -> usize {
    // SAFETY: a new private anonymous mapping at an address the kernel chooses.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            pages * PAGE,
            prot,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(p, libc::MAP_FAILED);
    p as usize
}

/// `pages` fresh read-write pages far below where the kernel places mappings (top down from
/// under the stack), each call at an address of its own: a page unmapped there stays a hole.
/// The tests of this binary run on parallel threads, and a hole left among the others'
/// mappings may be handed to another thread's `mmap` at once (the kernel fills the highest
/// gap that fits), which would make an access there succeed.
fn map_apart(pages: usize) -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let slot = NEXT.fetch_add(1, SeqCst);
    let at = 0x5000_0000_0000 + slot * 64 * PAGE;
    assert!(pages <= 64);
    // SAFETY: a new private anonymous mapping at an address nothing in this process uses;
    // MAP_FIXED_NOREPLACE fails rather than replace anything there.
    let p = unsafe {
        libc::mmap(
            at as *mut c_void,
            pages * PAGE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
            -1,
            0,
        )
    };
    assert_eq!(p as usize, at, "{}", std::io::Error::last_os_error());
    at
}

fn unmap(addr: usize, pages: usize) {
    // SAFETY: unmaps pages this test mapped and no longer references.
    let rc = unsafe { libc::munmap(addr as *mut c_void, pages * PAGE) };
    assert_eq!(rc, 0);
}

#[test]
fn copies_in_and_out() {
    let src = [1u8, 2, 3, 4, 5];
    let mut dst = [0u8; 5];
    OwnMemory.read(src.as_ptr() as u64, &mut dst).unwrap();
    assert_eq!(dst, src);
    let mut out = [0u8; 5];
    OwnMemory
        .write(out.as_mut_ptr() as u64, &[9, 8, 7])
        .unwrap();
    assert_eq!(out, [9, 8, 7, 0, 0]);
    OwnMemory.read(0, &mut []).unwrap();
    assert!(fast(), "the copy should run without a system call here");
}

#[test]
fn null_unmapped_and_wrapping_are_efault() {
    let mut buf = [0u8; 8];
    assert_eq!(OwnMemory.read(0, &mut buf), Err(Errno::EFAULT));
    assert_eq!(OwnMemory.write(0, &buf), Err(Errno::EFAULT));
    assert_eq!(OwnMemory.read(u64::MAX - 3, &mut buf), Err(Errno::EFAULT));
    // Not canonical: a general-protection fault, not a page fault.
    assert_eq!(OwnMemory.read(1 << 63, &mut buf), Err(Errno::EFAULT));
    let gone = map_apart(1);
    unmap(gone, 1);
    assert_eq!(OwnMemory.read(gone as u64, &mut buf), Err(Errno::EFAULT));
    assert_eq!(OwnMemory.write(gone as u64, &buf), Err(Errno::EFAULT));
}

#[test]
fn a_struct_straddling_into_an_unmapped_page_is_efault() {
    let base = map_apart(2);
    unmap(base + PAGE, 1);
    let edge = (base + PAGE) as u64;
    let mut buf = [0u8; 16];
    OwnMemory.read(edge - 16, &mut buf).unwrap();
    assert_eq!(OwnMemory.read(edge - 8, &mut buf), Err(Errno::EFAULT));
    assert_eq!(OwnMemory.write(edge - 8, &[7u8; 16]), Err(Errno::EFAULT));
    // The bytes before the hole were written, as copy_to_user leaves them.
    let mut head = [0u8; 8];
    OwnMemory.read(edge - 8, &mut head).unwrap();
    assert_eq!(head, [7u8; 8]);
    unmap(base, 1);
}

#[test]
fn every_length_and_alignment_copies_exactly() {
    // Across the vector loop's 128-byte blocks, its 16-byte steps and its byte tail, and past
    // the length where `rep movsb` takes over.
    let src: Vec<u8> = (0..3 * super::WIDE_MAX)
        .map(|i| (i * 7 + 3) as u8)
        .collect();
    let mut dst = vec![0u8; src.len() + 64];
    let lens = (0..300).chain([
        4095,
        4096,
        4097,
        super::WIDE_MAX - 1,
        super::WIDE_MAX,
        2 * super::WIDE_MAX + 5,
    ]);
    for len in lens {
        for (s_off, d_off) in [(0, 0), (1, 0), (0, 3), (17, 33)] {
            dst.fill(0);
            let s = &src[s_off..s_off + len];
            OwnMemory
                .read(s.as_ptr() as u64, &mut dst[d_off..d_off + len])
                .unwrap();
            assert_eq!(&dst[d_off..d_off + len], s, "len {len} at {s_off}/{d_off}");
            assert!(dst[..d_off].iter().all(|&b| b == 0));
            assert!(
                dst[d_off + len..].iter().all(|&b| b == 0),
                "len {len} overran"
            );
        }
    }
}

#[test]
fn a_copy_into_a_hole_copies_every_byte_before_it() {
    // Short copies (whole-word moves), and long enough for the vector loop, which meets the
    // hole in the middle of a block or in its last, overlapping move.
    let base = map_apart(4);
    unmap(base + 3 * PAGE, 1);
    let edge = (base + 3 * PAGE) as u64;
    for before in [1usize, 2, 3, 5, 7, 15, 16, 100, 128, 1000, 2 * PAGE + 7] {
        for past in [1usize, 3, 9, 200] {
            let start = edge - before as u64;
            let data: Vec<u8> = (0..before + past).map(|i| i as u8 | 1).collect();
            assert_eq!(OwnMemory.write(start, &data), Err(Errno::EFAULT));
            let mut got = vec![0u8; before];
            OwnMemory.read(start, &mut got).unwrap();
            assert_eq!(
                got,
                data[..before],
                "{before} bytes written before the hole"
            );
            let mut back = vec![0u8; before + past];
            assert_eq!(OwnMemory.read(start, &mut back), Err(Errno::EFAULT));
            assert_eq!(
                back[..before],
                data[..before],
                "{before} bytes read before the hole"
            );
            assert!(back[before..].iter().all(|&b| b == 0), "read past the hole");
            OwnMemory.write(start, &vec![0u8; before]).unwrap();
        }
    }
    unmap(base, 3);
}

#[test]
fn prot_none_and_read_only_are_efault() {
    let none = map(1, libc::PROT_NONE);
    let ro = map(1, libc::PROT_READ);
    let mut buf = [0u8; 8];
    assert_eq!(OwnMemory.read(none as u64, &mut buf), Err(Errno::EFAULT));
    assert_eq!(OwnMemory.write(none as u64, &buf), Err(Errno::EFAULT));
    OwnMemory.read(ro as u64, &mut buf).unwrap();
    assert_eq!(OwnMemory.write(ro as u64, &buf), Err(Errno::EFAULT));
    unmap(none, 1);
    unmap(ro, 1);
}

#[test]
fn a_concurrent_munmap_is_efault_not_a_crash() {
    const PAGES: usize = 4096;
    let mut buf = vec![0u8; PAGES * PAGE];
    for _ in 0..20 {
        let base = map(PAGES, libc::PROT_READ | libc::PROT_WRITE);
        let go = AtomicBool::new(false);
        let faults = AtomicUsize::new(0);
        std::thread::scope(|s| {
            s.spawn(|| {
                while !go.load(SeqCst) {
                    std::hint::spin_loop();
                }
                unmap(base, PAGES);
            });
            go.store(true, SeqCst);
            for _ in 0..50 {
                if OwnMemory.read(base as u64, &mut buf).is_err() {
                    faults.fetch_add(1, SeqCst);
                }
            }
        });
        // After the unmap, every copy fails.
        assert!(faults.load(SeqCst) > 0);
    }
}

static PROGRAM_PAGE: AtomicUsize = AtomicUsize::new(0);
static PROGRAM_FAULTS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn program_handler(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut c_void) {
    PROGRAM_FAULTS.fetch_add(1, SeqCst);
    let page = PROGRAM_PAGE.load(SeqCst);
    // SAFETY: makes the test's own page accessible so the faulting load succeeds when re-run.
    unsafe {
        libc::mprotect(
            page as *mut c_void,
            PAGE,
            libc::PROT_READ | libc::PROT_WRITE,
        )
    };
}

#[test]
fn the_programs_own_handler_still_sees_its_faults() {
    handler::install();
    let page = map(1, libc::PROT_NONE);
    PROGRAM_PAGE.store(page, SeqCst);
    // SAFETY: an all-zero `sigaction` is valid; the fields are set below.
    let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
    act.sa_sigaction =
        program_handler as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut c_void) as usize;
    act.sa_flags = libc::SA_SIGINFO;
    // SAFETY: an all-zero `sigaction` is valid.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: both structs are valid; this goes to the exported `sigaction`, which records
    // the action behind the fault handler.
    assert_eq!(unsafe { libc::sigaction(libc::SIGSEGV, &act, &mut old) }, 0);
    // The copy's fault is the copy's: EFAULT, the program's handler not run.
    let mut buf = [0u8; 4];
    assert_eq!(OwnMemory.read(page as u64, &mut buf), Err(Errno::EFAULT));
    assert_eq!(PROGRAM_FAULTS.load(SeqCst), 0);
    // The program's own fault reaches its handler, which fixes the page.
    // SAFETY: the page is mapped; the load faults once and the program's handler makes it
    // readable before the load runs again.
    let v = unsafe { std::ptr::read_volatile(page as *const u8) };
    assert_eq!(v, 0);
    assert_eq!(PROGRAM_FAULTS.load(SeqCst), 1);
    // SAFETY: restores the action the test found.
    let rc = unsafe { libc::sigaction(libc::SIGSEGV, &old, std::ptr::null_mut()) };
    assert_eq!(rc, 0);
    unmap(page, 1);
}

#[test]
fn a_blocked_fault_signal_takes_the_slow_path() {
    std::thread::spawn(|| {
        assert!(fast());
        // SAFETY: an all-zero `sigset_t` is a valid (empty) set.
        let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: `set` is a valid set.
        unsafe { libc::sigaddset(&mut set, libc::SIGBUS) };
        // SAFETY: a valid set; this goes to the exported `pthread_sigmask`.
        unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
        assert!(!fast());
        let mut buf = [0u8; 4];
        assert_eq!(OwnMemory.read(0, &mut buf), Err(Errno::EFAULT));
        // SAFETY: as above.
        unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
        assert!(fast());
    })
    .join()
    .unwrap();
}

#[test]
fn copies_within_the_programs_memory() {
    let src: Vec<u8> = (0..64).collect();
    let mut dst = vec![0u8; 64];
    OwnMemory
        .copy(dst.as_mut_ptr() as u64, src.as_ptr() as u64, 64)
        .unwrap();
    assert_eq!(dst, src);
    // Overlapping ranges copy as if through a buffer.
    let mut v: Vec<u8> = (0..16).collect();
    let base = v.as_mut_ptr() as u64;
    OwnMemory.copy(base + 4, base, 8).unwrap();
    assert_eq!(&v[4..12], &[0, 1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(
        OwnMemory.copy(0, src.as_ptr() as u64, 8),
        Err(Errno::EFAULT)
    );
    assert_eq!(
        OwnMemory.copy(dst.as_mut_ptr() as u64, 0, 8),
        Err(Errno::EFAULT)
    );
}

#[test]
fn a_file_page_past_the_end_is_efault_not_sigbus() {
    // SAFETY: a new memfd, owned by this test.
    let fd = unsafe { libc::memfd_create(c"user-copy-bus".as_ptr(), libc::MFD_CLOEXEC) };
    assert!(fd >= 0);
    // SAFETY: sizes the test's own memfd to one page.
    assert_eq!(unsafe { libc::ftruncate(fd, PAGE as libc::off_t) }, 0);
    // SAFETY: a new shared mapping of the memfd, two pages of which only the first is backed.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            2 * PAGE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd,
            0,
        )
    };
    assert_ne!(p, libc::MAP_FAILED);
    let base = p as u64;
    let mut buf = [0u8; 8];
    OwnMemory.read(base, &mut buf).unwrap();
    assert_eq!(
        OwnMemory.read(base + PAGE as u64, &mut buf),
        Err(Errno::EFAULT)
    );
    assert_eq!(
        OwnMemory.write(base + PAGE as u64 - 4, &buf),
        Err(Errno::EFAULT)
    );
    unmap(p as usize, 2);
    // SAFETY: closes the test's own memfd.
    unsafe { libc::close(fd) };
}

#[test]
fn a_write_probe_finds_what_a_store_would_and_changes_nothing() {
    let rw = map(2, libc::PROT_READ | libc::PROT_WRITE);
    let last_of_first = (rw + PAGE - 1) as *mut u8;
    // SAFETY: the last byte of the first of two fresh read-write pages of ours.
    unsafe { last_of_first.write_volatile(0x5a) };
    assert!(
        probe_writable(rw as u64 + PAGE as u64 - 1, 2),
        "across two writable pages"
    );
    // SAFETY: as above.
    let kept = unsafe { last_of_first.read_volatile() };
    assert_eq!(kept, 0x5a, "the byte kept its value");
    let second = (rw + PAGE) as *mut libc::c_void;
    // SAFETY: the second page is ours; making it read-only affects nothing else.
    assert_eq!(unsafe { libc::mprotect(second, PAGE, libc::PROT_READ) }, 0);
    assert!(probe_writable(rw as u64, PAGE));
    assert!(
        !probe_writable(rw as u64 + PAGE as u64 - 8, 16),
        "into a read-only page"
    );
    let none = map(1, libc::PROT_NONE);
    assert!(!probe_writable(none as u64, 1));
    assert!(!probe_writable(0, 4), "NULL");
    assert!(!probe_writable(u64::MAX - 1, 4), "wrapping");
    assert!(!probe_writable(rw as u64, 0), "nothing to probe");
    unmap(rw, 2);
    unmap(none, 1);
}
