//! SMMUv3 identification registers (Arm IHI 0070, §6.3.1 SMMU_IDR0 to §6.3.6 SMMU_IDR5,
//! §6.3.7 SMMU_IIDR, §6.3.8 SMMU_AIDR) and the features the kernel reads from them
//! (`arm_smmu_device_hw_probe`, `arm_smmu_get_httu`, `arm_smmu_device_iidr_probe`).

/// SMMU_IDR0 fields (§6.3.1).
pub mod idr0 {
    /// ST_LEVEL, bits 28:27: 0b01 is a 2-level stream table.
    pub const ST_LVL_SHIFT: u32 = 27;
    /// STALL_MODEL, bits 25:24: 0b00 stall and terminate, 0b01 terminate only, 0b10 stall forced.
    pub const STALL_MODEL_SHIFT: u32 = 24;
    /// TTENDIAN, bits 22:21: 0b00 mixed, 0b10 little-endian, 0b11 big-endian.
    pub const TTENDIAN_SHIFT: u32 = 21;
    /// CD2L, bit 19: 2-level context descriptor tables.
    pub const CD2L: u32 = 1 << 19;
    /// VMID16, bit 18: 16-bit VMIDs.
    pub const VMID16: u32 = 1 << 18;
    /// PRI, bit 16: page request interface.
    pub const PRI: u32 = 1 << 16;
    /// MSI, bit 13: message-signalled interrupts.
    pub const MSI: u32 = 1 << 13;
    /// ASID16, bit 12: 16-bit ASIDs.
    pub const ASID16: u32 = 1 << 12;
    /// ATS, bit 10: PCIe ATS.
    pub const ATS: u32 = 1 << 10;
    /// HTTU, bits 7:6: 1 access flag, 2 access and dirty, 3 also HAFT.
    pub const HTTU_SHIFT: u32 = 6;
    /// COHACC, bit 4: coherent table walks and queue accesses.
    pub const COHACC: u32 = 1 << 4;
    /// TTF, bits 3:2: translation table formats; bit 1 of the field is AArch64.
    pub const TTF_SHIFT: u32 = 2;
    /// S1P, bit 1: stage 1 translation.
    pub const S1P: u32 = 1 << 1;
    /// S2P, bit 0: stage 2 translation.
    pub const S2P: u32 = 1 << 0;
}

/// SMMU_IDR1 fields (§6.3.2).
pub mod idr1 {
    /// CMDQS, bits 25:21: log2 of the command queue's entries.
    pub const CMDQS_SHIFT: u32 = 21;
    /// EVENTQS, bits 20:16: log2 of the event queue's entries.
    pub const EVTQS_SHIFT: u32 = 16;
    /// SSIDSIZE, bits 10:6: substream ID bits.
    pub const SSIDSIZE_SHIFT: u32 = 6;
    /// SIDSIZE, bits 5:0: stream ID bits.
    pub const SIDSIZE_SHIFT: u32 = 0;
}

/// SMMU_IDR3 fields (§6.3.4).
pub mod idr3 {
    /// FWB, bit 8: stage 2 forced write-back.
    pub const FWB: u32 = 1 << 8;
    /// RIL, bit 10: range invalidation.
    pub const RIL: u32 = 1 << 10;
}

/// SMMU_IDR5 fields (§6.3.6).
pub mod idr5 {
    /// DS, bit 7: 52-bit addresses with 4K and 16K granules.
    pub const DS: u32 = 1 << 7;
    /// GRAN64K, bit 6.
    pub const GRAN64K: u32 = 1 << 6;
    /// GRAN16K, bit 5.
    pub const GRAN16K: u32 = 1 << 5;
    /// GRAN4K, bit 4.
    pub const GRAN4K: u32 = 1 << 4;
    /// VAX, bits 11:10: 0b01 is 52-bit virtual addresses.
    pub const VAX_SHIFT: u32 = 10;
    /// OAS, bits 2:0: output address size (0b101 is 48 bits).
    pub const OAS_SHIFT: u32 = 0;
}

/// `IIDR_IMPLEMENTER_ARM`.
const IMPLEMENTER_ARM: u32 = 0x43b;
/// `IIDR_PRODUCTID_ARM_MMU_600`.
const PRODUCT_MMU_600: u32 = 0x483;
/// `IIDR_PRODUCTID_ARM_MMU_700`.
const PRODUCT_MMU_700: u32 = 0x487;

const fn field(reg: u32, shift: u32, bits: u32) -> u32 {
    (reg >> shift) & ((1 << bits) - 1)
}

