//! Cutting areas for the VFIO type1 compatibility unmap (`io_pagetable.c`: `iopt_cut_iova`,
//! `iopt_area_split`).

use super::area::Area;
use super::dmabuf::check_cut;
use super::{Inner, IoPagetable};
use uiommu_uapi::{Errno, errno::Result};

impl IoPagetable {
    /// `iopt_cut_iova`: for each IOVA inside an area, splits the area so that the IOVA becomes
    /// the last byte of the lower part. Stops at the first failure, keeping earlier cuts.
    /// Per area: `EBUSY` while an unmap waits on it; `EINVAL` if the cut is not aligned to the
    /// IOAS alignment (in IOVA or in the pages), if an access has pinned in it, or if a domain
    /// holds it and large pages are enabled (the domain may hold a huge IOPTE across the cut).
    pub fn cut_iova(&self, iovas: &[u64]) -> Result<()> {
        let mut g = self.write();
        for &iova in iovas {
            let Some(start) = g.areas.first_in(iova, iova).map(|a| a.iova) else {
                continue;
            };
            g.split(start, iova)?;
        }
        Ok(())
    }
}

impl Inner {
    fn split(&mut self, start: u64, iova: u64) -> Result<()> {
        let align = self.iova_alignment;
        let filled = !self.domains.is_empty();
        let large = !self.disable_large_pages;
        let Some(a) = self.areas.get(start) else {
            return Ok(());
        };
        if iova == a.iova || iova == a.last {
            return Ok(());
        }
        if a.prevent_access {
            return Err(Errno::EBUSY);
        }
        check_cut(a)?;
        let new_start = iova + 1;
        if new_start & (align - 1) != 0 || a.byte_of(new_start) & (align - 1) != 0 {
            return Err(Errno::EINVAL);
        }
        if a.num_accesses != 0 || (filled && large) {
            return Err(Errno::EINVAL);
        }
        let Some(a) = self.areas.remove(start) else {
            return Ok(());
        };
        let part = |iova: u64, last: u64| Area {
            iova,
            last,
            pages: a.pages.clone(),
            start_byte: a.byte_of(iova),
            prot: a.prot,
            prevent_access: false,
            num_accesses: 0,
            num_locks: 0,
            revoked: a.revoked,
        };
        let (lhs, rhs) = (part(a.iova, iova), part(new_start, a.last));
        if filled {
            // The pages are held already, so these holds pin and charge nothing new.
            for p in [&lhs, &rhs] {
                let _ = p.pages.hold(p.first_index(), p.last_index());
            }
            a.pages.release(a.first_index(), a.last_index());
        }
        self.areas.insert(lhs);
        self.areas.insert(rhs);
        Ok(())
    }
}
