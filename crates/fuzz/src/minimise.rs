//! Shrinking a failing sequence: cut it after the failing call, then remove chunks of calls,
//! halving the chunk size down to one call, for as long as it still fails the same way.

use crate::call::Sequence;
use crate::run::{Failure, run};

/// What kind of failure this is, so that shrinking does not wander to another bug: a panic,
/// a teardown leak, or an invariant broken by one command.
fn class(f: &Failure) -> String {
    if f.what.starts_with("panic") {
        return "panic".into();
    }
    match f.call {
        None => "teardown".into(),
        Some(_) => f.what.split(" -> ").next().unwrap_or("").into(),
    }
}

/// The smallest sequence found that fails as `seq` does, with its failure; `None` if `seq`
/// does not fail.
pub fn minimise(seq: &Sequence) -> Option<(Sequence, Failure)> {
    minimise_by(seq, run)
}

/// [`minimise`] with another player (for testing the shrinking itself).
pub fn minimise_by(
    seq: &Sequence,
    play: impl Fn(&Sequence) -> Result<usize, Failure>,
) -> Option<(Sequence, Failure)> {
    let mut failure = play(seq).err()?;
    let want = class(&failure);
    let mut best = seq.clone();
    if let Some(i) = failure.call {
        best.calls.truncate(i + 1);
    }
    let mut chunk = best.calls.len().div_ceil(2).max(1);
    loop {
        let mut changed = false;
        let mut at = 0;
        while at < best.calls.len() {
            let mut cand = best.clone();
            let end = (at + chunk).min(cand.calls.len());
            cand.calls.drain(at..end);
            match play(&cand) {
                Err(f) if class(&f) == want => {
                    failure = f;
                    best = cand;
                    changed = true;
                }
                _ => at += chunk,
            }
        }
        if chunk == 1 && !changed {
            return Some((best, failure));
        }
        if !changed {
            chunk = (chunk / 2).max(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate;

    #[test]
    fn shrinking_keeps_only_the_calls_the_failure_needs() {
        // A made-up bug: failing whenever a map follows an unmap, somewhere later.
        let play = |s: &Sequence| {
            let unmap = s.calls.iter().position(|c| c.name == "IOMMU_IOAS_UNMAP");
            let map = unmap.and_then(|u| {
                s.calls[u..]
                    .iter()
                    .position(|c| c.name == "IOMMU_IOAS_MAP")
                    .map(|m| u + m)
            });
            match map {
                Some(m) => Err(Failure {
                    call: Some(m),
                    what: "IOMMU_IOAS_MAP -> Ok(0): made up".into(),
                }),
                None => Ok(s.calls.len()),
            }
        };
        let seq = (0..)
            .map(generate)
            .find(|s| s.calls.len() > 50 && play(s).is_err())
            .unwrap();
        let (small, f) = minimise_by(&seq, play).unwrap();
        let names: Vec<_> = small.calls.iter().map(|c| c.name).collect();
        assert_eq!(names, ["IOMMU_IOAS_UNMAP", "IOMMU_IOAS_MAP"]);
        assert_eq!(f.call, Some(1));
        assert!(minimise_by(&small, |s| Ok(s.calls.len())).is_none());
    }
}
