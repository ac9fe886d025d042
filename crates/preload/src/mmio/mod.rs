//! `mmap` of a BAR region of a device file, served as MMIO: the range is reserved with an
//! inaccessible anonymous mapping and recorded ([`ranges`]); each load or store in it faults,
//! and the `SIGSEGV` handler ([`handler`]) performs it on the device model, with its side
//! effects, then resumes the program after the instruction. The program's own `SIGSEGV`
//! action keeps working behind the handler ([`chain`]). The access runs on a stack of our own
//! ([`stack`]), whatever signal stack the thread gave the handler.
//!
//! - `munmap` of (part of) a mapping releases the reservation and drops the record of the
//!   unmapped part.
//! - `mprotect` of a mapping succeeds and leaves the reservation inaccessible: every access
//!   still reaches the device, whatever the protection asked.
//! - `mremap` of a mapping follows `check_prep_vma` for a `VM_PFNMAP | VM_DONTEXPAND` area:
//!   `MREMAP_DONTUNMAP` is `EINVAL`; growing it (or duplicating it, old size 0) or an old range
//!   past its end is `EFAULT`;
//!   moving or shrinking it moves its record along.
//! - A `MAP_FIXED` mapping of another file placed over a BAR mapping is not followed: the
//!   replaced range is ordinary memory (a fault there is the program's).
//! - Only x86-64 instructions are decoded ([`decode`]); an access of another kind is a
//!   `SIGSEGV` for the program.

pub mod chain;
pub mod decode;
pub mod handler;
pub mod ranges;
pub mod regs;
mod stack;

use crate::device::OpenDevice;
use crate::sys::{self, Errno};
use libc::c_int;
use std::sync::Arc;
use uiommu_abi::BarMapping;

/// Reserves `len` bytes (at `addr` for `MAP_FIXED`/`MAP_FIXED_NOREPLACE`, else at a hint or
/// anywhere) for the mapping `m` of `dev`, records it and returns its address.
pub fn map(
    dev: &Arc<OpenDevice>,
    m: BarMapping,
    addr: usize,
    len: usize,
    flags: c_int,
) -> Result<usize, Errno> {
    handler::install();
    if !chain::in_front(libc::SIGSEGV) {
        return Err(libc::ENOMEM);
    }
    let len = len.next_multiple_of(4096);
    let placement = flags & (libc::MAP_FIXED | libc::MAP_FIXED_NOREPLACE);
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | placement;
    let p = sys::next_mmap(false, addr as _, len, libc::PROT_NONE, flags, -1, 0);
    if p == libc::MAP_FAILED {
        return Err(sys::errno());
    }
    let start = p as usize;
    if placement != 0 {
        ranges::remove(start, len);
    }
    let record = ranges::Record {
        start,
        len,
        bar: m.bar,
        offset: m.offset,
        dev: Arc::clone(dev),
    };
    if let Err(e) = ranges::insert(record) {
        sys::next_munmap(p, len);
        return Err(e);
    }
    Ok(start)
}

/// After a successful `munmap(addr, len)`: the records of the range go.
pub fn unmapped(addr: usize, len: usize) {
    if ranges::overlaps(addr, len) {
        ranges::remove(addr, len);
    }
}

/// `mremap(old, old_len, new_len, flags, new_addr)` of a BAR mapping (`None` if `old` is not
/// one): the kernel's refusals for a `VM_PFNMAP | VM_DONTEXPAND` area, else the reservation
/// moved or shrunk by `remap` and the record with it.
pub fn remap(
    old: usize,
    old_len: usize,
    new_len: usize,
    flags: c_int,
    remap: impl FnOnce() -> *mut libc::c_void,
) -> Option<Result<usize, Errno>> {
    let record = ranges::at(old)?;
    if flags & libc::MREMAP_DONTUNMAP != 0 {
        return Some(Err(libc::EINVAL));
    }
    let page = |n: usize| n.checked_next_multiple_of(4096).unwrap_or(usize::MAX);
    // Growing, or an old range past the area's end.
    if page(new_len) > page(old_len) || page(old_len) > record.len {
        return Some(Err(libc::EFAULT));
    }
    let p = remap();
    if p == libc::MAP_FAILED {
        return Some(Err(sys::errno()));
    }
    ranges::remove(old, page(old_len));
    let moved = ranges::Record {
        start: p as usize,
        len: page(new_len),
        ..record
    };
    Some(ranges::insert(moved).map(|()| p as usize))
}
