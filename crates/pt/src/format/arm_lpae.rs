//! Arm VMSAv8-64 (LPAE) translation tables, stage 1 and stage 2, at 4K, 16K
//! and 64K granules, with the Contiguous bit.
//!
//! Arm Architecture Reference Manual (DDI 0487), §D8.3 "Translation table
//! descriptor formats" (table, block and page descriptors; stage 1 and stage 2
//! attribute fields) and §D8.6.1 "The Contiguous bit" (the run lengths per
//! granule and level). Output addresses are 48 bits (no FEAT_LPA). Arm level 3
//! is level 0 here.

use super::{Entry, Format, genmask};
use crate::table::Config;
use crate::{Access, Prot, PtError};

/// Descriptor bit layout (Arm ARM §D8.3).
pub mod spec {
    use super::genmask;
    /// Valid.
    pub const VALID: u64 = 1 << 0;
    /// Table (at levels 0-2 in Arm numbering) or page (at level 3) when set;
    /// block when clear.
    pub const TABLE_OR_PAGE: u64 = 1 << 1;
    /// Stage 1 AttrIndx[2:0] shift (index into MAIR).
    pub const ATTRINDX_SHIFT: u32 = 2;
    /// Stage 2 MemAttr[3:0] shift.
    pub const MEMATTR_SHIFT: u32 = 2;
    /// Stage 1 AP[1]: accessible at EL0 (unprivileged).
    pub const AP_UNPRIV: u64 = 1 << 6;
    /// Stage 1 AP[2]: read-only.
    pub const AP_RDONLY: u64 = 1 << 7;
    /// Stage 2 S2AP[0]: read allowed.
    pub const S2AP_R: u64 = 1 << 6;
    /// Stage 2 S2AP[1]: write allowed.
    pub const S2AP_W: u64 = 1 << 7;
    /// Shareability SH[1:0]: outer shareable.
    pub const SH_OS: u64 = 2 << 8;
    /// Shareability SH[1:0]: inner shareable.
    pub const SH_IS: u64 = 3 << 8;
    /// Access flag.
    pub const AF: u64 = 1 << 10;
    /// Stage 1 not-global.
    pub const NG: u64 = 1 << 11;
    /// Dirty bit modifier: hardware may make a writable-clean entry dirty.
    pub const DBM: u64 = 1 << 51;
    /// Contiguous: the entry is one of an aligned run translating one region.
    pub const CONT: u64 = 1 << 52;
    /// Execute-never (stage 1 PXN and UXN; stage 2 XN[1:0]).
    pub const XN: u64 = 3 << 53;
    /// Output address bits for granule `g` (log2 bytes).
    pub const fn addr(g: u32) -> u64 {
        genmask(47, g)
    }
}

/// Stage 1 memory attribute indices (MAIR slots, as Linux programs them).
pub mod mair {
    /// Normal, cacheable.
    pub const IDX_CACHE: u64 = 1;
    /// Device memory.
    pub const IDX_DEV: u64 = 2;
}

/// Stage 2 MemAttr values (Arm ARM §D8.5.5).
pub mod memattr {
    /// Device-nGnRE.
    pub const DEV: u64 = 0x1;
    /// Normal, non-cacheable.
    pub const NC: u64 = 0x5;
    /// Normal, outer and inner write-back cacheable.
    pub const OIWB: u64 = 0xf;
}

/// Arm LPAE entries: `GRANULE_LG2` is 12, 14 or 16; `S2` selects stage 2.
#[derive(Debug, Clone, Copy, Default)]
pub struct ArmLpae<const GRANULE_LG2: u32, const S2: bool> {
    /// Hardware dirty state management (FEAT_HAFDBS, the SMMU's HD): writable
    /// leaves get DBM and dirty tracking is offered (stage 1 only, as in Linux).
    pub dbm: bool,
}

/// Stage 1, 4 KiB granule.
pub type Arm4kS1 = ArmLpae<12, false>;
/// Stage 1, 16 KiB granule.
pub type Arm16kS1 = ArmLpae<14, false>;
/// Stage 1, 64 KiB granule.
pub type Arm64kS1 = ArmLpae<16, false>;
/// Stage 2, 4 KiB granule.
pub type Arm4kS2 = ArmLpae<12, true>;
/// Stage 2, 16 KiB granule.
pub type Arm16kS2 = ArmLpae<14, true>;
/// Stage 2, 64 KiB granule.
pub type Arm64kS2 = ArmLpae<16, true>;

impl<const G: u32, const S2: bool> ArmLpae<G, S2> {
    /// Whether a block descriptor is allowed at `level` (48-bit OA).
    #[inline(always)]
    const fn block_ok(level: u32) -> bool {
        level == 1 || (level == 2 && G == 12)
    }

    /// log2 of the Contiguous run length at `level` (§D8.6.1).
    #[inline(always)]
    const fn contig_lg2(level: u32) -> u32 {
        match (G, level) {
            (12, _) => 4,
            (14, 0) => 7,
            _ => 5,
        }
    }

    /// A configuration translating `va_lg2` IOVA bits with as few levels as needed.
    pub fn config(va_lg2: u32) -> Config {
        let bits = va_lg2.saturating_sub(G);
        let levels = bits.div_ceil(G - 3).max(1);
        Config {
            levels,
            va_lg2,
            ..Config::levels(levels)
        }
    }
}

