//! AMD IOMMU driver data: the guest Device Table Entry of a nested domain
//! (`include/uapi/linux/iommufd.h`; AMD IOMMU spec §2.2.2.1 Device Table Entry).

crate::uapi_structs! {
    /// `struct iommu_hwpt_amd_guest` — `IOMMU_HWPT_DATA_AMD_GUEST`: the guest's 256-bit DTE
    /// whose GCR3 table the nested domain translates with (stage 1 over the nest parent).
    pub struct IommuHwptAmdGuest = "iommu_hwpt_amd_guest" {
        /// DTE quadwords 0..3.
        pub dte: [u64; 4],
    }
}
