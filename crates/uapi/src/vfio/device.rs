//! The device file: info, regions, interrupts, reset and PCI hot reset
//! (`include/uapi/linux/vfio.h`, "IOCTLs for DEVICE file descriptors").

use super::caps::{InfoCap, VfioInfoCapHeader};
use super::container::{VFIO_BASE, VFIO_TYPE};
use crate::ioctl::io;

crate::uapi_structs! {
    /// `struct vfio_device_info` — ioctl(VFIO_DEVICE_GET_INFO): the device's kind, region and
    /// IRQ counts, and a capability chain (see [`super::caps`]).
    pub struct VfioDeviceInfo = "vfio_device_info" {
        /// In: the size of the caller's buffer, capabilities included; out: the size needed.
        pub argsz: u32,
        /// Out: `VFIO_DEVICE_FLAGS_*`.
        pub flags: u32,
        /// Out: highest region index + 1.
        pub num_regions: u32,
        /// Out: highest IRQ index + 1.
        pub num_irqs: u32,
        /// Out: offset of the first capability, 0 if none were copied.
        pub cap_offset: u32,
        /// Padding; out 0.
        pub pad: u32,
    }

    /// `struct vfio_device_info_cap_pci_atomic_comp` — device info capability
    /// `VFIO_DEVICE_INFO_CAP_PCI_ATOMIC_COMP`: which PCIe AtomicOp completion widths the root
    /// port supports for this device.
    pub struct VfioDeviceInfoCapPciAtomicComp = "vfio_device_info_cap_pci_atomic_comp" {
        /// Capability header.
        pub header: VfioInfoCapHeader,
        /// `VFIO_PCI_ATOMIC_COMP*`.
        pub flags: u32,
        /// Reserved, 0.
        pub reserved: u32,
    }

    /// `struct vfio_region_info` — ioctl(VFIO_DEVICE_GET_REGION_INFO): one region of the
    /// device (a BAR, config space, ...): where it is in the device fd and what it allows.
    /// A size of 0 means the region is not implemented.
    pub struct VfioRegionInfo = "vfio_region_info" {
        /// In: the size of the caller's buffer, capabilities included; out: the size needed.
        pub argsz: u32,
        /// Out: `VFIO_REGION_INFO_FLAG_*`.
        pub flags: u32,
        /// In: the region index.
        pub index: u32,
        /// Out: offset of the first capability, 0 if none were copied.
        pub cap_offset: u32,
        /// Out: region size in bytes.
        pub size: u64,
        /// Out: offset of the region in the device fd (for pread/pwrite/mmap).
        pub offset: u64,
    }

    /// `struct vfio_region_sparse_mmap_area` — one mmap-able area of a region.
    pub struct VfioRegionSparseMmapArea = "vfio_region_sparse_mmap_area" {
        /// Offset of the area within the region.
        pub offset: u64,
        /// Size of the area.
        pub size: u64,
    }

    /// `struct vfio_region_info_cap_sparse_mmap` — region capability
    /// `VFIO_REGION_INFO_CAP_SPARSE_MMAP`, version 1: only these areas of the region may be
    /// mmap'ed (e.g. a BAR around its MSI-X table).
    ///
    /// The C struct ends with the flexible array `struct vfio_region_sparse_mmap_area areas[]`
    /// of `nr_areas` entries, not part of `sizeof` and not a field here.
    pub struct VfioRegionInfoCapSparseMmap = "vfio_region_info_cap_sparse_mmap" {
        /// Capability header.
        pub header: VfioInfoCapHeader,
        /// Number of [`VfioRegionSparseMmapArea`] entries that follow.
        pub nr_areas: u32,
        /// Reserved, 0.
        pub reserved: u32,
    }

    /// `struct vfio_region_info_cap_type` — region capability `VFIO_REGION_INFO_CAP_TYPE`,
    /// version 1: what a device-specific region (index past the bus's fixed ones) is.
    pub struct VfioRegionInfoCapType = "vfio_region_info_cap_type" {
        /// Capability header.
        pub header: VfioInfoCapHeader,
        /// `VFIO_REGION_TYPE_*`, global per bus driver.
        pub type_: u32 => "type",
        /// `VFIO_REGION_SUBTYPE_*`, specific to `type`.
        pub subtype: u32,
    }

    /// `struct vfio_region_gfx_edid` — the layout of a `VFIO_REGION_SUBTYPE_GFX_EDID` region:
    /// link state and EDID blob of a virtual display. To update: link down, write blob and
    /// size, link up.
    pub struct VfioRegionGfxEdid = "vfio_region_gfx_edid" {
        /// Read-only: offset of the EDID blob from the start of the region.
        pub edid_offset: u32,
        /// Read-only: largest blob size.
        pub edid_max_size: u32,
        /// Read/write: current blob size.
        pub edid_size: u32,
        /// Read-only: maximum width, 0 for no limit.
        pub max_xres: u32,
        /// Read-only: maximum height, 0 for no limit.
        pub max_yres: u32,
        /// Read/write: `VFIO_DEVICE_GFX_LINK_STATE_*`.
        pub link_state: u32,
    }

    /// `struct vfio_irq_info` — ioctl(VFIO_DEVICE_GET_IRQ_INFO): one IRQ index of the device
    /// and how it can be signalled. A count of 0 means the index is not implemented.
    pub struct VfioIrqInfo = "vfio_irq_info" {
        /// `sizeof(struct vfio_irq_info)`.
        pub argsz: u32,
        /// Out: `VFIO_IRQ_INFO_*`.
        pub flags: u32,
        /// In: the IRQ index.
        pub index: u32,
        /// Out: number of IRQs (vectors) in the index.
        pub count: u32,
    }

    /// `struct vfio_irq_set` — ioctl(VFIO_DEVICE_SET_IRQS): trigger, mask or unmask the IRQs
    /// `start..start + count` of an index, or bind them to eventfds.
    ///
    /// The C struct ends with the flexible array `__u8 data[]` (not part of `sizeof`, not a
    /// field here): nothing for `DATA_NONE`, `count` bytes (bools) for `DATA_BOOL`, `count`
    /// `__s32` eventfds (-1: unassign/skip) for `DATA_EVENTFD`. `argsz` covers it.
    pub struct VfioIrqSet = "vfio_irq_set" {
        /// `sizeof(struct vfio_irq_set)` plus the data.
        pub argsz: u32,
        /// One `VFIO_IRQ_SET_DATA_*` and one `VFIO_IRQ_SET_ACTION_*`.
        pub flags: u32,
        /// The IRQ index.
        pub index: u32,
        /// First IRQ of the index.
        pub start: u32,
        /// Number of IRQs; 0 with `DATA_NONE | ACTION_TRIGGER` disables the index.
        pub count: u32,
    }

    /// `struct vfio_pci_dependent_device` — one device a PCI hot reset would affect.
    ///
    /// The first field is a C union: `group_id` for a device opened through its group,
    /// `devid` (see [`Self::devid`]) for a cdev-opened one.
    pub struct VfioPciDependentDevice = "vfio_pci_dependent_device" {
        /// The IOMMU group, or the iommufd device ID (`VFIO_PCI_DEVID_OWNED`,
        /// `VFIO_PCI_DEVID_NOT_OWNED` or a positive ID) when `VFIO_PCI_HOT_RESET_FLAG_DEV_ID`
        /// is set.
        pub group_id: u32,
        /// PCI segment.
        pub segment: u16,
        /// PCI bus.
        pub bus: u8,
        /// PCI device and function.
        pub devfn: u8,
    }

    /// `struct vfio_pci_hot_reset_info` — ioctl(VFIO_DEVICE_GET_PCI_HOT_RESET_INFO): the
    /// devices a hot reset of this one would affect. ENOSPC when the array is too small
    /// (`count` then says how many there are).
    ///
    /// The C struct ends with the flexible array `struct vfio_pci_dependent_device devices[]`,
    /// not part of `sizeof` and not a field here.
    pub struct VfioPciHotResetInfo = "vfio_pci_hot_reset_info" {
        /// `sizeof(struct vfio_pci_hot_reset_info)` plus the array.
        pub argsz: u32,
        /// Out: `VFIO_PCI_HOT_RESET_FLAG_*`.
        pub flags: u32,
        /// Out: number of affected devices.
        pub count: u32,
    }

    /// `struct vfio_pci_hot_reset` — ioctl(VFIO_DEVICE_PCI_HOT_RESET): reset the bus or slot,
    /// proving ownership of every affected group with its fd (group path) or with none (cdev
    /// path, ownership known from the iommufd).
    ///
    /// The C struct ends with the flexible array `__s32 group_fds[]` of `count` entries, not
    /// part of `sizeof` and not a field here.
    pub struct VfioPciHotReset = "vfio_pci_hot_reset" {
        /// `sizeof(struct vfio_pci_hot_reset)` plus the array.
        pub argsz: u32,
        /// Must be 0.
        pub flags: u32,
        /// Number of group fds that follow.
        pub count: u32,
    }

    /// `struct vfio_device_gfx_plane_info` — ioctl(VFIO_DEVICE_QUERY_GFX_PLANE): a mediated
    /// display's plane. A disabled plane reads back with zero format, size and dimensions.
    pub struct VfioDeviceGfxPlaneInfo = "vfio_device_gfx_plane_info" {
        /// `sizeof(struct vfio_device_gfx_plane_info)`.
        pub argsz: u32,
        /// `VFIO_GFX_PLANE_TYPE_*`: PROBE with DMABUF or REGION asks what is supported;
        /// DMABUF or REGION alone queries the plane.
        pub flags: u32,
        /// In: DRM plane type (`DRM_PLANE_TYPE_*`).
        pub drm_plane_type: u32,
        /// Out: DRM fourcc format.
        pub drm_format: u32,
        /// Out: DRM format modifier (tiling).
        pub drm_format_mod: u64,
        /// Out: width.
        pub width: u32,
        /// Out: height.
        pub height: u32,
        /// Out: stride.
        pub stride: u32,
        /// Out: size in bytes, page-aligned.
        pub size: u32,
        /// Out: cursor plane x position.
        pub x_pos: u32,
        /// Out: cursor plane y position.
        pub y_pos: u32,
        /// Out: cursor hotspot x, `0xffffffff` if unknown.
        pub x_hot: u32,
        /// Out: cursor hotspot y, `0xffffffff` if unknown.
        pub y_hot: u32,
        /// Out: a C union: the region index (REGION) or the dma-buf ID (DMABUF).
        pub region_index: u32,
        /// Reserved.
        pub reserved: u32,
    }

    /// `struct vfio_device_ioeventfd` — ioctl(VFIO_DEVICE_IOEVENTFD): when the eventfd fires,
    /// write `data` at `offset` of the device fd.
    pub struct VfioDeviceIoeventfd = "vfio_device_ioeventfd" {
        /// `sizeof(struct vfio_device_ioeventfd)`.
        pub argsz: u32,
        /// Exactly one `VFIO_DEVICE_IOEVENTFD_{8,16,32,64}`: the write width.
        pub flags: u32,
        /// Device fd offset to write.
        pub offset: u64,
        /// Value to write.
        pub data: u64,
        /// The eventfd; -1 removes the ioeventfd matching offset, data and width.
        pub fd: i32,
        /// Reserved.
        pub reserved: u32,
    }
}

