//! HW page table commands: allocation, dirty tracking and cache invalidation
//! (`include/uapi/linux/iommufd.h`).

crate::uapi_structs! {
    /// `struct iommu_hwpt_alloc` — ioctl(IOMMU_HWPT_ALLOC): a HW page table (an IOMMU
    /// domain) for a device: a paging domain on an IOAS, or a nested domain on a nest-parent
    /// HWPT or a vIOMMU, described by driver data.
    pub struct IommuHwptAlloc = "iommu_hwpt_alloc" {
        /// `sizeof(struct iommu_hwpt_alloc)`.
        pub size: u32,
        /// `IOMMU_HWPT_ALLOC_*` and `IOMMU_HWPT_FAULT_ID_VALID`.
        pub flags: u32,
        /// The device the domain is allocated for.
        pub dev_id: u32,
        /// The IOAS (paging), nest-parent HWPT or vIOMMU (nested) to build on.
        pub pt_id: u32,
        /// Output: the new HWPT ID.
        pub out_hwpt_id: u32,
        /// Must be 0.
        pub __reserved: u32,
        /// An `IOMMU_HWPT_DATA_*` value describing `data_uptr`.
        pub data_type: u32,
        /// Length of the driver data.
        pub data_len: u32,
        /// User pointer to the driver data; 0 with `IOMMU_HWPT_DATA_NONE`.
        pub data_uptr: u64,
        /// The fault queue to report to, when `IOMMU_HWPT_FAULT_ID_VALID` is set.
        pub fault_id: u32,
        /// Must be 0.
        pub __reserved2: u32,
    }

    /// `struct iommu_hwpt_set_dirty_tracking` — ioctl(IOMMU_HWPT_SET_DIRTY_TRACKING).
    pub struct IommuHwptSetDirtyTracking = "iommu_hwpt_set_dirty_tracking" {
        /// `sizeof(struct iommu_hwpt_set_dirty_tracking)`.
        pub size: u32,
        /// `IOMMU_HWPT_DIRTY_TRACKING_ENABLE` or 0 to disable.
        pub flags: u32,
        /// The HWPT, allocated with `IOMMU_HWPT_ALLOC_DIRTY_TRACKING`.
        pub hwpt_id: u32,
        /// Must be 0.
        pub __reserved: u32,
    }

    /// `struct iommu_hwpt_get_dirty_bitmap` — ioctl(IOMMU_HWPT_GET_DIRTY_BITMAP): read (and
    /// by default clear) the dirty bits of `iova..iova+length` into a user bitmap, one bit per
    /// `page_size`.
    pub struct IommuHwptGetDirtyBitmap = "iommu_hwpt_get_dirty_bitmap" {
        /// `sizeof(struct iommu_hwpt_get_dirty_bitmap)`.
        pub size: u32,
        /// The HWPT to read.
        pub hwpt_id: u32,
        /// `IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR` or 0.
        pub flags: u32,
        /// Must be 0.
        pub __reserved: u32,
        /// First IOVA, aligned to `page_size`.
        pub iova: u64,
        /// Bytes to report, a multiple of `page_size`.
        pub length: u64,
        /// Bytes per bitmap bit; a power of two.
        pub page_size: u64,
        /// User pointer to the bitmap (u64 words; need not be aligned).
        pub data: u64,
    }

    /// `struct iommu_hwpt_invalidate` — ioctl(IOMMU_HWPT_INVALIDATE): invalidate caches of
    /// a nested HWPT or vIOMMU with an array of driver-defined requests.
    pub struct IommuHwptInvalidate = "iommu_hwpt_invalidate" {
        /// `sizeof(struct iommu_hwpt_invalidate)`.
        pub size: u32,
        /// The nested HWPT or vIOMMU.
        pub hwpt_id: u32,
        /// User pointer to the request array.
        pub data_uptr: u64,
        /// An `IOMMU_HWPT_INVALIDATE_DATA_*` / `IOMMU_VIOMMU_INVALIDATE_DATA_*` value.
        pub data_type: u32,
        /// Bytes per request as the caller lays them out.
        pub entry_len: u32,
        /// In: number of requests; out: number handled, written back even on error.
        pub entry_num: u32,
        /// Must be 0.
        pub __reserved: u32,
    }
}

crate::uapi_consts! {
    /// `iommu_hwpt_alloc.flags`: the domain can be the stage-2 parent of nested domains.
    pub const IOMMU_HWPT_ALLOC_NEST_PARENT: u32 = 1 << 0;
    /// `iommu_hwpt_alloc.flags`: the domain supports dirty tracking.
    pub const IOMMU_HWPT_ALLOC_DIRTY_TRACKING: u32 = 1 << 1;
    /// `iommu_hwpt_alloc.flags`: `fault_id` is valid; faults go to that queue.
    pub const IOMMU_HWPT_FAULT_ID_VALID: u32 = 1 << 2;
    /// `iommu_hwpt_alloc.flags`: the domain may be attached to PASIDs.
    pub const IOMMU_HWPT_ALLOC_PASID: u32 = 1 << 3;
    /// `iommu_hwpt_alloc.data_type`: no driver data (a paging domain).
    pub const IOMMU_HWPT_DATA_NONE: u32 = 0;
    /// `iommu_hwpt_alloc.data_type`: [`super::IommuHwptVtdS1`].
    pub const IOMMU_HWPT_DATA_VTD_S1: u32 = 1;
    /// `iommu_hwpt_alloc.data_type`: [`super::IommuHwptArmSmmuv3`].
    pub const IOMMU_HWPT_DATA_ARM_SMMUV3: u32 = 2;
    /// `iommu_hwpt_alloc.data_type`: [`super::IommuHwptAmdGuest`].
    pub const IOMMU_HWPT_DATA_AMD_GUEST: u32 = 3;
    /// `iommu_hwpt_set_dirty_tracking.flags`: enable.
    pub const IOMMU_HWPT_DIRTY_TRACKING_ENABLE: u32 = 1;
    /// `iommu_hwpt_get_dirty_bitmap.flags`: read without clearing.
    pub const IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR: u32 = 1;
    /// `iommu_hwpt_invalidate.data_type`: [`super::IommuHwptVtdS1Invalidate`] entries.
    pub const IOMMU_HWPT_INVALIDATE_DATA_VTD_S1: u32 = 0;
    /// `iommu_hwpt_invalidate.data_type`: [`super::IommuViommuArmSmmuv3Invalidate`] entries.
    pub const IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3: u32 = 1;
}
