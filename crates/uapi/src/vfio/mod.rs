//! `include/uapi/linux/vfio.h`: the container, group and device interfaces.
//!
//! - [`container`]: `/dev/vfio/vfio` — API version, extensions, `VFIO_SET_IOMMU`.
//! - [`group`]: `/dev/vfio/$GROUP` — status, container membership, device fds.
//! - [`type1`]: the type1 IOMMU — info, DMA map/unmap, dirty pages.
//! - [`spapr`]: the SPAPR TCE IOMMU — DMA windows, memory registration, EEH.
//! - [`device`]: device info, regions, IRQs, reset, PCI hot reset.
//! - [`feature`]: `VFIO_DEVICE_FEATURE` and its features.
//! - [`cdev`]: the device cdev with iommufd — bind, attach, detach.
//! - [`caps`]: capability chains of the INFO ioctls, with a builder and a parser.
//!
//! Everything is re-exported here; each submodule's `STRUCTS`/`CONSTS` table is reached
//! through the submodule.

pub mod caps;
pub mod cdev;
pub mod container;
pub mod device;
pub mod feature;
pub mod group;
pub mod spapr;
pub mod type1;

// Every submodule has its own STRUCTS/CONSTS tables; those names are ambiguous here on
// purpose and are used through the submodules.
#[allow(ambiguous_glob_reexports)]
pub use caps::*;
#[allow(ambiguous_glob_reexports)]
pub use cdev::*;
#[allow(ambiguous_glob_reexports)]
pub use container::*;
#[allow(ambiguous_glob_reexports)]
pub use device::*;
#[allow(ambiguous_glob_reexports)]
pub use feature::*;
#[allow(ambiguous_glob_reexports)]
pub use group::*;
#[allow(ambiguous_glob_reexports)]
pub use spapr::*;
#[allow(ambiguous_glob_reexports)]
pub use type1::*;

/// The struct tables of every submodule.
pub const STRUCT_TABLES: &[&[crate::layout::StructLayout]] = &[
    caps::STRUCTS,
    cdev::STRUCTS,
    device::STRUCTS,
    feature::STRUCTS,
    group::STRUCTS,
    spapr::STRUCTS,
    type1::STRUCTS,
];

/// The constant tables of every submodule.
pub const CONST_TABLES: &[&[crate::layout::ConstLayout]] = &[
    cdev::CONSTS,
    container::CONSTS,
    device::CONSTS,
    feature::CONSTS,
    group::CONSTS,
    spapr::CONSTS,
    type1::CONSTS,
];

const S390: &str = "s390 only (vfio-ccw, vfio-ap, zPCI); no s390 device model here";
const V1_MIGRATION: &str = "v1 migration region, removed from the kernel; superseded by \
                            VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE";
const NVLINK2: &str = "deprecated POWER NVLink2 region/capability, no longer provided";

/// Names `vfio.h` defines that this crate does not declare, each with the reason.
pub const NOT_DECLARED: &[(&str, &str)] = &[
    ("VFIO_H", "include guard (installed header)"),
    ("_UAPIVFIO_H", "include guard (kernel source tree)"),
    (
        "__VFIO_RESERVED_TYPE1_NESTING_IOMMU",
        "reserved number of the removed type1 nesting IOMMU; no extension reports it",
    ),
    (
        "VFIO_DEVICE_API_PCI_STRING",
        "a string (mdev device_api sysfs value), not a number",
    ),
    (
        "VFIO_DEVICE_API_PLATFORM_STRING",
        "a string (mdev device_api sysfs value), not a number",
    ),
    (
        "VFIO_DEVICE_API_AMBA_STRING",
        "a string (mdev device_api sysfs value), not a number",
    ),
    (
        "VFIO_DEVICE_API_CCW_STRING",
        "a string (mdev device_api sysfs value), not a number",
    ),
    (
        "VFIO_DEVICE_API_AP_STRING",
        "a string (mdev device_api sysfs value), not a number",
    ),
    ("VFIO_DEVICE_INFO_CAP_ZPCI_BASE", S390),
    ("VFIO_DEVICE_INFO_CAP_ZPCI_GROUP", S390),
    ("VFIO_DEVICE_INFO_CAP_ZPCI_UTIL", S390),
    ("VFIO_DEVICE_INFO_CAP_ZPCI_PFIP", S390),
    ("VFIO_REGION_TYPE_CCW", S390),
    ("VFIO_REGION_SUBTYPE_CCW_ASYNC_CMD", S390),
    ("VFIO_REGION_SUBTYPE_CCW_SCHIB", S390),
    ("VFIO_REGION_SUBTYPE_CCW_CRW", S390),
    ("VFIO_CCW_CONFIG_REGION_INDEX", S390),
    ("VFIO_CCW_NUM_REGIONS", S390),
    ("VFIO_CCW_IO_IRQ_INDEX", S390),
    ("VFIO_CCW_CRW_IRQ_INDEX", S390),
    ("VFIO_CCW_REQ_IRQ_INDEX", S390),
    ("VFIO_CCW_NUM_IRQS", S390),
    ("VFIO_AP_REQ_IRQ_INDEX", S390),
    ("VFIO_AP_CFG_CHG_IRQ_INDEX", S390),
    ("VFIO_AP_NUM_IRQS", S390),
    ("vfio_device_feature_zpci_err", S390),
    ("VFIO_DEVICE_FEATURE_ZPCI_ERROR", S390),
    ("VFIO_REGION_TYPE_MIGRATION_DEPRECATED", V1_MIGRATION),
    ("VFIO_REGION_SUBTYPE_MIGRATION_DEPRECATED", V1_MIGRATION),
    ("vfio_device_migration_info", V1_MIGRATION),
    ("VFIO_DEVICE_STATE_V1_STOP", V1_MIGRATION),
    ("VFIO_DEVICE_STATE_V1_RUNNING", V1_MIGRATION),
    ("VFIO_DEVICE_STATE_V1_SAVING", V1_MIGRATION),
    ("VFIO_DEVICE_STATE_V1_RESUMING", V1_MIGRATION),
    ("VFIO_DEVICE_STATE_MASK", V1_MIGRATION),
    ("VFIO_REGION_SUBTYPE_NVIDIA_NVLINK2_RAM", NVLINK2),
    ("VFIO_REGION_SUBTYPE_IBM_NVLINK2_ATSD", NVLINK2),
    ("VFIO_REGION_INFO_CAP_NVLINK2_SSATGT", NVLINK2),
    ("VFIO_REGION_INFO_CAP_NVLINK2_LNKSPD", NVLINK2),
    ("vfio_region_info_cap_nvlink2_ssatgt", NVLINK2),
    ("vfio_region_info_cap_nvlink2_lnkspd", NVLINK2),
];
