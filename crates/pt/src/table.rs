//! [`PageTable`]: one IO page table of a format `F` in memory `M`, with its
//! geometry (levels, IOVA window, output-address width, page sizes).

use crate::PtError;
use crate::format::Format;
use crate::memory::{OwnedTables, TableAlloc, TableMemory};

/// Shape of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Number of levels (the root is level `levels - 1`).
    pub levels: u32,
    /// IOVA bits translated from `va_start`; 0 for all the levels can cover.
    pub va_lg2: u32,
    /// First translated IOVA (a TCE window's bus offset; 0 otherwise).
    pub va_start: u64,
    /// Output-address bits the IOMMU supports; 0 for the format's maximum.
    pub oa_lg2: u32,
    /// Restriction of page sizes (bitmap of `1 << lg2`); 0 for all the format allows.
    pub pgsize_bitmap: u64,
}

impl Config {
    /// `levels` levels covering all they can from IOVA 0, every page size.
    pub const fn levels(levels: u32) -> Self {
        Config {
            levels,
            va_lg2: 0,
            va_start: 0,
            oa_lg2: 0,
            pgsize_bitmap: 0,
        }
    }
}

/// An IO page table.
///
/// Operations take `&self`: entries are updated atomically, so walks and
/// updates on disjoint IOVA ranges may run concurrently from many threads (see
/// the crate documentation for the exact rules).
#[derive(Debug)]
pub struct PageTable<F: Format, M: TableMemory = OwnedTables> {
    pub(crate) fmt: F,
    pub(crate) mem: M,
    pub(crate) root: u64,
    pub(crate) top_level: u32,
    pub(crate) va_start: u64,
    /// Last valid IOVA offset from `va_start`.
    pub(crate) va_last: u64,
    pub(crate) oa_lg2: u32,
    pub(crate) pgsize_bitmap: u64,
    /// Level that holds leaves of each page size, `u8::MAX` if none.
    pub(crate) size_level: [u8; 64],
}

impl<F: Format> PageTable<F, OwnedTables> {
    /// A new, empty table in memory uiommu owns.
    pub fn new(fmt: F, cfg: Config) -> Result<Self, PtError> {
        Self::new_in(fmt, OwnedTables::new(F::ITEMS_LG2), cfg)
    }
}

impl<F: Format, M: TableAlloc> PageTable<F, M> {
    /// A new, empty table allocated from `mem`.
    pub fn new_in(fmt: F, mem: M, cfg: Config) -> Result<Self, PtError> {
        let root = mem.alloc()?;
        Self::with_root(fmt, mem, root, cfg)
    }
}

impl<F: Format, M: TableMemory> PageTable<F, M> {
    /// A table whose root already exists at `root` in `mem` (e.g. a guest-owned
    /// stage-1 table; walk it with [`PageTable::translate`]).
    pub fn with_root(fmt: F, mem: M, root: u64, cfg: Config) -> Result<Self, PtError> {
        let Geometry {
            top_level,
            va_lg2,
            va_last,
        } = Geometry::of::<F>(&cfg)?;
        let oa_lg2 = if cfg.oa_lg2 == 0 {
            F::MAX_OA_LG2
        } else {
            cfg.oa_lg2.min(F::MAX_OA_LG2)
        };
        let mut size_level = [u8::MAX; 64];
        let mut bitmap = 0u64;
        for level in 0..=top_level {
            let sizes = fmt.possible_sizes(level);
            bitmap |= sizes;
            for (lg2, slot) in size_level.iter_mut().enumerate() {
                if sizes & (1 << lg2) != 0 {
                    *slot = level as u8;
                }
            }
        }
        // A page as large as the whole space is not offered, nor one wider than
        // the output address (the kernel's get_info rule).
        bitmap &= low_mask(va_lg2.saturating_sub(1)) & low_mask(oa_lg2);
        if cfg.pgsize_bitmap != 0 {
            bitmap &= cfg.pgsize_bitmap;
        }
        if bitmap == 0 {
            return Err(PtError::Invalid);
        }
        Ok(PageTable {
            fmt,
            mem,
            root,
            top_level,
            va_start: cfg.va_start,
            va_last,
            oa_lg2,
            pgsize_bitmap: bitmap,
            size_level,
        })
    }

