//! Copies between this library's buffers and the calling program's memory that answer `EFAULT`
//! for a bad address instead of crashing, without a system call: the kernel's own approach
//! (`copy_from_user` and its exception table).
//!
//! The copy is a vector loop (short copies, on a CPU with AVX) or one `rep movsb`, at known
//! addresses ([`uiommu_copy_user`], in assembly, so that no compiler can move or duplicate
//! the instructions). A fault there — unmapped memory, `PROT_NONE`, a read-only page written,
//! a file page past the end (`SIGBUS`), a page unmapped by another thread during the copy —
//! reaches the fault handler ([`crate::mmio::handler`]), which recognises the instruction by
//! its address ([`recover`]) and resumes at a recovery point: a fault of the loop goes on
//! byte by byte with `rep movsb` from where the loop was, and a fault of `rep movsb` returns
//! with RCX still counting the bytes not copied; the copy then answers `EFAULT`, with every
//! byte before the fault copied. No `sigsetjmp`: moving RIP is all the recovery needs, since
//! the copy routine holds no state but its registers.
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
    "    mov r8d, ecx",
    "    mov rcx, rdx",
    "    test r8d, r8d",
    "    jz uiommu_copy_user_insn",
    "    cmp rcx, {wide_max}",
    "    jae uiommu_copy_user_insn",
    ".hidden uiommu_copy_user_vec",
    ".globl uiommu_copy_user_vec",
    "uiommu_copy_user_vec:",
    "    cmp rcx, 16",
    "    jb 5f",
    "    cmp rcx, 128",
    "    jb 3f",
    "1:",
    "    vmovdqu ymm0, [rsi]",
    "    vmovdqu ymm1, [rsi + 32]",
    "    vmovdqu ymm2, [rsi + 64]",
    "    vmovdqu ymm3, [rsi + 96]",
    "    vmovdqu [rdi], ymm0",
    "    vmovdqu [rdi + 32], ymm1",
    "    vmovdqu [rdi + 64], ymm2",
    "    vmovdqu [rdi + 96], ymm3",
    "    add rsi, 128",
    "    add rdi, 128",
    "    sub rcx, 128",
    "    cmp rcx, 128",
    "    jae 1b",
    "    test rcx, rcx",
    "    jz 4f",
    // 16-byte steps while more than 16 bytes are left, then the last 16 bytes of the copy,
    // which may overlap bytes already copied (at least 16 were in all).
    "3:",
    "    cmp rcx, 16",
    "    jbe 2f",
    "    vmovdqu xmm0, [rsi]",
    "    vmovdqu [rdi], xmm0",
    "    add rsi, 16",
    "    add rdi, 16",
    "    sub rcx, 16",
    "    jmp 3b",
    "2:",
    "    vmovdqu xmm0, [rsi + rcx - 16]",
    "    vmovdqu [rdi + rcx - 16], xmm0",
    "    jmp 4f",
    // Under 16 bytes: two moves of 8 or of 4 that meet or overlap, else bytes. Whole words
    // let a read of the copied value that follows take it from the store (a load assembled
    // from byte stores waits for them to reach the cache).
    "5:",
    "    cmp rcx, 8",
    "    jb 6f",
    "    mov rax, [rsi]",
    "    mov rdx, [rsi + rcx - 8]",
    "    mov [rdi], rax",
    "    mov [rdi + rcx - 8], rdx",
    "    jmp 4f",
    "6:",
    "    cmp rcx, 4",
    "    jb 7f",
    "    mov eax, [rsi]",
    "    mov edx, [rsi + rcx - 4]",
    "    mov [rdi], eax",
    "    mov [rdi + rcx - 4], edx",
    "    jmp 4f",
    "7:",
    "    test rcx, rcx",
    "    jz 4f",
    "    movzx eax, byte ptr [rsi]",
    "    mov byte ptr [rdi], al",
    "    inc rsi",
    "    inc rdi",
    "    dec rcx",
    "    jmp 7b",
    "4:",
    ".hidden uiommu_copy_user_vec_end",
    ".globl uiommu_copy_user_vec_end",
    "uiommu_copy_user_vec_end:",
    "    vzeroupper",
    "    xor eax, eax",
    "    ret",
    ".hidden uiommu_copy_user_vec_fixup",
    ".globl uiommu_copy_user_vec_fixup",
    "uiommu_copy_user_vec_fixup:",
    "    vzeroupper",
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
    wide_max = const WIDE_MAX,
);

