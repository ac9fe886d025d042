//! Arm SMMUv3 driver data: nested STEs, CMDQ invalidation commands and event records
//! (`include/uapi/linux/iommufd.h`; SMMUv3 spec §5.2 STE, §4 commands, §7.3 events).
//! Every word is little-endian in the ABI.

crate::uapi_structs! {
    /// `struct iommu_hwpt_arm_smmuv3` — `IOMMU_HWPT_DATA_ARM_SMMUV3`: the first two double
    /// words of the guest's STE. Allowed: word 0 V, Cfg, S1Fmt, S1ContextPtr, S1CDMax;
    /// word 1 EATS, S1DSS, S1CIR, S1COR, S1CSH, S1STALLD. Anything else is `EIO`.
    pub struct IommuHwptArmSmmuv3 = "iommu_hwpt_arm_smmuv3" {
        /// STE double words 0 and 1.
        pub ste: [u64; 2],
    }

    /// `struct iommu_viommu_arm_smmuv3_invalidate` —
    /// `IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3`: one 128-bit CMDQ command (TLBI_NSNH_ALL,
    /// TLBI_NH_VA/VAA/ALL/ASID, ATC_INV, CFGI_CD/CD_ALL); others are `EIO`.
    pub struct IommuViommuArmSmmuv3Invalidate = "iommu_viommu_arm_smmuv3_invalidate" {
        /// The command's two double words.
        pub cmd: [u64; 2],
    }

    /// `struct iommu_vevent_arm_smmuv3` — `IOMMU_VEVENTQ_TYPE_ARM_SMMUV3`: a 256-bit event
    /// record (C_BAD_STE, F_STREAM_DISABLED, C_BAD_SUBSTREAMID, C_BAD_CD, F_TRANSLATION,
    /// F_ADDR_SIZE, F_ACCESS, F_PERMISSION) whose StreamID is the virtual ID.
    pub struct IommuVeventArmSmmuv3 = "iommu_vevent_arm_smmuv3" {
        /// The record's four double words.
        pub evt: [u64; 4],
    }
}
