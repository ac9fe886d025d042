//! AMD-Vi feature registers: the fields of the Extended Feature Register (AMD IOMMU spec
//! §3.4.12 "IOMMU Extended Feature Register", MMIO offset 0030h) and of the Extended Feature 2
//! Register (MMIO offset 01A0h) the driver decides on, with the kernel's readings of them
//! (`drivers/iommu/amd/init.c`: `amd_iommu_hpt_vasize`, `amd_iommu_gpt_level`,
//! `max_pasids`; `amd_iommu.h`: `amd_iommu_v2_pgtbl_supported`, `amd_iommu_gt_ppr_supported`;
//! `amd_iommu_pasid_supported`), and the unit's configuration.

/// EFR fields (§3.4.12).
pub mod efr {
    /// PreFSup, bit 0: prefetch.
    pub const PREFETCH: u64 = 1 << 0;
    /// PPRSup, bit 1: peripheral page requests.
    pub const PPR: u64 = 1 << 1;
    /// XTSup, bit 2: x2APIC.
    pub const X2APIC: u64 = 1 << 2;
    /// NXSup, bit 3: no-execute.
    pub const NX: u64 = 1 << 3;
    /// GTSup, bit 4: guest translation.
    pub const GT: u64 = 1 << 4;
    /// IASup, bit 6: INVALIDATE_IOMMU_ALL.
    pub const IA: u64 = 1 << 6;
    /// GASup, bit 7: guest virtual APIC.
    pub const GA: u64 = 1 << 7;
    /// HESup, bit 8: hardware error registers.
    pub const HE: u64 = 1 << 8;
    /// PCSup, bit 9: performance counters.
    pub const PC: u64 = 1 << 9;
    /// HATS, bits 11:10: host address translation size; 0 is 4 levels, 1 five, 2 six,
    /// 3 reserved (host translation disabled by the kernel, `amd_iommu_hatdis`).
    pub const HATS_SHIFT: u32 = 10;
    /// GATS, bits 13:12: guest address translation size; 0 is 4 levels, 1 five.
    pub const GATS_SHIFT: u32 = 12;
    /// GLXSup, bits 15:14: GCR3 table levels supported beyond one.
    pub const GLX_SHIFT: u32 = 14;
    /// PASMax, bits 36:32: maximum PASID width minus one.
    pub const PASMAX_SHIFT: u32 = 32;
    /// GIoSup, bit 48: guest I/O protection.
    pub const GIOSUP: u64 = 1 << 48;
    /// HASup, bit 49: host access bit.
    pub const HASUP: u64 = 1 << 49;
    /// EPHSup, bit 50: enhanced PPR handling.
    pub const EPHSUP: u64 = 1 << 50;
    /// HDSup, bit 52: host dirty bit (dirty tracking).
    pub const HDSUP: u64 = 1 << 52;
}

/// EFR2 fields.
pub mod efr2 {
    /// GCR3TRPMode, bit 3: the GCR3 table root pointer is a guest-physical address.
    pub const GCR3TRPMODE: u64 = 1 << 3;
    /// HtRangeIgnore, bit 11: the HyperTransport range is not reserved.
    pub const HT_RANGE_IGNORE: u64 = 1 << 11;
}

/// The configuration of one unit: its feature registers and what the platform around it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AmdConfig {
    /// The Extended Feature Register.
    pub efr: u64,
    /// The Extended Feature 2 Register.
    pub efr2: u64,
    /// The CPU has 5-level paging (`X86_FEATURE_LA57`).
    pub la57: bool,
    /// Maximum IOVA width the IVRS table advertises (IVinfo VASize; 0 reads as 64).
    pub ivinfo_vasize: u32,
    /// The vIOMMU offers `alloc_domain_nested` (`amd_iommu_alloc_domain_nested`). Linux 7.3
    /// has that function but its `amd_viommu_ops` holds only `destroy`, so a nested HWPT
    /// cannot be allocated there (`EOPNOTSUPP`): `false` is 7.3. `true` wires it as its
    /// comment says it is meant to be.
    pub viommu_nesting: bool,
}

impl Default for AmdConfig {
    /// A unit with guest translation, 5-level host tables, 4-level guest tables, 2-level
    /// GCR3 tables, 16-bit PASIDs, PPR, dirty tracking and guest-physical GCR3 roots: what
    /// the kernel needs for nest parents, PASIDs and dirty tracking.
    fn default() -> Self {
        use efr::*;
        AmdConfig {
            efr: PREFETCH
                | PPR
                | X2APIC
                | NX
                | GT
                | IA
                | GA
                | HE
                | PC
                | (1 << HATS_SHIFT)
                | (1 << GLX_SHIFT)
                | (15 << PASMAX_SHIFT)
                | GIOSUP
                | HASUP
                | EPHSUP
                | HDSUP,
            efr2: efr2::GCR3TRPMODE,
            la57: false,
            ivinfo_vasize: 0,
            viommu_nesting: false,
        }
    }
}

