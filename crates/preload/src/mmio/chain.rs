//! The program's own `SIGSEGV` and `SIGBUS` dispositions, kept behind the fault handler: what
//! it installs with `sigaction` or `signal` once the handler is in front is recorded here
//! instead of reaching the kernel, reported back as the previous action as the kernel would,
//! and run for every fault that is neither an access of a BAR mapping nor a fault of a
//! fault-tolerant copy ([`crate::user_copy`]).

use crate::sys;
use libc::{c_int, c_void, sigaction, siginfo_t};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering::SeqCst};

/// Words of a `sigset_t`.
const MASK_WORDS: usize = std::mem::size_of::<libc::sigset_t>() / 8;

/// The recorded action, in fields the handler reads without locking.
struct Recorded {
    handler: AtomicUsize,
    flags: AtomicI32,
    mask: [AtomicU64; MASK_WORDS],
}

/// The signals the fault handler serves: `SIGSEGV`, then `SIGBUS`.
pub const SIGNALS: [c_int; 2] = [libc::SIGSEGV, libc::SIGBUS];

static PROGRAM: [Recorded; 2] = [const {
    Recorded {
        handler: AtomicUsize::new(libc::SIG_DFL),
        flags: AtomicI32::new(0),
        mask: [const { AtomicU64::new(0) }; MASK_WORDS],
    }
}; 2];

/// Set while the fault handler is the kernel's action for the signal, by [`slot`].
static IN_FRONT: [AtomicBool; 2] = [const { AtomicBool::new(false) }; 2];

/// The index of `sig` in [`SIGNALS`], if it is one of them.
pub fn slot(sig: c_int) -> Option<usize> {
    SIGNALS.iter().position(|&s| s == sig)
}

/// True while the fault handler is in front of the program's action for `sig`.
pub fn in_front(sig: c_int) -> bool {
    slot(sig).is_some_and(|i| IN_FRONT[i].load(SeqCst))
}

/// Marks the handler as installed for `sig`, `previous` being the program's action until
/// then.
pub fn put_in_front(sig: c_int, previous: &sigaction) {
    let Some(i) = slot(sig) else { return };
    record(i, previous);
    IN_FRONT[i].store(true, SeqCst);
}

/// Records `act` as the program's action for the signal of slot `i`.
fn record(i: usize, act: &sigaction) {
    let p = &PROGRAM[i];
    // SAFETY: `sigset_t` is plain data of `MASK_WORDS` words.
    let words: [u64; MASK_WORDS] = unsafe { std::mem::transmute_copy(&act.sa_mask) };
    for (slot, w) in p.mask.iter().zip(words) {
        slot.store(w, SeqCst);
    }
    p.flags.store(act.sa_flags, SeqCst);
    p.handler.store(act.sa_sigaction, SeqCst);
}

/// The program's action for the signal of slot `i`.
fn recorded(i: usize) -> sigaction {
    let p = &PROGRAM[i];
    let words: [u64; MASK_WORDS] = std::array::from_fn(|w| p.mask[w].load(SeqCst));
    // SAFETY: an all-zero `sigaction` is valid (SIG_DFL, no flags, empty mask).
    let mut act: sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: `sigset_t` is plain data of `MASK_WORDS` words.
    act.sa_mask = unsafe { std::mem::transmute_copy(&words) };
    act.sa_flags = p.flags.load(SeqCst);
    act.sa_sigaction = p.handler.load(SeqCst);
    act
}

/// `sigaction(sig, act, old)` while the handler is in front for `sig`: the program's action
/// is swapped, the kernel's stays ours.
pub fn swap(sig: c_int, act: Option<&sigaction>, old: Option<&mut sigaction>) {
    let Some(i) = slot(sig) else { return };
    let previous = recorded(i);
    if let Some(a) = act {
        record(i, a);
    }
    if let Some(o) = old {
        *o = previous;
    }
}

/// `signal(sig, handler)` while the handler is in front for `sig`: glibc's BSD semantics
/// (`SA_RESTART`, the signal blocked in its handler); the previous handler.
pub fn swap_handler(sig: c_int, handler: libc::sighandler_t) -> libc::sighandler_t {
    let Some(i) = slot(sig) else {
        return libc::SIG_ERR;
    };
    // SAFETY: an all-zero `sigaction` is valid.
    let mut act: sigaction = unsafe { std::mem::zeroed() };
    act.sa_sigaction = handler;
    act.sa_flags = libc::SA_RESTART;
    // SAFETY: `act.sa_mask` is a valid, initialised set.
    unsafe { libc::sigaddset(&mut act.sa_mask, sig) };
    let previous = PROGRAM[i].handler.load(SeqCst);
    record(i, &act);
    previous
}

/// Delivers a fault that is not ours to the program's action: `SIG_DFL` (and `SIG_IGN` for
/// a fault the kernel raised, which cannot be ignored) restores the default action, and the
/// faulting instruction, run again on return, takes it (a signal sent by `kill` is sent again);
/// `SIG_IGN` drops a sent signal; a handler runs as the kernel would run it (its mask, with or
/// without `SA_SIGINFO`, `SA_RESETHAND`, `SA_NODEFER`).
/// `code` is the fault's `si_code` (positive when the kernel raised it).
pub fn forward(sig: c_int, code: c_int, info: *mut siginfo_t, ctx: *mut c_void) {
    let Some(i) = slot(sig) else { return };
    let act = recorded(i);
    match act.sa_sigaction {
        libc::SIG_IGN if code <= 0 => {}
        libc::SIG_DFL | libc::SIG_IGN => {
            // SAFETY: an all-zero `sigaction` is `SIG_DFL`.
            let dfl: sigaction = unsafe { std::mem::zeroed() };
            record(i, &dfl);
            IN_FRONT[i].store(false, SeqCst);
            sys::next_sigaction(sig, &dfl, std::ptr::null_mut());
            if code <= 0 {
                sys::raise_here(sig);
            }
        }
        h => run(i, h, &act, sig, info, ctx),
    }
}

/// Runs the program's handler `h` with its mask.
fn run(i: usize, h: usize, act: &sigaction, sig: c_int, info: *mut siginfo_t, ctx: *mut c_void) {
    if act.sa_flags & libc::SA_RESETHAND != 0 {
        // SAFETY: an all-zero `sigaction` is `SIG_DFL`.
        record(i, &unsafe { std::mem::zeroed() });
    }
    let mut mask = act.sa_mask;
    if act.sa_flags & libc::SA_NODEFER == 0 {
        // SAFETY: `mask` is a valid, initialised set.
        unsafe { libc::sigaddset(&mut mask, sig) };
    }
    let saved = sys::block_signals(&mask, act.sa_flags & libc::SA_NODEFER != 0, sig);
    if act.sa_flags & libc::SA_SIGINFO != 0 {
        type Action = extern "C" fn(c_int, *mut siginfo_t, *mut c_void);
        // SAFETY: the program installed `h` with `SA_SIGINFO`: it has this prototype.
        let f: Action = unsafe { std::mem::transmute(h) };
        f(sig, info, ctx);
    } else {
        type Handler = extern "C" fn(c_int);
        // SAFETY: the program installed `h` without `SA_SIGINFO`: it has this prototype.
        let f: Handler = unsafe { std::mem::transmute(h) };
        f(sig);
    }
    sys::restore_signals(&saved);
}
