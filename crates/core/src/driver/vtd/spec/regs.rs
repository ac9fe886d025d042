//! VT-d capability registers: the fields of CAP_REG (VT-d spec §11.4.2) and ECAP_REG
//! (§11.4.3) the driver decides on, with the kernel's readings of them
//! (`drivers/iommu/intel/iommu.h`: `cap_*`, `ecap_*`, `sm_supported`, `pasid_supported`,
//! `ssads_supported`, `nested_supported`), and the unit's configuration.

/// CAP_REG fields (§11.4.2).
pub mod cap {
    /// ND, bits 2:0: number of domains supported, `2^(4 + 2 * ND)`.
    pub const ND_SHIFT: u32 = 0;
    /// RWBF, bit 4: required write-buffer flushing.
    pub const RWBF: u64 = 1 << 4;
    /// CM, bit 7: caching mode (not-present entries may be cached).
    pub const CM: u64 = 1 << 7;
    /// SAGAW, bits 12:8: supported second-stage table depths; bit 1 is 3-level (39-bit),
    /// bit 2 4-level (48-bit), bit 3 5-level (57-bit).
    pub const SAGAW_SHIFT: u32 = 8;
    /// MGAW, bits 21:16: maximum guest address width minus one.
    pub const MGAW_SHIFT: u32 = 16;
    /// ZLR, bit 22: zero-length reads.
    pub const ZLR: u64 = 1 << 22;
    /// FRO, bits 33:24: fault recording register offset, in 16-byte units.
    pub const FRO_SHIFT: u32 = 24;
    /// SSLPS (formerly SLLPS), bits 37:34: second-stage large pages; bit 0 2 MiB, bit 1 1 GiB.
    pub const SSLPS_SHIFT: u32 = 34;
    /// PSI, bit 39: page-selective invalidation.
    pub const PSI: u64 = 1 << 39;
    /// NFR, bits 47:40: number of fault recording registers minus one.
    pub const NFR_SHIFT: u32 = 40;
    /// MAMV, bits 53:48: maximum address mask value of page-selective invalidations.
    pub const MAMV_SHIFT: u32 = 48;
    /// DWD, bit 54: write draining.
    pub const DWD: u64 = 1 << 54;
    /// DRD, bit 55: read draining.
    pub const DRD: u64 = 1 << 55;
    /// FS1GP (formerly FL1GP), bit 56: first-stage 1 GiB pages.
    pub const FS1GP: u64 = 1 << 56;
    /// PI, bit 59: posted interrupts.
    pub const PI: u64 = 1 << 59;
    /// FS5LP (formerly FL5LP), bit 60: first-stage 5-level paging.
    pub const FS5LP: u64 = 1 << 60;
}

/// ECAP_REG fields (§11.4.3).
pub mod ecap {
    /// C, bit 0: page-walk coherency.
    pub const C: u64 = 1 << 0;
    /// QI, bit 1: queued invalidation.
    pub const QI: u64 = 1 << 1;
    /// DT, bit 2: device TLBs (ATS).
    pub const DT: u64 = 1 << 2;
    /// IR, bit 3: interrupt remapping.
    pub const IR: u64 = 1 << 3;
    /// EIM, bit 4: extended interrupt mode.
    pub const EIM: u64 = 1 << 4;
    /// PT, bit 6: pass-through.
    pub const PT: u64 = 1 << 6;
    /// SC, bit 7: snoop control.
    pub const SC: u64 = 1 << 7;
    /// IRO, bits 17:8: IOTLB register offset, in 16-byte units.
    pub const IRO_SHIFT: u32 = 8;
    /// MHMV, bits 23:20: maximum handle mask value.
    pub const MHMV_SHIFT: u32 = 20;
    /// NEST, bit 26: nested translation.
    pub const NEST: u64 = 1 << 26;
    /// PRS, bit 29: page requests.
    pub const PRS: u64 = 1 << 29;
    /// SRS, bit 31: supervisor requests.
    pub const SRS: u64 = 1 << 31;
    /// EAFS, bit 34: extended accessed flag.
    pub const EAFS: u64 = 1 << 34;
    /// PSS, bits 39:35: PASID size supported minus one.
    pub const PSS_SHIFT: u32 = 35;
    /// PASID, bit 40: process address space IDs.
    pub const PASID: u64 = 1 << 40;
    /// SMTS, bit 43: scalable-mode translation.
    pub const SMTS: u64 = 1 << 43;
    /// SSADS (formerly SLADS), bit 45: second-stage accessed/dirty.
    pub const SSADS: u64 = 1 << 45;
    /// SSTS (formerly SLTS), bit 46: second-stage translation.
    pub const SSTS: u64 = 1 << 46;
    /// FSTS (formerly FLTS), bit 47: first-stage translation.
    pub const FSTS: u64 = 1 << 47;
    /// SMPWCS (SMPWC), bit 48: scalable-mode page-walk coherency.
    pub const SMPWC: u64 = 1 << 48;
}

