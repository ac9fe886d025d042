//! Access to the caller's memory.
//!
//! Every byte an ioctl reads from or writes to its caller goes through [`UserMemory`]. An address
//! that is not readable (or writable) is an [`Errno::EFAULT`], never a crash: in process it is a
//! non-faulting copy, in a daemon it is `process_vm_readv` on the caller's pid.

#[cfg(any(test, feature = "testing"))]
use crate::errno::Errno;
use crate::errno::Result;

/// The memory of the process that made the call, addressed by its user virtual addresses.
pub trait UserMemory {
    /// Fills `buf` from `addr..addr + buf.len()`; `EFAULT` if any byte is not readable.
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<()>;
    /// Stores `data` at `addr..addr + data.len()`; `EFAULT` if any byte is not writable.
    fn write(&self, addr: u64, data: &[u8]) -> Result<()>;
    /// Copies `len` bytes from `src` to `dst`, both addresses of this memory; `EFAULT` if a
    /// byte of `src` is not readable or one of `dst` not writable. The default reads the whole
    /// range into a buffer first (so `dst` is untouched if `src` faults); a memory that can
    /// copy in place overrides it, saving a pass over the bytes.
    fn copy(&self, dst: u64, src: u64, len: usize) -> Result<()> {
        let mut tmp = vec![0u8; len];
        self.read(src, &mut tmp)?;
        self.write(dst, &tmp)
    }
}

impl<M: UserMemory + ?Sized> UserMemory for &M {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        (**self).read(addr, buf)
    }
    fn write(&self, addr: u64, data: &[u8]) -> Result<()> {
        (**self).write(addr, data)
    }
    fn copy(&self, dst: u64, src: u64, len: usize) -> Result<()> {
        (**self).copy(dst, src, len)
    }
}

impl<M: UserMemory + ?Sized> UserMemory for std::sync::Arc<M> {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        (**self).read(addr, buf)
    }
    fn write(&self, addr: u64, data: &[u8]) -> Result<()> {
        (**self).write(addr, data)
    }
    fn copy(&self, dst: u64, src: u64, len: usize) -> Result<()> {
        (**self).copy(dst, src, len)
    }
}

/// Granule at which user memory faults: reads that must stop at the first fault (as the kernel's
/// word-by-word `check_zeroed_user` does) go page by page.
pub const USER_PAGE_SIZE: u64 = 4096;

/// A sparse, page-granular fake address space for tests: pages are present and readable,
/// optionally read-only, or absent (EFAULT).
#[cfg(any(test, feature = "testing"))]
pub mod testing {
    use super::{Errno, Result, USER_PAGE_SIZE, UserMemory};
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    /// One present page: its bytes and whether it is writable.
    type Page = (Box<[u8; USER_PAGE_SIZE as usize]>, bool);

    /// Test memory: a map from page number to page contents.
    #[derive(Debug, Default)]
    pub struct TestMemory {
        pages: Mutex<BTreeMap<u64, Page>>,
    }

    impl TestMemory {
        /// An empty address space: every access faults.
        pub fn new() -> Self {
            Self::default()
        }

        /// Makes `addr..addr + len` present (zero-filled where new) and writable.
        pub fn map(&self, addr: u64, len: u64) {
            self.map_with(addr, len, true);
        }

        /// Makes `addr..addr + len` present but read-only.
        pub fn map_readonly(&self, addr: u64, len: u64) {
            self.map_with(addr, len, false);
        }

        fn map_with(&self, addr: u64, len: u64, writable: bool) {
            let mut pages = self.pages.lock().unwrap();
            let first = addr / USER_PAGE_SIZE;
            let last = (addr + len.max(1) - 1) / USER_PAGE_SIZE;
            for pfn in first..=last {
                pages
                    .entry(pfn)
                    .or_insert_with(|| (Box::new([0; 4096]), writable))
                    .1 = writable;
            }
        }

        /// Makes the pages covering `addr..addr + len` absent.
        pub fn unmap(&self, addr: u64, len: u64) {
            let mut pages = self.pages.lock().unwrap();
            let first = addr / USER_PAGE_SIZE;
            let last = (addr + len.max(1) - 1) / USER_PAGE_SIZE;
            pages.retain(|pfn, _| !(first..=last).contains(pfn));
        }

        /// Maps `data.len()` bytes at `addr` and stores `data` there.
        pub fn put(&self, addr: u64, data: &[u8]) {
            self.map(addr, data.len() as u64);
            self.write(addr, data).unwrap();
        }

        /// Reads `len` bytes at `addr`, panicking on a fault (tests only).
        pub fn get(&self, addr: u64, len: usize) -> Vec<u8> {
            let mut v = vec![0; len];
            self.read(addr, &mut v).unwrap();
            v
        }

        fn access(
            &self,
            addr: u64,
            len: usize,
            write: bool,
            mut f: impl FnMut(&mut [u8], usize),
        ) -> Result<()> {
            let end = addr.checked_add(len as u64).ok_or(Errno::EFAULT)?;
            let mut pages = self.pages.lock().unwrap();
            // Check first so that a faulting access changes nothing.
            let mut a = addr;
            while a < end {
                match pages.get(&(a / USER_PAGE_SIZE)) {
                    Some((_, w)) if *w || !write => {}
                    _ => return Err(Errno::EFAULT),
                }
                a = (a / USER_PAGE_SIZE + 1) * USER_PAGE_SIZE;
            }
            let mut a = addr;
            while a < end {
                let off = (a % USER_PAGE_SIZE) as usize;
                let n = ((USER_PAGE_SIZE - off as u64).min(end - a)) as usize;
                let page = pages.get_mut(&(a / USER_PAGE_SIZE)).unwrap();
                f(&mut page.0[off..off + n], (a - addr) as usize);
                a += n as u64;
            }
            Ok(())
        }
    }

    impl UserMemory for TestMemory {
        fn read(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
            let len = buf.len();
            self.access(addr, len, false, |page, at| {
                buf[at..at + page.len()].copy_from_slice(page)
            })
        }
        fn write(&self, addr: u64, data: &[u8]) -> Result<()> {
            self.access(addr, data.len(), true, |page, at| {
                let n = page.len();
                page.copy_from_slice(&data[at..at + n])
            })
        }
    }
}