/// The ID registers of one SMMU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmmuConfig {
    /// SMMU_IDR0..SMMU_IDR5.
    pub idr: [u32; 6],
    /// SMMU_IIDR.
    pub iidr: u32,
    /// SMMU_AIDR.
    pub aidr: u32,
}

impl Default for SmmuConfig {
    /// An SMMUv3.2 with both stages (so nesting), AArch64 tables, little-endian walks,
    /// coherent access, hardware access and dirty flag updates, 2-level stream and CD
    /// tables, 16-bit ASIDs and VMIDs, 20 SSID bits, 16 SID bits, range invalidation, no ATS
    /// and no PRI, 4K/16K/64K granules, 48-bit input and output addresses.
    fn default() -> Self {
        let idr0 = (1 << idr0::ST_LVL_SHIFT)
            | (1 << idr0::STALL_MODEL_SHIFT)
            | (2 << idr0::TTENDIAN_SHIFT)
            | idr0::CD2L
            | idr0::VMID16
            | idr0::MSI
            | idr0::ASID16
            | (2 << idr0::HTTU_SHIFT)
            | idr0::COHACC
            | (2 << idr0::TTF_SHIFT)
            | idr0::S1P
            | idr0::S2P;
        let idr1 = (19 << idr1::CMDQS_SHIFT)
            | (19 << idr1::EVTQS_SHIFT)
            | (20 << idr1::SSIDSIZE_SHIFT)
            | (16 << idr1::SIDSIZE_SHIFT);
        let idr3 = idr3::RIL;
        let idr5 = idr5::GRAN64K | idr5::GRAN16K | idr5::GRAN4K | (5 << idr5::OAS_SHIFT);
        SmmuConfig {
            idr: [idr0, idr1, 0, idr3, 0, idr5],
            // Arm as implementer, product 0: no product errata apply.
            iidr: IMPLEMENTER_ARM,
            // SMMUv3.2.
            aidr: 0x02,
        }
    }
}

impl SmmuConfig {
    fn idr0(&self, shift: u32, bits: u32) -> u32 {
        field(self.idr[0], shift, bits)
    }