/// The registers of one unit, and what the driver reads from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VtdConfig {
    /// CAP_REG.
    pub cap: u64,
    /// ECAP_REG.
    pub ecap: u64,
}

impl Default for VtdConfig {
    /// A scalable-mode unit of a current server part: 57-bit MGAW with 4- and 5-level second
    /// stage, 2 MiB and 1 GiB pages in both stages, first-stage 5-level paging, nesting,
    /// 20-bit PASIDs, page requests, second-stage accessed/dirty, snoop control, 8 fault
    /// recording registers, 2^16 domains.
    fn default() -> Self {
        let cap = (6 << cap::ND_SHIFT)
            | (0b01100 << cap::SAGAW_SHIFT)
            | (56 << cap::MGAW_SHIFT)
            | cap::ZLR
            | (0x22 << cap::FRO_SHIFT)
            | (0b11 << cap::SSLPS_SHIFT)
            | cap::PSI
            | (7 << cap::NFR_SHIFT)
            | (18 << cap::MAMV_SHIFT)
            | cap::DWD
            | cap::DRD
            | cap::FS1GP
            | cap::PI
            | cap::FS5LP;
        let ecap = ecap::C
            | ecap::QI
            | ecap::DT
            | ecap::IR
            | ecap::EIM
            | ecap::PT
            | ecap::SC
            | (0x50 << ecap::IRO_SHIFT)
            | (0xf << ecap::MHMV_SHIFT)
            | ecap::NEST
            | ecap::PRS
            | ecap::SRS
            | (19 << ecap::PSS_SHIFT)
            | ecap::PASID
            | ecap::SMTS
            | ecap::SSADS
            | ecap::SSTS
            | ecap::FSTS
            | ecap::SMPWC;
        VtdConfig { cap, ecap }
    }
}

impl VtdConfig {
    fn has(&self, ecap_bits: u64) -> bool {
        self.ecap & ecap_bits == ecap_bits
    }

    /// `cap_mgaw`.
    pub fn mgaw(&self) -> u32 {
        (((self.cap >> cap::MGAW_SHIFT) & 0x3f) + 1) as u32
    }
    /// `cap_sagaw`.
    pub fn sagaw(&self) -> u32 {
        ((self.cap >> cap::SAGAW_SHIFT) & 0x1f) as u32
    }
    /// `cap_super_page_val`.
    pub fn sslps(&self) -> u32 {
        ((self.cap >> cap::SSLPS_SHIFT) & 0xf) as u32
    }
    /// `cap_fl1gp_support`.
    pub fn fs1gp(&self) -> bool {
        self.cap & cap::FS1GP != 0
    }
    /// `cap_fl5lp_support`.
    pub fn fs5lp(&self) -> bool {
        self.cap & cap::FS5LP != 0
    }
    /// `cap_num_fault_regs`.
    pub fn fault_regs(&self) -> usize {
        (((self.cap >> cap::NFR_SHIFT) & 0xff) + 1) as usize
    }
    /// `cap_rwbf` or `cap_caching_mode`: maps need an IOTLB sync this model does not do.
    pub fn needs_sync_on_map(&self) -> bool {
        self.cap & (cap::RWBF | cap::CM) != 0
    }
    /// `sm_supported`.
    pub fn sm(&self) -> bool {
        self.has(ecap::SMTS)
    }
    /// `pasid_supported`.
    pub fn pasid(&self) -> bool {
        self.sm() && self.has(ecap::PASID)
    }
    /// `ssads_supported`.
    pub fn ssads(&self) -> bool {
        self.sm() && self.has(ecap::SSADS | ecap::SMPWC)
    }
    /// `nested_supported`.
    pub fn nested(&self) -> bool {
        self.sm() && self.has(ecap::NEST)
    }
    /// `ecap_flts`.
    pub fn fsts(&self) -> bool {
        self.has(ecap::FSTS)
    }
    /// `ecap_slts`.
    pub fn ssts(&self) -> bool {
        self.has(ecap::SSTS)
    }
    /// `ecap_smpwc`.
    pub fn smpwc(&self) -> bool {
        self.has(ecap::SMPWC)
    }
    /// `ecap_sc_support`.
    pub fn snoop_control(&self) -> bool {
        self.has(ecap::SC)
    }
    /// `ecap_srs`.
    pub fn srs(&self) -> bool {
        self.has(ecap::SRS)
    }
    /// `ecap_eafs`.
    pub fn eafs(&self) -> bool {
        self.has(ecap::EAFS)
    }
    /// `ecap_prs`.
    pub fn prs(&self) -> bool {
        self.has(ecap::PRS)
    }
    /// PASID width in bits (`ecap_pss + 1`), 0 without PASID support.
    pub fn pasid_bits(&self) -> u8 {
        if self.pasid() {
            (((self.ecap >> ecap::PSS_SHIFT) & 0x1f) + 1) as u8
        } else {
            0
        }
    }

