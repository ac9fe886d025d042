//! The exported symbols that keep BAR mappings served and copies fault-tolerant: `sigaction`
//! and `signal` for `SIGSEGV` and `SIGBUS` (the program's action goes behind the fault
//! handler once it is installed, see
//! [`crate::mmio::chain`]), `mremap` of a BAR mapping (see [`crate::mmio::remap`]) and
//! `mprotect` of one (accepted, the reservation stays
//! inaccessible, see [`crate::mmio`]). `mremap` and `mprotect` also tell
//! [`crate::addr_space`] that the mappings changed.

use crate::exports::guard;
use crate::mmio::{chain, ranges};
use crate::sys;
use libc::{c_int, c_void, size_t};

/// `sigaction(sig, act, old)`.
///
/// # Safety
/// C contract of `sigaction`: `act` and `old` are null or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sigaction(
    sig: c_int,
    act: *const libc::sigaction,
    old: *mut libc::sigaction,
) -> c_int {
    guard(-1, || {
        if !chain::in_front(sig) {
            return sys::next_sigaction(sig, act, old);
        }
        // SAFETY: the caller's contract: null or a valid `sigaction` (glibc reads it too). It
        // is copied before `old`, which may be the same struct, is written.
        let act = unsafe { act.as_ref() }.copied();
        // SAFETY: as above, null or valid for writing.
        let old = unsafe { old.as_mut() };
        chain::swap(sig, act.as_ref(), old);
        0
    })
}

/// `signal(sig, handler)`.
#[unsafe(no_mangle)]
pub extern "C" fn signal(sig: c_int, handler: libc::sighandler_t) -> libc::sighandler_t {
    guard(libc::SIG_ERR, || {
        if !chain::in_front(sig) {
            return sys::next_signal(sig, handler);
        }
        chain::swap_handler(sig, handler)
    })
}

/// `mremap(old, old_len, new_len, flags, ...)`: its one optional argument, `new_addr`, as a
/// fixed parameter (see the variadic note in [`crate::exports`]).
///
/// # Safety
/// C contract of `mremap`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mremap(
    old: *mut c_void,
    old_len: size_t,
    new_len: size_t,
    flags: c_int,
    new_addr: *mut c_void,
) -> *mut c_void {
    guard(libc::MAP_FAILED, || {
        let next = || sys::next_mremap(old, old_len, new_len, flags, new_addr);
        let start = std::time::Instant::now();
        let p = match crate::mmio::remap(old as usize, old_len, new_len, flags, next) {
            Some(r) => {
                let r =
                    crate::trace::mremap(old as usize, old_len, new_len, flags, new_addr, start, r);
                crate::exports::ret(r.map(|a| a as *mut c_void), libc::MAP_FAILED)
            }
            None => next(),
        };
        crate::addr_space::changed();
        p
    })
}

/// `mprotect(addr, len, prot)`.
///
/// # Safety
/// C contract of `mprotect`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mprotect(addr: *mut c_void, len: size_t, prot: c_int) -> c_int {
    guard(-1, || {
        if ranges::overlaps(addr as usize, len) {
            return 0;
        }
        let rc = sys::next_mprotect(addr, len, prot);
        crate::addr_space::changed();
        rc
    })
}

/// `pthread_sigmask(how, set, old)`: also keeps [`crate::blocked`] up to date.
///
/// # Safety
/// C contract of `pthread_sigmask`: `set` and `old` are null or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_sigmask(
    how: c_int,
    set: *const libc::sigset_t,
    old: *mut libc::sigset_t,
) -> c_int {
    guard(libc::EINVAL, || {
        mask(how, set, old, |mine| {
            let rc = sys::next_pthread_sigmask(how, set, mine);
            (rc == 0, rc)
        })
    })
}

/// `sigprocmask(how, set, old)`: also keeps [`crate::blocked`] up to date.
///
/// # Safety
/// C contract of `sigprocmask`: `set` and `old` are null or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sigprocmask(
    how: c_int,
    set: *const libc::sigset_t,
    old: *mut libc::sigset_t,
) -> c_int {
    guard(-1, || {
        mask(how, set, old, |mine| {
            let rc = sys::next_sigprocmask(how, set, mine);
            (rc == 0, rc)
        })
    })
}

/// Runs `real` with a previous-mask buffer of our own, then records the new mask and hands
/// the previous one to the caller's `old`.
fn mask(
    how: c_int,
    set: *const libc::sigset_t,
    old: *mut libc::sigset_t,
    real: impl FnOnce(*mut libc::sigset_t) -> (bool, c_int),
) -> c_int {
    // SAFETY: an all-zero `sigset_t` is a valid (empty) set.
    let mut mine: libc::sigset_t = unsafe { std::mem::zeroed() };
    let (ok, rc) = real(&mut mine);
    if ok {
        // SAFETY: the caller's contract: null or a valid set. Read before `old`, which may be
        // the same set, is written.
        let set = unsafe { set.as_ref() }.copied();
        crate::blocked::changed(how, set.as_ref(), &mine);
        // SAFETY: as above, null or valid for writing.
        if let Some(o) = unsafe { old.as_mut() } {
            *o = mine;
        }
    }
    rc
}
