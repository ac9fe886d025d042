//! `map`: install translations with the largest pages alignment allows, in
//! one walk that keeps its position between leaves.

use crate::format::{Entry, Format};
use crate::freelist::Gather;
use crate::memory::TableAlloc;
use crate::pgsize::{best_pgsize, pgsize_count};
use crate::table::{PageTable, low_mask};
use crate::{Prot, PtError};

/// Progress of one map: the next leaf to write and how many of its size remain.
struct MapState {
    va: u64,
    last: u64,
    oa: u64,
    attrs: u64,
    pg_lg2: u32,
    leaf_level: u32,
    leaves: u64,
    done: bool,
}

impl<F: Format, M: TableAlloc> PageTable<F, M> {
    /// Maps `iova..iova+len` to `oa..oa+len` with permissions `prot`.
    ///
    /// Errors, in the kernel's order (`map_range` in generic_pt/iommu_pt.h):
    /// EINVAL if `prot` has neither read nor write; ERANGE if `oa` is beyond
    /// the output-address width; EINVAL for zero `len`, EOVERFLOW if the range
    /// wraps; ENXIO if no page size fits the alignment; ERANGE outside the
    /// aperture; EADDRINUSE if any part is already mapped; ENOMEM without table
    /// memory. On failure nothing stays mapped (the kernel's `iommu_map` undoes
    /// a partial map); tables replaced by large pages are left in `gather`.
    pub fn map(
        &self,
        iova: u64,
        oa: u64,
        len: u64,
        prot: Prot,
        gather: &mut Gather,
    ) -> Result<(), PtError> {
        if !prot.intersects(Prot::RW) {
            return Err(PtError::Invalid);
        }
        if oa & !low_mask(self.oa_lg2) != 0 {
            return Err(PtError::OutOfRange);
        }
        let attrs = self.fmt.attrs(prot)?;
        let (iova, last) = self.span(iova, len)?;
        // The end of the output range must fit too (the entries would truncate it).
        match oa.checked_add(len - 1) {
            Some(oa_last) if oa_last & !low_mask(self.oa_lg2) == 0 => {}
            _ => return Err(PtError::OutOfRange),
        }
        let va = iova.wrapping_sub(self.va_start);
        let min = self.pgsize_bitmap & self.pgsize_bitmap.wrapping_neg();
        if (va | oa | len) & (min - 1) != 0 {
            return Err(PtError::Unaligned);
        }
        let lva = last.wrapping_sub(self.va_start);
        let pg_lg2 = best_pgsize(self.pgsize_bitmap, va, lva, oa).ok_or(PtError::Unaligned)?;
        let (va, lva) = self.check(iova, last)?;
        let mut st = MapState {
            va,
            last: lva,
            oa,
            attrs,
            pg_lg2,
            leaf_level: self.size_level[pg_lg2 as usize] as u32,
            leaves: pgsize_count(self.pgsize_bitmap, va, lva, oa, pg_lg2),
            done: false,
        };
        let res = self
            .resolve(self.root)
            .and_then(|root| self.map_level(self.top_level, root, &mut st, gather));
        if let Err(e) = res {
            let mapped = st.oa - oa;
            if mapped != 0 {
                self.unmap(iova, mapped, gather);
            }
            return Err(e);
        }
        Ok(())
    }

