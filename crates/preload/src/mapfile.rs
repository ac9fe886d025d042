//! The pages of `IOMMU_IOAS_MAP_FILE`: the caller's file, mapped into this process.
//!
//! The kernel keeps a reference on the file (`iopt_map_file_pages`: `fget`, `EBADF` for a bad
//! fd) and decides whether its pages can be had only when it pins them
//! (`mm/gup.c: memfd_pin_folios`): the file must be shmem (a memfd, or any tmpfs file) or
//! hugetlbfs (`EINVAL` otherwise), and the range must end inside the file (`EINVAL` past
//! `i_size`). Here the file is mapped `MAP_SHARED` once per file (mappings are shared by every
//! pages object of the same file while one lives, as the kernel's pin the same folios), and the
//! mapping stands in for the file: it is kept until the last pages object using it is gone.
//!
//! # Physical addresses
//! In uiommu a page's output address is a user address. If the program itself has the file
//! mapped shared when it maps it into an IOAS, the program's mapping is the page's address
//! (so that `IOMMU_TEST_OP_MD_CHECK_MAP` and `_CHECK_REFS` on the program's buffer see the
//! pages, as they see the same folios in the kernel); else this library's own mapping is. As for
//! user memory, a program that unmaps its buffer while the IOMMU maps it leaves the IOMMU
//! pointing at whatever is mapped there next.
//!
//! # Not modelled
//! The file's size is the one it had when it was mapped into the IOAS, less any truncation
//! since (a probe past the end fails): a file grown after `IOMMU_IOAS_MAP_FILE` cannot be
//! pinned past its old end, where the kernel would pin it.

use crate::sys::{self, FileStat};
use libc::c_int;
use std::collections::HashMap;
use std::ffi::CString;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use uiommu_abi::ProcessVm;
use uiommu_abi::host::{FileBacking, PAGE_SIZE};
use uiommu_uapi::{Errno, UserMemory, errno::Result};

/// `TMPFS_MAGIC`: shmem files (memfds without `MFD_HUGETLB`, tmpfs files).
const TMPFS_MAGIC: u64 = 0x0102_1994;
/// `HUGETLBFS_MAGIC`: hugetlbfs files (memfds with `MFD_HUGETLB`).
const HUGETLBFS_MAGIC: u64 = 0x9584_58f6;

/// Which files `memfd_pin_folios` pins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `shmem_file()`.
    Shmem,
    /// `is_file_hugepages()`, with the huge page size.
    Hugetlb(u64),
    /// Anything else: pinning fails with `EINVAL`.
    Other,
}

/// A shared mapping of the file that the program made: file bytes `off..off + len` at `addr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Segment {
    off: u64,
    len: u64,
    addr: u64,
    writable: bool,
}

/// This library's own mapping of the file.
#[derive(Debug)]
struct Own {
    addr: u64,
    len: usize,
    writable: bool,
}

/// A file as the source of IOAS pages.
#[derive(Debug)]
pub struct MappedFile {
    kind: Kind,
    /// The program's shared mappings of the file when it was first mapped into an IOAS.
    program: Vec<Segment>,
    /// `None` for a file that cannot be pinned or was empty.
    own: Option<Own>,
}

type Cache = Option<HashMap<(u64, u64), Weak<MappedFile>>>;

/// Live mappings by file identity, so that every pages object of a file sees one address per
/// page (the kernel's pins are of the same folios). Only [`map`] takes the lock, and only from
/// a command, which holds the fork gate: a `fork` never copies it held.
static CACHE: Mutex<Cache> = Mutex::new(None);

fn cache_lock() -> MutexGuard<'static, Cache> {
    CACHE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A file that can never be pinned (`EINVAL` when it would be): a virtual fd of ours, which
/// stands for a device node or an anonymous file, not a memfd.
pub fn unpinnable() -> Arc<dyn FileBacking> {
    Arc::new(MappedFile {
        kind: Kind::Other,
        program: Vec::new(),
        own: None,
    })
}

