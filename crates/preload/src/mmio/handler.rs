//! The `SIGSEGV` and `SIGBUS` handler. A fault of a fault-tolerant copy resumes at the copy's
//! recovery point ([`crate::user_copy::recover`]), whatever the address.
//!
//! It serves the loads and stores of BAR mappings, as a hypervisor
//! serves a guest's MMIO exits: the faulting address names a recorded mapping
//! ([`super::ranges`]), the instruction at the saved RIP is decoded ([`super::decode`]), the
//! access goes to the device file ([`uiommu_abi::VfioDeviceFile::mmio`]), the result lands in
//! the saved registers ([`super::regs`]) and RIP moves past the instruction. Every other
//! fault goes to the program's own action ([`super::chain`]).
//!
//! # Stacks
//! The handler is installed with `SA_ONSTACK`: on a thread with an alternate signal stack it
//! runs there, so that a fault from a stack overflow still reaches the program's handler. An
//! access is served on a stack of our own ([`super::stack`]), since alternate stacks are too
//! small for a device model. No alternate stack is set up for a thread that has none: the
//! handler then runs on the thread's stack, as the program's own handler would.
//!
//! # What runs in the handler
//! The range lookup neither allocates nor locks. The access takes the device file's state
//! lock and the function's, as a `pread` does: a thread that faults on a BAR while it holds
//! one of them itself (a signal handler of the program touching the BAR while it interrupted
//! the same thread inside a device `ioctl`/`pread`) would wait for itself. That is accepted:
//! the alternative, refusing the access, would turn a legal MMIO access into a crash, and no
//! code of this library touches a BAR mapping directly (its copies of user memory are
//! recovered before a BAR is looked at, and answer `EFAULT` for the reserved range). A device model may
//! allocate while it runs an access (edu's DMA): the interrupted code is the program's load or
//! store, never inside the allocator. For the same reason the trace's lines of a DMA refused
//! there (`UIOMMU_TRACE`, see `crate::trace`) are formatted and written from the handler: one
//! `write(2)` each to an fd read from an atomic, no lock taken.
//!
//! # Errors of an access
//! With Memory Space off, past the BAR's end, or in a forked child (the device file stays with
//! its opener), the access fails as the kernel's fault handler fails it: `SIGBUS`, with RIP
//! left on the instruction.

use super::decode::{Access, decode};
use super::{chain, ranges, regs};
use crate::sys;
use libc::{c_int, c_void, siginfo_t, ucontext_t};
use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

/// Puts the handler in front of the program's `SIGSEGV` and `SIGBUS` actions: the first time,
/// and again for a signal whose action went back to the kernel's default since (a fault
/// forwarded to a program that had none, see [`chain::forward`]). A call while another thread
/// arms returns at once; the caller checks [`chain::in_front`]. Inlined: every fault-tolerant
/// copy asks, and the answer is nearly always two loads.
#[inline]
pub fn install() {
    if !chain::SIGNALS.iter().all(|&s| chain::in_front(s)) {
        arm();
    }
}

/// [`install`] when the handler is not in front of both signals.
#[cold]
fn arm() {
    static PREPARED: OnceLock<bool> = OnceLock::new();
    static ARMING: AtomicBool = AtomicBool::new(false);
    if !*PREPARED.get_or_init(super::stack::prepare) || ARMING.swap(true, SeqCst) {
        return;
    }
    for sig in chain::SIGNALS {
        if chain::in_front(sig) {
            continue;
        }
        // SAFETY: an all-zero `sigaction` is valid; its fields are set below.
        let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
        act.sa_sigaction = on_fault as extern "C" fn(c_int, *mut siginfo_t, *mut c_void) as usize;
        act.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        // SAFETY: as above.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        if sys::next_sigaction(sig, &act, &mut old) == 0 {
            if old.sa_sigaction == act.sa_sigaction {
                // Never record the handler as the program's own action.
                // SAFETY: an all-zero `sigaction` is `SIG_DFL`.
                old = unsafe { std::mem::zeroed() };
            }
            chain::put_in_front(sig, &old);
        }
    }
    ARMING.store(false, SeqCst);
}

thread_local! {
    /// How deep this thread is in the handler (and the program's handlers it runs).
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// True while this thread runs the handler: the signal is blocked (or the program's handler
/// left it so), and a fault now would kill the process. A program's handler that jumps out
/// with `siglongjmp` leaves this set for good; the thread's copies then take the slow path.
pub fn active() -> bool {
    DEPTH.with(|d| d.get() > 0)
}

/// The handler.
extern "C" fn on_fault(sig: c_int, info: *mut siginfo_t, ctx: *mut c_void) {
    let errno = sys::errno();
    DEPTH.with(|d| d.set(d.get() + 1));
    // SAFETY: the kernel passes a valid `siginfo_t` to an `SA_SIGINFO` handler.
    let si = unsafe { &*info };
    // SAFETY: `si_addr` is the address of a `SIGSEGV` (garbage, unused, for one sent by `kill`).
    let addr = unsafe { si.si_addr() } as usize;
    let code = si.si_code;
    let mut served = code > 0 && crate::user_copy::recover(ctx);
    if !served && sig == libc::SIGSEGV && code > 0 && ranges::overlaps(addr, 1) {
        // A panic ends on that stack: the fault then counts as not served.
        super::stack::run(&mut || served = serve(addr, ctx));
    }
    if !served {
        chain::forward(sig, code, info, ctx);
    }
    DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    sys::set_errno(errno);
}

/// Serves the fault if it is an access of a BAR mapping; false otherwise.
fn serve(addr: usize, ctx: *mut c_void) -> bool {
    // SAFETY: the kernel passes a valid `ucontext_t` to an `SA_SIGINFO` handler; the frame is
    // ours to change until we return.
    let uc = unsafe { &mut *ctx.cast::<ucontext_t>() };
    let gregs = &mut uc.uc_mcontext.gregs;
    let rip = gregs[libc::REG_RIP as usize] as u64;
    let mut code_bytes = [0u8; 15];
    let n = sys::read_code(rip, &mut code_bytes);
    let Some((access, len)) = decode(&code_bytes[..n], rip) else {
        return false;
    };
    let done = ranges::with(addr, |dev, bar, off| {
        let Ok(file) = dev.serve() else {
            return Err(());
        };
        match access {
            Access::Load { dst, size, sign } => {
                let mut data = [0u8; 8];
                file.mmio(bar, off, &mut data[..size], false)
                    .map_err(|_| ())?;
                let v = regs::extend(u64::from_le_bytes(data), size, sign);
                regs::write(gregs, dst, v).ok_or(())
            }
            Access::StoreReg { src, size } => {
                let v = regs::read(gregs, src).ok_or(())?;
                store(file, bar, off, v, size)
            }
            Access::StoreImm { value, size } => store(file, bar, off, value, size),
        }
    });
    match done {
        None => false,
        Some(Ok(())) => {
            gregs[libc::REG_RIP as usize] = rip.wrapping_add(len as u64) as i64;
            true
        }
        Some(Err(())) => {
            sys::raise_here(libc::SIGBUS);
            true
        }
    }
}

/// The low `size` bytes of `value` stored at `off` in BAR `bar`.
fn store(
    file: &uiommu_abi::VfioDeviceFile,
    bar: u8,
    off: u64,
    value: u64,
    size: usize,
) -> Result<(), ()> {
    let mut data = value.to_le_bytes();
    file.mmio(bar, off, &mut data[..size], true).map_err(|_| ())
}