/// Guest page-table depth of `amd_iommu_gpt_level` (`PAGE_MODE_4_LEVEL`/`_5_LEVEL`).
pub const PAGE_MODE_4_LEVEL: u32 = 4;
/// Five levels.
pub const PAGE_MODE_5_LEVEL: u32 = 5;

impl AmdConfig {
    fn field(&self, shift: u32, bits: u32) -> u64 {
        (self.efr >> shift) & ((1 << bits) - 1)
    }

    /// `check_feature`.
    pub fn has(&self, bit: u64) -> bool {
        self.efr & bit != 0
    }

    /// `check_feature2`.
    pub fn has2(&self, bit: u64) -> bool {
        self.efr2 & bit != 0
    }

    /// `amd_iommu_hatdis`: HATS reads the reserved value, the host (v1) table is unusable.
    pub fn hatdis(&self) -> bool {
        self.field(efr::HATS_SHIFT, 2) == 3
    }

    /// `amd_iommu_hpt_vasize`: IOVA bits of a host table, `(HATS + 3) * 9 + 21` capped by
    /// the IVRS VASize.
    pub fn hpt_vasize(&self) -> u32 {
        let max = if self.ivinfo_vasize == 0 {
            64
        } else {
            self.ivinfo_vasize
        };
        let hats = self.field(efr::HATS_SHIFT, 2) as u32;
        max.min((hats + PAGE_MODE_4_LEVEL - 1) * 9 + 21)
    }

    /// `amd_iommu_gpt_level`: 5 only with LA57 and GATS = 5 levels.
    pub fn gpt_level(&self) -> u32 {
        if self.la57 && self.field(efr::GATS_SHIFT, 2) == 1 {
            PAGE_MODE_5_LEVEL
        } else {
            PAGE_MODE_4_LEVEL
        }
    }

    /// `amd_iommu_v2_pgtbl_supported`: GIoSup and GTSup.
    pub fn v2_supported(&self) -> bool {
        self.has(efr::GIOSUP) && self.has(efr::GT)
    }

    /// `amd_iommu_gt_ppr_supported`: v2 tables, PPR and enhanced PPR handling.
    pub fn gt_ppr_supported(&self) -> bool {
        self.v2_supported() && self.has(efr::PPR) && self.has(efr::EPHSUP)
    }

    /// `amd_iommu_pasid_supported` (SNP off): guest tables as deep as the CPU's, and PPR.
    pub fn pasid_supported(&self) -> bool {
        (!self.la57 || self.gpt_level() == PAGE_MODE_5_LEVEL) && self.gt_ppr_supported()
    }

    /// PASID width of the unit: `max_pasids = 2^(PASMax + 1) - 1`.
    pub fn pasid_bits(&self) -> u8 {
        if self.has(efr::GT) {
            (self.field(efr::PASMAX_SHIFT, 5) + 1) as u8
        } else {
            0
        }
    }

    /// `amd_iommu_hd_support`: HDSup, and host translation usable.
    pub fn hd_support(&self) -> bool {
        !self.hatdis() && self.has(efr::HDSUP)
    }

    /// `is_nest_parent_supported`: GTSup, GIoSup and GCR3TRPMode.
    pub fn nest_parent_supported(&self) -> bool {
        self.has(efr::GT) && self.has(efr::GIOSUP) && self.has2(efr2::GCR3TRPMODE)
    }

    /// `amd_iommu_ht_range_ignore`.
    pub fn ht_range_ignore(&self) -> bool {
        self.has2(efr2::HT_RANGE_IGNORE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_values_follow_the_kernel() {
        let c = AmdConfig::default();
        assert_eq!(c.hpt_vasize(), 57);
        assert_eq!(c.gpt_level(), 4);
        assert_eq!(c.pasid_bits(), 16);
        assert!(c.pasid_supported() && c.hd_support() && c.nest_parent_supported());
        let mut six = c;
        six.efr = (c.efr & !(3 << efr::HATS_SHIFT)) | (2 << efr::HATS_SHIFT);
        assert_eq!(six.hpt_vasize(), 64);
        six.ivinfo_vasize = 48;
        assert_eq!(six.hpt_vasize(), 48);
        let mut off = c;
        off.efr |= 3 << efr::HATS_SHIFT;
        assert!(off.hatdis() && !off.hd_support());
        // LA57 without 5-level guest tables: no PASIDs.
        let mut la57 = c;
        la57.la57 = true;
        assert!(!la57.pasid_supported());
        la57.efr |= 1 << efr::GATS_SHIFT;
        assert_eq!(la57.gpt_level(), 5);
        assert!(la57.pasid_supported());
        let mut no_trp = c;
        no_trp.efr2 = 0;
        assert!(!no_trp.nest_parent_supported());
    }
}
