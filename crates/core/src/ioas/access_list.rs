//! Accesses: in-process users of an IOAS that pin pages or copy through IOVAs, like mediated
//! devices (`device.c`: `iommufd_access_pin_pages`, `iommufd_access_unpin_pages`,
//! `iommufd_access_rw`, `iommufd_access_notify_unmap`; `io_pagetable.c`: `iopt_add_access`,
//! `iopt_remove_access`; `pages.c`: `iopt_pages_rw_access`).

use super::area::ContigStep;
use super::dmabuf::check_access;
use super::pages::PAGE_SIZE;
use super::{Inner, IoPagetable};
use crate::iommu::Prot;
use std::sync::{Arc, Weak};
use uiommu_uapi::{Errno, UserMemory, errno::Result};

/// The unmap callback of an access (`iommufd_access_ops.unmap`): unmap of `iova..iova + length`
/// wants every pin the access holds in that range released (with [`IoPagetable::access_unpin`]).
/// Called with no IOAS lock held.
pub trait AccessNotify: Send + Sync {
    fn unmap(&self, iova: u64, length: u64);
}

/// An access's slot in one IOAS (`iopt_access_list_id`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccessId(pub u32);

/// `IOMMUFD_ACCESS_RW_*` for [`IoPagetable::access_rw`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AccessFlags {
    /// `IOMMUFD_ACCESS_RW_WRITE`: store into the IOVA range.
    pub write: bool,
    /// `__IOMMUFD_ACCESS_RW_SLOW_PATH` (`MOCK_ACCESS_RW_SLOW_PATH`): go through pinning.
    pub slow_path: bool,
}

pub(crate) struct AccessEntry {
    notify: Weak<dyn AccessNotify>,
    pub(crate) iova_alignment: u64,
    internal: bool,
}

/// Ids fit in 16 bits (`xa_limit_16b`).
const MAX_ACCESS_ID: u32 = u16::MAX as u32;

impl Inner {
    /// Accesses to tell about an unmap: not internal, not being destroyed.
    pub(crate) fn notifiers(&self) -> Vec<Arc<dyn AccessNotify>> {
        self.accesses
            .values()
            .filter(|a| !a.internal)
            .filter_map(|a| a.notify.upgrade())
            .collect()
    }

    /// `iopt_area_contig_is_aligned`: a step must start on a page and, unless it is the last,
    /// end on one.
    fn step_aligned(&self, s: &ContigStep, last_iova: u64) -> bool {
        let Some(a) = self.areas.get(s.area) else {
            return false;
        };
        if a.byte_of(s.cur) % PAGE_SIZE != 0 {
            return false;
        }
        a.last >= last_iova || a.byte_of(a.last) % PAGE_SIZE == PAGE_SIZE - 1
    }

    fn unpin_steps(&mut self, steps: &[ContigStep], internal: bool) {
        for s in steps {
            let Some(a) = self.areas.get_mut(s.area) else {
                continue;
            };
            if a.pages.remove_access(a.index_of(s.cur), a.index_of(s.last)) {
                a.num_accesses = a.num_accesses.saturating_sub(1);
                if internal {
                    a.num_locks = a.num_locks.saturating_sub(1);
                }
            }
        }
    }
}

/// `length` non-zero and `iova + length - 1` not wrapping: the common access checks.
fn access_last(iova: u64, length: u64) -> Result<u64> {
    if length == 0 {
        return Err(Errno::EINVAL);
    }
    iova.checked_add(length - 1).ok_or(Errno::EOVERFLOW)
}

