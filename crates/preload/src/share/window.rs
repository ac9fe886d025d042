//! The caller's argument, sent along with a forked child's `ioctl` so that the owner reads it
//! without a system call.
//!
//! Every command of a context (iommufd's, and the VFIO container's it also serves) takes a
//! struct whose first 32 bits give its size (`size`, `argsz`). Before the request the child
//! copies that many bytes, up to [`WINDOW_BYTES`], from its own memory into the shared page
//! ([`capture`]); the owner serves reads that fall inside from that copy ([`Windowed`]) and
//! every other access from the child's memory as before. The copy is taken when the call is
//! made, which is when the kernel too would read it; writes go to the child's memory at once,
//! so a bad or read-only buffer fails the command exactly as before, and the copy follows
//! them. An argument that is not a readable pointer (a value, as some VFIO commands take)
//! brings no window.

use super::page::{Page, WINDOW_BYTES};
use crate::user_copy::OwnMemory;
use std::cell::RefCell;
use uiommu_uapi::{UserMemory, errno::Result};

/// Copies the argument at `arg` into `page` as the next request's window, or clears it.
pub fn capture(page: &Page, arg: u64) {
    let mut size = [0u8; 4];
    if OwnMemory.read(arg, &mut size).is_ok() {
        let len = (u32::from_ne_bytes(size) as usize).min(WINDOW_BYTES);
        let mut bytes = [0u8; WINDOW_BYTES];
        if OwnMemory.read(arg, &mut bytes[..len]).is_ok() {
            page.set_window(arg, &bytes[..len]);
            return;
        }
    }
    page.clear_window();
}

/// The caller's memory, with the bytes of its window served from the copy.
pub struct Windowed<'a> {
    addr: u64,
    bytes: RefCell<Vec<u8>>,
    rest: &'a dyn UserMemory,
}

impl<'a> Windowed<'a> {
    /// `rest`, with `bytes` copied from `addr`.
    pub fn new(addr: u64, bytes: Vec<u8>, rest: &'a dyn UserMemory) -> Self {
        Windowed {
            addr,
            bytes: RefCell::new(bytes),
            rest,
        }
    }

    /// Where `addr..addr + len` falls in the window, if wholly inside.
    fn inside(&self, addr: u64, len: usize) -> Option<std::ops::Range<usize>> {
        let start = usize::try_from(addr.checked_sub(self.addr)?).ok()?;
        let end = start.checked_add(len)?;
        (end <= self.bytes.borrow().len()).then_some(start..end)
    }

    /// Brings the copy in line with a write of `data` at `addr`, or drops it if the write
    /// may have left bytes it cannot know.
    fn follow(&self, addr: u64, data: Option<&[u8]>, len: usize) {
        let mut bytes = self.bytes.borrow_mut();
        let (start, end) = (self.addr, self.addr + bytes.len() as u64);
        if addr >= end || addr.saturating_add(len as u64) <= start {
            return;
        }
        match data {
            Some(data) => {
                for (i, b) in data.iter().enumerate() {
                    let at = addr + i as u64;
                    if (start..end).contains(&at) {
                        bytes[(at - start) as usize] = *b;
                    }
                }
            }
            None => bytes.clear(),
        }
    }
}

impl UserMemory for Windowed<'_> {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        match self.inside(addr, buf.len()) {
            Some(range) => {
                buf.copy_from_slice(&self.bytes.borrow()[range]);
                Ok(())
            }
            None => self.rest.read(addr, buf),
        }
    }

    fn write(&self, addr: u64, data: &[u8]) -> Result<()> {
        let r = self.rest.write(addr, data);
        self.follow(addr, r.is_ok().then_some(data), data.len());
        r
    }

    fn copy(&self, dst: u64, src: u64, len: usize) -> Result<()> {
        let r = self.rest.copy(dst, src, len);
        self.follow(dst, None, len);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uiommu_uapi::Errno;

    /// A memory of 64 bytes at 0x1000, counting the reads that reach it.
    struct Plain {
        bytes: RefCell<Vec<u8>>,
        reads: std::cell::Cell<usize>,
    }

    impl UserMemory for Plain {
        fn read(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
            self.reads.set(self.reads.get() + 1);
            let at = addr.checked_sub(0x1000).ok_or(Errno::EFAULT)? as usize;
            let src = self.bytes.borrow();
            buf.copy_from_slice(src.get(at..at + buf.len()).ok_or(Errno::EFAULT)?);
            Ok(())
        }
        fn write(&self, addr: u64, data: &[u8]) -> Result<()> {
            let at = addr.checked_sub(0x1000).ok_or(Errno::EFAULT)? as usize;
            let mut dst = self.bytes.borrow_mut();
            dst.get_mut(at..at + data.len())
                .ok_or(Errno::EFAULT)?
                .copy_from_slice(data);
            Ok(())
        }
    }

    #[test]
    fn reads_inside_come_from_the_copy_and_writes_reach_both() {
        let plain = Plain {
            bytes: RefCell::new((0..64).collect()),
            reads: Default::default(),
        };
        let w = Windowed::new(0x1008, (8..24).collect(), &plain);
        let mut buf = [0u8; 4];
        w.read(0x100c, &mut buf).unwrap();
        assert_eq!((buf, plain.reads.get()), ([12, 13, 14, 15], 0));
        w.read(0x1016, &mut buf).unwrap();
        assert_eq!(
            (buf, plain.reads.get()),
            ([22, 23, 24, 25], 1),
            "past its end"
        );
        w.write(0x1006, &[0xaa; 4]).unwrap();
        w.read(0x1008, &mut buf[..2]).unwrap();
        assert_eq!(buf[..2], [0xaa, 0xaa], "the copy follows a write");
        assert_eq!(plain.bytes.borrow()[6..10], [0xaa; 4]);
        assert_eq!(w.write(0x1040, &[1]), Err(Errno::EFAULT));
        assert_eq!(w.read(0x0fff, &mut buf), Err(Errno::EFAULT));
    }

    #[test]
    fn a_copy_into_the_window_drops_it() {
        let plain = Plain {
            bytes: RefCell::new(vec![7; 64]),
            reads: Default::default(),
        };
        let w = Windowed::new(0x1000, vec![0; 16], &plain);
        w.copy(0x1004, 0x1020, 4).unwrap();
        let mut buf = [0u8; 4];
        w.read(0x1000, &mut buf).unwrap();
        assert_eq!(
            (buf, plain.reads.get()),
            ([7; 4], 2),
            "read from the memory"
        );
    }

    #[test]
    fn a_value_argument_brings_no_window() {
        let (page, fd) = Page::create().unwrap();
        crate::sys::close_raw(fd);
        let arg: [u32; 3] = [12, 0xdead, 0xbeef];
        capture(&page, arg.as_ptr() as u64);
        let (addr, bytes) = page.window();
        assert_eq!((addr, bytes.len()), (arg.as_ptr() as u64, 12));
        capture(&page, 1);
        assert!(page.window().1.is_empty());
    }
}
