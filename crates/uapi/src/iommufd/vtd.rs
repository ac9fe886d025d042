//! Intel VT-d driver data: nested first-stage tables and their invalidation
//! (`include/uapi/linux/iommufd.h`; VT-d spec §9.6 scalable-mode PASID table entry).

crate::uapi_structs! {
    /// `struct iommu_hwpt_vtd_s1` — `IOMMU_HWPT_DATA_VTD_S1`: a guest first-stage table
    /// for a nested HWPT, as the guest programs it into its scalable-mode PASID entry.
    pub struct IommuHwptVtdS1 = "iommu_hwpt_vtd_s1" {
        /// `IOMMU_VTD_S1_*`.
        pub flags: u64,
        /// Guest-physical base of the first-stage table (FSPTPTR).
        pub pgtbl_addr: u64,
        /// Input address width of the table: 48 (4-level) or 57 (5-level).
        pub addr_width: u32,
        /// Must be 0.
        pub __reserved: u32,
    }

    /// `struct iommu_hwpt_vtd_s1_invalidate` — `IOMMU_HWPT_INVALIDATE_DATA_VTD_S1`: one
    /// PASID-based IOTLB invalidation of a nested HWPT. `addr = 0, npages = U64_MAX`
    /// invalidates everything.
    pub struct IommuHwptVtdS1Invalidate = "iommu_hwpt_vtd_s1_invalidate" {
        /// First address, 4 KiB aligned.
        pub addr: u64,
        /// Number of 4 KiB pages.
        pub npages: u64,
        /// `IOMMU_VTD_INV_FLAGS_*`.
        pub flags: u32,
        /// Must be 0.
        pub __reserved: u32,
    }
}

crate::uapi_consts! {
    /// `iommu_hwpt_vtd_s1.flags`: Supervisor Request Enable.
    pub const IOMMU_VTD_S1_SRE: u64 = 1 << 0;
    /// `iommu_hwpt_vtd_s1.flags`: Extended Access Flag Enable.
    pub const IOMMU_VTD_S1_EAFE: u64 = 1 << 1;
    /// `iommu_hwpt_vtd_s1.flags`: Write Protect Enable.
    pub const IOMMU_VTD_S1_WPE: u64 = 1 << 2;
    /// `iommu_hwpt_vtd_s1_invalidate.flags`: only leaf entries changed (IH hint).
    pub const IOMMU_VTD_INV_FLAGS_LEAF: u32 = 1 << 0;
}
