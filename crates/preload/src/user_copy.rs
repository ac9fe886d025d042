//! Copies between this library's buffers and the calling program's memory that answer `EFAULT`
//! for a bad address instead of crashing, without a system call: the kernel's own approach
//! (`copy_from_user` and its exception table).
//!
//! The copy is one `rep movsb` at a known address ([`uiommu_copy_user`], in assembly, so that
//! no compiler can move or duplicate the instruction). A fault there — unmapped memory,
//! `PROT_NONE`, a read-only page written, a file page past the end (`SIGBUS`), a page
//! unmapped by another thread during the copy — reaches the fault handler
//! ([`crate::mmio::handler`]), which recognises the instruction by its address
//! ([`recover`]) and resumes at the recovery point with RCX still counting the bytes not
//! copied; the copy then answers `EFAULT`. No `sigsetjmp`: moving RIP is all the recovery
//! needs, since the copy routine holds no state but its registers.
//!
//! The fast copy needs the handler in front for `SIGSEGV` and `SIGBUS` (it re-arms itself if
//! a forwarded fault put the default action back), and neither signal blocked on this thread
//! ([`crate::blocked`]; nor inside the fault handler, as when a BAR access starts a device's
//! DMA): the kernel kills a process whose blocked fault signal is forced. Not seen: a fault
//! action the program sets with a raw `rt_sigaction` system call, which replaces the handler
//! without going through the exported `sigaction` (a fault of the copy would then be the
//! program's), and the mask the kernel applies while a handler of another signal runs (its
//! `sa_mask`, often full): a bad pointer passed to an ioctl from inside such a handler ends
//! the process where the kernel would answer `EFAULT`. A good pointer never faults here. Otherwise, and for another
//! process, the copy goes through `process_vm_readv`/`process_vm_writev`
//! ([`uiommu_abi::ProcessVm`]), which answer the same errors at a system call per copy.

use crate::mmio::{chain, handler};
use libc::{c_void, ucontext_t};
use uiommu_abi::ProcessVm;
use uiommu_uapi::{Errno, UserMemory, errno::Result};

std::arch::global_asm!(
    ".pushsection .text.uiommu_copy_user,\"ax\",@progbits",
    ".p2align 4",
    ".hidden uiommu_copy_user",
    ".globl uiommu_copy_user",
    ".type uiommu_copy_user,@function",
    "uiommu_copy_user:",
    "    mov rcx, rdx",
    ".hidden uiommu_copy_user_insn",
    ".globl uiommu_copy_user_insn",
    "uiommu_copy_user_insn:",
    "    rep movsb",
    "    xor eax, eax",
    "    ret",
    ".hidden uiommu_copy_user_fixup",
    ".globl uiommu_copy_user_fixup",
    "uiommu_copy_user_fixup:",
    "    mov rax, rcx",
    "    ret",
    ".size uiommu_copy_user, .-uiommu_copy_user",
    ".popsection",
    ".pushsection .text.uiommu_probe_write,\"ax\",@progbits",
    ".p2align 4",
    ".hidden uiommu_probe_write",
    ".globl uiommu_probe_write",
    ".type uiommu_probe_write,@function",
    "uiommu_probe_write:",
    "    xor eax, eax",
    ".hidden uiommu_probe_write_insn",
    ".globl uiommu_probe_write_insn",
    "uiommu_probe_write_insn:",
    "    lock add byte ptr [rdi], 0",
    "    ret",
    ".hidden uiommu_probe_write_fixup",
    ".globl uiommu_probe_write_fixup",
    "uiommu_probe_write_fixup:",
    "    mov eax, 1",
    "    ret",
    ".size uiommu_probe_write, .-uiommu_probe_write",
    ".popsection",
);

unsafe extern "C" {
    /// Copies `len` bytes from `src` to `dst`; returns the bytes not copied (0 on success).
    fn uiommu_copy_user(dst: *mut u8, src: *const u8, len: usize) -> usize;
    /// The copy instruction (a label, never called).
    fn uiommu_copy_user_insn();
    /// Where a fault of the copy instruction resumes (a label, never called).
    fn uiommu_copy_user_fixup();
    /// Adds 0 to the byte at `addr` atomically: a store that changes nothing, even racing
    /// another thread's; returns 0, or 1 if the store faulted.
    fn uiommu_probe_write(addr: *mut u8) -> u32;
    /// The probing instruction (a label, never called).
    fn uiommu_probe_write_insn();
    /// Where a fault of the probe resumes (a label, never called).
    fn uiommu_probe_write_fixup();
}