    /// Physical address of the root table (what a context/device entry points at).
    pub fn root(&self) -> u64 {
        self.root
    }
    /// Number of levels.
    pub fn levels(&self) -> u32 {
        self.top_level + 1
    }
    /// Page sizes this table maps with (bitmap of `1 << lg2`).
    pub fn pgsize_bitmap(&self) -> u64 {
        self.pgsize_bitmap
    }
    /// First and last translatable IOVA.
    pub fn aperture(&self) -> (u64, u64) {
        (self.va_start, self.va_start + self.va_last)
    }
    /// The format.
    pub fn format(&self) -> &F {
        &self.fmt
    }
    /// The table memory.
    pub fn memory(&self) -> &M {
        &self.mem
    }

    /// `iova..iova+len` as offsets from `va_start`, without the aperture check
    /// (the kernel's `make_range_no_check`: EINVAL for zero length, EOVERFLOW on wrap).
    pub(crate) fn span(&self, iova: u64, len: u64) -> Result<(u64, u64), PtError> {
        if len == 0 {
            return Err(PtError::Invalid);
        }
        let last = iova.checked_add(len - 1).ok_or(PtError::Overflow)?;
        Ok((iova, last))
    }

    /// Offsets of `iova..=last` inside the aperture, or ERANGE.
    #[inline(always)]
    pub(crate) fn check(&self, iova: u64, last: u64) -> Result<(u64, u64), PtError> {
        let va = iova.wrapping_sub(self.va_start);
        let lva = last.wrapping_sub(self.va_start);
        if iova < self.va_start || va > self.va_last || lva > self.va_last {
            return Err(PtError::OutOfRange);
        }
        Ok((va, lva))
    }

    /// Index of `va` in the table at `level`.
    #[inline(always)]
    pub(crate) fn index(va: u64, level: u32) -> usize {
        ((va >> F::item_lg2(level)) & ((1u64 << F::ITEMS_LG2) - 1)) as usize
    }

    /// One past the last index at `level` that `va..=last` touches in the
    /// table holding `va`.
    #[inline(always)]
    pub(crate) fn end_index(va: u64, last: u64, level: u32) -> usize {
        let span = F::item_lg2(level) + F::ITEMS_LG2;
        if span >= 64 || va >> span == last >> span {
            Self::index(last, level) + 1
        } else {
            1 << F::ITEMS_LG2
        }
    }

    #[inline(always)]
    pub(crate) fn resolve(&self, pa: u64) -> Result<M::Table<'_>, PtError> {
        Ok(self.mem.table(pa, F::ITEMS_LG2)?)
    }
}

/// The levels and input range of `cfg` for format `F`.
pub(crate) struct Geometry {
    /// The root's level.
    pub(crate) top_level: u32,
    /// IOVA bits translated from `va_start`.
    pub(crate) va_lg2: u32,
    /// Last valid IOVA offset from `va_start`.
    pub(crate) va_last: u64,
}

impl Geometry {
    /// `Invalid` for levels `F` does not have, or an input range wider than they cover or
    /// past the end of the address space.
    pub(crate) fn of<F: Format>(cfg: &Config) -> Result<Self, PtError> {
        if cfg.levels == 0 || cfg.levels > F::MAX_LEVELS {
            return Err(PtError::Invalid);
        }
        let top_level = cfg.levels - 1;
        let cover = (F::item_lg2(top_level) + F::ITEMS_LG2).min(64);
        let va_lg2 = if cfg.va_lg2 == 0 { cover } else { cfg.va_lg2 };
        if va_lg2 > cover {
            return Err(PtError::Invalid);
        }
        let va_last = low_mask(va_lg2);
        if cfg.va_start.checked_add(va_last).is_none() {
            return Err(PtError::Invalid);
        }
        Ok(Geometry {
            top_level,
            va_lg2,
            va_last,
        })
    }
}

/// Bits below `lg2`.
pub(crate) const fn low_mask(lg2: u32) -> u64 {
    if lg2 >= 64 {
        u64::MAX
    } else {
        (1u64 << lg2) - 1
    }
}
