//! IOAS commands: the I/O address space and its mappings (`include/uapi/linux/iommufd.h`).

crate::uapi_structs! {
    /// `struct iommu_destroy` — ioctl(IOMMU_DESTROY): destroy any object by ID.
    pub struct IommuDestroy = "iommu_destroy" {
        /// `sizeof(struct iommu_destroy)`.
        pub size: u32,
        /// The object ID to destroy.
        pub id: u32,
    }

    /// `struct iommu_ioas_alloc` — ioctl(IOMMU_IOAS_ALLOC): a new, empty IOAS.
    pub struct IommuIoasAlloc = "iommu_ioas_alloc" {
        /// `sizeof(struct iommu_ioas_alloc)`.
        pub size: u32,
        /// Must be 0.
        pub flags: u32,
        /// Output: the new IOAS ID.
        pub out_ioas_id: u32,
    }

    /// `struct iommu_iova_range` — an inclusive IOVA range.
    pub struct IommuIovaRange = "iommu_iova_range" {
        /// First IOVA.
        pub start: u64,
        /// Last IOVA, inclusive.
        pub last: u64,
    }

    /// `struct iommu_ioas_iova_ranges` — ioctl(IOMMU_IOAS_IOVA_RANGES): the IOVA ranges
    /// available for mapping, after reserved regions and allowed-range limits.
    pub struct IommuIoasIovaRanges = "iommu_ioas_iova_ranges" {
        /// `sizeof(struct iommu_ioas_iova_ranges)`.
        pub size: u32,
        /// The IOAS to query.
        pub ioas_id: u32,
        /// In: capacity of `allowed_iovas`; out: the number of ranges. If the array is too
        /// small the ioctl fails with EMSGSIZE and still writes the needed count back.
        pub num_iovas: u32,
        /// Must be 0.
        pub __reserved: u32,
        /// User pointer to an array of [`IommuIovaRange`].
        pub allowed_iovas: u64,
        /// Output: the minimum IOVA alignment a mapping must have.
        pub out_iova_alignment: u64,
    }

    /// `struct iommu_ioas_allow_iovas` — ioctl(IOMMU_IOAS_ALLOW_IOVAS): restrict automatic
    /// IOVA allocation to these ranges (an empty list removes the restriction).
    pub struct IommuIoasAllowIovas = "iommu_ioas_allow_iovas" {
        /// `sizeof(struct iommu_ioas_allow_iovas)`.
        pub size: u32,
        /// The IOAS to change.
        pub ioas_id: u32,
        /// Number of entries in `allowed_iovas`.
        pub num_iovas: u32,
        /// Must be 0.
        pub __reserved: u32,
        /// User pointer to an array of [`IommuIovaRange`].
        pub allowed_iovas: u64,
    }

    /// `struct iommu_ioas_map` — ioctl(IOMMU_IOAS_MAP): map user memory into an IOAS.
    pub struct IommuIoasMap = "iommu_ioas_map" {
        /// `sizeof(struct iommu_ioas_map)`.
        pub size: u32,
        /// `IOMMU_IOAS_MAP_*` flags.
        pub flags: u32,
        /// The IOAS to map into.
        pub ioas_id: u32,
        /// Must be 0.
        pub __reserved: u32,
        /// Userspace address of the memory to map.
        pub user_va: u64,
        /// Bytes to map.
        pub length: u64,
        /// In with `IOMMU_IOAS_MAP_FIXED_IOVA`: the IOVA; otherwise output: the IOVA chosen.
        pub iova: u64,
    }

    /// `struct iommu_ioas_noiommu_get_pa` — ioctl(IOMMU_IOAS_NOIOMMU_GET_PA): the physical
    /// address behind an IOVA of a no-IOMMU mode IOAS.
    pub struct IommuIoasNoiommuGetPa = "iommu_ioas_noiommu_get_pa" {
        /// `sizeof(struct iommu_ioas_noiommu_get_pa)`.
        pub size: u32,
        /// Must be 0.
        pub flags: u32,
        /// The IOAS to query.
        pub ioas_id: u32,
        /// Must be 0.
        pub __reserved: u32,
        /// The IOVA to translate.
        pub iova: u64,
        /// Output: bytes physically contiguous from `iova`.
        pub length: u64,
        /// Output: the physical address.
        pub out_phys: u64,
    }

    /// `struct iommu_ioas_map_file` — ioctl(IOMMU_IOAS_MAP_FILE): map a range of a memfd.
    pub struct IommuIoasMapFile = "iommu_ioas_map_file" {
        /// `sizeof(struct iommu_ioas_map_file)`.
        pub size: u32,
        /// `IOMMU_IOAS_MAP_*` flags.
        pub flags: u32,
        /// The IOAS to map into.
        pub ioas_id: u32,
        /// The memfd (or dma-buf) to map from.
        pub fd: i32,
        /// Byte offset into the file.
        pub start: u64,
        /// Bytes to map.
        pub length: u64,
        /// As in [`IommuIoasMap::iova`].
        pub iova: u64,
    }

    /// `struct iommu_ioas_copy` — ioctl(IOMMU_IOAS_COPY): map the pages already mapped at
    /// `src_iova` in one IOAS into another, sharing the pins.
    pub struct IommuIoasCopy = "iommu_ioas_copy" {
        /// `sizeof(struct iommu_ioas_copy)`.
        pub size: u32,
        /// `IOMMU_IOAS_MAP_*` flags for the new mapping.
        pub flags: u32,
        /// Destination IOAS.
        pub dst_ioas_id: u32,
        /// Source IOAS.
        pub src_ioas_id: u32,
        /// Bytes to copy; must exactly cover whole source areas.
        pub length: u64,
        /// As in [`IommuIoasMap::iova`], for the destination.
        pub dst_iova: u64,
        /// Source IOVA.
        pub src_iova: u64,
    }

    /// `struct iommu_ioas_unmap` — ioctl(IOMMU_IOAS_UNMAP): unmap a range of whole areas;
    /// `iova == 0 && length == U64_MAX` unmaps everything.
    pub struct IommuIoasUnmap = "iommu_ioas_unmap" {
        /// `sizeof(struct iommu_ioas_unmap)`.
        pub size: u32,
        /// The IOAS to unmap from.
        pub ioas_id: u32,
        /// First IOVA to unmap.
        pub iova: u64,
        /// In: bytes to unmap; out: bytes actually unmapped.
        pub length: u64,
    }

    /// `struct iommu_option` — ioctl(IOMMU_OPTION): get or set a context or object option.
    pub struct IommuOption = "iommu_option" {
        /// `sizeof(struct iommu_option)`.
        pub size: u32,
        /// An `IOMMU_OPTION_*` value.
        pub option_id: u32,
        /// `IOMMU_OPTION_OP_SET` or `IOMMU_OPTION_OP_GET`.
        pub op: u16,
        /// Must be 0.
        pub __reserved: u16,
        /// The object the option applies to, or 0 for the context.
        pub object_id: u32,
        /// In for SET, out for GET: the value.
        pub val64: u64,
    }

    /// `struct iommu_vfio_ioas` — ioctl(IOMMU_VFIO_IOAS): the IOAS the VFIO type1
    /// compatibility layer on this context uses.
    pub struct IommuVfioIoas = "iommu_vfio_ioas" {
        /// `sizeof(struct iommu_vfio_ioas)`.
        pub size: u32,
        /// In for SET, out for GET: the IOAS ID.
        pub ioas_id: u32,
        /// An `IOMMU_VFIO_IOAS_*` operation.
        pub op: u16,
        /// Must be 0.
        pub __reserved: u16,
    }

    /// `struct iommu_ioas_change_process` — ioctl(IOMMU_IOAS_CHANGE_PROCESS): move the
    /// pinned-page accounting of every IOAS mapped from files to the calling process.
    pub struct IommuIoasChangeProcess = "iommu_ioas_change_process" {
        /// `sizeof(struct iommu_ioas_change_process)`.
        pub size: u32,
        /// Must be 0.
        pub __reserved: u32,
    }
}

