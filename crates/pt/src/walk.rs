//! Single-address walks: `iova_to_phys` (software lookup) and `translate`
//! (what the IOMMU does for a DMA: permission checks and access/dirty updates),
//! of a [`PageTable`] or of a table walked in place from any root ([`RootWalk`]).

use crate::format::{Entry, Format};
use crate::memory::{Fault, TableMemory};
use crate::table::{Config, Geometry, PageTable};
use crate::{Access, PtError};

/// Result of a successful translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Translation {
    /// Output address of the IOVA (page start plus the offset within it).
    pub phys: u64,
    /// log2 of the size of the page that translated it.
    pub page_lg2: u32,
    /// The leaf entry as found (before any access/dirty update).
    pub entry: u64,
}

/// Why a hardware walk stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalkFault {
    /// IOVA outside the table's aperture.
    OutOfRange,
    /// A non-present entry at `level`.
    NotPresent {
        /// Level of the non-present entry.
        level: u32,
    },
    /// An entry at `level` forbids the access.
    Permission {
        /// Level of the entry that forbade it.
        level: u32,
    },
    /// A table could not be read or updated.
    Memory(Fault),
}

impl From<Fault> for WalkFault {
    fn from(f: Fault) -> Self {
        WalkFault::Memory(f)
    }
}

impl From<PtError> for WalkFault {
    fn from(e: PtError) -> Self {
        match e {
            PtError::Fault(addr) => WalkFault::Memory(Fault { addr }),
            _ => WalkFault::OutOfRange,
        }
    }
}

impl<F: Format, M: TableMemory> PageTable<F, M> {
    /// Output address for `iova`, or `None` if it has no translation.
    ///
    /// A read-only walk: no permission check, no access-bit update.
    #[inline]
    pub fn iova_to_phys(&self, iova: u64) -> Option<u64> {
        self.lookup(iova).ok().map(|t| t.phys)
    }

    /// The leaf translating `iova`: ENOENT if none, ERANGE outside the
    /// aperture, EFAULT if a table cannot be read.
    #[inline]
    pub fn lookup(&self, iova: u64) -> Result<Translation, PtError> {
        let (va, _) = self.check(iova, iova)?;
        lookup_from(&self.fmt, &self.mem, self.root, self.top_level, va)
    }

    /// Translates `iova` for a DMA `access` as the IOMMU does: every entry on
    /// the path must permit the access, and the format's accessed/dirty bits
    /// are set with compare-and-exchange (also in guest-owned tables).
    #[inline]
    pub fn translate(&self, iova: u64, access: Access) -> Result<Translation, WalkFault> {
        let (va, _) = self.check(iova, iova)?;
        translate_from(&self.fmt, &self.mem, self.root, self.top_level, va, access)
    }
}

/// A table walked in place from a root it does not own: a guest's stage-1
/// table, found through a register or descriptor at the time of the walk.
///
/// It holds only what a walk needs (no page-size map, no allocator), so it
/// costs a few instructions to set up per walk, and it walks with the same
/// code as [`PageTable::translate`] and [`PageTable::lookup`]: the same fault
/// levels, permission checks and accessed/dirty updates.
#[derive(Debug, Clone, Copy)]
pub struct RootWalk<F, M> {
    fmt: F,
    mem: M,
    root: u64,
    top_level: u32,
    va_start: u64,
    /// Last valid IOVA offset from `va_start`.
    va_last: u64,
}

impl<F: Format, M: TableMemory> RootWalk<F, M> {
    /// The table at `root` in `mem` with `cfg`'s levels and input range
    /// (`va_lg2` 0: all the levels cover; `oa_lg2` and `pgsize_bitmap` are not
    /// a walk's business and are ignored). `Invalid` for levels the format
    /// does not have or an input range wider than they cover.
    pub fn new(fmt: F, mem: M, root: u64, cfg: Config) -> Result<Self, PtError> {
        let Geometry {
            top_level, va_last, ..
        } = Geometry::of::<F>(&cfg)?;
        Ok(RootWalk {
            fmt,
            mem,
            root,
            top_level,
            va_start: cfg.va_start,
            va_last,
        })
    }

