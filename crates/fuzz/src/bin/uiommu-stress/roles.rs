//! The threads of the stress run, one function each, and the errnos the kernel may answer
//! each of their calls with given what the other threads do at the same time.
//!
//! IOVAs stay inside the mock IOMMU's aperture (`MOCK_APERTURE_START` = 16 MiB onwards), so
//! attaching a mock device to an IOAS never fails for an area outside it.

use crate::ops;
use crate::sys;
use crate::tally::Tally;
use libc::{EBADF, EBUSY, EEXIST, ENOENT};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const PAGE: u64 = 4096;
/// Pages of the buffer every map takes its memory from.
pub const BUF_PAGES: u64 = 256;
/// Where the overlapping maps of two threads collide.
const SHARED_IOVA: u64 = 0x100_0000;
/// Where one thread maps alone.
const OWN_IOVA: u64 = 0x180_0000;
/// Where the short-lived IOAS is mapped.
const VICTIM_IOVA: u64 = 0x1c0_0000;

/// What every thread works on.
pub struct Shared {
    /// The context.
    pub fd: i32,
    /// A second context, which the raced fd number is sometimes made to point at.
    pub other: i32,
    /// An fd number that one thread closes and re-points while another makes calls on it.
    pub alias: i32,
    /// Two IOASes that live for the whole run.
    pub a: u32,
    pub b: u32,
    /// The buffer, `BUF_PAGES` pages.
    pub buf: u64,
    /// The IOAS one thread keeps allocating and destroying (0 between).
    pub victim: AtomicU32,
    pub stop: AtomicBool,
}

impl Shared {
    fn running(&self) -> bool {
        !self.stop.load(Ordering::Relaxed)
    }

    fn page(&self, rng: &mut ChaCha8Rng, n: u64) -> u64 {
        self.buf + rng.random_range(0..BUF_PAGES - n) * PAGE
    }
}

/// Maps and unmaps 1-4 pages at IOVAs that another thread also uses: a map may find the
/// IOVAs taken (`EEXIST`); an unmap may find its area already gone, removed by the other
/// thread's wider unmap, or only partly inside its range (`ENOENT`, `iopt_unmap_iova_range`).
pub fn overlapping(s: &Shared, rng: &mut ChaCha8Rng) -> Tally {
    let mut t = Tally::default();
    while s.running() {
        let n = rng.random_range(1..=4);
        let iova = SHARED_IOVA + rng.random_range(0..16) * PAGE;
        let uva = s.page(rng, n);
        if t.check(
            "map shared",
            ops::map(s.fd, s.a, iova, uva, n * PAGE),
            &[EEXIST],
        )
        .is_some()
        {
            t.check(
                "unmap shared",
                ops::unmap(s.fd, s.a, iova, n * PAGE),
                &[ENOENT],
            );
        }
    }
    t
}

/// Maps and unmaps where no other thread does: every call must succeed, and each unmap must
/// remove exactly what the map added.
pub fn disjoint(s: &Shared, rng: &mut ChaCha8Rng) -> Tally {
    let mut t = Tally::default();
    while s.running() {
        let n = rng.random_range(1..=8);
        let iova = OWN_IOVA + rng.random_range(0..32) * PAGE;
        let uva = s.page(rng, n);
        if t.check("map own", ops::map(s.fd, s.a, iova, uva, n * PAGE), &[])
            .is_none()
        {
            continue;
        }
        if let Some(len) = t.check("unmap own", ops::unmap(s.fd, s.a, iova, n * PAGE), &[]) {
            if len != n * PAGE {
                t.fail(format!(
                    "unmap own: {len:#x} bytes unmapped, {:#x} mapped",
                    n * PAGE
                ));
            }
        }
    }
    t
}

/// Copies from the shared range of A (mapped and unmapped by others meanwhile) into B: the
/// source may not be wholly mapped (`ENOENT`); nothing else uses B's range, so the
/// destination is always free.
pub fn copier(s: &Shared, rng: &mut ChaCha8Rng) -> Tally {
    let mut t = Tally::default();
    while s.running() {
        let n = rng.random_range(1..=2);
        let src = SHARED_IOVA + rng.random_range(0..16) * PAGE;
        let dst = SHARED_IOVA + rng.random_range(0..8) * PAGE;
        let r = ops::copy(s.fd, s.b, dst, s.a, src, n * PAGE);
        if t.check("copy", r, &[ENOENT]).is_some() {
            t.check("unmap copy", ops::unmap(s.fd, s.b, dst, n * PAGE), &[]);
        }
    }
    t
}

/// Creates mock devices on A, moves them between A and B, and destroys them, while the
/// other threads map: every call must succeed (the domains are filled and emptied as the
/// areas come and go).
pub fn attacher(s: &Shared, rng: &mut ChaCha8Rng) -> Tally {
    let mut t = Tally::default();
    while s.running() {
        let Some(dev) = t.check("mock domain", ops::mock_domain(s.fd, s.a), &[]) else {
            continue;
        };
        for _ in 0..rng.random_range(1..6) {
            let pt = if rng.random() { s.b } else { s.a };
            t.check("replace", ops::replace(s.fd, dev, pt), &[]);
        }
        t.check("destroy device", ops::destroy(s.fd, dev), &[]);
    }
    t
}