impl IoPagetable {
    /// `iopt_add_access`: registers an access whose IOVAs must be aligned to `iova_alignment`
    /// (`PAGE_SIZE` for one that pins). `EBUSY` with 65536 accesses; `EADDRINUSE` if raising the
    /// alignment meets an unaligned area. `internal` accesses are not notified and lock the
    /// areas they pin.
    pub fn add_access(
        &self,
        notify: Weak<dyn AccessNotify>,
        iova_alignment: u64,
        internal: bool,
    ) -> Result<AccessId> {
        if !iova_alignment.is_power_of_two() {
            return Err(Errno::EINVAL);
        }
        let mut g = self.write();
        let id = (0..=MAX_ACCESS_ID)
            .find(|i| !g.accesses.contains_key(i))
            .ok_or(Errno::EBUSY)?;
        g.accesses.insert(
            id,
            AccessEntry {
                notify,
                iova_alignment,
                internal,
            },
        );
        if let Err(e) = g.recalc_alignment() {
            g.accesses.remove(&id);
            return Err(e);
        }
        Ok(AccessId(id))
    }

    /// `iommufd_access_change_ioas` to none: a non-internal access is first told to unmap
    /// everything, then removed and the alignment recomputed.
    pub fn remove_access(&self, id: AccessId) {
        let notify = {
            let g = self.read();
            g.accesses
                .get(&id.0)
                .filter(|a| !a.internal)
                .and_then(|a| a.notify.upgrade())
        };
        if let Some(n) = notify {
            n.unmap(0, u64::MAX);
        }
        let mut g = self.write();
        g.accesses.remove(&id.0);
        let _ = g.recalc_alignment();
    }

    /// `iommufd_access_pin_pages`: pins the pages under `iova..iova + length` and returns the
    /// host address of each page. `EINVAL` for zero length, `EOVERFLOW` on wrap; per area
    /// `EINVAL` if an unmap is waiting on it or the range is not page aligned inside it, `EPERM`
    /// if its protection (or a read-only pages object, for `write`) forbids; pinning errors;
    /// `ENOENT` if the areas do not cover the range. Nothing stays pinned on failure.
    pub fn access_pin(
        &self,
        iova: u64,
        length: u64,
        write: bool,
        internal: bool,
    ) -> Result<Vec<u64>> {
        let last = access_last(iova, length)?;
        let mut g = self.write();
        let (steps, done) = g.areas.contig(iova, last);
        let mut out = Vec::new();
        for (i, s) in steps.iter().enumerate() {
            if let Err(e) = g.pin_step(s, last, write, internal, &mut out) {
                g.unpin_steps(&steps[..i], internal);
                return Err(e);
            }
        }
        if !done {
            g.unpin_steps(&steps, internal);
            return Err(Errno::ENOENT);
        }
        Ok(out)
    }

    /// `iommufd_access_unpin_pages`: undoes an [`Self::access_pin`] of exactly the same range.
    /// A zero or wrapping range is ignored (the kernel warns).
    pub fn access_unpin(&self, iova: u64, length: u64, internal: bool) {
        let Ok(last) = access_last(iova, length) else {
            return;
        };
        let mut g = self.write();
        let (steps, _) = g.areas.contig(iova, last);
        g.unpin_steps(&steps, internal);
    }

    /// `iommufd_access_rw`: copies between `buf` and the memory under `iova`. `EINVAL` for an
    /// empty buffer, `EOVERFLOW` on wrap; per area `EINVAL` while an unmap waits on it, `EPERM`
    /// for a forbidden direction (area protection, then a read-only pages object), `EFAULT` for
    /// memory that is not there; `ENOENT` if the areas do not cover the range. Bytes of earlier
    /// areas may have been copied when a later one fails, as in the kernel.
    pub fn access_rw(
        &self,
        iova: u64,
        buf: &mut [u8],
        flags: AccessFlags,
        mem: &dyn UserMemory,
    ) -> Result<()> {
        let last = access_last(iova, buf.len() as u64)?;
        let g = self.read();
        let mut walk = g.areas.contig_walk(iova, last);
        let mut off = 0usize;
        for (a, s) in walk.by_ref() {
            if a.prevent_access {
                return Err(Errno::EINVAL);
            }
            let allowed = if flags.write {
                a.prot.contains(Prot::WRITE)
            } else {
                a.prot.contains(Prot::READ)
            };
            if !allowed {
                return Err(Errno::EPERM);
            }
            if flags.write && !a.pages.writable {
                return Err(Errno::EPERM);
            }
            check_access(a)?;
            let n = (s.last - s.cur + 1) as usize;
            let byte = a.byte_of(s.cur);
            let host = a.pages.host_addr(byte, n as u64)?;
            if flags.slow_path || a.pages.is_file() {
                // The pfn_reader path pins what it copies.
                a.pages.probe(byte, n as u64)?;
            }
            let chunk = buf.get_mut(off..off + n).ok_or(Errno::EINVAL)?;
            if flags.write {
                mem.write(host, chunk)?;
            } else {
                mem.read(host, chunk)?;
            }
            off += n;
        }
        if !walk.done() {
            return Err(Errno::ENOENT);
        }
        Ok(())
    }