    /// `compute_vasz_lg2_fs`: (levels, IOVA bits) of a first-stage table. §3.6: addresses
    /// stay below the lower canonical half of the paging mode.
    pub fn first_stage_geometry(&self) -> (u32, u32) {
        let mgaw = self.mgaw();
        if mgaw > 48 && self.fs5lp() {
            (5, mgaw.min(57))
        } else {
            (4, mgaw.min(48))
        }
    }

    /// `compute_vasz_lg2_ss`: (levels, IOVA bits) of a second-stage table, `None` if SAGAW
    /// and MGAW leave no usable depth.
    pub fn second_stage_geometry(&self) -> Option<(u32, u32)> {
        let (sagaw, mgaw) = (self.sagaw(), self.mgaw());
        let ffs = |v: u32| if v == 0 { 0 } else { v.trailing_zeros() + 1 };
        if mgaw > 48 && sagaw >= 1 << 3 {
            Some((5, mgaw.min(57)))
        } else if mgaw > 39 && sagaw >= 1 << 2 {
            Some((4 + ffs(sagaw >> 3), mgaw.min(48)))
        } else if mgaw > 30 && sagaw >= 1 << 1 {
            Some((3 + ffs(sagaw >> 2), mgaw.min(39)))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_unit_reads_as_the_kernel_reads_it() {
        let c = VtdConfig::default();
        assert_eq!(c.mgaw(), 57);
        assert_eq!(c.sagaw(), 0b1100);
        assert_eq!(c.fault_regs(), 8);
        assert_eq!(c.pasid_bits(), 20);
        assert!(c.sm() && c.pasid() && c.nested() && c.ssads() && c.prs());
        assert!(c.fsts() && c.ssts() && c.fs5lp() && c.fs1gp());
        assert_eq!(c.first_stage_geometry(), (5, 57));
        assert_eq!(c.second_stage_geometry(), Some((5, 57)));
        assert!(!c.needs_sync_on_map());
    }

    #[test]
    fn geometry_follows_mgaw_and_sagaw() {
        let mut c = VtdConfig::default();
        c.cap &= !(0x3f << cap::MGAW_SHIFT);
        c.cap |= 47 << cap::MGAW_SHIFT;
        c.cap &= !cap::FS5LP;
        assert_eq!(c.first_stage_geometry(), (4, 48));
        // A 5-level walker limited to 48 bits.
        assert_eq!(c.second_stage_geometry(), Some((5, 48)));
        c.cap &= !(0x1f << cap::SAGAW_SHIFT);
        assert_eq!(c.second_stage_geometry(), None);
        c.ecap &= !ecap::SMTS;
        assert!(!c.pasid() && !c.nested() && !c.ssads());
        assert_eq!(c.pasid_bits(), 0);
    }
}
