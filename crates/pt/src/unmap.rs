//! `unmap`: remove translations in one walk, unlinking tables the range
//! covers whole, and `release` of unlinked tables after invalidation.

use crate::PtError;
use crate::format::{Entry, Format};
use crate::freelist::Gather;
use crate::memory::{TableAlloc, TableMemory};
use crate::table::{PageTable, low_mask};

impl<F: Format, M: TableMemory> PageTable<F, M> {
    /// Removes translations from `iova..iova+len` and returns the bytes unmapped.
    ///
    /// The kernel's contract (`unmap_range` in generic_pt/iommu_pt.h, 7.3):
    /// - a leaf that starts inside the range is removed whole, even if the
    ///   range ends inside it, and its full size is counted;
    /// - a range that starts inside a leaf stops there (nothing is split);
    /// - unmapping stops at the first hole; the return value tells where;
    /// - zero length, a wrapping range or one outside the aperture unmaps nothing.
    ///
    /// Tables the range covers whole are unlinked into `gather` (not freed).
    pub fn unmap(&self, iova: u64, len: u64, gather: &mut Gather) -> u64 {
        let Ok((iova, last)) = self.span(iova, len) else {
            return 0;
        };
        let Ok((va, lva)) = self.check(iova, last) else {
            return 0;
        };
        let Ok(root) = self.resolve(self.root) else {
            return 0;
        };
        let mut unmapped = 0;
        // An error only says where unmapping stopped; the count says how far.
        let _ = self.unmap_level(self.top_level, root, va, lva, &mut unmapped, gather);
        gather.add_range(iova, unmapped);
        unmapped
    }

    fn unmap_level(
        &self,
        level: u32,
        table: M::Table<'_>,
        va: u64,
        last: u64,
        unmapped: &mut u64,
        gather: &mut Gather,
    ) -> Result<(), PtError> {
        let isz = F::item_lg2(level);
        let items = 1usize << F::ITEMS_LG2;
        let start = Self::index(va, level);
        let end = Self::end_index(va, last, level);
        let base = va & !low_mask(isz + F::ITEMS_LG2);
        let mut idx = start;
        loop {
            let e = self.mem.load(table, idx)?;
            match self.fmt.decode(level, e) {
                Entry::Leaf { size_lg2, .. } => {
                    if idx == start && va & low_mask(size_lg2) != 0 {
                        return Err(PtError::Invalid);
                    }
                    let n = (1usize << (size_lg2 - isz)).min(items - idx);
                    for i in idx..idx + n {
                        self.mem.store(table, i, 0)?;
                    }
                    *unmapped += (n as u64) << isz;
                    gather.add_leaf(level);
                    idx += n;
                }
                Entry::Table(pa) if level > 0 => {
                    let cva = if idx == start {
                        va
                    } else {
                        base | ((idx as u64) << isz)
                    };
                    let whole = fully_covered(cva, last, isz);
                    self.unmap_level(level - 1, self.resolve(pa)?, cva, last, unmapped, gather)?;
                    if whole {
                        self.mem.store(table, idx, 0)?;
                        gather.add_table(pa, level - 1);
                    }
                    idx += 1;
                }
                _ => return Err(PtError::Invalid),
            }
            if idx >= end {
                return Ok(());
            }
        }
    }
}

impl<F: Format, M: TableAlloc> PageTable<F, M> {
    /// Frees the tables `gather` unlinked. Call only after the IOTLB (and any
    /// walk cache) has been invalidated for `gather.range()`.
    pub fn release(&self, gather: &mut Gather) {
        for pa in gather.take_freed() {
            self.mem.free(pa);
        }
    }
}

/// Whether `va..=last` covers the whole item of `1 << isz` bytes holding `va`.
fn fully_covered(va: u64, last: u64, isz: u32) -> bool {
    let mask = low_mask(isz);
    va & mask == 0 && (va >> isz.min(63) != last >> isz.min(63) || last & mask == mask)
}
