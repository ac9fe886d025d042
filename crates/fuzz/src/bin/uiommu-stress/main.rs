//! `uiommu-stress`: several threads on one iommufd context, for a bounded time, under
//! `uiommu exec` (or on a kernel with the iommufd selftest): maps, unmaps and copies on
//! overlapping and disjoint ranges, mock devices attached, replaced and destroyed, an IOAS
//! destroyed while in use, an fd closed and re-pointed (`close`, `close_range`, `dup2`) while
//! another thread makes calls on it, and forks during all that. Every result must be one the
//! kernel can give for that call given the others (see `roles`); at the end, with every fd
//! closed, no page of the buffer may still be pinned (`IOMMU_TEST_OP_MD_CHECK_REFS` from a new
//! context).
//!
//! ```text
//! uiommu exec -- uiommu-stress [--seconds N] [--seed S] [--alias-fd N] [--without ROLE,...]
//! ```
//! Exit status: 0 if all held, 1 on a failure, 2 if `/dev/iommu` cannot be opened.

mod ops;
mod roles;
mod sys;
mod tally;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use roles::{BUF_PAGES, PAGE, Shared};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tally::Tally;

type Role = fn(&Shared, &mut ChaCha8Rng) -> Tally;

const ROLES: &[(&str, Role)] = &[
    ("overlapping", roles::overlapping),
    ("overlapping", roles::overlapping),
    ("disjoint", roles::disjoint),
    ("copier", roles::copier),
    ("attacher", roles::attacher),
    ("destroyer", roles::destroyer),
    ("victim-user", roles::victim_user),
    ("fd-racer", roles::fd_racer),
    ("alias-user", roles::alias_user),
    ("forker", roles::forker),
];

fn main() -> ExitCode {
    let mut seconds = 20.0;
    let mut seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    let mut without: Vec<String> = Vec::new();
    let mut alias_fd = 0;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().unwrap_or_default();
        match a.as_str() {
            "--seconds" => seconds = v.parse().unwrap_or(seconds),
            "--seed" => seed = v.parse().unwrap_or(seed),
            "--alias-fd" => alias_fd = v.parse().unwrap_or(alias_fd),
            "--without" => without.extend(v.split(',').map(String::from)),
            _ => {
                eprintln!(
                    "usage: uiommu-stress [--seconds N] [--seed S] [--alias-fd N] [--without ROLE,...]"
                );
                return ExitCode::from(64);
            }
        }
    }
    let (Ok(fd), Ok(other)) = (sys::open_iommu(), sys::open_iommu()) else {
        eprintln!("uiommu-stress: cannot open /dev/iommu (run under `uiommu exec`)");
        return ExitCode::from(2);
    };
    let mut setup = Tally::default();
    // By default the lowest free number, the one any file opened meanwhile takes: the library
    // must put nothing of its own there while the program races on it.
    let alias = setup
        .check("dup", sys::dup_from(fd, alias_fd), &[])
        .unwrap_or(-1);
    let a = setup
        .check("alloc A", ops::ioas_alloc(fd), &[])
        .unwrap_or(0);
    let b = setup
        .check("alloc B", ops::ioas_alloc(fd), &[])
        .unwrap_or(0);
    let shared = Shared {
        fd,
        other,
        alias,
        a,
        b,
        buf: sys::buffer((BUF_PAGES * PAGE) as usize),
        victim: AtomicU32::new(0),
        stop: AtomicBool::new(false),
    };
    println!(
        "uiommu-stress: seed {seed}, {} threads, {seconds} s",
        ROLES.len()
    );
    let start = Instant::now();
    let mut total = setup;
    std::thread::scope(|s| {
        let handles: Vec<_> = ROLES
            .iter()
            .filter(|(name, _)| !without.iter().any(|w| w == name))
            .enumerate()
            .map(|(i, (name, role))| {
                let shared = &shared;
                let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (i as u64) << 56);
                std::thread::Builder::new()
                    .name((*name).into())
                    .spawn_scoped(s, move || role(shared, &mut rng))
                    .expect("spawn")
            })
            .collect();
        std::thread::sleep(Duration::from_secs_f64(seconds));
        shared.stop.store(true, Ordering::Relaxed);
        for h in handles {
            match h.join() {
                Ok(t) => total.merge(t),
                Err(_) => total.fail("a thread panicked".into()),
            }
        }
    });
    teardown(&shared, &mut total);
    report(&total, start.elapsed())
}

/// Empties and destroys A and B, closes every fd, then checks from a new context that no page
/// of the buffer is pinned.
fn teardown(s: &Shared, t: &mut Tally) {
    for ioas in [s.a, s.b] {
        t.check("unmap all", ops::unmap(s.fd, ioas, 0, u64::MAX), &[]);
        t.check("destroy IOAS", ops::destroy(s.fd, ioas), &[]);
    }
    t.check("close alias", sys::close(s.alias), &[libc::EBADF]);
    t.check("close", sys::close(s.fd), &[]);
    t.check("close other", sys::close(s.other), &[]);
    let Some(fresh) = t.check("open", sys::open_iommu(), &[]) else {
        return;
    };
    if ops::check_refs(fresh, s.buf, BUF_PAGES * PAGE, 0).is_err() {
        t.fail("pages of the buffer still pinned after every fd was closed".into());
    }
    t.check("close fresh", sys::close(fresh), &[]);
}

fn report(t: &Tally, took: Duration) -> ExitCode {
    for (op, results) in &t.ops {
        let r: Vec<_> = results.iter().map(|(k, n)| format!("{k}:{n}")).collect();
        println!("  {op:20} {}", r.join(" "));
    }
    let secs = took.as_secs_f64();
    println!(
        "uiommu-stress: {} calls in {secs:.1} s ({:.0}/s), {} failures",
        t.calls(),
        t.calls() as f64 / secs,
        t.bad.values().sum::<u64>()
    );
    for (what, n) in &t.bad {
        println!("FAILURE ({n}x): {what}");
    }
    if t.bad.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