crate::uapi_consts! {
    /// `iommu_ioas_map.flags`: `iova` is an input; map exactly there.
    pub const IOMMU_IOAS_MAP_FIXED_IOVA: u32 = 1 << 0;
    /// `iommu_ioas_map.flags`: the device may write.
    pub const IOMMU_IOAS_MAP_WRITEABLE: u32 = 1 << 1;
    /// `iommu_ioas_map.flags`: the device may read.
    pub const IOMMU_IOAS_MAP_READABLE: u32 = 1 << 2;
    /// `iommu_option.option_id`: pinned-page accounting per user (0) or per process (1).
    pub const IOMMU_OPTION_RLIMIT_MODE: u32 = 0;
    /// `iommu_option.option_id`: allow huge IOPTEs in the IOAS (default 1).
    pub const IOMMU_OPTION_HUGE_PAGES: u32 = 1;
    /// `iommu_option.op`: set.
    pub const IOMMU_OPTION_OP_SET: u16 = 0;
    /// `iommu_option.op`: get.
    pub const IOMMU_OPTION_OP_GET: u16 = 1;
    /// `iommu_vfio_ioas.op`: read the compatibility IOAS, creating none.
    pub const IOMMU_VFIO_IOAS_GET: u16 = 0;
    /// `iommu_vfio_ioas.op`: use `ioas_id` for the compatibility layer.
    pub const IOMMU_VFIO_IOAS_SET: u16 = 1;
    /// `iommu_vfio_ioas.op`: forget the compatibility IOAS.
    pub const IOMMU_VFIO_IOAS_CLEAR: u16 = 2;
}
