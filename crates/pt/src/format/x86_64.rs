//! x86-64 paging entries as IO page tables: VT-d first stage and AMD v2.
//!
//! Intel SDM Vol. 3A §4.5 "4-Level Paging and 5-Level Paging" (Tables 4-15 to
//! 4-20) defines the entries; the VT-d specification §9.7 "First-Stage Paging
//! Entries" and the AMD IOMMU specification §2.2.6 "Guest Page Tables (v2)"
//! reuse them unchanged. 4 or 5 levels; leaves of 4 KiB, 2 MiB and 1 GiB.

use super::{Entry, Format, genmask};
use crate::{Access, Prot, PtError};

/// Entry bit layout (Intel SDM Vol. 3A Table 4-19 and 4-20).
pub mod spec {
    use super::genmask;
    /// Present.
    pub const P: u64 = 1 << 0;
    /// Read/write: writes allowed when set.
    pub const RW: u64 = 1 << 1;
    /// User/supervisor: user-mode (unprivileged) accesses allowed when set.
    pub const US: u64 = 1 << 2;
    /// Accessed: set by hardware on any access through the entry.
    pub const A: u64 = 1 << 5;
    /// Dirty: set by hardware on a write through a leaf.
    pub const D: u64 = 1 << 6;
    /// Page size: the entry at level 1 or 2 maps a 2 MiB or 1 GiB page.
    pub const PS: u64 = 1 << 7;
    /// Physical address bits of the page or next table.
    pub const ADDR: u64 = genmask(51, 12);
    /// Execute-disable.
    pub const XD: u64 = 1 << 63;
}

/// The x86-64 paging format (VT-d first stage, AMD v2).
#[derive(Debug, Clone, Copy, Default)]
pub struct X86_64;

impl Format for X86_64 {
    const NAME: &'static str = "x86_64";
    const GRANULE_LG2: u32 = 12;
    const ITEMS_LG2: u32 = 9;
    const MAX_LEVELS: u32 = 5;
    const MAX_OA_LG2: u32 = 52;

    #[inline(always)]
    fn possible_sizes(&self, level: u32) -> u64 {
        if level <= 2 {
            1 << Self::item_lg2(level)
        } else {
            0
        }
    }

    #[inline(always)]
    fn decode(&self, level: u32, e: u64) -> Entry {
        if e & spec::P == 0 {
            return Entry::Empty;
        }
        if level == 0 || (level <= 2 && e & spec::PS != 0) {
            let size_lg2 = Self::item_lg2(level);
            return Entry::Leaf {
                oa: e & spec::ADDR & (u64::MAX << size_lg2),
                size_lg2,
            };
        }
        Entry::Table(e & spec::ADDR)
    }

    #[inline(always)]
    fn leaf(&self, level: u32, oa: u64, _size_lg2: u32, attrs: u64) -> u64 {
        let ps = if level != 0 { spec::PS } else { 0 };
        spec::P | (oa & spec::ADDR) | attrs | ps
    }

    fn table(&self, _level: u32, pa: u64) -> u64 {
        // Tables grant everything; the leaf decides (as the kernel does).
        spec::P | spec::RW | spec::US | spec::A | (pa & spec::ADDR)
    }

    fn attrs(&self, prot: Prot) -> Result<u64, PtError> {
        // Accessed and, for writable pages, dirty are preset, so the IOMMU never
        // has to write them back (the kernel's x86_64_pt_iommu_set_prot).
        let mut bits = spec::US | spec::A;
        if prot.contains(Prot::WRITE) {
            bits |= spec::RW | spec::D;
        }
        Ok(bits)
    }

    fn permits(&self, _level: u32, e: u64, _leaf: bool, access: Access) -> bool {
        access == Access::Read || e & spec::RW != 0
    }

    fn walked(&self, _level: u32, e: u64, leaf: bool, access: Access) -> u64 {
        let d = if leaf && access == Access::Write {
            spec::D
        } else {
            0
        };
        e | spec::A | d
    }

    fn is_dirty(&self, e: u64) -> bool {
        e & spec::D != 0
    }

    fn clean(&self, e: u64) -> u64 {
        e & !spec::D
    }

    fn dirtied(&self, e: u64) -> u64 {
        e | spec::D
    }
}
