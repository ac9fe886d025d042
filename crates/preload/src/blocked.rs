//! Whether this thread may have `SIGSEGV` or `SIGBUS` blocked, known without a system call.
//!
//! A fault whose signal is blocked is not delivered: the kernel unblocks it, puts back the
//! default action and kills the process. So the fault-tolerant copy ([`crate::user_copy`])
//! runs only on a thread that has neither blocked. Each thread asks the kernel once, at its
//! first copy; after that the exported `sigprocmask` and `pthread_sigmask` keep the answer
//! ([`changed`]). A mask changed another way (a raw system call, a `siglongjmp` or
//! `setcontext` restoring one) can leave the answer stale; it is only trusted to say "not
//! blocked" because every change the program makes through libc is seen.

use crate::mmio::chain::SIGNALS;
use libc::{c_int, sigset_t};
use std::cell::Cell;

/// Unknown on a new thread.
const UNKNOWN: u8 = 0;
const CLEAR: u8 = 1;
const BLOCKED: u8 = 2;

thread_local! {
    static STATE: Cell<u8> = const { Cell::new(UNKNOWN) };
}

fn any_member(set: &sigset_t) -> bool {
    // SAFETY: `set` is a valid, initialised set; `sigismember` only reads it.
    SIGNALS
        .iter()
        .any(|&s| unsafe { libc::sigismember(set, s) } == 1)
}

/// True if this thread may have a fault signal blocked. Inlined: every fault-tolerant copy
/// asks, and only a thread's first question goes to the kernel.
#[inline]
pub fn fault_signals_blocked() -> bool {
    match STATE.with(Cell::get) {
        CLEAR => false,
        UNKNOWN => ask(),
        _ => true,
    }
}

/// [`fault_signals_blocked`] on a thread that has not asked yet: the kernel's answer, kept.
#[cold]
fn ask() -> bool {
    // SAFETY: an all-zero `sigset_t` is a valid (empty) set.
    let mut cur: sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: a null new set only reads the mask into `cur`, which outlives the call.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut cur) };
    let blocked = rc != 0 || any_member(&cur);
    STATE.with(|s| s.set(if blocked { BLOCKED } else { CLEAR }));
    blocked
}

/// After a successful `sigprocmask(how, set, ...)` that found the mask `old`.
pub fn changed(how: c_int, set: Option<&sigset_t>, old: &sigset_t) {
    let blocked = match (how, set) {
        (_, None) => any_member(old),
        (libc::SIG_BLOCK, Some(set)) => any_member(old) || any_member(set),
        (libc::SIG_SETMASK, Some(set)) => any_member(set),
        // SIG_UNBLOCK: blocked still if one was blocked and not both unblocked.
        (_, Some(set)) => {
            // SAFETY: both sets are valid; `sigismember` only reads them.
            let member = |x: &sigset_t, s| unsafe { libc::sigismember(x, s) } == 1;
            SIGNALS.iter().any(|&s| member(old, s) && !member(set, s))
        }
    };
    STATE.with(|s| s.set(if blocked { BLOCKED } else { CLEAR }));
}
