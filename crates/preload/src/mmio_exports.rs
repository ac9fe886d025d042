//! The exported symbols that keep BAR mappings served: `sigaction` and `signal` for `SIGSEGV`
//! (the program's action goes behind the fault handler once it is installed, see
//! [`crate::mmio::chain`]), `mremap` of a BAR mapping (see [`crate::mmio::remap`]) and
//! `mprotect` of one (accepted, the reservation stays
//! inaccessible, see [`crate::mmio`]).

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
        if sig != libc::SIGSEGV || !chain::in_front() {
            return sys::next_sigaction(sig, act, old);
        }
        // SAFETY: the caller's contract: null or a valid `sigaction` (glibc reads it too). It
        // is copied before `old`, which may be the same struct, is written.
        let act = unsafe { act.as_ref() }.copied();
        // SAFETY: as above, null or valid for writing.
        let old = unsafe { old.as_mut() };
        chain::swap(act.as_ref(), old);
        0
    })
}

/// `signal(sig, handler)`.
#[unsafe(no_mangle)]
pub extern "C" fn signal(sig: c_int, handler: libc::sighandler_t) -> libc::sighandler_t {
    guard(libc::SIG_ERR, || {
        if sig != libc::SIGSEGV || !chain::in_front() {
            return sys::next_signal(sig, handler);
        }
        chain::swap_handler(handler)
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
        match crate::mmio::remap(old as usize, old_len, new_len, flags, next) {
            Some(r) => crate::exports::ret(r.map(|a| a as *mut c_void), libc::MAP_FAILED),
            None => next(),
        }
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
        sys::next_mprotect(addr, len, prot)
    })
}
