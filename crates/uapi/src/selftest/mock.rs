//! The selftest mock driver's data and constants (`drivers/iommu/iommufd/iommufd_test.h`):
//! its aperture and page sizes, flags of the test operations, and the driver-specific
//! structs it accepts through the generic iommufd commands (hw_info, HWPT and vIOMMU
//! allocation, invalidation, events).

crate::uapi_structs! {
    /// `struct iommu_test_hw_info` — `IOMMU_GET_HW_INFO` data of type
    /// `IOMMU_HW_INFO_TYPE_SELFTEST`.
    pub struct IommuTestHwInfo = "iommu_test_hw_info" {
        /// Flags (none defined; 0).
        pub flags: u32,
        /// A register value: `IOMMU_HW_INFO_SELFTEST_REGVAL`.
        pub test_reg: u32,
    }

    /// `struct iommu_hwpt_selftest` — `IOMMU_HWPT_ALLOC` data of type
    /// `IOMMU_HWPT_DATA_SELFTEST`: a nested mock domain.
    pub struct IommuHwptSelftest = "iommu_hwpt_selftest" {
        /// Initial value of every IOTLB entry, normally `IOMMU_TEST_IOTLB_DEFAULT`.
        pub iotlb: u32,
        /// `MOCK_IOMMUPT_DEFAULT` or `MOCK_IOMMUPT_HUGE`.
        pub pagetable_type: u32,
    }

    /// `struct iommu_hwpt_invalidate_selftest` — one `IOMMU_HWPT_INVALIDATE` entry of type
    /// `IOMMU_HWPT_INVALIDATE_DATA_SELFTEST`: clear IOTLB entries of a nested mock domain.
    pub struct IommuHwptInvalidateSelftest = "iommu_hwpt_invalidate_selftest" {
        /// `IOMMU_TEST_INVALIDATE_FLAG_ALL` or 0.
        pub flags: u32,
        /// The entry to clear; ignored with `IOMMU_TEST_INVALIDATE_FLAG_ALL`.
        pub iotlb_id: u32,
    }

    /// `struct iommu_viommu_selftest` — `IOMMU_VIOMMU_ALLOC` data of type
    /// `IOMMU_VIOMMU_TYPE_SELFTEST`: a loopback of `in_data`, and an mmap-able page.
    pub struct IommuViommuSelftest = "iommu_viommu_selftest" {
        /// In: any value.
        pub in_data: u32,
        /// Out: `in_data`.
        pub out_data: u32,
        /// Out: the `offset` to mmap the vIOMMU page with.
        pub out_mmap_offset: u64,
        /// Out: the length to mmap.
        pub out_mmap_length: u64,
    }

    /// `struct iommu_viommu_invalidate_selftest` — one `IOMMU_HWPT_INVALIDATE` entry (on a
    /// vIOMMU) of type `IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST`: clear device cache entries.
    pub struct IommuViommuInvalidateSelftest = "iommu_viommu_invalidate_selftest" {
        /// `IOMMU_TEST_INVALIDATE_FLAG_ALL` or 0.
        pub flags: u32,
        /// The virtual device ID whose cache to clear.
        pub vdev_id: u32,
        /// The entry to clear; ignored with `IOMMU_TEST_INVALIDATE_FLAG_ALL`.
        pub cache_id: u32,
    }

    /// `struct iommu_viommu_event_selftest` — a vEVENTQ event of type
    /// `IOMMU_VEVENTQ_TYPE_SELFTEST`, raised by `IOMMU_TEST_OP_TRIGGER_VEVENT`.
    pub struct IommuViommuEventSelftest = "iommu_viommu_event_selftest" {
        /// The virtual ID of the device.
        pub virt_id: u32,
    }
}