/// The file open on `fd` as IOAS pages (`fget` in `iopt_map_file_pages`): `EBADF` unless `fd`
/// is open (an `O_PATH` fd is not, to `fget`).
pub fn map(fd: c_int) -> Result<Arc<dyn FileBacking>> {
    let flags = sys::status_flags(fd).map_err(|_| Errno::EBADF)?;
    if flags & libc::O_PATH != 0 {
        return Err(Errno::EBADF);
    }
    let st = sys::fstat(fd).map_err(|_| Errno::EBADF)?;
    let kind = kind_of(fd, &st);
    if kind == Kind::Other {
        return Ok(unpinnable());
    }
    let need = map_len(kind, st.size);
    let mut cache = cache_lock();
    let cache = cache.get_or_insert_with(HashMap::new);
    cache.retain(|_, w| w.strong_count() > 0);
    let old = cache.get(&st.id).and_then(Weak::upgrade);
    if let Some(old) = &old {
        if old.own.as_ref().map_or(0, |o| o.len) >= need {
            return Ok(old.clone());
        }
    }
    let mut program = program_segments(st.id);
    // The older, shorter mapping of this file is ours, not the program's.
    if let Some(o) = old.as_ref().and_then(|old| old.own.as_ref()) {
        program.retain(|s| s.addr != o.addr);
    }
    let own = if need == 0 {
        None
    } else {
        Some(map_own(fd, need)?)
    };
    let file = Arc::new(MappedFile { kind, program, own });
    cache.insert(st.id, Arc::downgrade(&file));
    Ok(file)
}

/// `shmem_file() || is_file_hugepages()`: a regular file on tmpfs or hugetlbfs.
fn kind_of(fd: c_int, st: &FileStat) -> Kind {
    if st.mode & libc::S_IFMT != libc::S_IFREG {
        return Kind::Other;
    }
    match sys::fs_type(fd) {
        Ok(TMPFS_MAGIC) => Kind::Shmem,
        Ok(HUGETLBFS_MAGIC) if st.blksize.is_power_of_two() => Kind::Hugetlb(st.blksize),
        _ => Kind::Other,
    }
}

/// The length to map for a file of `size` bytes: whole pages (whole huge pages on hugetlbfs).
fn map_len(kind: Kind, size: u64) -> usize {
    let unit = match kind {
        Kind::Hugetlb(h) => h,
        _ => PAGE_SIZE,
    };
    size.checked_next_multiple_of(unit)
        .and_then(|l| usize::try_from(l).ok())
        .unwrap_or(0)
}

/// Maps the file shared, writable if it can be had so (the kernel pins a file's pages for
/// writing whatever the fd's access mode), else read-only.
fn map_own(fd: c_int, len: usize) -> Result<Own> {
    let flags = libc::MAP_SHARED | libc::MAP_NORESERVE;
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    // A new open file description for reading and writing (memfds are mode 0777).
    if let Ok(path) = CString::new(format!("/proc/self/fd/{fd}")) {
        if let Ok(rwfd) = sys::open_raw(&path, libc::O_RDWR | libc::O_CLOEXEC, 0) {
            let r = sys::mmap_raw(len, rw, flags, rwfd);
            sys::close_raw(rwfd);
            if let Ok(addr) = r {
                return Ok(Own {
                    addr,
                    len,
                    writable: true,
                });
            }
        }
    }
    // Write-sealed, or no /proc: as the fd allows.
    if let Ok(addr) = sys::mmap_raw(len, rw, flags, fd) {
        return Ok(Own {
            addr,
            len,
            writable: true,
        });
    }
    sys::mmap_raw(len, libc::PROT_READ, flags, fd)
        .map(|addr| Own {
            addr,
            len,
            writable: false,
        })
        .map_err(|_| Errno::ENOMEM)
}

/// The program's shared mappings of the file `id` from `/proc/self/maps`.
fn program_segments(id: (u64, u64)) -> Vec<Segment> {
    let Ok(maps) = crate::procfile::self_maps() else {
        return Vec::new();
    };
    maps.lines().filter_map(|l| parse_segment(l, id)).collect()
}

/// One line of a maps file, if it is a shared mapping of the file `(dev, ino)`.
fn parse_segment(line: &str, (dev, ino): (u64, u64)) -> Option<Segment> {
    let mut f = line.split_ascii_whitespace();
    let (start, end) = f.next()?.split_once('-')?;
    let perms = f.next()?.as_bytes();
    let off = u64::from_str_radix(f.next()?, 16).ok()?;
    let (maj, min) = f.next()?.split_once(':')?;
    let inode: u64 = f.next()?.parse().ok()?;
    let maj = u32::from_str_radix(maj, 16).ok()?;
    let min = u32::from_str_radix(min, 16).ok()?;
    if perms.get(3) != Some(&b's') || inode != ino || libc::makedev(maj, min) != dev {
        return None;
    }
    let start = u64::from_str_radix(start, 16).ok()?;
    let end = u64::from_str_radix(end, 16).ok()?;
    Some(Segment {
        off,
        len: end.checked_sub(start)?,
        addr: start,
        writable: perms.get(1) == Some(&b'w'),
    })
}

