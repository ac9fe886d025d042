//! Decoders of the vendor data of `IOMMU_GET_HW_INFO`: the register fields a VMM needs to
//! build a virtual IOMMU of the same kind.

use uiommu_uapi::iommufd::*;

const fn bits(v: u64, lo: u32, hi: u32) -> u64 {
    (v >> lo) & ((1u64 << (hi - lo + 1)) - 1)
}

/// `struct iommu_hw_info_vtd`, with the CAP_REG (VT-d spec §11.4.2) and ECAP_REG (§11.4.3)
/// fields a VMM needs to build a virtual VT-d.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VtdInfo(pub IommuHwInfoVtd);

impl VtdInfo {
    /// `flags` has `IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17`: the erratum of Sapphire Rapids
    /// that makes a VMM flush after making a read-only entry writable.
    pub fn errata_772415_spr17(&self) -> bool {
        self.0.flags & IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17 != 0
    }
    /// CAP_REG.ND (2:0): number of domain IDs, `2^(4 + 2*ND)`.
    pub fn domain_ids(&self) -> u64 {
        1 << (4 + 2 * bits(self.0.cap_reg, 0, 2))
    }
    /// CAP_REG.CM (7): caching mode; not-present and invalid entries may be cached, so
    /// software invalidates after making entries present (what a shadowing vIOMMU sets).
    pub fn caching_mode(&self) -> bool {
        bits(self.0.cap_reg, 7, 7) != 0
    }
    /// CAP_REG.SAGAW (12:8): supported second-stage page-table levels (bit 1: 3-level,
    /// bit 2: 4-level, bit 3: 5-level).
    pub fn sagaw(&self) -> u8 {
        bits(self.0.cap_reg, 8, 12) as u8
    }
    /// CAP_REG.MGAW (21:16) + 1: maximum guest address width in bits.
    pub fn mgaw(&self) -> u8 {
        bits(self.0.cap_reg, 16, 21) as u8 + 1
    }
    /// CAP_REG.SSLPS (37:34): second-stage large pages (bit 0: 2 MiB, bit 1: 1 GiB).
    pub fn second_stage_large_pages(&self) -> u8 {
        bits(self.0.cap_reg, 34, 37) as u8
    }
    /// CAP_REG.PSI (39): page-selective IOTLB invalidation.
    pub fn page_selective_invalidation(&self) -> bool {
        bits(self.0.cap_reg, 39, 39) != 0
    }
    /// CAP_REG.NFR (47:40) + 1: number of fault recording registers.
    pub fn fault_records(&self) -> u16 {
        bits(self.0.cap_reg, 40, 47) as u16 + 1
    }
    /// CAP_REG.FS1GP (56): first-stage 1 GiB pages.
    pub fn first_stage_1g(&self) -> bool {
        bits(self.0.cap_reg, 56, 56) != 0
    }
    /// CAP_REG.FS5LP (60): first-stage 5-level paging.
    pub fn first_stage_5level(&self) -> bool {
        bits(self.0.cap_reg, 60, 60) != 0
    }
    /// ECAP_REG.C (0): page-walk coherency.
    pub fn coherent(&self) -> bool {
        bits(self.0.ecap_reg, 0, 0) != 0
    }
    /// ECAP_REG.QI (1): queued invalidation.
    pub fn queued_invalidation(&self) -> bool {
        bits(self.0.ecap_reg, 1, 1) != 0
    }
    /// ECAP_REG.DT (2): device TLBs (ATS).
    pub fn device_tlb(&self) -> bool {
        bits(self.0.ecap_reg, 2, 2) != 0
    }
    /// ECAP_REG.IR (3): interrupt remapping.
    pub fn interrupt_remapping(&self) -> bool {
        bits(self.0.ecap_reg, 3, 3) != 0
    }
    /// ECAP_REG.PT (6): pass-through.
    pub fn pass_through(&self) -> bool {
        bits(self.0.ecap_reg, 6, 6) != 0
    }
    /// ECAP_REG.SC (7): snoop control.
    pub fn snoop_control(&self) -> bool {
        bits(self.0.ecap_reg, 7, 7) != 0
    }
    /// ECAP_REG.NEST (26): nested translation.
    pub fn nest(&self) -> bool {
        bits(self.0.ecap_reg, 26, 26) != 0
    }
    /// ECAP_REG.PRS (29): page requests.
    pub fn page_requests(&self) -> bool {
        bits(self.0.ecap_reg, 29, 29) != 0
    }
    /// ECAP_REG.SRS (31): supervisor requests.
    pub fn supervisor_requests(&self) -> bool {
        bits(self.0.ecap_reg, 31, 31) != 0
    }
    /// ECAP_REG.PSS (39:35) + 1: PASID width in bits.
    pub fn pasid_bits(&self) -> u8 {
        bits(self.0.ecap_reg, 35, 39) as u8 + 1
    }
    /// ECAP_REG.PASID (40): PASID support.
    pub fn pasid(&self) -> bool {
        bits(self.0.ecap_reg, 40, 40) != 0
    }
    /// ECAP_REG.SMTS (43): scalable mode.
    pub fn scalable_mode(&self) -> bool {
        bits(self.0.ecap_reg, 43, 43) != 0
    }
    /// ECAP_REG.SSADS (45): second-stage accessed/dirty bits (dirty tracking).
    pub fn second_stage_dirty(&self) -> bool {
        bits(self.0.ecap_reg, 45, 45) != 0
    }
    /// ECAP_REG.SSTS (46): second-stage translation.
    pub fn second_stage(&self) -> bool {
        bits(self.0.ecap_reg, 46, 46) != 0
    }
    /// ECAP_REG.FSTS (47): first-stage translation.
    pub fn first_stage(&self) -> bool {
        bits(self.0.ecap_reg, 47, 47) != 0
    }
}

