//! NVIDIA Tegra241 CMDQV driver data (`include/uapi/linux/iommufd.h`).

crate::uapi_structs! {
    /// `struct iommu_viommu_tegra241_cmdqv` — `IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV` output:
    /// where to mmap the virtual interface's page 0 from the iommufd fd.
    pub struct IommuViommuTegra241Cmdqv = "iommu_viommu_tegra241_cmdqv" {
        /// The mmap offset to pass for VINTF page 0.
        pub out_vintf_mmap_offset: u64,
        /// The mmap length of VINTF page 0.
        pub out_vintf_mmap_length: u64,
    }

    /// `struct iommu_vevent_tegra241_cmdqv` — `IOMMU_VEVENTQ_TYPE_TEGRA241_CMDQV`: the
    /// virtual interface's 128-bit LVCMDQ error map, little-endian.
    pub struct IommuVeventTegra241Cmdqv = "iommu_vevent_tegra241_cmdqv" {
        /// LVCMDQ_ERR_MAP words.
        pub lvcmdq_err_map: [u64; 2],
    }
}
