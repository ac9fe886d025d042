//! [`PinMemory`] from `/proc/self/maps`: whether `pin_user_pages` would succeed, decided from
//! the mappings' permissions without touching the memory.
//!
//! Probing by copying a byte in and out (core's `ProbeMemory`) races with the program's own
//! writers: the write-back can undo a concurrent store. The kernel's rule
//! (`mm/gup.c: check_vma_flags`) is about the VMA, not the page: a page that is not yet faulted
//! in is faulted in by the pin. So the check is: every page of the range lies in a mapping, the
//! mappings are contiguous, each is readable (a read pin) or writable (a write pin), and none
//! is a special `VM_IO | VM_PFNMAP` mapping such as `[vvar]`.
//!
//! Not modelled: a shared writable file mapping on a filesystem with writeback (the kernel
//! refuses long-term write pins there) and file pages beyond the end of the file (`SIGBUS`).
//!
//! The maps are read through [`crate::addr_space`], which keeps them until a call changes
//! them: this process's own calls, or for a forked child the count of its calls it sends with
//! each request ([`MapsMemory::calling`]). A "no" from a kept snapshot is asked again of a
//! fresh read.
//!
//! The page size a mapping is pinned in (`PinMemory::contiguity`) is its `KernelPageSize` in
//! `/proc/self/smaps`: the huge page size for hugetlb mappings, else `PAGE_SIZE`.

use crate::addr_space::{self, Kept, Snapshot};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use uiommu_abi::host::{PAGE_SIZE, PinMemory};
use uiommu_uapi::{Errno, errno::Result};

/// A process's address space, as the kernel's page pinning sees it.
#[derive(Debug, Default, Clone)]
pub struct MapsMemory {
    /// The process, `None` for this one.
    other: Option<Arc<OtherProcess>>,
}

/// Another process, held by a pidfd so that a reused pid is never mistaken for it.
struct OtherProcess {
    pid: u32,
    pidfd: libc::c_int,
    /// The process's count of calls that may have changed its mappings, as of its request
    /// being served: the key of `kept`.
    seen: AtomicU64,
    kept: Kept,
    /// A request of the process is being served: it is alive, waiting for the reply.
    calling: AtomicBool,
}

impl std::fmt::Debug for OtherProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtherProcess")
            .field("pid", &self.pid)
            .finish()
    }
}

impl Drop for OtherProcess {
    fn drop(&mut self) {
        crate::sys::close_raw(self.pidfd);
    }
}

impl MapsMemory {
    /// This process.
    pub const SELF: MapsMemory = MapsMemory { other: None };

    /// Process `pid` (a child sharing a context after `fork`). Once it has exited its pages
    /// cannot be pinned (`EFAULT`), as the kernel's `mmget_not_zero` on the pages'
    /// `source_mm` fails.
    pub fn of_pid(pid: u32) -> std::result::Result<Self, crate::sys::Errno> {
        let pidfd = crate::seqpacket::pidfd_open(pid)?;
        Ok(MapsMemory {
            other: Some(Arc::new(OtherProcess {
                pid,
                pidfd,
                seen: AtomicU64::new(0),
                kept: Kept::new(),
                calling: AtomicBool::new(false),
            })),
        })
    }