impl VfioPciDependentDevice {
    /// The `devid` member of the union: the iommufd device ID for cdev-opened devices.
    pub fn devid(&self) -> u32 {
        self.group_id
    }
}

impl VfioDeviceGfxPlaneInfo {
    /// The `dmabuf_id` member of the union (for `VFIO_GFX_PLANE_TYPE_DMABUF`).
    pub fn dmabuf_id(&self) -> u32 {
        self.region_index
    }
}

impl InfoCap for VfioDeviceInfoCapPciAtomicComp {
    const ID: u16 = VFIO_DEVICE_INFO_CAP_PCI_ATOMIC_COMP;
    const VERSION: u16 = 1;
}

impl InfoCap for VfioRegionInfoCapSparseMmap {
    const ID: u16 = VFIO_REGION_INFO_CAP_SPARSE_MMAP;
    const VERSION: u16 = 1;
}

impl InfoCap for VfioRegionInfoCapType {
    const ID: u16 = VFIO_REGION_INFO_CAP_TYPE;
    const VERSION: u16 = 1;
}

crate::uapi_consts! {
    /// `vfio_device_info.flags`: the device supports `VFIO_DEVICE_RESET`.
    pub const VFIO_DEVICE_FLAGS_RESET: u32 = 1 << 0;
    /// `vfio_device_info.flags`: a vfio-pci device.
    pub const VFIO_DEVICE_FLAGS_PCI: u32 = 1 << 1;
    /// `vfio_device_info.flags`: a vfio-platform device.
    pub const VFIO_DEVICE_FLAGS_PLATFORM: u32 = 1 << 2;
    /// `vfio_device_info.flags`: a vfio-amba device.
    pub const VFIO_DEVICE_FLAGS_AMBA: u32 = 1 << 3;
    /// `vfio_device_info.flags`: a vfio-ccw (s390 channel I/O) device.
    pub const VFIO_DEVICE_FLAGS_CCW: u32 = 1 << 4;
    /// `vfio_device_info.flags`: a vfio-ap (s390 crypto) device.
    pub const VFIO_DEVICE_FLAGS_AP: u32 = 1 << 5;
    /// `vfio_device_info.flags`: a vfio-fsl-mc device.
    pub const VFIO_DEVICE_FLAGS_FSL_MC: u32 = 1 << 6;
    /// `vfio_device_info.flags`: capabilities exist.
    pub const VFIO_DEVICE_FLAGS_CAPS: u32 = 1 << 7;
    /// `vfio_device_info.flags`: a vfio-cdx device.
    pub const VFIO_DEVICE_FLAGS_CDX: u32 = 1 << 8;

    /// Device info capability ID of [`VfioDeviceInfoCapPciAtomicComp`].
    pub const VFIO_DEVICE_INFO_CAP_PCI_ATOMIC_COMP: u16 = 5;
    /// `vfio_device_info_cap_pci_atomic_comp.flags`: 32-bit AtomicOp completion.
    pub const VFIO_PCI_ATOMIC_COMP32: u32 = 1 << 0;
    /// `vfio_device_info_cap_pci_atomic_comp.flags`: 64-bit AtomicOp completion.
    pub const VFIO_PCI_ATOMIC_COMP64: u32 = 1 << 1;
    /// `vfio_device_info_cap_pci_atomic_comp.flags`: 128-bit CAS completion.
    pub const VFIO_PCI_ATOMIC_COMP128: u32 = 1 << 2;

    /// `vfio_region_info.flags`: the region can be read.
    pub const VFIO_REGION_INFO_FLAG_READ: u32 = 1 << 0;
    /// `vfio_region_info.flags`: the region can be written.
    pub const VFIO_REGION_INFO_FLAG_WRITE: u32 = 1 << 1;
    /// `vfio_region_info.flags`: the region can be mmap'ed (maybe only in part; see the
    /// sparse mmap capability).
    pub const VFIO_REGION_INFO_FLAG_MMAP: u32 = 1 << 2;
    /// `vfio_region_info.flags`: capabilities exist.
    pub const VFIO_REGION_INFO_FLAG_CAPS: u32 = 1 << 3;
    /// Region capability ID of [`VfioRegionInfoCapSparseMmap`].
    pub const VFIO_REGION_INFO_CAP_SPARSE_MMAP: u16 = 1;
    /// Region capability ID of [`VfioRegionInfoCapType`].
    pub const VFIO_REGION_INFO_CAP_TYPE: u16 = 2;
    /// Region capability ID (header only): the MSI-X table's BAR may be mmap'ed whole;
    /// MSI-X is still configured with `VFIO_DEVICE_SET_IRQS`.
    pub const VFIO_REGION_INFO_CAP_MSIX_MAPPABLE: u16 = 3;

    /// Region type bit: a PCI vendor type; the low 16 bits are the vendor ID. The C
    /// expression `1 << 31` is an `int`, hence the type.
    pub const VFIO_REGION_TYPE_PCI_VENDOR_TYPE: i32 = i32::MIN;
    /// Region type mask of the vendor ID of a PCI vendor type.
    pub const VFIO_REGION_TYPE_PCI_VENDOR_MASK: u32 = 0xffff;
    /// Region type: graphics.
    pub const VFIO_REGION_TYPE_GFX: u32 = 1;
    /// Region subtype of vendor 0x8086: the IGD OpRegion.
    pub const VFIO_REGION_SUBTYPE_INTEL_IGD_OPREGION: u32 = 1;
    /// Region subtype of vendor 0x8086: the IGD host bridge config space.
    pub const VFIO_REGION_SUBTYPE_INTEL_IGD_HOST_CFG: u32 = 2;
    /// Region subtype of vendor 0x8086: the IGD LPC bridge config space.
    pub const VFIO_REGION_SUBTYPE_INTEL_IGD_LPC_CFG: u32 = 3;
    /// Region subtype of `VFIO_REGION_TYPE_GFX`: an EDID region ([`VfioRegionGfxEdid`]).
    pub const VFIO_REGION_SUBTYPE_GFX_EDID: u32 = 1;
    /// `vfio_region_gfx_edid.link_state`: monitor on.
    pub const VFIO_DEVICE_GFX_LINK_STATE_UP: u32 = 1;
    /// `vfio_region_gfx_edid.link_state`: monitor off.
    pub const VFIO_DEVICE_GFX_LINK_STATE_DOWN: u32 = 2;

    /// `vfio_irq_info.flags`: the index can signal through eventfds.
    pub const VFIO_IRQ_INFO_EVENTFD: u32 = 1 << 0;
    /// `vfio_irq_info.flags`: the index supports `ACTION_MASK`/`ACTION_UNMASK`.
    pub const VFIO_IRQ_INFO_MASKABLE: u32 = 1 << 1;
    /// `vfio_irq_info.flags`: the line is masked after it fires until unmasked (level
    /// triggered).
    pub const VFIO_IRQ_INFO_AUTOMASKED: u32 = 1 << 2;
    /// `vfio_irq_info.flags`: vectors are enabled as a set; adding one needs disabling the
    /// whole index first (MSI, MSI-X without dynamic allocation).
    pub const VFIO_IRQ_INFO_NORESIZE: u32 = 1 << 3;

    /// `vfio_irq_set.flags`: no data; act on every IRQ of the range.
    pub const VFIO_IRQ_SET_DATA_NONE: u32 = 1 << 0;
    /// `vfio_irq_set.flags`: data is one `u8` bool per IRQ: act where true.
    pub const VFIO_IRQ_SET_DATA_BOOL: u32 = 1 << 1;
    /// `vfio_irq_set.flags`: data is one `__s32` eventfd per IRQ (-1: unassign/skip).
    pub const VFIO_IRQ_SET_DATA_EVENTFD: u32 = 1 << 2;
    /// `vfio_irq_set.flags`: mask the IRQs (or, with eventfds, mask when they fire).
    pub const VFIO_IRQ_SET_ACTION_MASK: u32 = 1 << 3;
    /// `vfio_irq_set.flags`: unmask the IRQs (or, with eventfds, unmask when they fire).
    pub const VFIO_IRQ_SET_ACTION_UNMASK: u32 = 1 << 4;
    /// `vfio_irq_set.flags`: trigger the IRQs (or, with eventfds, signal them when the IRQ
    /// fires; this enables the index).
    pub const VFIO_IRQ_SET_ACTION_TRIGGER: u32 = 1 << 5;
    /// The `VFIO_IRQ_SET_DATA_*` bits.
    pub const VFIO_IRQ_SET_DATA_TYPE_MASK: u32 =
        VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_DATA_EVENTFD;
    /// The `VFIO_IRQ_SET_ACTION_*` bits.
    pub const VFIO_IRQ_SET_ACTION_TYPE_MASK: u32 =
        VFIO_IRQ_SET_ACTION_MASK | VFIO_IRQ_SET_ACTION_UNMASK | VFIO_IRQ_SET_ACTION_TRIGGER;

    /// vfio-pci region index: BAR 0.
    pub const VFIO_PCI_BAR0_REGION_INDEX: u32 = 0;
    /// vfio-pci region index: BAR 1.
    pub const VFIO_PCI_BAR1_REGION_INDEX: u32 = 1;
    /// vfio-pci region index: BAR 2.
    pub const VFIO_PCI_BAR2_REGION_INDEX: u32 = 2;
    /// vfio-pci region index: BAR 3.
    pub const VFIO_PCI_BAR3_REGION_INDEX: u32 = 3;
    /// vfio-pci region index: BAR 4.
    pub const VFIO_PCI_BAR4_REGION_INDEX: u32 = 4;
    /// vfio-pci region index: BAR 5.
    pub const VFIO_PCI_BAR5_REGION_INDEX: u32 = 5;
    /// vfio-pci region index: expansion ROM.
    pub const VFIO_PCI_ROM_REGION_INDEX: u32 = 6;
    /// vfio-pci region index: config space.
    pub const VFIO_PCI_CONFIG_REGION_INDEX: u32 = 7;
    /// vfio-pci region index: legacy VGA ranges (I/O 0x3b0-0x3bb, 0x3c0-0x3df, MMIO
    /// 0xa0000-0xbffff), each at its own address from the region offset.
    pub const VFIO_PCI_VGA_REGION_INDEX: u32 = 8;
    /// Number of fixed vfio-pci region indexes; higher ones are described by
    /// `VFIO_REGION_INFO_CAP_TYPE`.
    pub const VFIO_PCI_NUM_REGIONS: u32 = 9;
    /// vfio-pci IRQ index: INTx.
    pub const VFIO_PCI_INTX_IRQ_INDEX: u32 = 0;
    /// vfio-pci IRQ index: MSI.
    pub const VFIO_PCI_MSI_IRQ_INDEX: u32 = 1;
    /// vfio-pci IRQ index: MSI-X.
    pub const VFIO_PCI_MSIX_IRQ_INDEX: u32 = 2;
    /// vfio-pci IRQ index: AER error notification.
    pub const VFIO_PCI_ERR_IRQ_INDEX: u32 = 3;
    /// vfio-pci IRQ index: device release request.
    pub const VFIO_PCI_REQ_IRQ_INDEX: u32 = 4;
    /// Number of vfio-pci IRQ indexes.
    pub const VFIO_PCI_NUM_IRQS: u32 = 5;

    /// `vfio_pci_dependent_device.devid`: not an iommufd device but owned through a device
    /// in the same IOMMU group.
    pub const VFIO_PCI_DEVID_OWNED: i32 = 0;
    /// `vfio_pci_dependent_device.devid`: not owned by the caller (as `__u32`: `0xffffffff`).
    pub const VFIO_PCI_DEVID_NOT_OWNED: i32 = -1;
    /// `vfio_pci_hot_reset_info.flags`: entries carry `devid`, not `group_id` (cdev path).
    pub const VFIO_PCI_HOT_RESET_FLAG_DEV_ID: u32 = 1 << 0;
    /// `vfio_pci_hot_reset_info.flags`: with `DEV_ID`, every affected device is owned, so
    /// `VFIO_DEVICE_PCI_HOT_RESET` may pass no group fds.
    pub const VFIO_PCI_HOT_RESET_FLAG_DEV_ID_OWNED: u32 = 1 << 1;

    /// `vfio_device_gfx_plane_info.flags`: probe for support.
    pub const VFIO_GFX_PLANE_TYPE_PROBE: u32 = 1 << 0;
    /// `vfio_device_gfx_plane_info.flags`: the plane as a dma-buf.
    pub const VFIO_GFX_PLANE_TYPE_DMABUF: u32 = 1 << 1;
    /// `vfio_device_gfx_plane_info.flags`: the plane in a region.
    pub const VFIO_GFX_PLANE_TYPE_REGION: u32 = 1 << 2;

    /// `vfio_device_ioeventfd.flags`: 1-byte write.
    pub const VFIO_DEVICE_IOEVENTFD_8: u32 = 1 << 0;
    /// `vfio_device_ioeventfd.flags`: 2-byte write.
    pub const VFIO_DEVICE_IOEVENTFD_16: u32 = 1 << 1;
    /// `vfio_device_ioeventfd.flags`: 4-byte write.
    pub const VFIO_DEVICE_IOEVENTFD_32: u32 = 1 << 2;
    /// `vfio_device_ioeventfd.flags`: 8-byte write.
    pub const VFIO_DEVICE_IOEVENTFD_64: u32 = 1 << 3;
    /// The width bits of `vfio_device_ioeventfd.flags`.
    pub const VFIO_DEVICE_IOEVENTFD_SIZE_MASK: u32 = 0xf;

    /// `VFIO_DEVICE_GET_INFO`: fills a [`VfioDeviceInfo`] and its capabilities.
    pub const VFIO_DEVICE_GET_INFO: u32 = io(VFIO_TYPE, VFIO_BASE + 7);
    /// `VFIO_DEVICE_GET_REGION_INFO`: fills a [`VfioRegionInfo`] and its capabilities.
    pub const VFIO_DEVICE_GET_REGION_INFO: u32 = io(VFIO_TYPE, VFIO_BASE + 8);
    /// `VFIO_DEVICE_GET_IRQ_INFO`: fills a [`VfioIrqInfo`].
    pub const VFIO_DEVICE_GET_IRQ_INFO: u32 = io(VFIO_TYPE, VFIO_BASE + 9);
    /// `VFIO_DEVICE_SET_IRQS`: takes a [`VfioIrqSet`] and its data.
    pub const VFIO_DEVICE_SET_IRQS: u32 = io(VFIO_TYPE, VFIO_BASE + 10);
    /// `VFIO_DEVICE_RESET`: reset the device; no argument.
    pub const VFIO_DEVICE_RESET: u32 = io(VFIO_TYPE, VFIO_BASE + 11);
    /// `VFIO_DEVICE_GET_PCI_HOT_RESET_INFO`: fills a [`VfioPciHotResetInfo`] and its array.
    pub const VFIO_DEVICE_GET_PCI_HOT_RESET_INFO: u32 = io(VFIO_TYPE, VFIO_BASE + 12);
    /// `VFIO_DEVICE_PCI_HOT_RESET`: takes a [`VfioPciHotReset`] and its group fds.
    pub const VFIO_DEVICE_PCI_HOT_RESET: u32 = io(VFIO_TYPE, VFIO_BASE + 13);
    /// `VFIO_DEVICE_QUERY_GFX_PLANE`: fills a [`VfioDeviceGfxPlaneInfo`].
    pub const VFIO_DEVICE_QUERY_GFX_PLANE: u32 = io(VFIO_TYPE, VFIO_BASE + 14);
    /// `VFIO_DEVICE_GET_GFX_DMABUF`: the argument points to a `__u32` dma-buf ID from
    /// `VFIO_DEVICE_QUERY_GFX_PLANE`; returns a dma-buf fd.
    pub const VFIO_DEVICE_GET_GFX_DMABUF: u32 = io(VFIO_TYPE, VFIO_BASE + 15);
    /// `VFIO_DEVICE_IOEVENTFD`: takes a [`VfioDeviceIoeventfd`].
    pub const VFIO_DEVICE_IOEVENTFD: u32 = io(VFIO_TYPE, VFIO_BASE + 16);
}