    fn offset(&self, iova: u64) -> Result<u64, PtError> {
        let va = iova.wrapping_sub(self.va_start);
        if iova < self.va_start || va > self.va_last {
            return Err(PtError::OutOfRange);
        }
        Ok(va)
    }

    /// [`PageTable::lookup`] of this table.
    pub fn lookup(&self, iova: u64) -> Result<Translation, PtError> {
        let va = self.offset(iova)?;
        lookup_from(&self.fmt, &self.mem, self.root, self.top_level, va)
    }

    /// [`PageTable::translate`] of this table.
    pub fn translate(&self, iova: u64, access: Access) -> Result<Translation, WalkFault> {
        let va = self.offset(iova)?;
        translate_from(&self.fmt, &self.mem, self.root, self.top_level, va, access)
    }
}

/// The software lookup of `va` (an offset into the table's range) from `root`.
#[inline(always)]
fn lookup_from<F: Format, M: TableMemory>(
    fmt: &F,
    mem: &M,
    root: u64,
    top_level: u32,
    va: u64,
) -> Result<Translation, PtError> {
    let mut table = mem.table(root, F::ITEMS_LG2)?;
    let mut level = top_level;
    loop {
        let e = mem.load(table, PageTable::<F, M>::index(va, level))?;
        match fmt.decode(level, e) {
            Entry::Leaf { oa, size_lg2 } => {
                let off = va & ((1u64 << size_lg2) - 1);
                return Ok(Translation {
                    phys: oa | off,
                    page_lg2: size_lg2,
                    entry: e,
                });
            }
            Entry::Table(pa) if level > 0 => {
                table = mem.table(pa, F::ITEMS_LG2)?;
                level -= 1;
            }
            _ => return Err(PtError::NotMapped),
        }
    }
}

/// The hardware walk of `va` (an offset into the table's range) from `root`.
#[inline(always)]
fn translate_from<F: Format, M: TableMemory>(
    fmt: &F,
    mem: &M,
    root: u64,
    top_level: u32,
    va: u64,
    access: Access,
) -> Result<Translation, WalkFault> {
    let mut table = mem.table(root, F::ITEMS_LG2)?;
    let mut level = top_level;
    loop {
        let index = PageTable::<F, M>::index(va, level);
        let mut e = mem.load(table, index)?;
        let decoded = fmt.decode(level, e);
        let leaf = match decoded {
            Entry::Empty => return Err(WalkFault::NotPresent { level }),
            Entry::Table(_) if level == 0 => return Err(WalkFault::NotPresent { level }),
            Entry::Leaf { .. } => true,
            Entry::Table(_) => false,
        };
        if !fmt.permits(level, e, leaf, access) {
            return Err(WalkFault::Permission { level });
        }
        let found = e;
        // Hardware sets A/D atomically; retry if the entry changed under us.
        loop {
            let new = fmt.walked(level, e, leaf, access);
            if new == e {
                break;
            }
            match mem.compare_exchange(table, index, e, new)? {
                Ok(_) => break,
                Err(cur) if fmt.decode(level, cur) == decoded => e = cur,
                Err(_) => return Err(WalkFault::NotPresent { level }),
            }
        }
        match decoded {
            Entry::Leaf { oa, size_lg2 } => {
                let off = va & ((1u64 << size_lg2) - 1);
                return Ok(Translation {
                    phys: oa | off,
                    page_lg2: size_lg2,
                    entry: found,
                });
            }
            Entry::Table(pa) => {
                table = mem.table(pa, F::ITEMS_LG2)?;
                level -= 1;
            }
            Entry::Empty => return Err(WalkFault::NotPresent { level }),
        }
    }
}