/// In the fault handler: if the fault is the copy instruction's, resumes the thread at the
/// recovery point and returns true.
pub fn recover(ctx: *mut c_void) -> bool {
    // SAFETY: the kernel passes a valid `ucontext_t` to an `SA_SIGINFO` handler; the frame is
    // ours to change until the handler returns.
    let uc = unsafe { &mut *ctx.cast::<ucontext_t>() };
    let rip = &mut uc.uc_mcontext.gregs[libc::REG_RIP as usize];
    let fixup = match *rip as usize {
        at if at == uiommu_copy_user_insn as *const () as usize => uiommu_copy_user_fixup,
        at if at == uiommu_probe_write_insn as *const () as usize => uiommu_probe_write_fixup,
        _ => return false,
    };
    *rip = fixup as *const () as usize as i64;
    true
}

/// True if a fault of the copy would reach [`recover`] on this thread now.
fn fast() -> bool {
    handler::install();
    chain::SIGNALS.iter().all(|&s| chain::in_front(s))
        && !handler::active()
        && !crate::blocked::fault_signals_blocked()
}

/// `dst..dst + len` from `src`, `EFAULT` unless all of it was copied. One of the two is the
/// program's memory, which the caller does not borrow.
fn copy(dst: *mut u8, src: *const u8, len: usize) -> Result<()> {
    // SAFETY: `uiommu_copy_user` reads `len` bytes at `src` and writes them at `dst`, and
    // nothing else; the side that is this library's own buffer is borrowed by the caller for
    // `len` bytes, and a fault on the program's side is recovered (see `fast`, which the
    // caller checked): the call then returns the bytes left.
    let left = unsafe { uiommu_copy_user(dst, src, len) };
    if left == 0 {
        Ok(())
    } else {
        Err(Errno::EFAULT)
    }
}

/// Whether every byte of `addr..addr + len` can be stored to now, found by storing to each
/// of its pages a value that leaves the byte as it is (an atomic add of 0, so a store another
/// thread makes meanwhile is kept); false if any page refuses, or without the fast copy's
/// fault handling (nothing is probed then).
pub fn probe_writable(addr: u64, len: usize) -> bool {
    if len == 0 || check_range(addr, len).is_err() || !fast() {
        return false;
    }
    let last = addr + len as u64 - 1;
    let pages = (addr & !4095..=last).step_by(4096);
    pages.map(|page| page.max(addr)).all(|at| {
        // SAFETY: `uiommu_probe_write` makes one locked add of 0 at `at` and nothing else:
        // the byte keeps its value whatever other threads store there; a fault there is
        // recovered (see `fast`, checked above) and reported as 1.
        unsafe { uiommu_probe_write(at as usize as *mut u8) == 0 }
    })
}

/// A range that wraps the address space can never be valid user memory.
fn check_range(addr: u64, len: usize) -> Result<()> {
    addr.checked_add(len as u64)
        .map(|_| ())
        .ok_or(Errno::EFAULT)
}

/// The memory of this process, as a command reaches its caller's buffers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OwnMemory;

impl UserMemory for OwnMemory {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        check_range(addr, buf.len())?;
        if !fast() {
            return ProcessVm::current().read(addr, buf);
        }
        copy(buf.as_mut_ptr(), addr as usize as *const u8, buf.len())
    }

    fn write(&self, addr: u64, data: &[u8]) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        check_range(addr, data.len())?;
        if !fast() {
            return ProcessVm::current().write(addr, data);
        }
        copy(addr as usize as *mut u8, data.as_ptr(), data.len())
    }

    /// One pass from `src` to `dst` (a DMA read into the caller's buffer), unless the ranges
    /// overlap (a forward copy would then read bytes it wrote); with the fast copy off, one
    /// pass by the kernel ([`ProcessVm`]'s copy).
    fn copy(&self, dst: u64, src: u64, len: usize) -> Result<()> {
        if len == 0 {
            return Ok(());
        }
        check_range(dst, len)?;
        check_range(src, len)?;
        if !fast() {
            // One `process_vm_readv` from `src` into `dst` (as when a BAR access in the fault
            // handler starts a device's DMA).
            return ProcessVm::current().copy(dst, src, len);
        }
        let overlap = dst < src + len as u64 && src < dst + len as u64;
        if overlap {
            let mut tmp = vec![0u8; len];
            self.read(src, &mut tmp)?;
            return self.write(dst, &tmp);
        }
        copy(dst as usize as *mut u8, src as usize as *const u8, len)
    }
}

#[cfg(test)]
mod tests;