    /// While a request of the process is served: `count` is its count of calls that may have
    /// changed its mappings, sent with the request ([`crate::addr_space::changes`] in that
    /// process), so that a snapshot read at the same count is still good; and the process is
    /// known to be alive, waiting for the reply, so pinning needs not ask whether it has
    /// exited. Nothing for this process, which counts its own.
    pub fn calling(&self, count: u64) -> Calling<'_> {
        if let Some(p) = &self.other {
            p.seen.store(count, Ordering::Release);
            p.calling.store(true, Ordering::Release);
        }
        Calling(self)
    }

    /// The mappings, from the snapshot kept since the process's last change if there is one.
    fn snapshot(&self) -> std::io::Result<Arc<Snapshot>> {
        match &self.other {
            None => addr_space::current(),
            Some(p) => p
                .kept
                .at(p.seen.load(Ordering::Acquire), || self.read("maps")),
        }
    }

    /// The mappings read now (a kept snapshot said no).
    fn fresh_snapshot(&self) -> std::io::Result<Arc<Snapshot>> {
        match &self.other {
            None => addr_space::fresh(),
            Some(p) => p
                .kept
                .fresh(p.seen.load(Ordering::Acquire), || self.read("maps")),
        }
    }

    /// Whether the process has exited (then none of its pages can be pinned).
    fn exited(&self) -> bool {
        self.other.as_ref().is_some_and(|p| {
            !p.calling.load(Ordering::Acquire) && crate::seqpacket::pidfd_exited(p.pidfd)
        })
    }

    /// `/proc/PID/<file>` of the process, unless it has exited.
    fn path(&self, file: &str) -> std::io::Result<String> {
        match &self.other {
            Some(p) if crate::seqpacket::pidfd_exited(p.pidfd) => {
                Err(std::io::ErrorKind::NotFound.into())
            }
            Some(p) => Ok(format!("/proc/{}/{file}", p.pid)),
            None => Ok(format!("/proc/self/{file}")),
        }
    }

    fn read(&self, file: &str) -> std::io::Result<String> {
        match (&self.other, file) {
            // This process's own files through fds kept at high numbers (see `procfile`).
            (None, "maps") => crate::procfile::self_maps(),
            (None, "smaps") => crate::procfile::self_smaps(),
            _ => {
                let path = std::ffi::CString::new(self.path(file)?)
                    .map_err(|_| std::io::ErrorKind::InvalidInput)?;
                crate::procfile::read_own(&path)
            }
        }
    }
}

/// A request of another process being served ([`MapsMemory::calling`]).
pub struct Calling<'a>(&'a MapsMemory);

impl Drop for Calling<'_> {
    fn drop(&mut self) {
        if let Some(p) = &self.0.other {
            p.calling.store(false, Ordering::Release);
        }
    }
}

/// One line of `/proc/self/maps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapping {
    pub start: u64,
    pub end: u64,
    read: bool,
    write: bool,
    special: bool,
    /// Has a name that is not a `[...]` pseudo-name: a file, or `/anon_hugepage`.
    named: bool,
}

/// The name field of a maps line (empty for an anonymous mapping).
fn name_of(line: &str) -> &str {
    // start-end, perms, offset, dev, inode, then the optional name.
    line.split_ascii_whitespace().nth(5).unwrap_or("")
}

/// The mapping a maps line describes.
pub fn parse_line(line: &str) -> Option<Mapping> {
    let mut fields = line.split_ascii_whitespace();
    let (start, end) = fields.next()?.split_once('-')?;
    let perms = fields.next()?.as_bytes();
    let name = name_of(line);
    Some(Mapping {
        start: u64::from_str_radix(start, 16).ok()?,
        end: u64::from_str_radix(end, 16).ok()?,
        read: perms.first() == Some(&b'r'),
        write: perms.get(1) == Some(&b'w'),
        special: matches!(name, "[vvar]" | "[vvar_vclock]" | "[vsyscall]"),
        named: !name.is_empty() && !name.starts_with('['),
    })
}

/// The pin rule over the text of a maps file.
#[cfg(test)]
fn check(maps: &str, start: u64, end: u64, write: bool) -> Result<()> {
    check_mappings(maps.lines().filter_map(parse_line), start, end, write)
}

/// The pin rule over mappings in address order.
fn check_mappings(
    maps: impl IntoIterator<Item = Mapping>,
    start: u64,
    end: u64,
    write: bool,
) -> Result<()> {
    let mut next = start;
    for m in maps {
        if next >= end {
            break;
        }
        if m.end <= next {
            continue;
        }
        // A hole before this mapping, or a mapping that cannot be pinned.
        let allowed = if write { m.write } else { m.read };
        if m.start > next || !allowed || m.special {
            return Err(Errno::EFAULT);
        }
        next = m.end;
    }
    if next >= end {
        Ok(())
    } else {
        Err(Errno::EFAULT)
    }
}

