//! The exported memory-management symbols that only keep [`crate::addr_space`] up to date:
//! `madvise` (a guard region or a dropped range changes what can be pinned), `brk` and `sbrk`
//! (the program moving its heap itself). `mmap`, `munmap`, `mprotect` and `mremap` are
//! exported where they have more to do ([`crate::exports`], [`crate::mmio_exports`]).

use crate::exports::guard;
use crate::sys;
use libc::{c_int, c_void, size_t};

/// `madvise(addr, len, advice)`.
///
/// # Safety
/// C contract of `madvise`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn madvise(addr: *mut c_void, len: size_t, advice: c_int) -> c_int {
    guard(-1, || {
        let rc = sys::next_madvise(addr, len, advice);
        crate::addr_space::changed();
        rc
    })
}

/// `brk(addr)`.
///
/// # Safety
/// C contract of `brk`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn brk(addr: *mut c_void) -> c_int {
    guard(-1, || {
        let rc = sys::next_brk(addr);
        crate::addr_space::changed();
        rc
    })
}

/// `sbrk(delta)`.
///
/// # Safety
/// C contract of `sbrk`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sbrk(delta: libc::intptr_t) -> *mut c_void {
    guard(usize::MAX as *mut c_void, || {
        let p = sys::next_sbrk(delta);
        crate::addr_space::changed();
        p
    })
}