    fn map_level(
        &self,
        level: u32,
        table: M::Table<'_>,
        st: &mut MapState,
        gather: &mut Gather,
    ) -> Result<(), PtError> {
        let isz = F::item_lg2(level);
        let items = 1usize << F::ITEMS_LG2;
        let mut idx = Self::index(st.va, level);
        while !st.done && idx < items {
            if st.leaf_level == level {
                // Write as many leaves of the current size as this table takes.
                let step_lg2 = st.pg_lg2 - isz;
                let fit = ((items - idx) >> step_lg2) as u64;
                if fit == 0 {
                    return Err(PtError::Invalid);
                }
                let count = st.leaves.min(fit);
                let end = idx + ((count as usize) << step_lg2);
                for i in idx..end {
                    let e = self.mem.load(table, i)?;
                    if e != 0 && self.fmt.decode(level, e) != Entry::Empty {
                        let slot_va = st.va + (((i - idx) as u64) << isz);
                        self.clear_slot(level, table, i, e, slot_va, gather)?;
                    }
                }
                let mut oa = st.oa;
                for i in idx..end {
                    self.mem
                        .store(table, i, self.fmt.leaf(level, oa, st.pg_lg2, st.attrs))?;
                    oa += 1 << isz;
                }
                idx = end;
                self.advance(st, count)?;
            } else if st.leaf_level < level {
                let e = self.mem.load(table, idx)?;
                let child = match self.fmt.decode(level, e) {
                    Entry::Table(pa) => pa,
                    Entry::Empty => self.install_table(level, table, idx, e)?,
                    Entry::Leaf { .. } => return Err(PtError::InUse),
                };
                self.map_level(level - 1, self.resolve(child)?, st, gather)?;
                idx += 1;
            } else {
                // The next leaf is larger than this level's items: the parent writes it.
                break;
            }
        }
        Ok(())
    }

    /// Moves past the `count` leaves just written and picks the next page
    /// size when the current run is used up.
    #[inline]
    fn advance(&self, st: &mut MapState, count: u64) -> Result<(), PtError> {
        let bytes = count << st.pg_lg2;
        st.oa += bytes;
        if st.last - st.va < bytes {
            st.done = true;
            return Ok(());
        }
        st.va += bytes;
        st.leaves -= count;
        if st.leaves == 0 {
            let bitmap = self.pgsize_bitmap;
            st.pg_lg2 = best_pgsize(bitmap, st.va, st.last, st.oa).ok_or(PtError::Unaligned)?;
            st.leaf_level = self.size_level[st.pg_lg2 as usize] as u32;
            st.leaves = pgsize_count(bitmap, st.va, st.last, st.oa, st.pg_lg2);
        }
        Ok(())
    }

    /// Links a new empty table at `idx`; if another thread linked one first,
    /// uses theirs.
    fn install_table(
        &self,
        level: u32,
        table: M::Table<'_>,
        idx: usize,
        seen: u64,
    ) -> Result<u64, PtError> {
        let new = self.mem.alloc()?;
        match self
            .mem
            .compare_exchange(table, idx, seen, self.fmt.table(level, new))
        {
            Ok(Ok(_)) => Ok(new),
            Ok(Err(cur)) => {
                // Never visible to anyone: free at once.
                self.mem.free(new);
                match self.fmt.decode(level, cur) {
                    Entry::Table(pa) => Ok(pa),
                    _ => Err(PtError::InUse),
                }
            }
            Err(f) => {
                self.mem.free(new);
                Err(f.into())
            }
        }
    }

    /// Makes room for a leaf in a non-empty slot: a table is unlinked (with
    /// everything under it) if it maps nothing; any mapping is EADDRINUSE.
    fn clear_slot(
        &self,
        level: u32,
        table: M::Table<'_>,
        idx: usize,
        e: u64,
        va: u64,
        gather: &mut Gather,
    ) -> Result<(), PtError> {
        let Entry::Table(pa) = self.fmt.decode(level, e) else {
            return Err(PtError::InUse);
        };
        if level == 0 {
            return Err(PtError::InUse);
        }
        let mut tables = vec![(pa, level - 1)];
        let mut i = 0;
        while let Some(&(tpa, tlevel)) = tables.get(i) {
            let t = self.resolve(tpa)?;
            for j in 0..1usize << F::ITEMS_LG2 {
                let sub = self.mem.load(t, j)?;
                match self.fmt.decode(tlevel, sub) {
                    Entry::Empty => {}
                    Entry::Table(spa) if tlevel > 0 => tables.push((spa, tlevel - 1)),
                    _ => return Err(PtError::InUse),
                }
            }
            i += 1;
        }
        self.mem.store(table, idx, 0)?;
        for (tpa, tlevel) in tables {
            gather.add_table(tpa, tlevel);
        }
        gather.add_range(
            self.va_start + (va & !low_mask(F::item_lg2(level))),
            1 << F::item_lg2(level),
        );
        Ok(())
    }
}