/// Copies shorter than this use the vector loop when the CPU has AVX; longer ones, and all
/// without AVX, use `rep movsb`. `rep movsb` pays a start-up cost (about 8 ns on a Zen 3, as
/// much as copying 4 KiB takes 50 ns) that dominates the small copies every ioctl makes (the
/// `size` word, the struct) and a good part of a 4 KiB one; from some tens of KiB on it is as
/// fast as the loop or faster.
const WIDE_MAX: usize = 8192;

unsafe extern "C" {
    /// Copies `len` bytes from `src` to `dst`, with 32-byte vector moves if `wide` (the CPU
    /// has AVX) and `len` is under [`WIDE_MAX`]; returns the bytes not copied (0 on success).
    fn uiommu_copy_user(dst: *mut u8, src: *const u8, len: usize, wide: u32) -> usize;
    /// The start of the vector loop (a label, never called): a fault from here to
    /// [`uiommu_copy_user_vec_end`] resumes at [`uiommu_copy_user_vec_fixup`], which copies
    /// the rest byte by byte with `rep movsb` from the loop's position (which each move
    /// advances only once it is complete), so that the bytes before the fault are copied
    /// exactly as without the loop (`copy_user_generic`'s tail does the same in the kernel).
    fn uiommu_copy_user_vec();
    /// The end of the vector loop (a label, never called).
    fn uiommu_copy_user_vec_end();
    /// Where a fault of the vector loop resumes (a label, never called).
    fn uiommu_copy_user_vec_fixup();
    /// The byte copy instruction (a label, never called).
    fn uiommu_copy_user_insn();
    /// Where a fault of the byte copy resumes (a label, never called).
    fn uiommu_copy_user_fixup();
    /// Adds 0 to the byte at `addr` atomically: a store that changes nothing, even racing
    /// another thread's; returns 0, or 1 if the store faulted.
    fn uiommu_probe_write(addr: *mut u8) -> u32;
    /// The probing instruction (a label, never called).
    fn uiommu_probe_write_insn();
    /// Where a fault of the probe resumes (a label, never called).
    fn uiommu_probe_write_fixup();
}

/// In the fault handler: if the fault is the copy's, resumes the thread at the matching
/// recovery point and returns true.
pub fn recover(ctx: *mut c_void) -> bool {
    // SAFETY: the kernel passes a valid `ucontext_t` to an `SA_SIGINFO` handler; the frame is
    // ours to change until the handler returns.
    let uc = unsafe { &mut *ctx.cast::<ucontext_t>() };
    let rip = &mut uc.uc_mcontext.gregs[libc::REG_RIP as usize];
    let at = *rip as usize;
    let vec =
        uiommu_copy_user_vec as *const () as usize..uiommu_copy_user_vec_end as *const () as usize;
    let resume = if at == uiommu_copy_user_insn as *const () as usize {
        uiommu_copy_user_fixup as *const () as usize
    } else if vec.contains(&at) {
        uiommu_copy_user_vec_fixup as *const () as usize
    } else if at == uiommu_probe_write_insn as *const () as usize {
        uiommu_probe_write_fixup as *const () as usize
    } else {
        return false;
    };
    *rip = resume as i64;
    true
}

/// True if a fault of the copy would reach [`recover`] on this thread now.
fn fast() -> bool {
    handler::install();
    chain::SIGNALS.iter().all(|&s| chain::in_front(s))
        && !handler::active()
        && !crate::blocked::fault_signals_blocked()
}

/// Whether the copy may use AVX registers (the CPU has them and the kernel saves them).
fn wide() -> bool {
    std::arch::is_x86_feature_detected!("avx")
}

/// `dst..dst + len` from `src`, `EFAULT` unless all of it was copied. One of the two is the
/// program's memory, which the caller does not borrow.
fn copy(dst: *mut u8, src: *const u8, len: usize) -> Result<()> {
    // SAFETY: `uiommu_copy_user` reads `len` bytes at `src` and writes them at `dst`, and
    // nothing else; the side that is this library's own buffer is borrowed by the caller for
    // `len` bytes, and a fault on the program's side is recovered (see `fast`, which the
    // caller checked): the call then returns the bytes left.
    let left = unsafe { uiommu_copy_user(dst, src, len, wide().into()) };
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
