//! ioctl(IOMMU_GET_HW_INFO): what the IOMMU behind a device can do (`include/uapi/linux/iommufd.h`).

crate::uapi_structs! {
    /// `struct iommu_hw_info` — ioctl(IOMMU_GET_HW_INFO).
    pub struct IommuHwInfo = "iommu_hw_info" {
        /// `sizeof(struct iommu_hw_info)`.
        pub size: u32,
        /// `IOMMU_HW_INFO_FLAG_*`.
        pub flags: u32,
        /// The device, bound to this iommufd.
        pub dev_id: u32,
        /// In: size of the buffer at `data_uptr`; out: size of the driver's data. The buffer
        /// is filled up to the smaller of the two and its tail zeroed.
        pub data_len: u32,
        /// User pointer to the buffer for the driver's `iommu_hw_info_*` data.
        pub data_uptr: u64,
        /// In with `IOMMU_HW_INFO_FLAG_INPUT_TYPE` (`in_data_type`): the type wanted; out
        /// (`out_data_type`): the `IOMMU_HW_INFO_TYPE_*` of the data returned. One C union.
        pub out_data_type: u32,
        /// Output: PASID width in bits; 0 when PASIDs are unsupported.
        pub out_max_pasid_log2: u8,
        /// Must be 0.
        pub __reserved: [u8; 3],
        /// Output: `IOMMU_HW_CAP_*`.
        pub out_capabilities: u64,
    }

    /// `struct iommu_hw_info_vtd` — Intel VT-d registers (VT-d spec §11.4.2 CAP_REG,
    /// §11.4.3 ECAP_REG).
    pub struct IommuHwInfoVtd = "iommu_hw_info_vtd" {
        /// `IOMMU_HW_INFO_VTD_*` errata flags.
        pub flags: u32,
        /// Must be 0.
        pub __reserved: u32,
        /// The Capability Register.
        pub cap_reg: u64,
        /// The Extended Capability Register.
        pub ecap_reg: u64,
    }

    /// `struct iommu_hw_info_arm_smmuv3` — Arm SMMUv3 ID registers (SMMUv3 spec §6.3.1–6.3.6).
    pub struct IommuHwInfoArmSmmuv3 = "iommu_hw_info_arm_smmuv3" {
        /// `IOMMU_HW_INFO_ARM_SMMUV3_*` errata flags.
        pub flags: u32,
        /// Must be 0.
        pub __reserved: u32,
        /// SMMU_IDR0..SMMU_IDR5, with fields the kernel does not pass masked.
        pub idr: [u32; 6],
        /// SMMU_IIDR.
        pub iidr: u32,
        /// SMMU_AIDR.
        pub aidr: u32,
    }

    /// `struct iommu_hw_info_tegra241_cmdqv` — NVIDIA Tegra241 CMDQV extension.
    pub struct IommuHwInfoTegra241Cmdqv = "iommu_hw_info_tegra241_cmdqv" {
        /// Must be 0.
        pub flags: u32,
        /// CMDQV_PARAM hardware version.
        pub version: u8,
        /// log2 of the virtual command queues per VINTF.
        pub log2vcmdqs: u8,
        /// log2 of the SID-replacement slots per VINTF.
        pub log2vsids: u8,
        /// Must be 0.
        pub __reserved: u8,
    }

    /// `struct iommu_hw_info_amd` — AMD IOMMU extended features (AMD IOMMU spec §3.4.12
    /// MMIO offset 0030h, and EFR2 at 01A0h).
    pub struct IommuHwInfoAmd = "iommu_hw_info_amd" {
        /// Extended Feature Register.
        pub efr: u64,
        /// Extended Feature 2 Register.
        pub efr2: u64,
    }
}

crate::uapi_consts! {
    /// `iommu_hw_info.flags`: `in_data_type` selects the data type to report.
    pub const IOMMU_HW_INFO_FLAG_INPUT_TYPE: u32 = 1 << 0;
    /// No driver data.
    pub const IOMMU_HW_INFO_TYPE_NONE: u32 = 0;
    /// Input: whatever type the driver reports by default.
    pub const IOMMU_HW_INFO_TYPE_DEFAULT: u32 = 0;
    /// [`IommuHwInfoVtd`].
    pub const IOMMU_HW_INFO_TYPE_INTEL_VTD: u32 = 1;
    /// [`IommuHwInfoArmSmmuv3`].
    pub const IOMMU_HW_INFO_TYPE_ARM_SMMUV3: u32 = 2;
    /// [`IommuHwInfoTegra241Cmdqv`].
    pub const IOMMU_HW_INFO_TYPE_TEGRA241_CMDQV: u32 = 3;
    /// [`IommuHwInfoAmd`].
    pub const IOMMU_HW_INFO_TYPE_AMD: u32 = 4;
    /// `out_capabilities`: dirty tracking is supported.
    pub const IOMMU_HW_CAP_DIRTY_TRACKING: u64 = 1 << 0;
    /// `out_capabilities`: the PCI PASID capability has Execute Permission Supported.
    pub const IOMMU_HW_CAP_PCI_PASID_EXEC: u64 = 1 << 1;
    /// `out_capabilities`: the PCI PASID capability has Privileged Mode Supported.
    pub const IOMMU_HW_CAP_PCI_PASID_PRIV: u64 = 1 << 2;
    /// `out_capabilities`: the device must not use ATS.
    pub const IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED: u64 = 1 << 3;
    /// `iommu_hw_info_vtd.flags`: the SPR17 erratum 772415 applies (no dirty tracking
    /// on second-stage nest parents).
    pub const IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17: u32 = 1 << 0;
    /// `iommu_hw_info_arm_smmuv3.flags`: TLBI and CFGI commands must be issued twice.
    pub const IOMMU_HW_INFO_ARM_SMMUV3_ERRATA_REPEAT_TLBI_CFGI: u32 = 1 << 0;
}
