//! What each thread saw: per operation, how often each result came back, and every result
//! outside the kernel's set for that call.

use crate::ops::R;
use std::collections::BTreeMap;
use uiommu_uapi::Errno;

#[derive(Debug, Default)]
pub struct Tally {
    /// Operation -> result ("ok" or the errno's name) -> count.
    pub ops: BTreeMap<&'static str, BTreeMap<&'static str, u64>>,
    /// What went wrong, once each (with a count).
    pub bad: BTreeMap<String, u64>,
}

impl Tally {
    /// Counts `r`; an errno outside `allowed` is a failure. The value, if any.
    pub fn check<T>(&mut self, op: &'static str, r: R<T>, allowed: &[i32]) -> Option<T> {
        let name = match &r {
            Ok(_) => "ok",
            Err(e) => Errno(*e).name(),
        };
        *self.ops.entry(op).or_default().entry(name).or_default() += 1;
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                if !allowed.contains(&e) {
                    self.fail(format!("{op}: {name} ({e}), allowed {:?}", names(allowed)));
                }
                None
            }
        }
    }

    /// Records a failure.
    pub fn fail(&mut self, what: String) {
        *self.bad.entry(what).or_default() += 1;
    }

    pub fn merge(&mut self, other: Tally) {
        for (op, results) in other.ops {
            let mine = self.ops.entry(op).or_default();
            for (r, n) in results {
                *mine.entry(r).or_default() += n;
            }
        }
        for (what, n) in other.bad {
            *self.bad.entry(what).or_default() += n;
        }
    }

    /// Calls made.
    pub fn calls(&self) -> u64 {
        self.ops.values().flat_map(|r| r.values()).sum()
    }
}

fn names(errnos: &[i32]) -> Vec<&'static str> {
    errnos.iter().map(|&e| Errno(e).name()).collect()
}