/// `KernelPageSize` of the mapping holding `uva` in the text of a smaps file, read line by
/// line (the kernel generates the records as they are read, so reading stops early).
fn kernel_page_size(smaps: impl Iterator<Item = String>, uva: u64) -> Option<u64> {
    let mut inside = false;
    for line in smaps {
        if let Some(kb) = line.strip_prefix("KernelPageSize:") {
            if inside {
                let kb: u64 = kb.trim().strip_suffix("kB")?.trim().parse().ok()?;
                return kb.checked_mul(1024);
            }
        } else if let Some(m) = parse_line(&line) {
            // A record's header: field lines ("Size:   4 kB") have no address range.
            inside = m.start <= uva && uva < m.end;
        }
    }
    None
}

impl MapsMemory {
    /// `KernelPageSize` of the mapping holding `uva` from smaps (`PAGE_SIZE` if unknown).
    fn smaps_page_size(&self, uva: u64) -> u64 {
        let Ok(smaps) = self.read("smaps") else {
            return PAGE_SIZE;
        };
        kernel_page_size(smaps.lines().map(String::from), uva)
            .filter(|s| s.is_power_of_two())
            .unwrap_or(PAGE_SIZE)
    }
}

impl PinMemory for MapsMemory {
    /// The `KernelPageSize` of the mapping holding `uva`. `/proc/self/maps` is read first:
    /// an anonymous mapping (no name, or `[heap]`, `[stack]`) has no huge pages to report, and
    /// only a named one (`/anon_hugepage`, a hugetlbfs or other file) costs a read of smaps.
    fn contiguity(&self, uva: u64) -> u64 {
        let Ok(snap) = self.snapshot() else {
            return PAGE_SIZE;
        };
        let Some(m) = snap.holding(uva).copied() else {
            return PAGE_SIZE;
        };
        if !m.named {
            return PAGE_SIZE;
        }
        let mut known = snap
            .page_sizes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(&(_, size)) = known.iter().find(|(start, _)| *start == m.start) {
            return size;
        }
        let size = self.smaps_page_size(uva);
        known.push((m.start, size));
        size
    }

