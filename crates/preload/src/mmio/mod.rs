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
//! - `mremap` and `MAP_FIXED` placed over a mapping are not followed: the moved or replaced
//!   range is ordinary memory (a fault there is the program's), and accesses at the old
//!   addresses are not served.
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
    if !chain::in_front() {
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
