//! A campaign: threads that generate and play sequences from one seed until time runs out,
//! a watchdog that stops the process if a call never returns, and the figures.

use crate::corpus;
use crate::generate::generate;
use crate::minimise::minimise;
use crate::run::{Heartbeat, run_with};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How a campaign runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub seconds: f64,
    pub seed: u64,
    pub threads: usize,
    /// Where minimised failing sequences are written.
    pub out: PathBuf,
    /// A call in flight this long stops the process (exit status 2).
    pub hang: Duration,
}

/// What a campaign did.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub sequences: u64,
    pub calls: u64,
    pub failures: u64,
    pub elapsed: Duration,
    /// Where each failure was written.
    pub saved: Vec<PathBuf>,
}

/// The seed of sequence `n` of thread `t` in a campaign seeded `seed` (SplitMix64).
pub fn sequence_seed(seed: u64, t: usize, n: u64) -> u64 {
    let mut z = seed ^ ((t as u64) << 48) ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A seed from the clock, for campaigns that should differ from run to run.
pub fn random_seed() -> u64 {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    sequence_seed(t.as_nanos() as u64, std::process::id() as usize, 0)
}

struct Worker {
    beat: Heartbeat,
    seed: AtomicU64,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Runs a campaign; failures are reported on stderr as they happen.
pub fn campaign(cfg: &Config) -> Stats {
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(cfg.seconds);
    let workers: Vec<Worker> = (0..cfg.threads)
        .map(|_| Worker {
            beat: Heartbeat::default(),
            seed: AtomicU64::new(0),
        })
        .collect();
    let done = AtomicBool::new(false);
    let results = std::thread::scope(|s| {
        s.spawn(|| watchdog(&workers, &done, cfg.hang));
        let handles: Vec<_> = workers
            .iter()
            .enumerate()
            .map(|(t, w)| s.spawn(move || work(cfg, t, w, deadline)))
            .collect();
        let results: Vec<Stats> = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect();
        done.store(true, Ordering::Relaxed);
        results
    });
    let mut total = Stats::default();
    for r in results {
        total.sequences += r.sequences;
        total.calls += r.calls;
        total.failures += r.failures;
        total.saved.extend(r.saved);
    }
    total.elapsed = start.elapsed();
    total
}

fn work(cfg: &Config, t: usize, w: &Worker, deadline: Instant) -> Stats {
    let mut stats = Stats::default();
    let mut n = 0;
    while Instant::now() < deadline {
        let seed = sequence_seed(cfg.seed, t, n);
        n += 1;
        w.seed.store(seed, Ordering::Relaxed);
        let seq = generate(seed);
        stats.sequences += 1;
        match run_with(&seq, &w.beat) {
            Ok(calls) => stats.calls += calls as u64,
            Err(f) => {
                stats.calls += f.call.map_or(seq.calls.len(), |i| i + 1) as u64;
                stats.failures += 1;
                eprintln!("FAILURE: sequence seed {seed:#x} ({}): {f}", seq.model);
                if let Some((small, f)) = minimise(&seq) {
                    match corpus::save(&cfg.out, seed, &small, &f) {
                        Ok(p) => {
                            eprintln!(
                                "  minimised to {} calls: {}",
                                small.calls.len(),
                                p.display()
                            );
                            stats.saved.push(p);
                        }
                        Err(e) => eprintln!("  cannot save: {e}"),
                    }
                }
            }
        }
    }
    stats
}

fn watchdog(workers: &[Worker], done: &AtomicBool, hang: Duration) {
    while !done.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(200));
        for w in workers {
            let started = w.beat.0.load(Ordering::Relaxed);
            if started != 0 && now_ms().saturating_sub(started) > hang.as_millis() as u64 {
                eprintln!(
                    "FAILURE: a call of sequence seed {:#x} has not returned in {hang:?}",
                    w.seed.load(Ordering::Relaxed)
                );
                std::process::exit(2);
            }
        }
    }
}
