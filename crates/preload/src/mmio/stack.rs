//! Stacks of our own for serving an access: the handler runs on the thread's alternate signal
//! stack when it has one (`SA_ONSTACK`, so that a stack overflow still reaches the program's
//! handler), and such stacks are small (Rust's threads get `SIGSTKSZ`), too small for a
//! device model's access. The stacks are mapped before the first BAR mapping exists (never in
//! the handler); a fault claims a free one, and waits for one while every stack is in use.

use crate::sys;
use libc::c_void;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};

/// How many faults are served at once.
const STACKS: usize = 8;
/// The size of each stack, a guard page below it.
const SIZE: usize = 512 << 10;
const PAGE: usize = 4096;

static TOPS: [AtomicUsize; STACKS] = [const { AtomicUsize::new(0) }; STACKS];
static BUSY: [AtomicBool; STACKS] = [const { AtomicBool::new(false) }; STACKS];

/// Maps the stacks; false if none could be.
pub fn prepare() -> bool {
    let mut any = false;
    for top in &TOPS {
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_STACK;
        let rw = libc::PROT_READ | libc::PROT_WRITE;
        let p = sys::next_mmap(false, std::ptr::null_mut(), SIZE + PAGE, rw, flags, -1, 0);
        if p == libc::MAP_FAILED {
            continue;
        }
        sys::next_mprotect(p, PAGE, libc::PROT_NONE);
        top.store(p as usize + PAGE + SIZE, SeqCst);
        any = true;
    }
    any
}

/// Runs `f` on one of the stacks; a panic in `f` ends it there (it never unwinds further).
pub fn run(f: &mut dyn FnMut()) {
    loop {
        for (i, busy) in BUSY.iter().enumerate() {
            let top = TOPS[i].load(SeqCst);
            if top == 0 || busy.swap(true, SeqCst) {
                continue;
            }
            let mut f = f;
            let arg = (&mut f as *mut &mut dyn FnMut()).cast::<c_void>();
            // SAFETY: `top` is the 16-byte aligned end of a mapped stack that this thread
            // alone holds (claimed above); the callee returns normally (it catches panics).
            unsafe { call_on(top, arg) };
            busy.store(false, SeqCst);
            return;
        }
        std::thread::yield_now();
    }
}

/// Calls `trampoline(arg)` with RSP at `top`, and comes back to the current stack.
///
/// # Safety
/// `top` is the 16-byte aligned end of a stack nobody else uses, large enough for the call.
unsafe fn call_on(top: usize, arg: *mut c_void) {
    // SAFETY: RSP is saved in callee-saved R12 and restored after the call; the call pushes
    // only onto the new stack; every register the C ABI lets a callee clobber is declared.
    unsafe {
        std::arch::asm!(
            "mov r12, rsp",
            "mov rsp, {top}",
            "call {tramp}",
            "mov rsp, r12",
            top = in(reg) top,
            tramp = sym trampoline,
            in("rdi") arg,
            out("r12") _,
            clobber_abi("C"),
        );
    }
}

extern "C" fn trampoline(arg: *mut c_void) {
    // SAFETY: `run` passed a pointer to its `&mut dyn FnMut()`, alive for the call.
    let f = unsafe { &mut *arg.cast::<&mut dyn FnMut()>() };
    // A panic must not unwind through the stack switch.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
}
