//! `include/uapi/linux/iommufd.h`: the iommufd commands, their structs, driver data and events.

pub mod amd;
pub mod fault;
pub mod hw_info;
pub mod hwpt;
pub mod ioas;
pub mod smmuv3;
pub mod tegra241;
pub mod viommu;
pub mod vtd;

// Each submodule also has its own `STRUCTS`/`CONSTS` tables; those names stay ambiguous here
// on purpose and are reached through the submodule.
#[allow(ambiguous_glob_reexports)]
pub use amd::*;
pub use fault::*;
pub use hw_info::*;
pub use hwpt::*;
pub use ioas::*;
pub use smmuv3::*;
pub use tegra241::*;
pub use viommu::*;
pub use vtd::*;

use crate::ioctl::io;

crate::uapi_consts! {
    /// The ioctl type byte of iommufd (and VFIO): `';'`.
    pub const IOMMUFD_TYPE: u8 = b';';
    /// The first iommufd command number.
    pub const IOMMUFD_CMD_BASE: u8 = 0x80;
    /// Command number of IOMMU_DESTROY.
    pub const IOMMUFD_CMD_DESTROY: u8 = 0x80;
    /// Command number of IOMMU_IOAS_ALLOC.
    pub const IOMMUFD_CMD_IOAS_ALLOC: u8 = 0x81;
    /// Command number of IOMMU_IOAS_ALLOW_IOVAS.
    pub const IOMMUFD_CMD_IOAS_ALLOW_IOVAS: u8 = 0x82;
    /// Command number of IOMMU_IOAS_COPY.
    pub const IOMMUFD_CMD_IOAS_COPY: u8 = 0x83;
    /// Command number of IOMMU_IOAS_IOVA_RANGES.
    pub const IOMMUFD_CMD_IOAS_IOVA_RANGES: u8 = 0x84;
    /// Command number of IOMMU_IOAS_MAP.
    pub const IOMMUFD_CMD_IOAS_MAP: u8 = 0x85;
    /// Command number of IOMMU_IOAS_UNMAP.
    pub const IOMMUFD_CMD_IOAS_UNMAP: u8 = 0x86;
    /// Command number of IOMMU_OPTION.
    pub const IOMMUFD_CMD_OPTION: u8 = 0x87;
    /// Command number of IOMMU_VFIO_IOAS.
    pub const IOMMUFD_CMD_VFIO_IOAS: u8 = 0x88;
    /// Command number of IOMMU_HWPT_ALLOC.
    pub const IOMMUFD_CMD_HWPT_ALLOC: u8 = 0x89;
    /// Command number of IOMMU_GET_HW_INFO.
    pub const IOMMUFD_CMD_GET_HW_INFO: u8 = 0x8a;
    /// Command number of IOMMU_HWPT_SET_DIRTY_TRACKING.
    pub const IOMMUFD_CMD_HWPT_SET_DIRTY_TRACKING: u8 = 0x8b;
    /// Command number of IOMMU_HWPT_GET_DIRTY_BITMAP.
    pub const IOMMUFD_CMD_HWPT_GET_DIRTY_BITMAP: u8 = 0x8c;
    /// Command number of IOMMU_HWPT_INVALIDATE.
    pub const IOMMUFD_CMD_HWPT_INVALIDATE: u8 = 0x8d;
    /// Command number of IOMMU_FAULT_QUEUE_ALLOC.
    pub const IOMMUFD_CMD_FAULT_QUEUE_ALLOC: u8 = 0x8e;
    /// Command number of IOMMU_IOAS_MAP_FILE.
    pub const IOMMUFD_CMD_IOAS_MAP_FILE: u8 = 0x8f;
    /// Command number of IOMMU_VIOMMU_ALLOC.
    pub const IOMMUFD_CMD_VIOMMU_ALLOC: u8 = 0x90;
    /// Command number of IOMMU_VDEVICE_ALLOC.
    pub const IOMMUFD_CMD_VDEVICE_ALLOC: u8 = 0x91;
    /// Command number of IOMMU_IOAS_CHANGE_PROCESS.
    pub const IOMMUFD_CMD_IOAS_CHANGE_PROCESS: u8 = 0x92;
    /// Command number of IOMMU_VEVENTQ_ALLOC.
    pub const IOMMUFD_CMD_VEVENTQ_ALLOC: u8 = 0x93;
    /// Command number of IOMMU_HW_QUEUE_ALLOC.
    pub const IOMMUFD_CMD_HW_QUEUE_ALLOC: u8 = 0x94;
    /// Command number of IOMMU_IOAS_NOIOMMU_GET_PA.
    pub const IOMMUFD_CMD_IOAS_NOIOMMU_GET_PA: u8 = 0x95;

    /// ioctl: destroy an object ([`IommuDestroy`]).
    pub const IOMMU_DESTROY: u32 = io(IOMMUFD_TYPE, IOMMUFD_CMD_DESTROY);
    /// ioctl: allocate an IOAS ([`IommuIoasAlloc`]).
    pub const IOMMU_IOAS_ALLOC: u32 = io(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_ALLOC);
    /// ioctl: restrict IOVA allocation ([`IommuIoasAllowIovas`]).
    pub const IOMMU_IOAS_ALLOW_IOVAS: u32 = io(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_ALLOW_IOVAS);
    /// ioctl: copy mappings between IOASes ([`IommuIoasCopy`]).
    pub const IOMMU_IOAS_COPY: u32 = io(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_COPY);
    /// ioctl: list usable IOVA ranges ([`IommuIoasIovaRanges`]).
    pub const IOMMU_IOAS_IOVA_RANGES: u32 = io(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_IOVA_RANGES);
    /// ioctl: map user memory ([`IommuIoasMap`]).
    pub const IOMMU_IOAS_MAP: u32 = io(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_MAP);
    /// ioctl: unmap ([`IommuIoasUnmap`]).
    pub const IOMMU_IOAS_UNMAP: u32 = io(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_UNMAP);
    /// ioctl: get or set an option ([`IommuOption`]).
    pub const IOMMU_OPTION: u32 = io(IOMMUFD_TYPE, IOMMUFD_CMD_OPTION);
    /// ioctl: the VFIO compatibility IOAS ([`IommuVfioIoas`]).
    pub const IOMMU_VFIO_IOAS: u32 = io(IOMMUFD_TYPE, IOMMUFD_CMD_VFIO_IOAS);
    /// ioctl: allocate a HWPT ([`IommuHwptAlloc`]).
    pub const IOMMU_HWPT_ALLOC: u32 = io(IOMMUFD_TYPE, IOMMUFD_CMD_HWPT_ALLOC);
    /// ioctl: IOMMU hardware information ([`IommuHwInfo`]).
    pub const IOMMU_GET_HW_INFO: u32 = io(IOMMUFD_TYPE, IOMMUFD_CMD_GET_HW_INFO);
    /// ioctl: enable or disable dirty tracking ([`IommuHwptSetDirtyTracking`]).
    pub const IOMMU_HWPT_SET_DIRTY_TRACKING: u32 =
        io(IOMMUFD_TYPE, IOMMUFD_CMD_HWPT_SET_DIRTY_TRACKING);
    /// ioctl: read the dirty bitmap ([`IommuHwptGetDirtyBitmap`]).
    pub const IOMMU_HWPT_GET_DIRTY_BITMAP: u32 =
        io(IOMMUFD_TYPE, IOMMUFD_CMD_HWPT_GET_DIRTY_BITMAP);
    /// ioctl: invalidate caches ([`IommuHwptInvalidate`]).
    pub const IOMMU_HWPT_INVALIDATE: u32 = io(IOMMUFD_TYPE, IOMMUFD_CMD_HWPT_INVALIDATE);
    /// ioctl: allocate a fault queue ([`IommuFaultAlloc`]).
    pub const IOMMU_FAULT_QUEUE_ALLOC: u32 = io(IOMMUFD_TYPE, IOMMUFD_CMD_FAULT_QUEUE_ALLOC);
    /// ioctl: map a file ([`IommuIoasMapFile`]).
    pub const IOMMU_IOAS_MAP_FILE: u32 = io(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_MAP_FILE);
    /// ioctl: allocate a vIOMMU ([`IommuViommuAlloc`]).
    pub const IOMMU_VIOMMU_ALLOC: u32 = io(IOMMUFD_TYPE, IOMMUFD_CMD_VIOMMU_ALLOC);
    /// ioctl: allocate a vDEVICE ([`IommuVdeviceAlloc`]).
    pub const IOMMU_VDEVICE_ALLOC: u32 = io(IOMMUFD_TYPE, IOMMUFD_CMD_VDEVICE_ALLOC);
    /// ioctl: move pinned-page accounting to the caller ([`IommuIoasChangeProcess`]).
    pub const IOMMU_IOAS_CHANGE_PROCESS: u32 = io(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_CHANGE_PROCESS);
    /// ioctl: allocate a vEVENTQ ([`IommuVeventqAlloc`]).
    pub const IOMMU_VEVENTQ_ALLOC: u32 = io(IOMMUFD_TYPE, IOMMUFD_CMD_VEVENTQ_ALLOC);
    /// ioctl: allocate a HW queue ([`IommuHwQueueAlloc`]).
    pub const IOMMU_HW_QUEUE_ALLOC: u32 = io(IOMMUFD_TYPE, IOMMUFD_CMD_HW_QUEUE_ALLOC);
    /// ioctl: physical address behind an IOVA in no-IOMMU mode ([`IommuIoasNoiommuGetPa`]).
    pub const IOMMU_IOAS_NOIOMMU_GET_PA: u32 = io(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_NOIOMMU_GET_PA);
}

/// The struct tables of every submodule.
pub const STRUCT_TABLES: &[&[crate::layout::StructLayout]] = &[
    ioas::STRUCTS,
    hwpt::STRUCTS,
    hw_info::STRUCTS,
    fault::STRUCTS,
    viommu::STRUCTS,
    vtd::STRUCTS,
    smmuv3::STRUCTS,
    amd::STRUCTS,
    tegra241::STRUCTS,
];
/// The constant tables of every submodule.
pub const CONST_TABLES: &[&[crate::layout::ConstLayout]] = &[
    CONSTS,
    ioas::CONSTS,
    hwpt::CONSTS,
    hw_info::CONSTS,
    fault::CONSTS,
    viommu::CONSTS,
    vtd::CONSTS,
];
/// Names `iommufd.h` defines that this crate does not declare, each with the reason.
pub const NOT_DECLARED: &[(&str, &str)] = &[("_IOMMUFD_H", "include guard")];