impl<const G: u32, const S2: bool> Format for ArmLpae<G, S2> {
    const NAME: &'static str = match (G, S2) {
        (12, false) => "arm_s1_4k",
        (14, false) => "arm_s1_16k",
        (16, false) => "arm_s1_64k",
        (12, true) => "arm_s2_4k",
        (14, true) => "arm_s2_16k",
        _ => "arm_s2_64k",
    };
    const GRANULE_LG2: u32 = G;
    const ITEMS_LG2: u32 = G - 3;
    const MAX_LEVELS: u32 = 4;
    const MAX_OA_LG2: u32 = 48;

    #[inline(always)]
    fn possible_sizes(&self, level: u32) -> u64 {
        if level != 0 && !Self::block_ok(level) {
            return 0;
        }
        let isz = Self::item_lg2(level);
        (1 << isz) | (1 << (isz + Self::contig_lg2(level)))
    }

    #[inline(always)]
    fn decode(&self, level: u32, e: u64) -> Entry {
        if e & spec::VALID == 0 {
            return Entry::Empty;
        }
        let table_or_page = e & spec::TABLE_OR_PAGE != 0;
        if level != 0 && table_or_page {
            return Entry::Table(e & spec::addr(G));
        }
        if (level == 0 && !table_or_page) || (level != 0 && !Self::block_ok(level)) {
            // Reserved encodings translate nothing.
            return Entry::Empty;
        }
        let cont = if e & spec::CONT != 0 {
            Self::contig_lg2(level)
        } else {
            0
        };
        let size_lg2 = Self::item_lg2(level) + cont;
        Entry::Leaf {
            oa: e & spec::addr(G) & (u64::MAX << size_lg2),
            size_lg2,
        }
    }

    #[inline(always)]
    fn leaf(&self, level: u32, oa: u64, size_lg2: u32, attrs: u64) -> u64 {
        let kind = if level == 0 { spec::TABLE_OR_PAGE } else { 0 };
        let cont = if size_lg2 > Self::item_lg2(level) {
            spec::CONT
        } else {
            0
        };
        spec::VALID | kind | (oa & spec::addr(G)) | attrs | cont
    }

    fn table(&self, _level: u32, pa: u64) -> u64 {
        spec::VALID | spec::TABLE_OR_PAGE | (pa & spec::addr(G))
    }

    fn attrs(&self, prot: Prot) -> Result<u64, PtError> {
        // Linux's arm_lpae_prot_to_pte (io-pgtable-arm.c) values.
        let mut bits = spec::AF;
        if S2 {
            if prot.contains(Prot::READ) {
                bits |= spec::S2AP_R;
            }
            if prot.contains(Prot::WRITE) {
                bits |= spec::S2AP_W;
            }
            let attr = if prot.contains(Prot::MMIO) {
                memattr::DEV
            } else if prot.contains(Prot::CACHE) {
                memattr::OIWB
            } else {
                memattr::NC
            };
            bits |= attr << spec::MEMATTR_SHIFT;
        } else {
            bits |= spec::NG;
            if prot.contains(Prot::READ) && !prot.contains(Prot::WRITE) {
                bits |= spec::AP_RDONLY;
            } else if self.dbm {
                bits |= spec::DBM;
            }
            if !prot.contains(Prot::PRIV) {
                bits |= spec::AP_UNPRIV;
            }
            if prot.contains(Prot::MMIO) {
                bits |= mair::IDX_DEV << spec::ATTRINDX_SHIFT;
            } else if prot.contains(Prot::CACHE) {
                bits |= mair::IDX_CACHE << spec::ATTRINDX_SHIFT;
            }
        }
        bits |= if prot.contains(Prot::CACHE) {
            spec::SH_IS
        } else {
            spec::SH_OS
        };
        if prot.contains(Prot::NOEXEC) {
            bits |= spec::XN;
        }
        Ok(bits)
    }

    fn permits(&self, _level: u32, e: u64, leaf: bool, access: Access) -> bool {
        if !leaf {
            return true;
        }
        match (S2, access) {
            (false, Access::Read) => true,
            (false, Access::Write) => e & spec::AP_RDONLY == 0 || e & spec::DBM != 0,
            (true, Access::Read) => e & spec::S2AP_R != 0,
            (true, Access::Write) => e & spec::S2AP_W != 0 || e & spec::DBM != 0,
        }
    }

    fn walked(&self, _level: u32, e: u64, leaf: bool, access: Access) -> u64 {
        if !leaf {
            return e;
        }
        let e = e | spec::AF;
        if access == Access::Write && e & spec::DBM != 0 {
            return self.dirtied(e);
        }
        e
    }

    fn dirty_tracking(&self) -> bool {
        !S2 && self.dbm
    }

    fn is_dirty(&self, e: u64) -> bool {
        if S2 {
            e & (spec::S2AP_W | spec::DBM) == spec::S2AP_W | spec::DBM
        } else {
            e & (spec::AP_RDONLY | spec::DBM) == spec::DBM
        }
    }

    fn clean(&self, e: u64) -> u64 {
        if S2 {
            e & !spec::S2AP_W
        } else {
            e | spec::AP_RDONLY
        }
    }

    fn dirtied(&self, e: u64) -> u64 {
        if S2 {
            e | spec::S2AP_W
        } else {
            e & !spec::AP_RDONLY
        }
    }
}
