//! Playing one sequence: every call under `catch_unwind` and a time bound, the invariants of
//! [`crate::check`] after each, and the teardown checks at the end.

use crate::call::Sequence;
use crate::check::{self, snapshot};
use crate::world::{Prepared, World};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use uiommu_uapi::Errno;

/// Longest one call may take before it counts as a failure. A call that never returns is
/// caught by the campaign's watchdog, which watches [`Heartbeat`].
pub const CALL_LIMIT: Duration = Duration::from_secs(2);

/// What went wrong, and at which call (`None`: at teardown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub call: Option<usize>,
    pub what: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.call {
            Some(i) => write!(f, "call {i}: {}", self.what),
            None => write!(f, "teardown: {}", self.what),
        }
    }
}

/// When the call in flight started, in milliseconds since the epoch; 0 between calls.
#[derive(Debug, Default)]
pub struct Heartbeat(pub AtomicU64);

impl Heartbeat {
    fn start(&self) {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_millis() as u64);
        self.0.store(ms, Ordering::Relaxed);
    }

    fn stop(&self) {
        self.0.store(0, Ordering::Relaxed);
    }
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}

/// Plays `seq`; the number of calls made, or the first failure.
pub fn run(seq: &Sequence) -> Result<usize, Failure> {
    run_with(seq, &Heartbeat::default())
}

/// [`run`], marking each call in `beat`.
pub fn run_with(seq: &Sequence, beat: &Heartbeat) -> Result<usize, Failure> {
    run_observed(seq, beat, &mut |_, _| {})
}

/// [`run_with`], telling `observe` what each call returned.
pub fn run_observed(
    seq: &Sequence,
    beat: &Heartbeat,
    observe: &mut dyn FnMut(&Prepared, Result<i64, Errno>),
) -> Result<usize, Failure> {
    let fail = |call, what: String| Failure { call, what };
    let w =
        World::new(&seq.model, seq.vfio_node, seq.device.as_deref()).map_err(|e| fail(None, e))?;
    let mut before = snapshot(&w);
    for (i, call) in seq.calls.iter().enumerate() {
        let step = catch_unwind(AssertUnwindSafe(|| -> Result<_, String> {
            let p = w.prepare(call)?;
            beat.start();
            let t = Instant::now();
            let r = w.dispatch(&p);
            let took = t.elapsed();
            beat.stop();
            if took > CALL_LIMIT {
                return Err(format!("{} took {took:?}", call.name));
            }
            observe(&p, r);
            let back = w.read_back(&p);
            let after = snapshot(&w);
            check::after_call(&w, &before, &after, &p, &back, r)
                .map_err(|e| format!("{} -> {r:?}: {e}", call.name))?;
            Ok(after)
        }));
        before = match step {
            Ok(Ok(after)) => after,
            Ok(Err(e)) => return Err(fail(Some(i), e)),
            Err(p) => return Err(fail(Some(i), format!("panic: {}", panic_text(&*p)))),
        };
    }
    match catch_unwind(AssertUnwindSafe(|| check::teardown(w))) {
        Ok(Ok(())) => Ok(seq.calls.len()),
        Ok(Err(e)) => Err(fail(None, e)),
        Err(p) => Err(fail(None, format!("panic: {}", panic_text(&*p)))),
    }
}
