//! Virtual IOMMUs, virtual devices, vEVENT queues and HW queues
//! (`include/uapi/linux/iommufd.h`).

crate::uapi_structs! {
    /// `struct iommu_viommu_alloc` — ioctl(IOMMU_VIOMMU_ALLOC): a virtual IOMMU instance
    /// backed by the physical IOMMU of `dev_id`, on a nest-parent HWPT.
    pub struct IommuViommuAlloc = "iommu_viommu_alloc" {
        /// `sizeof(struct iommu_viommu_alloc)`.
        pub size: u32,
        /// Must be 0.
        pub flags: u32,
        /// An `IOMMU_VIOMMU_TYPE_*` value.
        pub type_: u32 => "type",
        /// The device whose physical IOMMU backs the vIOMMU.
        pub dev_id: u32,
        /// The nest-parent HWPT (stage 2) of the vIOMMU.
        pub hwpt_id: u32,
        /// Output: the new vIOMMU ID.
        pub out_viommu_id: u32,
        /// Length of the driver data at `data_uptr`.
        pub data_len: u32,
        /// Must be 0.
        pub __reserved: u32,
        /// User pointer to driver-specific vIOMMU data (in and out).
        pub data_uptr: u64,
    }

    /// `struct iommu_vdevice_alloc` — ioctl(IOMMU_VDEVICE_ALLOC): a device as the vIOMMU
    /// sees it, with its virtual ID (a vSID, vDeviceID or vRID).
    pub struct IommuVdeviceAlloc = "iommu_vdevice_alloc" {
        /// `sizeof(struct iommu_vdevice_alloc)`.
        pub size: u32,
        /// The vIOMMU.
        pub viommu_id: u32,
        /// The physical device.
        pub dev_id: u32,
        /// Output: the vDEVICE ID.
        pub out_vdevice_id: u32,
        /// The device's ID on the virtual IOMMU.
        pub virt_id: u64,
    }

    /// `struct iommufd_vevent_header` — precedes every event read from a vEVENTQ fd.
    /// `sequence` counts from 0 to `i32::MAX` and wraps to 0; a gap means lost events, and a
    /// header with `IOMMU_VEVENTQ_FLAG_LOST_EVENTS` and no data marks losses at the tail.
    pub struct IommufdVeventHeader = "iommufd_vevent_header" {
        /// `IOMMU_VEVENTQ_FLAG_*`.
        pub flags: u32,
        /// Sequence number of the event that follows.
        pub sequence: u32,
    }

    /// `struct iommu_veventq_alloc` — ioctl(IOMMU_VEVENTQ_ALLOC): a queue of virtual events
    /// of one type from a vIOMMU, read through an fd.
    pub struct IommuVeventqAlloc = "iommu_veventq_alloc" {
        /// `sizeof(struct iommu_veventq_alloc)`.
        pub size: u32,
        /// Must be 0.
        pub flags: u32,
        /// The vIOMMU.
        pub viommu_id: u32,
        /// An `IOMMU_VEVENTQ_TYPE_*` value; one queue per type per vIOMMU.
        pub type_: u32 => "type",
        /// Maximum number of queued events; more are lost and counted.
        pub veventq_depth: u32,
        /// Output: the vEVENTQ's object ID.
        pub out_veventq_id: u32,
        /// Output: the fd to read events from.
        pub out_veventq_fd: u32,
        /// Must be 0.
        pub __reserved: u32,
    }

    /// `struct iommu_hw_queue_alloc` — ioctl(IOMMU_HW_QUEUE_ALLOC): a hardware-accelerated
    /// queue of a vIOMMU whose memory is guest memory mapped through the nest parent.
    pub struct IommuHwQueueAlloc = "iommu_hw_queue_alloc" {
        /// `sizeof(struct iommu_hw_queue_alloc)`.
        pub size: u32,
        /// Must be 0.
        pub flags: u32,
        /// The vIOMMU.
        pub viommu_id: u32,
        /// An `IOMMU_HW_QUEUE_TYPE_*` value.
        pub type_: u32 => "type",
        /// The queue's logical index on the vIOMMU.
        pub index: u32,
        /// Output: the HW queue's object ID.
        pub out_hw_queue_id: u32,
        /// Guest-physical base of the queue memory (an IOVA of the nest parent).
        pub nesting_parent_iova: u64,
        /// Bytes of queue memory.
        pub length: u64,
    }
}

crate::uapi_consts! {
    /// `iommu_viommu_alloc.type`: a generic vIOMMU with no driver data.
    pub const IOMMU_VIOMMU_TYPE_DEFAULT: u32 = 0;
    /// `iommu_viommu_alloc.type`: an Arm SMMUv3 vSMMU.
    pub const IOMMU_VIOMMU_TYPE_ARM_SMMUV3: u32 = 1;
    /// `iommu_viommu_alloc.type`: an SMMUv3 with the Tegra241 CMDQV extension.
    pub const IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV: u32 = 2;
    /// `iommufd_vevent_header.flags`: events were lost after the previous one.
    pub const IOMMU_VEVENTQ_FLAG_LOST_EVENTS: u32 = 1 << 0;
    /// `iommu_veventq_alloc.type`: none.
    pub const IOMMU_VEVENTQ_TYPE_DEFAULT: u32 = 0;
    /// `iommu_veventq_alloc.type`: [`super::IommuVeventArmSmmuv3`] records.
    pub const IOMMU_VEVENTQ_TYPE_ARM_SMMUV3: u32 = 1;
    /// `iommu_veventq_alloc.type`: [`super::IommuVeventTegra241Cmdqv`] records.
    pub const IOMMU_VEVENTQ_TYPE_TEGRA241_CMDQV: u32 = 2;
    /// `iommu_hw_queue_alloc.type`: none.
    pub const IOMMU_HW_QUEUE_TYPE_DEFAULT: u32 = 0;
    /// `iommu_hw_queue_alloc.type`: a Tegra241 virtual command queue.
    pub const IOMMU_HW_QUEUE_TYPE_TEGRA241_CMDQV: u32 = 1;
}
