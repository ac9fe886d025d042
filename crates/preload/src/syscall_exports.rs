//! The exported `syscall` and `closefrom`: the ways of closing or replacing an fd that do not
//! go through `close`, `close_range` or `dup*`, so that the fd table sees every number the
//! program gives up (see [`crate::table`]). The program's `syscall` of a mapping change also
//! tells [`crate::addr_space`].
//!
//! `syscall` is C-variadic; it is defined with six fixed arguments (see the note in
//! [`crate::exports`]: on x86-64 and AArch64 the callee finds the caller's arguments where it
//! looks, and reads garbage, unused, for those not passed). This library's own raw system
//! calls come here too and pass through, but for its closes and duplicates, which go straight
//! to libc ([`sys::next_syscall`]).

use crate::exports::guard;
use crate::{ops, sys};
use libc::{c_int, c_long, c_uint};

/// `syscall(n, ...)`.
///
/// # Safety
/// C contract of `syscall`: the arguments are what system call `n` takes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn syscall(
    n: c_long,
    a1: c_long,
    a2: c_long,
    a3: c_long,
    a4: c_long,
    a5: c_long,
    a6: c_long,
) -> c_long {
    guard(-1, || {
        let next = || sys::next_syscall(n, [a1, a2, a3, a4, a5, a6]);
        let int = |v: c_long| v as c_int;
        match n {
            libc::SYS_close => c_long::from(ops::close(int(a1), || int(next()))),
            libc::SYS_close_range => {
                let (first, last) = (a1 as c_uint, a2 as c_uint);
                c_long::from(ops::close_range(first, last, int(a3), || int(next())))
            }
            libc::SYS_dup2 | libc::SYS_dup3 => {
                c_long::from(ops::duplicate(int(a1), Some(int(a2)), || int(next())))
            }
            libc::SYS_mmap
            | libc::SYS_munmap
            | libc::SYS_mprotect
            | libc::SYS_mremap
            | libc::SYS_madvise
            | libc::SYS_brk => {
                let rc = next();
                crate::addr_space::changed();
                rc
            }
            _ => next(),
        }
    })
}

/// `closefrom(first)`: closes every fd from `first` on (glibc closes them with an internal
/// `close_range`, which the table would not see). The `close_range` system call does it; on a
/// kernel without one, libc's `closefrom` (which then closes each open fd in turn).
#[unsafe(no_mangle)]
pub extern "C" fn closefrom(first: c_int) {
    guard((), || {
        let first = c_uint::try_from(first).unwrap_or(0);
        ops::close_range(first, c_uint::MAX, 0, || {
            let args = [c_long::from(first), c_long::from(c_uint::MAX), 0, 0, 0, 0];
            if sys::next_syscall(libc::SYS_close_range, args) == 0 {
                return 0;
            }
            sys::next_closefrom(first as c_int);
            0
        });
    })
}
