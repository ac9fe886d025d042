//! The caller's argument, sent along with a forked child's `ioctl` so that the owner reads and
//! writes it without a system call.
//!
//! Every command of a context (iommufd's, and the VFIO container's it also serves) takes a
//! struct whose first 32 bits give its size (`size`, `argsz`). Before the request the child
//! copies that many bytes, up to [`WINDOW_BYTES`], from its own memory into the shared page
//! ([`capture`]); the owner serves accesses that fall inside from that copy ([`Windowed`]),
//! and every other access from the child's memory as before. The copy is taken when the call
//! is made, which is when the kernel too would read it. An argument that is not a readable
//! pointer (a value, as some VFIO commands take) brings no window.
//!
//! Stores into the window are written back by the child when the reply comes ([`write_back`]),
//! if the child found every page of the struct writable when it made the request
//! ([`user_copy::probe_writable`]: a store there then does not fail, so the command may count
//! it done, as it counts a `copy_to_user` that succeeded). Otherwise stores reach the child's
//! memory at once, so a read-only buffer fails the command exactly as on the kernel. What
//! remains: another thread of the child that unmaps or write-protects the struct while the
//! command runs fails the write-back, and the call answers `EFAULT` after the command took
//! effect; on the kernel the outcome of that race depends on the order of the two.

use super::page::{Page, WINDOW_BYTES};
use crate::user_copy::{self, OwnMemory};
use std::cell::RefCell;
use std::ops::Range;
use uiommu_uapi::{UserMemory, errno::Result};

/// Copies the argument at `arg` into `page` as the next request's window, or clears it.
pub fn capture(page: &Page, arg: u64) {
    let mut size = [0u8; 4];
    if OwnMemory.read(arg, &mut size).is_ok() {
        let len = (u32::from_ne_bytes(size) as usize).min(WINDOW_BYTES);
        let mut bytes = [0u8; WINDOW_BYTES];
        if OwnMemory.read(arg, &mut bytes[..len]).is_ok() {
            let writable = user_copy::probe_writable(arg, len);
            page.set_window(arg, &bytes[..len], writable);
            return;
        }
    }
    page.clear_window();
}

/// After the reply: writes back at `arg` what the owner stored into the window.
pub fn write_back(page: &Page, arg: u64) -> Result<()> {
    let (offset, bytes) = page.written();
    if bytes.is_empty() {
        return Ok(());
    }
    OwnMemory.write(arg + offset as u64, &bytes)
}

/// The caller's memory, with the bytes of its window served from the copy.
pub struct Windowed<'a> {
    addr: u64,
    bytes: RefCell<Vec<u8>>,
    /// Whether stores inside the window stay in the copy, to be written back.
    writable: bool,
    /// The part of the window stored into and not yet in the caller's memory.
    unwritten: RefCell<Option<Range<usize>>>,
    rest: &'a dyn UserMemory,
}

impl<'a> Windowed<'a> {
    /// `rest`, with `bytes` copied from `addr` (stores into them kept if `writable`).
    pub fn new(addr: u64, bytes: Vec<u8>, writable: bool, rest: &'a dyn UserMemory) -> Self {
        Windowed {
            addr,
            bytes: RefCell::new(bytes),
            writable,
            unwritten: RefCell::new(None),
            rest,
        }
    }

    /// Hands what was stored into the window to `page`, for the caller to write back.
    pub fn finish(self, page: &Page) {
        if let Some(range) = self.unwritten.take() {
            page.set_written(range.start, &self.bytes.borrow()[range]);
        }
    }

    /// Where `addr..addr + len` falls in the window, if wholly inside.
    fn inside(&self, addr: u64, len: usize) -> Option<Range<usize>> {
        let start = usize::try_from(addr.checked_sub(self.addr)?).ok()?;
        let end = start.checked_add(len)?;
        (end <= self.bytes.borrow().len()).then_some(start..end)
    }

    fn overlaps(&self, addr: u64, len: usize) -> bool {
        let end = self.addr + self.bytes.borrow().len() as u64;
        addr < end && addr.saturating_add(len as u64) > self.addr
    }

    /// Before an access that reaches the caller's memory over the window: the stores kept
    /// so far go there first.
    fn flush(&self) -> Result<()> {
        let Some(range) = self.unwritten.take() else {
            return Ok(());
        };
        let at = self.addr + range.start as u64;
        self.rest.write(at, &self.bytes.borrow()[range])
    }

    /// Brings the copy in line with a store of `data` at `addr` in the caller's memory, or
    /// drops it when the store may have left bytes it cannot know.
    fn follow(&self, addr: u64, data: Option<&[u8]>, len: usize) {
        if !self.overlaps(addr, len) {
            return;
        }
        let mut bytes = self.bytes.borrow_mut();
        match data {
            Some(data) => {
                let window = self.addr..self.addr + bytes.len() as u64;
                for (at, b) in (addr..).zip(data) {
                    if window.contains(&at) {
                        bytes[(at - self.addr) as usize] = *b;
                    }
                }
            }
            None => bytes.clear(),
        }
    }
}

impl UserMemory for Windowed<'_> {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        if let Some(range) = self.inside(addr, buf.len()) {
            buf.copy_from_slice(&self.bytes.borrow()[range]);
            return Ok(());
        }
        if self.overlaps(addr, buf.len()) {
            self.flush()?;
        }
        self.rest.read(addr, buf)
    }

    fn write(&self, addr: u64, data: &[u8]) -> Result<()> {
        if let Some(range) = self.inside(addr, data.len()).filter(|_| self.writable) {
            self.bytes.borrow_mut()[range.clone()].copy_from_slice(data);
            let mut unwritten = self.unwritten.borrow_mut();
            *unwritten = Some(match unwritten.take() {
                Some(r) => r.start.min(range.start)..r.end.max(range.end),
                None => range,
            });
            return Ok(());
        }
        if self.overlaps(addr, data.len()) {
            self.flush()?;
        }
        let r = self.rest.write(addr, data);
        self.follow(addr, r.is_ok().then_some(data), data.len());
        r
    }

    fn copy(&self, dst: u64, src: u64, len: usize) -> Result<()> {
        if self.overlaps(dst, len) || self.overlaps(src, len) {
            self.flush()?;
        }
        let r = self.rest.copy(dst, src, len);
        self.follow(dst, None, len);
        r
    }
}

#[cfg(test)]
mod tests;