/// Allocates an IOAS, maps into it and destroys it while [`victim_user`] uses it: destroy may
/// find it busy (`EBUSY`) and is retried.
pub fn destroyer(s: &Shared, rng: &mut ChaCha8Rng) -> Tally {
    let mut t = Tally::default();
    while s.running() {
        let Some(id) = t.check("alloc victim", ops::ioas_alloc(s.fd), &[]) else {
            continue;
        };
        let uva = s.page(rng, 1);
        t.check(
            "map victim",
            ops::map(s.fd, id, VICTIM_IOVA, uva, PAGE),
            &[],
        );
        s.victim.store(id, Ordering::Relaxed);
        std::thread::yield_now();
        s.victim.store(0, Ordering::Relaxed);
        let deadline = Instant::now() + Duration::from_secs(5);
        while t
            .check("destroy victim", ops::destroy(s.fd, id), &[EBUSY])
            .is_none()
        {
            if Instant::now() > deadline {
                t.fail("destroy victim: still busy after 5 s".into());
                break;
            }
        }
    }
    t
}

/// Uses whatever IOAS [`destroyer`] last published: it may be gone (`ENOENT`), its ID reused
/// by another IOAS whose IOVAs are taken (`EEXIST`), or by another kind of object (`ENOENT`).
pub fn victim_user(s: &Shared, rng: &mut ChaCha8Rng) -> Tally {
    let mut t = Tally::default();
    while s.running() {
        let id = s.victim.load(Ordering::Relaxed);
        if id == 0 {
            std::thread::yield_now();
            continue;
        }
        let iova = VICTIM_IOVA + rng.random_range(1..4) * PAGE;
        let uva = s.page(rng, 1);
        if t.check(
            "map on victim",
            ops::map(s.fd, id, iova, uva, PAGE),
            &[ENOENT, EEXIST],
        )
        .is_some()
        {
            t.check(
                "unmap on victim",
                ops::unmap(s.fd, id, iova, PAGE),
                &[ENOENT],
            );
        }
        t.check("ranges of victim", ops::iova_ranges(s.fd, id), &[ENOENT]);
    }
    t
}

/// Closes and re-points the alias fd (`close`, `close_range`, `dup2` from either context)
/// while [`alias_user`] makes calls on it. It never closes the number twice in a row: once
/// closed, the number may be any file's, the library's own included, and closing it again
/// would be the program's bug, on the kernel too.
pub fn fd_racer(s: &Shared, rng: &mut ChaCha8Rng) -> Tally {
    let mut t = Tally::default();
    let mut open = true;
    while s.running() {
        let op = rng.random_range(0..4);
        match (open, op) {
            (true, 0) => t.check("close alias", sys::close(s.alias), &[]),
            (true, 1) => t.check(
                "close_range alias",
                sys::close_range(s.alias as u32, s.alias as u32),
                &[],
            ),
            (_, 0 | 2) => t.check("dup2 other", sys::dup2(s.other, s.alias), &[]),
            _ => t.check("dup2 main", sys::dup2(s.fd, s.alias), &[]),
        };
        // A close leaves the number free; a `dup2` fills it.
        open = !(open && op < 2);
        std::thread::yield_now();
    }
    t
}

/// Calls on the alias fd: closed (`EBADF`), or the other context, which has no IOAS A
/// (`ENOENT`). Never `ENOTTY`: the number is never another kind of file.
pub fn alias_user(s: &Shared, rng: &mut ChaCha8Rng) -> Tally {
    let mut t = Tally::default();
    while s.running() {
        t.check(
            "ranges via alias",
            ops::iova_ranges(s.alias, s.a),
            &[EBADF, ENOENT],
        );
        if rng.random_ratio(1, 64) {
            t.check("alloc via alias", ops::ioas_alloc(s.alias), &[EBADF]);
        }
    }
    t
}

/// Forks while the others map; the child makes one call on the inherited fd and exits. A
/// child that has not exited within 5 s is stuck on a lock some thread held at the fork.
pub fn forker(s: &Shared, _rng: &mut ChaCha8Rng) -> Tally {
    let mut t = Tally::default();
    let (fd, a) = (s.fd, s.a);
    while s.running() {
        let Some(pid) = t.check(
            "fork",
            sys::fork(|| ops::iova_ranges(fd, a).map_or(0, |_| 0)),
            &[],
        ) else {
            continue;
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match sys::try_wait(pid) {
                Ok(Some(status)) => {
                    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
                        t.fail(format!("forked child ended with status {status:#x}"));
                    }
                    break;
                }
                Ok(None) if Instant::now() > deadline => {
                    t.fail("forked child stuck for 5 s".into());
                    sys::kill(pid);
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(1)),
                Err(e) => {
                    t.fail(format!("waitpid: errno {e}"));
                    break;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    t
}