impl MappedFile {
    /// The program's segment holding `off..end`, if it can stand for the pages (writable
    /// whenever this library's mapping is).
    fn program_addr(&self, off: u64, end: u64, own_writable: bool) -> Option<u64> {
        self.program
            .iter()
            .find(|s| {
                s.off <= off && end <= s.off.saturating_add(s.len) && (s.writable || !own_writable)
            })
            .map(|s| s.addr + (off - s.off))
    }
}

impl FileBacking for MappedFile {
    /// `memfd_pin_folios` of `offset..offset + len`: `EINVAL` for a file that is neither shmem
    /// nor hugetlbfs, and for a range that does not end inside the file.
    fn resolve(&self, offset: u64, len: u64) -> Result<u64> {
        if self.kind == Kind::Other {
            return Err(Errno::EINVAL);
        }
        let own = self.own.as_ref().ok_or(Errno::EINVAL)?;
        let end = offset.checked_add(len.max(1)).ok_or(Errno::EINVAL)?;
        if end > own.len as u64 {
            return Err(Errno::EINVAL);
        }
        // Truncated since it was mapped: the page holding the last byte is gone (touching it
        // would be SIGBUS; the non-faulting read fails instead).
        let mut probe = [0u8];
        ProcessVm::current()
            .read(own.addr + (end - 1), &mut probe)
            .map_err(|_| Errno::EINVAL)?;
        Ok(self
            .program_addr(offset, end, own.writable)
            .unwrap_or(own.addr + offset))
    }

    /// A hugetlbfs file's pages are huge pages.
    fn contiguity(&self) -> u64 {
        match self.kind {
            Kind::Hugetlb(h) => h,
            _ => PAGE_SIZE,
        }
    }
}

impl Drop for MappedFile {
    fn drop(&mut self) {
        if let Some(own) = self.own.take() {
            sys::munmap_raw(own.addr, own.len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_shared_mappings_of_the_file() {
        let dev = libc::makedev(0, 1);
        let id = (dev, 1234);
        let s = parse_segment(
            "7f0000001000-7f0000003000 rw-s 00002000 00:01 1234 /memfd:buffer (deleted)",
            id,
        );
        assert_eq!(
            s,
            Some(Segment {
                off: 0x2000,
                len: 0x2000,
                addr: 0x7f00_0000_1000,
                writable: true
            })
        );
        // Private, another inode, another device.
        for l in [
            "7f0000001000-7f0000003000 rw-p 00000000 00:01 1234 /memfd:buffer (deleted)",
            "7f0000001000-7f0000003000 rw-s 00000000 00:01 1235 /memfd:buffer (deleted)",
            "7f0000001000-7f0000003000 rw-s 00000000 00:02 1234 /memfd:buffer (deleted)",
            "garbage",
        ] {
            assert_eq!(parse_segment(l, id), None, "{l}");
        }
    }

    #[test]
    fn program_mappings_stand_for_the_pages_they_hold() {
        let f = MappedFile {
            kind: Kind::Shmem,
            program: vec![
                Segment {
                    off: 0x1000,
                    len: 0x2000,
                    addr: 0x10_0000,
                    writable: false,
                },
                Segment {
                    off: 0,
                    len: 0x4000,
                    addr: 0x20_0000,
                    writable: true,
                },
            ],
            own: None,
        };
        // A read-only program mapping only stands in for a read-only own mapping.
        assert_eq!(f.program_addr(0x1000, 0x2000, false), Some(0x10_0000));
        assert_eq!(f.program_addr(0x1000, 0x2000, true), Some(0x20_1000));
        assert_eq!(f.program_addr(0x3000, 0x5000, true), None);
        assert_eq!(f.resolve(0, 1), Err(Errno::EINVAL));
    }

    #[test]
    fn map_lengths_round_to_the_page_size() {
        assert_eq!(map_len(Kind::Shmem, 0), 0);
        assert_eq!(map_len(Kind::Shmem, 1), 4096);
        assert_eq!(map_len(Kind::Hugetlb(2 << 20), 4096), 2 << 20);
        assert_eq!(map_len(Kind::Shmem, u64::MAX), 0);
    }
}