    fn check_pinnable(&self, uva: u64, npages: u64, write: bool) -> Result<()> {
        if npages == 0 {
            return Ok(());
        }
        let end = npages
            .checked_mul(PAGE_SIZE)
            .and_then(|len| uva.checked_add(len))
            .ok_or(Errno::EFAULT)?;
        // A child that has exited keeps no pages, whatever a kept snapshot says.
        if self.exited() {
            return Err(Errno::EFAULT);
        }
        let efault = |_| Errno::EFAULT;
        let snap = self.snapshot().map_err(efault)?;
        if check_mappings(snap.from(uva).iter().copied(), uva, end, write).is_ok() {
            return Ok(());
        }
        let snap = self.fresh_snapshot().map_err(efault)?;
        check_mappings(snap.from(uva).iter().copied(), uva, end, write)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPS: &str = "\
00400000-00401000 r-xp 00000000 08:01 1234 /bin/prog
00401000-00403000 rw-p 00000000 00:00 0
00403000-00404000 ---p 00000000 00:00 0
00404000-00405000 r--p 00000000 00:00 0
00406000-00407000 rw-p 00000000 00:00 0 [heap]
7ffff7fc1000-7ffff7fc5000 r--p 00000000 00:00 0 [vvar]
";

    #[test]
    fn contiguous_mappings_with_the_right_permission() {
        assert_eq!(check(MAPS, 0x400000, 0x403000, false), Ok(()));
        assert_eq!(check(MAPS, 0x401000, 0x403000, true), Ok(()));
        // Text is not writable; a PROT_NONE guard is not even readable.
        assert_eq!(check(MAPS, 0x400000, 0x403000, true), Err(Errno::EFAULT));
        assert_eq!(check(MAPS, 0x402000, 0x404000, false), Err(Errno::EFAULT));
        // A hole between 0x405000 and 0x406000.
        assert_eq!(check(MAPS, 0x404000, 0x407000, false), Err(Errno::EFAULT));
        assert_eq!(check(MAPS, 0x406000, 0x407000, true), Ok(()));
        // Past the last mapping, and a special mapping.
        assert_eq!(check(MAPS, 0x406000, 0x408000, true), Err(Errno::EFAULT));
        assert_eq!(
            check(MAPS, 0x7ffff7fc1000, 0x7ffff7fc2000, false),
            Err(Errno::EFAULT)
        );
        assert_eq!(check(MAPS, 0x1000, 0x2000, false), Err(Errno::EFAULT));
    }

    #[test]
    fn kernel_page_size_of_the_mapping() {
        const SMAPS: &str = "\
00400000-00401000 r-xp 00000000 08:01 1234 /bin/prog
Size:                  4 kB
KernelPageSize:        4 kB
VmFlags: rd ex mr mw me
7f0000000000-7f0000400000 rw-s 00000000 00:10 99 /memfd:buffer (deleted)
Size:               4096 kB
KernelPageSize:     2048 kB
VmFlags: rd wr sh mr mw me ms de ht
";
        let lines = || SMAPS.lines().map(String::from);
        assert_eq!(kernel_page_size(lines(), 0x400000), Some(4096));
        assert_eq!(kernel_page_size(lines(), 0x7f0000200000), Some(2 << 20));
        assert_eq!(kernel_page_size(lines(), 0x500000), None);
    }

    #[test]
    fn contiguity_of_ordinary_memory_is_a_page() {
        let v = vec![0u8; 3 * PAGE_SIZE as usize];
        assert_eq!(MapsMemory::SELF.contiguity(v.as_ptr() as u64), PAGE_SIZE);
        assert_eq!(MapsMemory::SELF.contiguity(0), PAGE_SIZE);
        static RO: [u8; 4] = [1, 2, 3, 4];
        assert_eq!(MapsMemory::SELF.contiguity(RO.as_ptr() as u64), PAGE_SIZE);
    }

    #[test]
    fn this_process() {
        let v = vec![0u8; 3 * PAGE_SIZE as usize];
        let page = (v.as_ptr() as u64).next_multiple_of(PAGE_SIZE);
        assert_eq!(MapsMemory::SELF.check_pinnable(page, 1, true), Ok(()));
        assert_eq!(
            MapsMemory::SELF.check_pinnable(0, 1, false),
            Err(Errno::EFAULT)
        );
        assert_eq!(
            MapsMemory::SELF.check_pinnable(u64::MAX - 4095, 2, false),
            Err(Errno::EFAULT)
        );
        static RO: [u8; 4] = [1, 2, 3, 4];
        let ro = RO.as_ptr() as u64 & !(PAGE_SIZE - 1);
        assert_eq!(MapsMemory::SELF.check_pinnable(ro, 1, false), Ok(()));
        assert_eq!(
            MapsMemory::SELF.check_pinnable(ro, 1, true),
            Err(Errno::EFAULT)
        );
    }

    #[test]
    fn another_process_until_it_exits() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        let other = MapsMemory::of_pid(child.id()).expect("pidfd");
        // Its stack is mapped read-write; address 0 is never mapped.
        let maps = std::fs::read_to_string(format!("/proc/{}/maps", child.id())).unwrap();
        let stack = maps.lines().find(|l| l.ends_with("[stack]")).unwrap();
        let start = u64::from_str_radix(stack.split('-').next().unwrap(), 16).unwrap();
        assert_eq!(other.check_pinnable(start, 1, true), Ok(()));
        assert_eq!(other.check_pinnable(0, 1, false), Err(Errno::EFAULT));
        child.kill().unwrap();
        child.wait().unwrap();
        // Gone: nothing of it can be pinned, whoever has its pid now.
        assert_eq!(other.check_pinnable(start, 1, true), Err(Errno::EFAULT));
    }
}