    /// [`Self::access_rw`] reading `len` bytes into the caller's buffer at `ubuf` in one pass
    /// per area ([`UserMemory::copy`]) instead of through a kernel buffer. Every area is checked
    /// (and probed) before any byte is copied, so a refused access leaves the buffer untouched,
    /// as the kernel's bounce does; a fault of the copy itself is `EFAULT` with the areas
    /// before it copied.
    pub fn access_read_to(
        &self,
        iova: u64,
        len: u64,
        ubuf: u64,
        flags: AccessFlags,
        mem: &dyn UserMemory,
    ) -> Result<()> {
        let last = access_last(iova, len)?;
        let g = self.read();
        let mut walk = g.areas.contig_walk(iova, last);
        // Host ranges to copy, in IOVA order: most reads fall in one area, kept out of the
        // heap; the areas after it, if any, in `rest`.
        let mut first = None;
        let mut rest = Vec::new();
        for (a, s) in walk.by_ref() {
            if a.prevent_access {
                return Err(Errno::EINVAL);
            }
            if !a.prot.contains(Prot::READ) {
                return Err(Errno::EPERM);
            }
            check_access(a)?;
            let n = s.last - s.cur + 1;
            let byte = a.byte_of(s.cur);
            let host = a.pages.host_addr(byte, n)?;
            if flags.slow_path || a.pages.is_file() {
                a.pages.probe(byte, n)?;
            }
            match first {
                None => first = Some((host, n)),
                Some(_) => rest.push((host, n)),
            }
        }
        if !walk.done() {
            return Err(Errno::ENOENT);
        }
        let mut off = 0u64;
        for (host, n) in first.into_iter().chain(rest) {
            let dst = ubuf.checked_add(off).ok_or(Errno::EFAULT)?;
            mem.copy(dst, host, n as usize)?;
            off += n;
        }
        Ok(())
    }
}

impl Inner {
    fn pin_step(
        &mut self,
        s: &ContigStep,
        last_iova: u64,
        write: bool,
        internal: bool,
        out: &mut Vec<u64>,
    ) -> Result<()> {
        let aligned = self.step_aligned(s, last_iova);
        let a = self.areas.get_mut(s.area).ok_or(Errno::ENOENT)?;
        if a.prevent_access || !aligned {
            return Err(Errno::EINVAL);
        }
        let allowed = if write {
            a.prot.contains(Prot::WRITE)
        } else {
            a.prot.contains(Prot::READ)
        };
        if !allowed || (write && !a.pages.writable) {
            return Err(Errno::EPERM);
        }
        check_access(a)?;
        let (first, last) = (a.index_of(s.cur), a.index_of(s.last));
        let npages = last - first + 1;
        let base = a.pages.host_addr(first * PAGE_SIZE, npages * PAGE_SIZE)?;
        a.pages.add_access(first, last)?;
        a.num_accesses += 1;
        if internal {
            a.num_locks += 1;
        }
        out.extend((0..npages).map(|i| base.wrapping_add(i * PAGE_SIZE)));
        Ok(())
    }
}
