//! Fault queues: I/O page faults delivered to user space and answered with page responses
//! (`include/uapi/linux/iommufd.h`).

crate::uapi_structs! {
    /// `struct iommu_hwpt_pgfault` — one fault message, read from a fault queue fd. A page
    /// request group is several messages with the same `grpid`, the last with
    /// `IOMMU_PGFAULT_FLAGS_LAST_PAGE`.
    pub struct IommuHwptPgfault = "iommu_hwpt_pgfault" {
        /// `IOMMU_PGFAULT_FLAGS_*`.
        pub flags: u32,
        /// The faulting device's ID.
        pub dev_id: u32,
        /// PASID, valid with `IOMMU_PGFAULT_FLAGS_PASID_VALID`.
        pub pasid: u32,
        /// Page Request Group Index.
        pub grpid: u32,
        /// `IOMMU_PGFAULT_PERM_*` the access needed.
        pub perm: u32,
        /// Must be 0.
        pub __reserved: u32,
        /// The faulting address.
        pub addr: u64,
        /// A hint of how many bytes the requester will access; 0 if unknown.
        pub length: u32,
        /// Identifies the group; echo it in the response.
        pub cookie: u32,
    }

    /// `struct iommu_hwpt_page_response` — the answer to a fault group, written to the
    /// fault queue fd.
    pub struct IommuHwptPageResponse = "iommu_hwpt_page_response" {
        /// The `cookie` of the last message of the group.
        pub cookie: u32,
        /// `IOMMUFD_PAGE_RESP_*`.
        pub code: u32,
    }

    /// `struct iommu_fault_alloc` — ioctl(IOMMU_FAULT_QUEUE_ALLOC).
    pub struct IommuFaultAlloc = "iommu_fault_alloc" {
        /// `sizeof(struct iommu_fault_alloc)`.
        pub size: u32,
        /// Must be 0.
        pub flags: u32,
        /// Output: the fault queue's object ID.
        pub out_fault_id: u32,
        /// Output: the fd to read faults from and write responses to.
        pub out_fault_fd: u32,
    }
}

crate::uapi_consts! {
    /// `iommu_hwpt_pgfault.flags`: `pasid` is valid.
    pub const IOMMU_PGFAULT_FLAGS_PASID_VALID: u32 = 1 << 0;
    /// `iommu_hwpt_pgfault.flags`: the last message of its group.
    pub const IOMMU_PGFAULT_FLAGS_LAST_PAGE: u32 = 1 << 1;
    /// `iommu_hwpt_pgfault.perm`: read.
    pub const IOMMU_PGFAULT_PERM_READ: u32 = 1 << 0;
    /// `iommu_hwpt_pgfault.perm`: write.
    pub const IOMMU_PGFAULT_PERM_WRITE: u32 = 1 << 1;
    /// `iommu_hwpt_pgfault.perm`: execute.
    pub const IOMMU_PGFAULT_PERM_EXEC: u32 = 1 << 2;
    /// `iommu_hwpt_pgfault.perm`: privileged.
    pub const IOMMU_PGFAULT_PERM_PRIV: u32 = 1 << 3;
    /// `iommu_hwpt_page_response.code`: the fault is resolved; retry.
    pub const IOMMUFD_PAGE_RESP_SUCCESS: u32 = 0;
    /// `iommu_hwpt_page_response.code`: the fault cannot be resolved.
    pub const IOMMUFD_PAGE_RESP_INVALID: u32 = 1;
}
