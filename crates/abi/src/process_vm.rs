//! [`UserMemory`] over a process's address space with `process_vm_readv`/`process_vm_writev`.
//!
//! The kernel copies from and to user memory with instructions that fault safely; in user space
//! the equivalent is to let the kernel do the copy: an address that is not mapped (or not
//! writable) makes the call fail or stop short, which we report as `EFAULT`, and nothing in this
//! process ever touches the bad address. The same code reaches another process by pid, which is
//! what a daemon serving several processes needs.

use uiommu_uapi::{Errno, UserMemory, errno::Result};

/// The memory of one process, addressed by its virtual addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessVm {
    pid: libc::pid_t,
}

impl ProcessVm {
    /// This process.
    pub fn current() -> Self {
        ProcessVm {
            pid: std::process::id() as libc::pid_t,
        }
    }

    /// Another process (needs ptrace access to it).
    pub fn of_pid(pid: u32) -> Self {
        ProcessVm {
            pid: pid as libc::pid_t,
        }
    }
}

/// Largest transfer per call: `process_vm_*` may stop at a page it cannot access and report a
/// short count, so every call is checked for completeness anyway.
const CHUNK: usize = 1 << 30;

fn check_range(addr: u64, len: usize) -> Result<()> {
    // A range that wraps the address space can never be valid user memory.
    addr.checked_add(len as u64)
        .map(|_| ())
        .ok_or(Errno::EFAULT)
}

impl UserMemory for ProcessVm {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        check_range(addr, buf.len())?;
        let mut done = 0;
        while done < buf.len() {
            let n = (buf.len() - done).min(CHUNK);
            let got = sys::read(self.pid, addr + done as u64, &mut buf[done..done + n])?;
            if got != n {
                return Err(Errno::EFAULT);
            }
            done += n;
        }
        Ok(())
    }

    fn write(&self, addr: u64, data: &[u8]) -> Result<()> {
        check_range(addr, data.len())?;
        let mut done = 0;
        while done < data.len() {
            let n = (data.len() - done).min(CHUNK);
            let put = sys::write(self.pid, addr + done as u64, &data[done..done + n])?;
            if put != n {
                return Err(Errno::EFAULT);
            }
            done += n;
        }
        Ok(())
    }

    /// In this process, one `process_vm_readv` per chunk from `src` (read as the remote side)
    /// straight into `dst` (written as the local one): one pass over the bytes, where the
    /// default reads them into a buffer and writes them out again. Overlapping ranges, and
    /// another process's memory, take the default's two passes.
    fn copy(&self, dst: u64, src: u64, len: usize) -> Result<()> {
        check_range(dst, len)?;
        check_range(src, len)?;
        let overlap = dst < src + len as u64 && src < dst + len as u64;
        if overlap || self.pid != std::process::id() as libc::pid_t {
            let mut tmp = vec![0u8; len];
            self.read(src, &mut tmp)?;
            return self.write(dst, &tmp);
        }
        let mut done = 0;
        while done < len {
            let n = (len - done).min(CHUNK);
            let got = sys::copy_own(self.pid, dst + done as u64, src + done as u64, n)?;
            if got != n {
                return Err(Errno::EFAULT);
            }
            done += n;
        }
        Ok(())
    }
}

#[allow(unsafe_code)]
mod sys {
    use uiommu_uapi::{Errno, errno::Result};

    fn result(n: isize) -> Result<usize> {
        if n >= 0 {
            return Ok(n as usize);
        }
        match std::io::Error::last_os_error().raw_os_error() {
            // Unmapped or inaccessible memory, and a range the kernel rejects outright.
            Some(libc::EFAULT) | Some(libc::EINVAL) | None => Err(Errno::EFAULT),
            Some(e) => Err(Errno(e)),
        }
    }

