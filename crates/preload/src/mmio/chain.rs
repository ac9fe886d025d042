//! The program's own `SIGSEGV` disposition, kept behind the fault handler: what it installs
//! with `sigaction` or `signal` once the handler is in front is recorded here instead of
//! reaching the kernel, reported back as the previous action as the kernel would, and run for
//! every fault that is not an access of a BAR mapping.

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

static PROGRAM: Recorded = Recorded {
    handler: AtomicUsize::new(libc::SIG_DFL),
    flags: AtomicI32::new(0),
    mask: [const { AtomicU64::new(0) }; MASK_WORDS],
};

/// Set once the fault handler is the kernel's action for `SIGSEGV`.
static IN_FRONT: AtomicBool = AtomicBool::new(false);

/// True once the fault handler is in front of the program's `SIGSEGV` action.
pub fn in_front() -> bool {
    IN_FRONT.load(SeqCst)
}

/// Marks the handler as installed, `previous` being the program's action until then.
pub fn put_in_front(previous: &sigaction) {
    record(previous);
    IN_FRONT.store(true, SeqCst);
}

/// Records `act` as the program's action.
pub fn record(act: &sigaction) {
    // SAFETY: `sigset_t` is plain data of `MASK_WORDS` words.
    let words: [u64; MASK_WORDS] = unsafe { std::mem::transmute_copy(&act.sa_mask) };
    for (slot, w) in PROGRAM.mask.iter().zip(words) {
        slot.store(w, SeqCst);
    }
    PROGRAM.flags.store(act.sa_flags, SeqCst);
    PROGRAM.handler.store(act.sa_sigaction, SeqCst);
}

/// The program's action.
pub fn recorded() -> sigaction {
    let words: [u64; MASK_WORDS] = std::array::from_fn(|i| PROGRAM.mask[i].load(SeqCst));
    // SAFETY: an all-zero `sigaction` is valid (SIG_DFL, no flags, empty mask).
    let mut act: sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: `sigset_t` is plain data of `MASK_WORDS` words.
    act.sa_mask = unsafe { std::mem::transmute_copy(&words) };
    act.sa_flags = PROGRAM.flags.load(SeqCst);
    act.sa_sigaction = PROGRAM.handler.load(SeqCst);
    act
}

/// `sigaction(SIGSEGV, act, old)` while the handler is in front: the program's action is
/// swapped, the kernel's stays ours.
pub fn swap(act: Option<&sigaction>, old: Option<&mut sigaction>) {
    let previous = recorded();
    if let Some(a) = act {
        record(a);
    }
    if let Some(o) = old {
        *o = previous;
    }
}

/// `signal(SIGSEGV, handler)` while the handler is in front: glibc's BSD semantics
/// (`SA_RESTART`, the signal blocked in its handler); the previous handler.
pub fn swap_handler(handler: libc::sighandler_t) -> libc::sighandler_t {
    // SAFETY: an all-zero `sigaction` is valid.
    let mut act: sigaction = unsafe { std::mem::zeroed() };
    act.sa_sigaction = handler;
    act.sa_flags = libc::SA_RESTART;
    // SAFETY: `act.sa_mask` is a valid, initialised set.
    unsafe { libc::sigaddset(&mut act.sa_mask, libc::SIGSEGV) };
    let previous = PROGRAM.handler.load(SeqCst);
    record(&act);
    previous
}

/// Delivers a fault that is not ours to the program's action: `SIG_DFL` (and `SIG_IGN` for
/// a fault the kernel raised, which cannot be ignored) restores the default action, and the
/// faulting instruction, run again on return, takes it (a signal sent by `kill` is sent again);
/// `SIG_IGN` drops a sent signal; a handler runs as the kernel would run it (its mask, with or
/// without `SA_SIGINFO`, `SA_RESETHAND`, `SA_NODEFER`).
/// `code` is the fault's `si_code` (positive when the kernel raised it).
pub fn forward(sig: c_int, code: c_int, info: *mut siginfo_t, ctx: *mut c_void) {
    let act = recorded();
    match act.sa_sigaction {
        libc::SIG_IGN if code <= 0 => {}
        libc::SIG_DFL | libc::SIG_IGN => {
            // SAFETY: an all-zero `sigaction` is `SIG_DFL`.
            let dfl: sigaction = unsafe { std::mem::zeroed() };
            record(&dfl);
            IN_FRONT.store(false, SeqCst);
            sys::next_sigaction(sig, &dfl, std::ptr::null_mut());
            if code <= 0 {
                sys::raise_here(sig);
            }
        }
        h => run(h, &act, sig, info, ctx),
    }
}

/// Runs the program's handler `h` with its mask.
fn run(h: usize, act: &sigaction, sig: c_int, info: *mut siginfo_t, ctx: *mut c_void) {
    if act.sa_flags & libc::SA_RESETHAND != 0 {
        // SAFETY: an all-zero `sigaction` is `SIG_DFL`.
        record(&unsafe { std::mem::zeroed() });
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
