//! Dirty tracking: read (and clear) the hardware's written marks over a range.

use crate::PtError;
use crate::format::{Entry, Format};
use crate::freelist::Gather;
use crate::memory::TableMemory;
use crate::table::{PageTable, low_mask};

/// Receives dirty IOVA ranges (the kernel's `iova_bitmap_set`).
pub trait DirtyRecorder {
    /// `iova..iova+len` was written.
    fn record(&mut self, iova: u64, len: u64);
}

/// A bitmap with one bit per `1 << page_lg2` bytes from `iova`; ranges outside
/// it are ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirtyBitmap {
    /// IOVA of bit 0.
    pub iova: u64,
    /// log2 of the bytes per bit.
    pub page_lg2: u32,
    /// The bits, least significant first.
    pub bits: Vec<u64>,
}

impl DirtyBitmap {
    /// A clear bitmap of `pages` bits.
    pub fn new(iova: u64, page_lg2: u32, pages: u64) -> Self {
        DirtyBitmap {
            iova,
            page_lg2,
            bits: vec![0; pages.div_ceil(64) as usize],
        }
    }

    /// Whether the bit for `iova` is set.
    pub fn test(&self, iova: u64) -> bool {
        let Some(off) = iova.checked_sub(self.iova) else {
            return false;
        };
        let bit = off >> self.page_lg2;
        self.bits
            .get((bit / 64) as usize)
            .is_some_and(|w| w & (1 << (bit % 64)) != 0)
    }
}

impl DirtyRecorder for DirtyBitmap {
    fn record(&mut self, iova: u64, len: u64) {
        let nbits = self.bits.len() as u64 * 64;
        let first = iova.saturating_sub(self.iova) >> self.page_lg2;
        let end = (iova.saturating_add(len).saturating_sub(self.iova) >> self.page_lg2).min(nbits);
        for bit in first..end {
            self.bits[(bit / 64) as usize] |= 1 << (bit % 64);
        }
    }
}

impl<F: Format, M: TableMemory> PageTable<F, M> {
    /// Reports every written leaf in `iova..iova+len` to `rec` (whole leaves,
    /// as the kernel does), and unless `no_clear`, clears the marks and adds
    /// the cleared ranges to `gather` for IOTLB invalidation.
    ///
    /// EOPNOTSUPP on formats without dirty tracking; EINVAL, EOVERFLOW and
    /// ERANGE for bad ranges.
    pub fn read_and_clear_dirty(
        &self,
        iova: u64,
        len: u64,
        no_clear: bool,
        rec: &mut impl DirtyRecorder,
        gather: &mut Gather,
    ) -> Result<(), PtError> {
        if !self.fmt.dirty_tracking() {
            return Err(PtError::NotSupported);
        }
        let (iova, last) = self.span(iova, len)?;
        let (va, lva) = self.check(iova, last)?;
        let root = self.resolve(self.root)?;
        let mut ctx = DirtyWalk {
            no_clear,
            rec,
            gather,
        };
        self.dirty_level(self.top_level, root, va, lva, &mut ctx)
    }

    /// Marks the leaf translating `iova` written, as a device write would
    /// (the selftest's `IOMMU_TEST_OP_DIRTY`). ENOENT if unmapped, EAGAIN if
    /// the entry changed concurrently.
    pub fn set_dirty(&self, iova: u64) -> Result<(), PtError> {
        if !self.fmt.dirty_tracking() {
            return Err(PtError::NotSupported);
        }
        let (va, _) = self.check(iova, iova)?;
        let mut table = self.resolve(self.root)?;
        let mut level = self.top_level;
        loop {
            let idx = Self::index(va, level);
            let e = self.mem.load(table, idx)?;
            match self.fmt.decode(level, e) {
                Entry::Leaf { .. } => {
                    return match self
                        .mem
                        .compare_exchange(table, idx, e, self.fmt.dirtied(e))?
                    {
                        Ok(_) => Ok(()),
                        Err(_) => Err(PtError::Again),
                    };
                }
                Entry::Table(pa) if level > 0 => {
                    table = self.resolve(pa)?;
                    level -= 1;
                }
                _ => return Err(PtError::NotMapped),
            }
        }
    }

    fn dirty_level<R: DirtyRecorder>(
        &self,
        level: u32,
        table: M::Table<'_>,
        va: u64,
        last: u64,
        ctx: &mut DirtyWalk<'_, R>,
    ) -> Result<(), PtError> {
        let isz = F::item_lg2(level);
        let items = 1usize << F::ITEMS_LG2;
        let start = Self::index(va, level);
        let end = Self::end_index(va, last, level);
        let base = va & !low_mask(isz + F::ITEMS_LG2);
        let mut idx = start;
        while idx < end {
            let cva = if idx == start {
                va
            } else {
                base | ((idx as u64) << isz)
            };
            let e = self.mem.load(table, idx)?;
            match self.fmt.decode(level, e) {
                Entry::Table(pa) if level > 0 => {
                    self.dirty_level(level - 1, self.resolve(pa)?, cva, last, ctx)?;
                    idx += 1;
                }
                Entry::Leaf { size_lg2, .. } => {
                    // A contiguous run is one page: any written entry dirties it.
                    let n = 1usize << (size_lg2 - isz);
                    let first = idx & !(n - 1);
                    let group = first..(first + n).min(items);
                    let mut dirty = false;
                    for i in group.clone() {
                        dirty |= self.fmt.is_dirty(self.mem.load(table, i)?);
                    }
                    if dirty {
                        let page = self.va_start + (cva & !low_mask(size_lg2));
                        ctx.rec.record(page, 1 << size_lg2);
                        if !ctx.no_clear {
                            for i in group {
                                self.clean_entry(table, i)?;
                            }
                            ctx.gather.add_range(page, 1 << size_lg2);
                        }
                    }
                    idx = first + n;
                }
                _ => idx += 1,
            }
        }
        Ok(())
    }

    /// Clears the written mark without losing a concurrent hardware update.
    fn clean_entry(&self, table: M::Table<'_>, idx: usize) -> Result<(), PtError> {
        let mut e = self.mem.load(table, idx)?;
        while self.fmt.is_dirty(e) {
            match self
                .mem
                .compare_exchange(table, idx, e, self.fmt.clean(e))?
            {
                Ok(_) => break,
                Err(cur) => e = cur,
            }
        }
        Ok(())
    }
}

struct DirtyWalk<'a, R> {
    no_clear: bool,
    rec: &'a mut R,
    gather: &'a mut Gather,
}
