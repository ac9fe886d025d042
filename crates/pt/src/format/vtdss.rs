//! Intel VT-d second-stage paging entries.
//!
//! VT-d specification §9.8 "Second-Stage Paging Entries" (Figure 9-8, Tables
//! 9-6 to 9-9 in rev. 4.x). Up to 5 levels; leaves of 4 KiB, 2 MiB and 1 GiB.
//! An all-zero entry is empty; R and W gate access at every level.

use super::{Entry, Format, genmask};
use crate::{Access, Prot, PtError};

/// Entry bit layout (VT-d §9.8).
pub mod spec {
    use super::genmask;
    /// Read permission.
    pub const R: u64 = 1 << 0;
    /// Write permission.
    pub const W: u64 = 1 << 1;
    /// Page size: at level 1 or 2 the entry maps a 2 MiB or 1 GiB page.
    pub const PS: u64 = 1 << 7;
    /// Accessed (set by hardware when SSADE is enabled in the PASID entry).
    pub const A: u64 = 1 << 8;
    /// Dirty (set by hardware on write when SSADE is enabled).
    pub const D: u64 = 1 << 9;
    /// Snoop: force a snooped access regardless of the request.
    pub const SNP: u64 = 1 << 11;
    /// Address of the page or next table.
    pub const ADDR: u64 = genmask(51, 12);
}

/// VT-d second stage (the paging domain and nest parent format).
#[derive(Debug, Clone, Copy, Default)]
pub struct VtdSs {
    /// Set SNP in every leaf (the kernel's `PT_FEAT_VTDSS_FORCE_COHERENCE`).
    pub force_snoop: bool,
    /// Refuse read-only maps (`PT_FEAT_VTDSS_FORCE_WRITEABLE`, nest parents on
    /// parts with erratum 772415).
    pub force_writeable: bool,
    /// Hardware access/dirty updates enabled (SSADE in the PASID entry).
    pub ad: bool,
}

impl Format for VtdSs {
    const NAME: &'static str = "vtd_ss";
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
        if e == 0 {
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
        (oa & spec::ADDR) | attrs | ps
    }

    fn table(&self, _level: u32, pa: u64) -> u64 {
        spec::R | spec::W | (pa & spec::ADDR)
    }

    fn attrs(&self, prot: Prot) -> Result<u64, PtError> {
        if !prot.intersects(Prot::RW) {
            return Err(PtError::Invalid);
        }
        if self.force_writeable && !prot.contains(Prot::WRITE) {
            return Err(PtError::Invalid);
        }
        let mut bits = 0;
        if prot.contains(Prot::READ) {
            bits |= spec::R;
        }
        if prot.contains(Prot::WRITE) {
            bits |= spec::W;
        }
        if self.force_snoop {
            bits |= spec::SNP;
        }
        Ok(bits)
    }

    fn permits(&self, _level: u32, e: u64, _leaf: bool, access: Access) -> bool {
        let need = if access == Access::Write {
            spec::W
        } else {
            spec::R
        };
        e & need != 0
    }

    fn walked(&self, _level: u32, e: u64, leaf: bool, access: Access) -> u64 {
        if !self.ad {
            return e;
        }
        let d = if leaf && access == Access::Write {
            spec::D
        } else {
            0
        };
        e | spec::A | d
    }

    fn dirty_tracking(&self) -> bool {
        true
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
