//! The type1 IOMMU container interface (`include/uapi/linux/vfio.h`, "API for Type1 VFIO
//! IOMMU"): info with its capability chain, DMA map/unmap and dirty page tracking.
//!
//! iommufd implements the same ioctls on `/dev/iommu` for its VFIO compatibility layer
//! (`drivers/iommu/iommufd/vfio_compat.c`).

use super::caps::{InfoCap, VfioInfoCapHeader};
use super::container::{VFIO_BASE, VFIO_TYPE};
use crate::ioctl::io;

crate::uapi_structs! {
    /// `struct vfio_iommu_type1_info` — ioctl(VFIO_IOMMU_GET_INFO) on a type1 container.
    ///
    /// The kernel requires `argsz` to reach `iova_pgsizes`. If capabilities exist it sets
    /// `VFIO_IOMMU_INFO_CAPS`; when `argsz` is too small for them it raises `argsz` to the size
    /// needed and copies no capabilities (see [`super::caps::CapPlacement`]). Only
    /// `min(argsz, sizeof)` bytes of this struct are written back.
    pub struct VfioIommuType1Info = "vfio_iommu_type1_info" {
        /// In: the size of the caller's buffer, capabilities included; out: the size needed.
        pub argsz: u32,
        /// Out: `VFIO_IOMMU_INFO_*`.
        pub flags: u32,
        /// Out: bitmap of supported IOMMU page sizes.
        pub iova_pgsizes: u64,
        /// Out: offset of the first capability from the start of this struct, 0 if none were
        /// copied.
        pub cap_offset: u32,
        /// Padding; out 0.
        pub pad: u32,
    }

    /// `struct vfio_iova_range` — an inclusive range of usable IOVA.
    pub struct VfioIovaRange = "vfio_iova_range" {
        /// First IOVA.
        pub start: u64,
        /// Last IOVA, inclusive.
        pub end: u64,
    }

    /// `struct vfio_iommu_type1_info_cap_iova_range` — capability
    /// `VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE`, version 1: the IOVA ranges valid for
    /// `VFIO_IOMMU_MAP_DMA`, reserved regions of the attached devices excluded.
    ///
    /// The C struct ends with the flexible array `struct vfio_iova_range iova_ranges[]` of
    /// `nr_iovas` entries, which is not part of `sizeof` and not a field here.
    pub struct VfioIommuType1InfoCapIovaRange = "vfio_iommu_type1_info_cap_iova_range" {
        /// Capability header.
        pub header: VfioInfoCapHeader,
        /// Number of [`VfioIovaRange`] entries that follow.
        pub nr_iovas: u32,
        /// Reserved, 0.
        pub reserved: u32,
    }

    /// `struct vfio_iommu_type1_info_cap_migration` — capability
    /// `VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION`, version 1: present when the container can log
    /// dirty pages.
    pub struct VfioIommuType1InfoCapMigration = "vfio_iommu_type1_info_cap_migration" {
        /// Capability header.
        pub header: VfioInfoCapHeader,
        /// Reserved, 0.
        pub flags: u32,
        /// Padding the C struct leaves implicit.
        pub __pad: u32 => _,
        /// Page sizes supported for dirty bitmaps (the kernel reports only the smallest).
        pub pgsize_bitmap: u64,
        /// Largest dirty bitmap, in bytes, a caller may request.
        pub max_dirty_bitmap_size: u64,
    }

    /// `struct vfio_iommu_type1_info_dma_avail` — capability `VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL`,
    /// version 1: how many more DMA mappings the container currently allows.
    pub struct VfioIommuType1InfoDmaAvail = "vfio_iommu_type1_info_dma_avail" {
        /// Capability header.
        pub header: VfioInfoCapHeader,
        /// Number of further mappings allowed.
        pub avail: u32,
    }

    /// `struct vfio_iommu_type1_dma_map` — ioctl(VFIO_IOMMU_MAP_DMA): map process memory at
    /// an IOVA. `READ` and/or `WRITE` are required, except with `VFIO_DMA_MAP_FLAG_VADDR`.
    pub struct VfioIommuType1DmaMap = "vfio_iommu_type1_dma_map" {
        /// `sizeof(struct vfio_iommu_type1_dma_map)` or more.
        pub argsz: u32,
        /// `VFIO_DMA_MAP_FLAG_*`.
        pub flags: u32,
        /// Process virtual address of the memory (with `VADDR`: its new address).
        pub vaddr: u64,
        /// IOVA to map at.
        pub iova: u64,
        /// Bytes to map.
        pub size: u64,
    }

    /// `struct vfio_bitmap` — a caller-provided dirty bitmap: one bit per `pgsize` page,
    /// starting at the IOVA of the request. The memory must be zeroed by the caller.
    pub struct VfioBitmap = "vfio_bitmap" {
        /// Page size, in bytes, that one bit stands for.
        pub pgsize: u64,
        /// Size of the bitmap memory, in bytes.
        pub size: u64,
        /// User pointer (`__u64 *`) to the bitmap; 64-bit hosts only.
        pub data: u64,
    }

    /// `struct vfio_iommu_type1_dma_unmap` — ioctl(VFIO_IOMMU_UNMAP_DMA): unmap an IOVA range.
    ///
    /// With `VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP` a [`VfioBitmap`] follows in the flexible
    /// array `__u8 data[]` (not part of `sizeof`, not a field here) and `argsz` covers it.
    pub struct VfioIommuType1DmaUnmap = "vfio_iommu_type1_dma_unmap" {
        /// `sizeof(struct vfio_iommu_type1_dma_unmap)`, plus the bitmap if present.
        pub argsz: u32,
        /// `VFIO_DMA_UNMAP_FLAG_*`.
        pub flags: u32,
        /// First IOVA to unmap; 0 with `VFIO_DMA_UNMAP_FLAG_ALL`.
        pub iova: u64,
        /// In: bytes to unmap (0 with `ALL`); out: bytes actually unmapped.
        pub size: u64,
    }

    /// `struct vfio_iommu_type1_dirty_bitmap` — ioctl(VFIO_IOMMU_DIRTY_PAGES): start or stop
    /// dirty logging, or read the bitmap of a range.
    ///
    /// With `VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP` a [`VfioIommuType1DirtyBitmapGet`]
    /// follows in the flexible array `__u8 data[]` (not part of `sizeof`, not a field here);
    /// `argsz` counts it but not the bitmap memory.
    pub struct VfioIommuType1DirtyBitmap = "vfio_iommu_type1_dirty_bitmap" {
        /// `sizeof` this struct plus the request that follows, if any.
        pub argsz: u32,
        /// Exactly one of `VFIO_IOMMU_DIRTY_PAGES_FLAG_*`.
        pub flags: u32,
    }

    /// `struct vfio_iommu_type1_dirty_bitmap_get` — the request after a
    /// [`VfioIommuType1DirtyBitmap`] with `GET_BITMAP`: the range and where to write its bits.
    pub struct VfioIommuType1DirtyBitmapGet = "vfio_iommu_type1_dirty_bitmap_get" {
        /// First IOVA of the range.
        pub iova: u64,
        /// Bytes in the range.
        pub size: u64,
        /// The bitmap to fill; `pgsize` must be the smallest supported page size.
        pub bitmap: VfioBitmap,
    }
}

