//! AMD IOMMU v1 (host) page tables, with power-of-two page sizes.
//!
//! AMD I/O Virtualization Technology (IOMMU) Specification (pub. 48882)
//! §2.2.3 "I/O Page Tables for Host Translations": PDE and PTE formats, Table
//! 14 "Example Page Size Encodings" (Next Level = 7) and Table 15 "Page Table
//! Level Parameters". In the Next Level = 7 encoding a page larger than the
//! level's item is written into every entry it spans, its size encoded as a
//! run of ones in the low address bits.
//!
//! [`AmdV1`] is the hardware format (4 KiB granule, up to 6 levels).
//! [`AmdV1Mock`] is the variant Linux's iommufd selftest mock uses: the same
//! entries with a 2 KiB granule, 51-bit output and at most 5 levels
//! (drivers/iommu/generic_pt/fmt/iommu_mock.c, `MOCK_PAGE_SIZE`).

use super::{Entry, Format, genmask};
use crate::{Access, Prot, PtError};

/// Entry bit layout (AMD IOMMU spec §2.2.3).
pub mod spec {
    use super::genmask;
    /// Present.
    pub const PR: u64 = 1 << 0;
    /// Accessed.
    pub const A: u64 = 1 << 5;
    /// Dirty.
    pub const D: u64 = 1 << 6;
    /// Next Level field (bits 11:9): 0 = leaf, 1..=6 = level of the next
    /// table, 7 = leaf with encoded page size.
    pub const NEXT_LEVEL: u64 = genmask(11, 9);
    /// Shift of the Next Level field.
    pub const NEXT_LEVEL_SHIFT: u32 = 9;
    /// Next Level value of a leaf with encoded page size.
    pub const NL_SIZE: u64 = 7;
    /// Address field (bits 51:12), in units of the granule.
    pub const ADDR: u64 = genmask(51, 12);
    /// Force coherent.
    pub const FC: u64 = 1 << 60;
    /// Read permission.
    pub const IR: u64 = 1 << 61;
    /// Write permission.
    pub const IW: u64 = 1 << 62;
}

/// AMD v1 entries with a `1 << GRANULE_LG2` byte smallest page.
#[derive(Debug, Clone, Copy, Default)]
pub struct AmdV1Fmt<const GRANULE_LG2: u32> {
    /// Set FC in every leaf (`PT_FEAT_AMDV1_FORCE_COHERENCE`).
    pub force_coherence: bool,
}

/// AMD v1 host page tables (4 KiB granule).
pub type AmdV1 = AmdV1Fmt<12>;
/// The iommufd selftest mock's format (2 KiB granule).
pub type AmdV1Mock = AmdV1Fmt<11>;

impl<const G: u32> AmdV1Fmt<G> {
    /// Address field value for output address `oa`.
    #[inline(always)]
    fn addr(oa: u64) -> u64 {
        ((oa >> G) << 12) & spec::ADDR
    }
}

impl<const G: u32> Format for AmdV1Fmt<G> {
    const NAME: &'static str = if G == 11 { "amdv1_mock" } else { "amdv1" };
    const GRANULE_LG2: u32 = G;
    const ITEMS_LG2: u32 = 9;
    const MAX_LEVELS: u32 = if G == 11 { 5 } else { 6 };
    const MAX_OA_LG2: u32 = if G == 11 { 51 } else { 52 };

    #[inline(always)]
    fn possible_sizes(&self, level: u32) -> u64 {
        // The highest level holds only pointers (spec Table 15). Every power of
        // two up to the next level is a page size (Table 14), except 512 GiB,
        // which Linux never uses because of a hardware erratum.
        if level + 1 >= Self::MAX_LEVELS {
            return 0;
        }
        let isz = Self::item_lg2(level);
        genmask((isz + Self::ITEMS_LG2 - 1).min(51), isz) & !(1 << 39)
    }

    #[inline(always)]
    fn decode(&self, level: u32, e: u64) -> Entry {
        if e & spec::PR == 0 {
            return Entry::Empty;
        }
        let nl = (e & spec::NEXT_LEVEL) >> spec::NEXT_LEVEL_SHIFT;
        let field = (e & spec::ADDR) >> 12;
        if level != 0 && nl != 0 && nl != spec::NL_SIZE {
            return Entry::Table(field << G);
        }
        let isz = Self::item_lg2(level);
        let size_lg2 = if nl == spec::NL_SIZE {
            // Ones from the item's first address bit (bit 11 is NL's top bit)
            // up to the page size: their count is log2 of the run length.
            let run = (e >> (11 + isz - G)).trailing_ones();
            (isz + run).min(isz + Self::ITEMS_LG2)
        } else {
            isz
        };
        let oa = (field << G) & (u64::MAX << size_lg2);
        Entry::Leaf { oa, size_lg2 }
    }

    #[inline(always)]
    fn leaf(&self, level: u32, oa: u64, size_lg2: u32, attrs: u64) -> u64 {
        // Every entry of a page larger than the item holds the page's base address; the low
        // address bits carry the size encoding instead (spec Table 14).
        let oa = oa & (u64::MAX << size_lg2);
        let e = spec::PR | Self::addr(oa) | attrs;
        if size_lg2 == Self::item_lg2(level) {
            return e;
        }
        let ones = ((1u64 << (size_lg2 - G - 1)) - 1) << 12;
        e | (spec::NL_SIZE << spec::NEXT_LEVEL_SHIFT) | (ones & spec::ADDR)
    }

    fn table(&self, level: u32, pa: u64) -> u64 {
        spec::PR | ((level as u64) << spec::NEXT_LEVEL_SHIFT) | Self::addr(pa) | spec::IR | spec::IW
    }

    fn attrs(&self, prot: Prot) -> Result<u64, PtError> {
        let mut bits = if self.force_coherence { spec::FC } else { 0 };
        if prot.contains(Prot::READ) {
            bits |= spec::IR;
        }
        if prot.contains(Prot::WRITE) {
            bits |= spec::IW;
        }
        Ok(bits)
    }

    fn permits(&self, _level: u32, e: u64, _leaf: bool, access: Access) -> bool {
        let need = if access == Access::Write {
            spec::IW
        } else {
            spec::IR
        };
        e & need != 0
    }

    fn walked(&self, _level: u32, e: u64, leaf: bool, access: Access) -> u64 {
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

#[cfg(test)]
mod large_leaf_tests {
    use crate::{AmdV1Mock, Config, Gather, PageTable, Prot};

    /// A leaf of several items repeats the page's base address in every item (spec Table 14):
    /// each item of a 4 KiB page in the 2 KiB mock format translates within that page, even
    /// when the output address is not aligned to any larger size.
    #[test]
    fn every_item_of_a_large_leaf_translates_within_the_page() {
        let pt = PageTable::new(AmdV1Mock::default(), Config::levels(3)).unwrap();
        let mut g = Gather::default();
        let (iova, oa) = (1u64 << 24, 0x7f12_3456_7000u64);
        for (off, size) in [(0u64, 4096u64), (1 << 21, 1 << 20)] {
            let oa = oa + (off << 4);
            let oa = oa & !(size - 1);
            pt.map(iova + off, oa, size, Prot::RW, &mut g).unwrap();
            for probe in [0, 2048, size / 2 + 5, size - 1] {
                assert_eq!(
                    pt.iova_to_phys(iova + off + probe),
                    Some(oa + probe),
                    "{size:#x}+{probe:#x}"
                );
            }
        }
    }
}