    /// `ARM_SMMU_FEAT_TRANS_S1`.
    pub fn s1p(&self) -> bool {
        self.idr[0] & idr0::S1P != 0
    }
    /// `ARM_SMMU_FEAT_TRANS_S2`.
    pub fn s2p(&self) -> bool {
        self.idr[0] & idr0::S2P != 0
    }
    /// `ARM_SMMU_FEAT_NESTING`: both stages, unless an IIDR erratum removes it (MMU-600
    /// before r2, MMU-700 before r1p1).
    pub fn nesting(&self) -> bool {
        if !(self.s1p() && self.s2p()) {
            return false;
        }
        let implementer = field(self.iidr, 0, 12);
        let product = field(self.iidr, 20, 12);
        let variant = field(self.iidr, 16, 4);
        let revision = field(self.iidr, 12, 4);
        !(implementer == IMPLEMENTER_ARM
            && ((product == PRODUCT_MMU_600 && variant < 2)
                || (product == PRODUCT_MMU_700 && (variant < 1 || revision < 1))))
    }
    /// `ARM_SMMU_FEAT_COHERENCY` (firmware's view, which here is IDR0.COHACC).
    pub fn coherent(&self) -> bool {
        self.idr[0] & idr0::COHACC != 0
    }
    /// `ARM_SMMU_FEAT_HD`: HTTU with dirty state.
    pub fn hd(&self) -> bool {
        self.idr0(idr0::HTTU_SHIFT, 2) >= 2
    }
    /// `arm_smmu_dbm_capable`: HD on a coherent SMMU.
    pub fn dbm_capable(&self) -> bool {
        self.hd() && self.coherent()
    }
    /// `ARM_SMMU_FEAT_ATS`.
    pub fn ats(&self) -> bool {
        self.idr[0] & idr0::ATS != 0
    }
    /// `ARM_SMMU_FEAT_2_LVL_CDTAB`.
    pub fn cd2l(&self) -> bool {
        self.idr[0] & idr0::CD2L != 0
    }
    /// Little-endian table walks are supported (`ARM_SMMU_FEAT_TT_LE`).
    pub fn tt_le(&self) -> bool {
        matches!(self.idr0(idr0::TTENDIAN_SHIFT, 2), 0 | 2)
    }
    /// `smmu->asid_bits`.
    pub fn asid_bits(&self) -> u32 {
        if self.idr[0] & idr0::ASID16 != 0 {
            16
        } else {
            8
        }
    }
    /// `smmu->vmid_bits`.
    pub fn vmid_bits(&self) -> u32 {
        if self.idr[0] & idr0::VMID16 != 0 {
            16
        } else {
            8
        }
    }
    /// `smmu->ssid_bits` (IDR1.SSIDSIZE).
    pub fn ssid_bits(&self) -> u32 {
        field(self.idr[1], idr1::SSIDSIZE_SHIFT, 5)
    }
    /// `smmu->sid_bits` (IDR1.SIDSIZE).
    pub fn sid_bits(&self) -> u32 {
        field(self.idr[1], idr1::SIDSIZE_SHIFT, 6)
    }
    /// `ARM_SMMU_FEAT_RANGE_INV`.
    pub fn range_inv(&self) -> bool {
        self.idr[3] & idr3::RIL != 0
    }
    /// `ARM_SMMU_FEAT_S2FWB`.
    pub fn s2fwb(&self) -> bool {
        self.idr[3] & idr3::FWB != 0
    }
    /// `ARM_SMMU_FEAT_DS`.
    pub fn ds(&self) -> bool {
        self.idr[5] & idr5::DS != 0
    }
    /// `ARM_SMMU_FEAT_VAX`.
    pub fn vax(&self) -> bool {
        field(self.idr[5], idr5::VAX_SHIFT, 2) == 1
    }
    /// Whether a translation granule of `1 << lg2` bytes is supported (IDR5.GRAN*).
    pub fn granule(&self, lg2: u32) -> bool {
        let bit = match lg2 {
            12 => idr5::GRAN4K,
            14 => idr5::GRAN16K,
            16 => idr5::GRAN64K,
            _ => return false,
        };
        self.idr[5] & bit != 0
    }
    /// `smmu->oas`: IDR5.OAS decoded, unknown encodings read as 48.
    pub fn oas(&self) -> u32 {
        match field(self.idr[5], idr5::OAS_SHIFT, 3) {
            0 => 32,
            1 => 36,
            2 => 40,
            3 => 42,
            4 => 44,
            6 => 52,
            _ => 48,
        }
    }
    /// `smmu->pgsize_bitmap`: the page and block sizes of each supported granule.
    pub fn pgsize_bitmap(&self) -> u64 {
        let mut b = 0u64;
        if self.granule(16) {
            b |= (1 << 16) | (1 << 29);
        }
        if self.granule(14) {
            b |= (1 << 14) | (1 << 25);
        }
        if self.granule(12) {
            b |= (1 << 12) | (1 << 21) | (1 << 30);
        }
        b
    }
    /// The granule io-pgtable picks for a domain (`arm_lpae_restrict_pgsizes` with 4 KiB
    /// CPU pages): 4K if supported, else the smallest larger one. `None` without granules.
    pub fn domain_granule(&self) -> Option<u32> {
        [12, 14, 16].into_iter().find(|&g| self.granule(g))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_smmu_reads_as_the_kernel_reads_it() {
        let c = SmmuConfig::default();
        assert!(c.s1p() && c.s2p() && c.nesting() && c.coherent() && c.dbm_capable());
        assert!(c.cd2l() && c.tt_le() && c.range_inv() && !c.ats() && !c.s2fwb());
        assert_eq!((c.asid_bits(), c.vmid_bits()), (16, 16));
        assert_eq!((c.ssid_bits(), c.sid_bits(), c.oas()), (20, 16, 48));
        assert_eq!(c.domain_granule(), Some(12));
        assert_eq!(
            c.pgsize_bitmap(),
            (1 << 12) | (1 << 14) | (1 << 16) | (1 << 21) | (1 << 25) | (1 << 29) | (1 << 30)
        );
    }

    #[test]
    fn errata_and_missing_stages_take_nesting_away() {
        let mut c = SmmuConfig {
            iidr: IMPLEMENTER_ARM | (PRODUCT_MMU_700 << 20) | (1 << 16),
            ..SmmuConfig::default()
        };
        assert!(!c.nesting(), "MMU-700 r1p0");
        c.iidr |= 1 << 12;
        assert!(c.nesting(), "MMU-700 r1p1");
        c.iidr = IMPLEMENTER_ARM | (PRODUCT_MMU_600 << 20) | (1 << 16);
        assert!(!c.nesting(), "MMU-600 r1");
        let mut c = SmmuConfig::default();
        c.idr[0] &= !idr0::S1P;
        assert!(!c.nesting());
        c.idr[5] &= !idr5::GRAN4K;
        assert_eq!(c.domain_granule(), Some(14));
        c.idr[5] &= !(7 << idr5::OAS_SHIFT);
        c.idr[5] |= 7;
        assert_eq!(c.oas(), 48, "reserved OAS reads as 48 bits");
        c.idr[0] &= !(3 << idr0::HTTU_SHIFT);
        assert!(!c.dbm_capable());
    }
}