    pub fn read(pid: libc::pid_t, addr: u64, buf: &mut [u8]) -> Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let local = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let remote = libc::iovec {
            iov_base: addr as usize as *mut libc::c_void,
            iov_len: buf.len(),
        };
        // SAFETY: `local` describes `buf`, which we borrow mutably for the call; the kernel
        // writes only there. `remote` is never dereferenced by this process: the kernel reads it
        // on our behalf and reports inaccessible pages as an error or a short count.
        let n = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
        result(n)
    }

    /// `len` bytes from `src` to `dst`, both addresses of this process (`pid`).
    pub fn copy_own(pid: libc::pid_t, dst: u64, src: u64, len: usize) -> Result<usize> {
        if len == 0 {
            return Ok(0);
        }
        let local = libc::iovec {
            iov_base: dst as usize as *mut libc::c_void,
            iov_len: len,
        };
        let remote = libc::iovec {
            iov_base: src as usize as *mut libc::c_void,
            iov_len: len,
        };
        // SAFETY: neither range is dereferenced by this process: the kernel reads `remote`
        // and writes `local` on its behalf, reporting an inaccessible page of either as an
        // error or a short count. Both are the program's memory, not borrowed by any Rust
        // reference here (the caller checked that they do not overlap).
        let n = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
        result(n)
    }

    pub fn write(pid: libc::pid_t, addr: u64, data: &[u8]) -> Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        let local = libc::iovec {
            iov_base: data.as_ptr() as *mut libc::c_void,
            iov_len: data.len(),
        };
        let remote = libc::iovec {
            iov_base: addr as usize as *mut libc::c_void,
            iov_len: data.len(),
        };
        // SAFETY: `local` describes `data`, which the kernel only reads. `remote` is written by
        // the kernel, which checks that the pages are mapped and writable and stops otherwise.
        let n = unsafe { libc::process_vm_writev(pid, &local, 1, &remote, 1, 0) };
        result(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_own_memory() {
        let mem = ProcessVm::current();
        let mut src = [1u8, 2, 3, 4];
        let mut dst = [0u8; 4];
        mem.read(src.as_ptr() as u64, &mut dst).unwrap();
        assert_eq!(dst, [1, 2, 3, 4]);
        mem.write(src.as_mut_ptr() as u64, &[9, 9]).unwrap();
        assert_eq!(src, [9, 9, 3, 4]);
    }

    #[test]
    fn copies_within_own_memory_in_one_pass_and_refuses_bad_ranges() {
        let mem = ProcessVm::current();
        let src: Vec<u8> = (0..3 * 4096 + 5).map(|i| i as u8).collect();
        let mut dst = vec![0u8; src.len()];
        mem.copy(dst.as_mut_ptr() as u64, src.as_ptr() as u64, src.len())
            .unwrap();
        assert_eq!(dst, src);
        // Overlapping: as memmove.
        let mut buf: Vec<u8> = (0..64).collect();
        let base = buf.as_mut_ptr() as u64;
        mem.copy(base + 8, base, 32).unwrap();
        assert_eq!(&buf[8..40], &(0..32).collect::<Vec<u8>>()[..]);
        assert_eq!(mem.copy(dst.as_mut_ptr() as u64, 8, 16), Err(Errno::EFAULT));
        assert_eq!(mem.copy(8, src.as_ptr() as u64, 16), Err(Errno::EFAULT));
        let s: &'static [u8] = b"read only, long enough";
        assert_eq!(
            mem.copy(s.as_ptr() as u64, src.as_ptr() as u64, 8),
            Err(Errno::EFAULT)
        );
        assert_eq!(
            mem.copy(u64::MAX - 3, src.as_ptr() as u64, 8),
            Err(Errno::EFAULT)
        );
    }

    #[test]
    fn bad_addresses_are_efault_not_crashes() {
        let mem = ProcessVm::current();
        let mut buf = [0u8; 8];
        assert_eq!(mem.read(0, &mut buf), Err(Errno::EFAULT));
        assert_eq!(mem.read(8, &mut buf), Err(Errno::EFAULT));
        assert_eq!(mem.read(u64::MAX - 3, &mut buf), Err(Errno::EFAULT));
        assert_eq!(mem.write(0x1000, &buf), Err(Errno::EFAULT));
        // Read-only memory: a string literal lives in .rodata.
        let s: &'static [u8] = b"read only";
        assert_eq!(mem.write(s.as_ptr() as u64, b"x"), Err(Errno::EFAULT));
    }

    #[test]
    #[allow(unsafe_code)]
    fn a_range_ending_in_a_hole_is_efault() {
        let page = 4096;
        // Far below where the kernel places mappings: the page unmapped below stays a hole,
        // where among the other test threads' mappings their next `mmap` could be given it.
        let at = 0x5100_0000_0000usize as *mut libc::c_void;
        // SAFETY: an anonymous private mapping at an address nothing in this process uses;
        // MAP_FIXED_NOREPLACE fails rather than replace anything there.
        let base = unsafe {
            libc::mmap(
                at,
                2 * page,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
                -1,
                0,
            )
        };
        assert_eq!(base, at, "{}", std::io::Error::last_os_error());
        let second = base as u64 + page as u64;
        // SAFETY: unmaps the second page of the mapping made above, which nothing references.
        let rc = unsafe { libc::munmap(second as *mut libc::c_void, page) };
        assert_eq!(rc, 0);
        let mem = ProcessVm::current();
        let mut buf = [0u8; 8];
        mem.read(second - 8, &mut buf).unwrap();
        assert_eq!(mem.read(second - 4, &mut buf), Err(Errno::EFAULT));
        assert_eq!(mem.write(second - 4, &buf), Err(Errno::EFAULT));
        // SAFETY: unmaps the first page, still mapped and unreferenced.
        let rc = unsafe { libc::munmap(base, page) };
        assert_eq!(rc, 0);
    }
}