/// `struct iommu_hw_info_arm_smmuv3`, with the ID register fields (SMMUv3 spec §6.3.1–6.3.6)
/// a VMM needs for a vSMMU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Smmuv3Info(pub IommuHwInfoArmSmmuv3);

impl Smmuv3Info {
    fn idr(&self, n: usize) -> u64 {
        u64::from(self.0.idr[n])
    }
    /// IDR0.S2P (0): stage 2 supported.
    pub fn stage2(&self) -> bool {
        bits(self.idr(0), 0, 0) != 0
    }
    /// IDR0.S1P (1): stage 1 supported.
    pub fn stage1(&self) -> bool {
        bits(self.idr(0), 1, 1) != 0
    }
    /// IDR0.TTF (3:2): translation table formats (1: AArch32, 2: AArch64, 3: both).
    pub fn ttf(&self) -> u8 {
        bits(self.idr(0), 2, 3) as u8
    }
    /// IDR0.COHACC (4): coherent accesses to tables and queues.
    pub fn coherent(&self) -> bool {
        bits(self.idr(0), 4, 4) != 0
    }
    /// IDR0.HTTU (7:6): hardware access/dirty flag updates (2: access and dirty).
    pub fn httu(&self) -> u8 {
        bits(self.idr(0), 6, 7) as u8
    }
    /// IDR0.ATS (10).
    pub fn ats(&self) -> bool {
        bits(self.idr(0), 10, 10) != 0
    }
    /// IDR0.ASID16 (12): 16-bit ASIDs.
    pub fn asid16(&self) -> bool {
        bits(self.idr(0), 12, 12) != 0
    }
    /// IDR0.MSI (13): MSIs for the queues.
    pub fn msi(&self) -> bool {
        bits(self.idr(0), 13, 13) != 0
    }
    /// IDR0.PRI (16): PCIe page request interface.
    pub fn pri(&self) -> bool {
        bits(self.idr(0), 16, 16) != 0
    }
    /// IDR0.VMID16 (18): 16-bit VMIDs.
    pub fn vmid16(&self) -> bool {
        bits(self.idr(0), 18, 18) != 0
    }
    /// IDR0.CD2L (19): two-level context descriptor tables.
    pub fn cd2l(&self) -> bool {
        bits(self.idr(0), 19, 19) != 0
    }
    /// IDR0.STALL_MODEL (25:24).
    pub fn stall_model(&self) -> u8 {
        bits(self.idr(0), 24, 25) as u8
    }
    /// IDR0.ST_LEVEL (28:27): stream table formats (1: two-level).
    pub fn st_level(&self) -> u8 {
        bits(self.idr(0), 27, 28) as u8
    }
    /// IDR1.SSIDSIZE (10:6): substream ID bits.
    pub fn ssid_bits(&self) -> u8 {
        bits(self.idr(1), 6, 10) as u8
    }
    /// IDR1.SIDSIZE (5:0): stream ID bits.
    pub fn sid_bits(&self) -> u8 {
        bits(self.idr(1), 0, 5) as u8
    }
    /// IDR3.FWB (8): stage 2 forced write-back.
    pub fn fwb(&self) -> bool {
        bits(self.idr(3), 8, 8) != 0
    }
    /// IDR3.RIL (10): range invalidation.
    pub fn range_invalidation(&self) -> bool {
        bits(self.idr(3), 10, 10) != 0
    }
    /// IDR5.OAS (2:0): output address size encoding (5: 48 bits, 6: 52 bits).
    pub fn oas(&self) -> u8 {
        bits(self.idr(5), 0, 2) as u8
    }
    /// IDR5.GRAN4K/16K/64K (4, 5, 6): supported translation granules, as a bit set.
    pub fn granules(&self) -> u8 {
        bits(self.idr(5), 4, 6) as u8
    }
    /// IDR5.VAX (11:10): virtual address size (0: 48 bits, 1: 52 bits).
    pub fn vax(&self) -> u8 {
        bits(self.idr(5), 10, 11) as u8
    }
    /// AIDR.ArchMajorRev (7:4) and ArchMinorRev (3:0): SMMUv3.<minor> is `(0, minor)`.
    pub fn arch_revision(&self) -> (u8, u8) {
        let aidr = u64::from(self.0.aidr);
        (bits(aidr, 4, 7) as u8, bits(aidr, 0, 3) as u8)
    }
}

