//! Single-address walks: `iova_to_phys` (software lookup) and `translate`
//! (what the IOMMU does for a DMA: permission checks and access/dirty updates).

use crate::format::{Entry, Format};
use crate::memory::{Fault, TableMemory};
use crate::table::PageTable;
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
        let mut table = self.resolve(self.root)?;
        let mut level = self.top_level;
        loop {
            let e = self.mem.load(table, Self::index(va, level))?;
            match self.fmt.decode(level, e) {
                Entry::Leaf { oa, size_lg2 } => {
                    let off = va & ((1u64 << size_lg2) - 1);
                    return Ok(Translation {
                        phys: oa | off,
                        page_lg2: size_lg2,
                        entry: e,
                    });
                }
                Entry::Table(pa) if level > 0 => {
                    table = self.resolve(pa)?;
                    level -= 1;
                }
                _ => return Err(PtError::NotMapped),
            }
        }
    }

    /// Translates `iova` for a DMA `access` as the IOMMU does: every entry on
    /// the path must permit the access, and the format's accessed/dirty bits
    /// are set with compare-and-exchange (also in guest-owned tables).
    pub fn translate(&self, iova: u64, access: Access) -> Result<Translation, WalkFault> {
        let (va, _) = self.check(iova, iova)?;
        let mut table = self.resolve(self.root)?;
        let mut level = self.top_level;
        loop {
            let index = Self::index(va, level);
            let mut e = self.mem.load(table, index)?;
            let decoded = self.fmt.decode(level, e);
            let leaf = match decoded {
                Entry::Empty => return Err(WalkFault::NotPresent { level }),
                Entry::Table(_) if level == 0 => return Err(WalkFault::NotPresent { level }),
                Entry::Leaf { .. } => true,
                Entry::Table(_) => false,
            };
            if !self.fmt.permits(level, e, leaf, access) {
                return Err(WalkFault::Permission { level });
            }
            let found = e;
            // Hardware sets A/D atomically; retry if the entry changed under us.
            loop {
                let new = self.fmt.walked(level, e, leaf, access);
                if new == e {
                    break;
                }
                match self.mem.compare_exchange(table, index, e, new)? {
                    Ok(_) => break,
                    Err(cur) if self.fmt.decode(level, cur) == decoded => e = cur,
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
                    table = self.resolve(pa)?;
                    level -= 1;
                }
                Entry::Empty => return Err(WalkFault::NotPresent { level }),
            }
        }
    }
}