crate::uapi_consts! {
    /// `iommu_hwpt_selftest.pagetable_type`: the default mock page table (2 KiB pages).
    pub const MOCK_IOMMUPT_DEFAULT: u32 = 0;
    /// `iommu_hwpt_selftest.pagetable_type`: the mock page table with huge pages.
    pub const MOCK_IOMMUPT_HUGE: u32 = 1;

    /// First IOVA of the default mock domain's aperture.
    pub const MOCK_APERTURE_START: u64 = 1 << 24;
    /// Last IOVA of the default mock domain's aperture, inclusive.
    pub const MOCK_APERTURE_LAST: u64 = (1 << 31) - 1;
    /// Page size of the default mock domain.
    pub const MOCK_PAGE_SIZE: u64 = 2048;
    /// Huge page size of the default mock domain.
    pub const MOCK_HUGE_PAGE_SIZE: u64 = 512 * MOCK_PAGE_SIZE;

    /// `access_pages.flags`: pin for writing.
    pub const MOCK_FLAGS_ACCESS_WRITE: u32 = 1 << 0;
    /// `access_pages.flags`: `iova` is a syzkaller-style encoded IOVA.
    pub const MOCK_FLAGS_ACCESS_SYZ: u32 = 1 << 16;
    /// `access_rw.flags`: write to IOVA memory (else read).
    pub const MOCK_ACCESS_RW_WRITE: u32 = 1 << 0;
    /// `access_rw.flags`: force the slow, page-by-page path.
    pub const MOCK_ACCESS_RW_SLOW_PATH: u32 = 1 << 2;
    /// `create_access.flags`: the access pins pages (and must be told of unmaps).
    pub const MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES: u32 = 1 << 0;
    /// `mock_domain_flags.dev_flags`: the mock device has no dirty tracking.
    pub const MOCK_FLAGS_DEVICE_NO_DIRTY: u32 = 1 << 0;
    /// `mock_domain_flags.dev_flags`: the mock device supports PASIDs.
    pub const MOCK_FLAGS_DEVICE_PASID: u32 = 1 << 2;

    /// Highest IOTLB entry index of a nested mock domain.
    pub const MOCK_NESTED_DOMAIN_IOTLB_ID_MAX: u32 = 3;
    /// Number of IOTLB entries of a nested mock domain.
    pub const MOCK_NESTED_DOMAIN_IOTLB_NUM: u32 = 4;
    /// Highest cache entry index of a mock device.
    pub const MOCK_DEV_CACHE_ID_MAX: u32 = 3;
    /// Number of cache entries of a mock device.
    pub const MOCK_DEV_CACHE_NUM: u32 = 4;

    /// PASID width of the mock device and IOMMU, in bits.
    pub const MOCK_PASID_WIDTH: u32 = 20;

    /// `IOMMU_GET_HW_INFO` type of [`IommuTestHwInfo`].
    pub const IOMMU_HW_INFO_TYPE_SELFTEST: u32 = 0xfeed_beef;
    /// `iommu_test_hw_info.test_reg`.
    pub const IOMMU_HW_INFO_SELFTEST_REGVAL: u32 = 0xdead_beef;
    /// `IOMMU_HWPT_ALLOC` data type of [`IommuHwptSelftest`].
    pub const IOMMU_HWPT_DATA_SELFTEST: u32 = 0xdead;
    /// Default IOTLB entry value of a nested mock domain.
    pub const IOMMU_TEST_IOTLB_DEFAULT: u32 = 0xbad_beef;
    /// Default cache entry value of a mock device.
    pub const IOMMU_TEST_DEV_CACHE_DEFAULT: u32 = 0xba_ddad;
    /// Invalidation data type of [`IommuHwptInvalidateSelftest`].
    pub const IOMMU_HWPT_INVALIDATE_DATA_SELFTEST: u32 = 0xdead_beef;
    /// An invalidation data type the mock driver rejects.
    pub const IOMMU_HWPT_INVALIDATE_DATA_SELFTEST_INVALID: u32 = 0xdad_beef;
    /// Invalidation flag: every entry.
    pub const IOMMU_TEST_INVALIDATE_FLAG_ALL: u32 = 1 << 0;
    /// `IOMMU_VIOMMU_ALLOC` type of [`IommuViommuSelftest`].
    pub const IOMMU_VIOMMU_TYPE_SELFTEST: u32 = 0xdead_beef;
    /// vIOMMU invalidation data type of [`IommuViommuInvalidateSelftest`].
    pub const IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST: u32 = 0xdead_beef;
    /// A vIOMMU invalidation data type the mock driver rejects.
    pub const IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST_INVALID: u32 = 0xdad_beef;
    /// vEVENTQ type of [`IommuViommuEventSelftest`].
    pub const IOMMU_VEVENTQ_TYPE_SELFTEST: u32 = 0xbeef_beef;
    /// `IOMMU_HW_QUEUE_ALLOC` type of the mock vIOMMU's hardware queue.
    pub const IOMMU_HW_QUEUE_TYPE_SELFTEST: u32 = 0xdead_beef;
    /// Number of hardware queues the mock vIOMMU allows.
    pub const IOMMU_TEST_HW_QUEUE_MAX: u32 = 2;
}
