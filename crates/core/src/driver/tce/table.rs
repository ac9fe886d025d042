//! A TCE table behind one DMA window (`struct iommu_table`): its page size, its place on the
//! bus in IOMMU pages (`it_offset`, `it_size`), the levels asked for, and the entries, kept in
//! pt's TCE format (LoPAPR "Translation Control Entry"; IODA2 multi-level tables). The
//! userspace view (`it_userspace`) records, per entry, the user address a v2 container mapped.
//!
//! An entry is exchanged as a whole (`pnv_tce_xchg`): a writable TCE is always readable too.

use super::{Dir, PAGE_SHIFT};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard, PoisonError};
use uiommu_pt::{Access, Gather, PageTable, Prot, Tce, WalkFault};
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;

/// `POWERNV_IOMMU_MAX_LEVELS`.
pub const MAX_LEVELS: u32 = 5;

/// IOMMU page shifts a table can be built with.
pub const PAGE_SHIFTS: [u32; 6] = [12, 16, 21, 24, 28, 30];

macro_rules! any_tce {
    ($($v:ident = $s:literal),*) => {
        #[derive(Debug)]
        enum AnyTce { $($v(PageTable<Tce<$s>>)),* }

        impl AnyTce {
            fn new(shift: u32, start: u64, size_lg2: u32) -> Option<Self> {
                match shift {
                    $($s => PageTable::new(Tce::<$s>, Tce::<$s>::window(start, size_lg2))
                        .ok()
                        .map(AnyTce::$v),)*
                    _ => None,
                }
            }
        }

        macro_rules! each {
            ($t:expr, $p:ident => $e:expr) => {
                match $t { $(AnyTce::$v($p) => $e),* }
            };
        }
    };
}

any_tce!(S12 = 12, S16 = 16, S21 = 21, S24 = 24, S28 = 28, S30 = 30);

/// A TCE table.
#[derive(Debug)]
pub struct TceTable {
    /// `it_page_shift`.
    pub page_shift: u32,
    /// `it_offset`: the first entry's bus page number.
    pub offset: u64,
    /// `it_size`: entries.
    pub size: u64,
    /// Levels asked for.
    pub levels: u32,
    /// `it_allocated_size >> PAGE_SHIFT`: what the table was charged.
    pub allocated_pages: u64,
    pt: AnyTce,
    userspace: Mutex<BTreeMap<u64, u64>>,
    /// Entries that hold a translation (what a walk of the table would find).
    valid: Mutex<BTreeSet<u64>>,
}

/// `pnv_pci_ioda2_get_table_size`: bytes of the hardware table and its userspace copy, 0 for
/// a shape the platform cannot build (no or too many levels, a size that is not a power of
/// two).
pub fn table_size(page_shift: u32, window_size: u64, levels: u32) -> u64 {
    if levels == 0 || levels > MAX_LEVELS || !window_size.is_power_of_two() {
        return 0;
    }
    let window_shift = window_size.ilog2();
    let Some(entries_shift) = window_shift.checked_sub(page_shift) else {
        return 0;
    };
    let mut tce_table_size = 1u64
        .checked_shl(entries_shift + 3)
        .unwrap_or(u64::MAX)
        .max(0x1000);
    let direct_shift = (entries_shift.div_ceil(levels) + 3).max(PAGE_SHIFT);
    let direct = 1u64 << direct_shift;
    let mut bytes = 0u64;
    for _ in 0..levels {
        bytes = bytes.saturating_add(tce_table_size.div_ceil(direct).saturating_mul(direct));
        tce_table_size = ((tce_table_size / direct) << 3).max(direct);
    }
    bytes.saturating_mul(2)
}

