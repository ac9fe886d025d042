//! `uiommu-fuzz`: runs a fuzzing campaign, or replays sequences.
//!
//! ```text
//! uiommu-fuzz [--seconds N] [--seed S|random] [--threads T] [--out DIR]
//! uiommu-fuzz --sequence SEED      # play (and minimise) one generated sequence
//! uiommu-fuzz --seed S --stats N   # what N sequences' calls returned, per command
//! uiommu-fuzz --replay FILE...     # play sequences from files
//! uiommu-fuzz --trace FILE         # play one, printing what each call returned
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use uiommu_fuzz::campaign::{Config, campaign, random_seed, sequence_seed};
use uiommu_fuzz::run::{Heartbeat, run_observed};
use uiommu_fuzz::{Sequence, generate, minimise, run};

fn num(s: &str) -> Result<u64, String> {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    }
    .map_err(|e| format!("{s}: {e}"))
}

fn main() -> ExitCode {
    // Panics are caught and reported as failures; the default hook would only add noise.
    std::panic::set_hook(Box::new(|_| {}));
    match real_main() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("uiommu-fuzz: {e}");
            ExitCode::from(64)
        }
    }
}

fn real_main() -> Result<ExitCode, String> {
    let mut cfg = Config {
        seconds: 10.0,
        seed: random_seed(),
        threads: 1,
        out: uiommu_fuzz::corpus::default_dir(),
        hang: Duration::from_secs(30),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--seconds" => cfg.seconds = val()?.parse().map_err(|e| format!("{e}"))?,
            "--seed" => {
                let v = val()?;
                cfg.seed = if v == "random" {
                    random_seed()
                } else {
                    num(&v)?
                };
            }
            "--threads" => cfg.threads = num(&val()?)? as usize,
            "--out" => cfg.out = PathBuf::from(val()?),
            "--trace" => {
                let f = val()?;
                let text = std::fs::read_to_string(&f).map_err(|e| format!("{f}: {e}"))?;
                let seq = Sequence::parse(&text)?;
                let mut i = 0;
                let r = run_observed(&seq, &Heartbeat::default(), &mut |p, r| {
                    println!("{i:3} {} -> {r:?}", seq.calls[i]);
                    let _ = p;
                    i += 1;
                });
                println!(
                    "{}",
                    r.map_or_else(|f| format!("failed: {f}"), |n| format!("ok: {n} calls"))
                );
                return Ok(ExitCode::SUCCESS);
            }
            "--stats" => return Ok(stats(cfg.seed, num(&val()?)?)),
            "--sequence" => return Ok(one(generate(num(&val()?)?))),
            "--replay" => {
                let mut code = ExitCode::SUCCESS;
                for f in std::iter::once(val()?).chain(args.by_ref()) {
                    let text = std::fs::read_to_string(&f).map_err(|e| format!("{f}: {e}"))?;
                    println!("{f}:");
                    if one(Sequence::parse(&text)?) != ExitCode::SUCCESS {
                        code = ExitCode::FAILURE;
                    }
                }
                return Ok(code);
            }
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    println!(
        "uiommu-fuzz: seed {:#x}, {} thread(s), {} s",
        cfg.seed, cfg.threads, cfg.seconds
    );
    let s = campaign(&cfg);
    let secs = s.elapsed.as_secs_f64();
    println!(
        "uiommu-fuzz: seed {:#x}: {} calls in {} sequences, {:.1} s, {:.0} calls/s, {} failures",
        cfg.seed,
        s.calls,
        s.sequences,
        secs,
        s.calls as f64 / secs.max(1e-9),
        s.failures
    );
    Ok(if s.failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Plays `n` sequences and prints, per command (and test operation), how many calls
/// succeeded and the commonest errnos: whether the generator reaches past the first checks.
fn stats(seed: u64, n: u64) -> ExitCode {
    use std::collections::BTreeMap;
    let mut table: BTreeMap<String, (u64, BTreeMap<String, u64>)> = BTreeMap::new();
    let beat = Heartbeat::default();
    for i in 0..n {
        let seq = generate(sequence_seed(seed, 0, i));
        let _ = run_observed(&seq, &beat, &mut |p, r| {
            let mut name = p.command.name.to_string();
            if name == "IOMMU_TEST_CMD" {
                name = format!("{name}/{}", p.get(4, 4));
            }
            let row = table.entry(name).or_default();
            row.0 += u64::from(r.is_ok());
            *row.1
                .entry(r.map_or_else(|e| e.name().to_string(), |_| "ok".into()))
                .or_default() += 1;
        });
    }
    for (name, (ok, results)) in table {
        let mut r: Vec<_> = results.into_iter().collect();
        r.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
        let top: Vec<_> = r.iter().take(5).map(|(e, n)| format!("{e}:{n}")).collect();
        println!("{name:40} ok {ok:6}  {}", top.join(" "));
    }
    ExitCode::SUCCESS
}

/// Plays one sequence; on failure prints it minimised.
fn one(seq: Sequence) -> ExitCode {
    match run(&seq) {
        Ok(n) => {
            println!("ok: {n} calls ({})", seq.model);
            ExitCode::SUCCESS
        }
        Err(f) => {
            println!("failed: {f}");
            if let Some((small, f)) = minimise(&seq) {
                println!("minimised ({f}):\n{}", small.to_text());
            }
            ExitCode::FAILURE
        }
    }
}