crate::uapi_consts! {
    /// `vfio_iommu_type1_info.flags`: `iova_pgsizes` is valid.
    pub const VFIO_IOMMU_INFO_PGSIZES: u32 = 1 << 0;
    /// `vfio_iommu_type1_info.flags`: capabilities exist (`cap_offset` is valid if non-zero).
    pub const VFIO_IOMMU_INFO_CAPS: u32 = 1 << 1;
    /// Capability ID of [`VfioIommuType1InfoCapIovaRange`].
    pub const VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE: u16 = 1;
    /// Capability ID of [`VfioIommuType1InfoCapMigration`].
    pub const VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION: u16 = 2;
    /// Capability ID of [`VfioIommuType1InfoDmaAvail`].
    pub const VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL: u16 = 3;

    /// `vfio_iommu_type1_dma_map.flags`: the device may read.
    pub const VFIO_DMA_MAP_FLAG_READ: u32 = 1 << 0;
    /// `vfio_iommu_type1_dma_map.flags`: the device may write.
    pub const VFIO_DMA_MAP_FLAG_WRITE: u32 = 1 << 1;
    /// `vfio_iommu_type1_dma_map.flags`: give a mapping whose vaddr was invalidated its new
    /// vaddr; `iova` and `size` must match the original map, READ and WRITE must be 0.
    pub const VFIO_DMA_MAP_FLAG_VADDR: u32 = 1 << 2;

    /// `vfio_iommu_type1_dma_unmap.flags`: report the dirty bitmap of the range before
    /// unmapping it.
    pub const VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP: u32 = 1 << 0;
    /// `vfio_iommu_type1_dma_unmap.flags`: unmap everything; `iova` and `size` must be 0.
    /// Not combinable with `GET_DIRTY_BITMAP`.
    pub const VFIO_DMA_UNMAP_FLAG_ALL: u32 = 1 << 1;
    /// `vfio_iommu_type1_dma_unmap.flags`: keep the mappings but invalidate their vaddrs.
    /// Not combinable with `GET_DIRTY_BITMAP`.
    pub const VFIO_DMA_UNMAP_FLAG_VADDR: u32 = 1 << 2;

    /// `vfio_iommu_type1_dirty_bitmap.flags`: start logging dirty pages.
    pub const VFIO_IOMMU_DIRTY_PAGES_FLAG_START: u32 = 1 << 0;
    /// `vfio_iommu_type1_dirty_bitmap.flags`: stop logging dirty pages.
    pub const VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP: u32 = 1 << 1;
    /// `vfio_iommu_type1_dirty_bitmap.flags`: read (and clear) the bitmap of a range.
    pub const VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP: u32 = 1 << 2;

    /// `VFIO_IOMMU_GET_INFO`: fills a [`VfioIommuType1Info`] and its capabilities.
    pub const VFIO_IOMMU_GET_INFO: u32 = io(VFIO_TYPE, VFIO_BASE + 12);
    /// `VFIO_IOMMU_MAP_DMA`: takes a [`VfioIommuType1DmaMap`].
    pub const VFIO_IOMMU_MAP_DMA: u32 = io(VFIO_TYPE, VFIO_BASE + 13);
    /// `VFIO_IOMMU_UNMAP_DMA`: takes a [`VfioIommuType1DmaUnmap`]; writes `size` back.
    pub const VFIO_IOMMU_UNMAP_DMA: u32 = io(VFIO_TYPE, VFIO_BASE + 14);
    /// `VFIO_IOMMU_DIRTY_PAGES`: takes a [`VfioIommuType1DirtyBitmap`].
    pub const VFIO_IOMMU_DIRTY_PAGES: u32 = io(VFIO_TYPE, VFIO_BASE + 17);
}

impl InfoCap for VfioIommuType1InfoCapIovaRange {
    const ID: u16 = VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE;
    const VERSION: u16 = 1;
}

impl InfoCap for VfioIommuType1InfoCapMigration {
    const ID: u16 = VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION;
    const VERSION: u16 = 1;
}

impl InfoCap for VfioIommuType1InfoDmaAvail {
    const ID: u16 = VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL;
    const VERSION: u16 = 1;
}