impl TceTable {
    /// `pnv_pci_ioda2_table_alloc_pages`' checks and a table at bus address `bus_offset`:
    /// `EINVAL` for no or too many levels, a window that is not a power of two or smaller than
    /// a page, or levels whose direct tables would index 55 bits or more.
    pub fn new(bus_offset: u64, page_shift: u32, window_size: u64, levels: u32) -> Result<Self> {
        if levels == 0 || levels > MAX_LEVELS || !window_size.is_power_of_two() {
            return Err(Errno::EINVAL);
        }
        let window_shift = window_size.ilog2();
        let entries_shift = window_shift.checked_sub(page_shift).ok_or(Errno::EINVAL)?;
        let level_shift = (entries_shift.div_ceil(levels) + 3).max(PAGE_SHIFT);
        if (level_shift - 3) * levels + page_shift >= 55 {
            return Err(Errno::EINVAL);
        }
        let pt = AnyTce::new(page_shift, bus_offset, window_shift).ok_or(Errno::EINVAL)?;
        Ok(TceTable {
            page_shift,
            offset: bus_offset >> page_shift,
            size: 1 << entries_shift,
            levels,
            allocated_pages: table_size(page_shift, window_size, levels) >> PAGE_SHIFT,
            pt,
            userspace: Mutex::default(),
            valid: Mutex::default(),
        })
    }

    /// The window's first bus address.
    pub fn start(&self) -> u64 {
        self.offset << self.page_shift
    }

    /// Whether bus address `ioba` is inside the window (`tce_iommu_find_table`).
    pub fn contains(&self, ioba: u64) -> bool {
        let entry = ioba >> self.page_shift;
        entry >= self.offset && entry - self.offset < self.size
    }

    fn page(&self) -> u64 {
        1 << self.page_shift
    }

    /// The entry's permissions and address, if valid.
    pub fn get(&self, entry: u64) -> Option<(u64, Dir)> {
        let ioba = entry.checked_shl(self.page_shift)?;
        each!(&self.pt, t => {
            let r = t.translate(ioba, Access::Read).ok();
            let w = t.translate(ioba, Access::Write).ok();
            let hpa = r.or(w)?.phys;
            let dir = match (r.is_some(), w.is_some()) {
                (true, true) => Dir::Bidirectional,
                (true, false) => Dir::ToDevice,
                _ => Dir::FromDevice,
            };
            Some((hpa, dir))
        })
    }

    /// `pnv_tce_xchg`: puts `new` (a page-aligned address and direction, or nothing) in the
    /// entry and returns what it held.
    pub fn xchg(&self, entry: u64, new: Option<(u64, Dir)>) -> Result<Option<(u64, Dir)>> {
        if entry < self.offset || entry - self.offset >= self.size {
            return Err(Errno::EINVAL);
        }
        let ioba = entry << self.page_shift;
        let old = self.get(entry);
        let mut gather = Gather::default();
        let r = each!(&self.pt, t => {
            if old.is_some() {
                t.unmap(ioba, self.page(), &mut gather);
            }
            let r = match new {
                Some((hpa, dir)) => {
                    let prot = match dir {
                        Dir::ToDevice => Prot::READ,
                        Dir::FromDevice | Dir::Bidirectional => Prot::RW,
                    };
                    t.map(ioba, hpa, self.page(), prot, &mut gather)
                }
                None => Ok(()),
            };
            t.release(&mut gather);
            r
        });
        let mut valid = self.valid.lock().unwrap_or_else(PoisonError::into_inner);
        match (&r, new) {
            (Ok(()), Some(_)) => valid.insert(entry),
            _ => valid.remove(&entry),
        };
        r.map_err(|e| Errno(e.errno()))?;
        Ok(old)
    }

    /// The userspace view: the user address the entry was mapped from (v2).
    pub(crate) fn userspace(&self) -> MutexGuard<'_, BTreeMap<u64, u64>> {
        self.userspace
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The hardware's translation of a DMA to `ioba` (the PHB's TVE → TCE lookup).
    pub fn translate(&self, ioba: u64, access: Access) -> std::result::Result<u64, WalkFault> {
        each!(&self.pt, t => t.translate(ioba, access).map(|t| t.phys))
    }

    /// Valid entries in `first..last`, in order.
    pub fn valid_entries(&self, first: u64, last: u64) -> Vec<u64> {
        let valid = self.valid.lock().unwrap_or_else(PoisonError::into_inner);
        valid.range(first..last).copied().collect()
    }
}