/// `struct iommu_hw_info_amd`, with the Extended Feature Register fields (AMD IOMMU spec
/// §3.4.12) a VMM needs for a virtual AMD-Vi.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AmdInfo(pub IommuHwInfoAmd);

impl AmdInfo {
    /// EFR.PPRSup (1): peripheral page requests.
    pub fn ppr(&self) -> bool {
        bits(self.0.efr, 1, 1) != 0
    }
    /// EFR.XTSup (2): x2APIC.
    pub fn x2apic(&self) -> bool {
        bits(self.0.efr, 2, 2) != 0
    }
    /// EFR.NXSup (3): no-execute protection.
    pub fn no_execute(&self) -> bool {
        bits(self.0.efr, 3, 3) != 0
    }
    /// EFR.GTSup (4): guest translation (v2 tables).
    pub fn guest_translation(&self) -> bool {
        bits(self.0.efr, 4, 4) != 0
    }
    /// EFR.GASup (7): guest virtual APIC.
    pub fn guest_apic(&self) -> bool {
        bits(self.0.efr, 7, 7) != 0
    }
    /// EFR.HATS (11:10): host address translation size (0: 4 levels, 1: 5, 2: 6).
    pub fn hats(&self) -> u8 {
        bits(self.0.efr, 10, 11) as u8
    }
    /// EFR.GATS (13:12): guest address translation size (0: 4 levels, 1: 5).
    pub fn gats(&self) -> u8 {
        bits(self.0.efr, 12, 13) as u8
    }
    /// EFR.PASmax (36:32): maximum PASID width minus one.
    pub fn pasid_max(&self) -> u8 {
        bits(self.0.efr, 32, 36) as u8
    }
    /// EFR.GIoSup (48): guest I/O protection (v2 tables for DMA without PASID).
    pub fn guest_io(&self) -> bool {
        bits(self.0.efr, 48, 48) != 0
    }
    /// EFR.HASup (49): host access (accessed bit) updates.
    pub fn host_access(&self) -> bool {
        bits(self.0.efr, 49, 49) != 0
    }
    /// EFR.HDSup (52): host dirty tracking.
    pub fn host_dirty(&self) -> bool {
        bits(self.0.efr, 52, 52) != 0
    }
    /// EFR2.GCR3TRPMode (3): GCR3 table root pointers are GPAs (nested v2 guest tables).
    pub fn gcr3_trp_mode(&self) -> bool {
        bits(self.0.efr2, 3, 3) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hw_info::HwInfoData;
    use zerocopy::IntoBytes;

    #[test]
    fn decodes_vtd_fields() {
        let raw = IommuHwInfoVtd {
            flags: 0,
            __reserved: 0,
            // ND=2, SAGAW=0b0100 (4-level), MGAW=47 (48 bits), FS1GP.
            cap_reg: 2 | (0b0100 << 8) | (47 << 16) | (1 << 56),
            // NEST, PSS=19 (20 bits), PASID, SMTS, SSTS, FSTS.
            ecap_reg: (1 << 26) | (19 << 35) | (1 << 40) | (1 << 43) | (1 << 46) | (1 << 47),
        };
        let HwInfoData::IntelVtd(v) =
            HwInfoData::decode(IOMMU_HW_INFO_TYPE_INTEL_VTD, raw.as_bytes())
        else {
            panic!("not VT-d")
        };
        assert_eq!(v.domain_ids(), 256);
        assert_eq!(v.sagaw(), 4);
        assert_eq!(v.mgaw(), 48);
        assert!(v.first_stage_1g() && !v.first_stage_5level());
        assert!(v.nest() && v.pasid() && v.scalable_mode() && v.second_stage() && v.first_stage());
        assert_eq!(v.pasid_bits(), 20);
        assert!(!v.second_stage_dirty());
        assert!(!v.caching_mode() && !v.errata_772415_spr17());
        assert_eq!(v.fault_records(), 1);
    }

    #[test]
    fn decodes_smmu_amd_and_short_data() {
        let raw = IommuHwInfoArmSmmuv3 {
            idr: [
                0b11 | (2 << 2) | (1 << 12) | (1 << 27),
                (20 << 6) | 32,
                0,
                1 << 10,
                0,
                5 | (0b101 << 4),
            ],
            ..Default::default()
        };
        let HwInfoData::ArmSmmuv3(s) =
            HwInfoData::decode(IOMMU_HW_INFO_TYPE_ARM_SMMUV3, raw.as_bytes())
        else {
            panic!("not SMMUv3")
        };
        assert!(s.stage1() && s.stage2() && s.asid16() && s.range_invalidation());
        assert_eq!(
            (s.ttf(), s.st_level(), s.ssid_bits(), s.sid_bits()),
            (2, 1, 20, 32)
        );
        assert_eq!((s.oas(), s.granules()), (5, 0b101));

        let amd = IommuHwInfoAmd {
            efr: (1 << 4) | (1 << 10) | (15 << 32) | (1 << 52),
            efr2: 0,
        };
        let HwInfoData::Amd(a) = HwInfoData::decode(IOMMU_HW_INFO_TYPE_AMD, amd.as_bytes()) else {
            panic!("not AMD")
        };
        assert!(a.guest_translation() && a.host_dirty() && !a.ppr());
        assert_eq!((a.hats(), a.pasid_max()), (1, 15));

        assert_eq!(
            HwInfoData::decode(IOMMU_HW_INFO_TYPE_AMD, &[0; 8]),
            HwInfoData::Unknown
        );
        assert_eq!(HwInfoData::decode(0x1234, &[0; 64]), HwInfoData::Unknown);
    }
}
