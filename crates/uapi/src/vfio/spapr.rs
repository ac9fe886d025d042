//! The SPAPR TCE (POWER) IOMMU container interface (`include/uapi/linux/vfio.h`, "Additional
//! API for SPAPR TCE (Server POWERPC) IOMMU"): the default 32-bit DMA window, dynamic DMA
//! windows, memory pre-registration and EEH error recovery.
//!
//! Mapping and unmapping use the type1 structs ([`super::type1`]); IOVAs are absolute PCI bus
//! addresses that must lie inside a window.

use super::container::{VFIO_BASE, VFIO_TYPE};
use crate::ioctl::io;

crate::uapi_structs! {
    /// `struct vfio_iommu_spapr_tce_ddw_info` — dynamic DMA window (DDW) capabilities, valid
    /// when `VFIO_IOMMU_SPAPR_INFO_DDW` is set.
    pub struct VfioIommuSpaprTceDdwInfo = "vfio_iommu_spapr_tce_ddw_info" {
        /// Bitmap of supported IOMMU page sizes (4K, 64K, 16M).
        pub pgsizes: u64,
        /// How many windows the platform can create.
        pub max_dynamic_windows_supported: u32,
        /// Maximum number of levels of a multi-level TCE table.
        pub levels: u32,
    }

    /// `struct vfio_iommu_spapr_tce_info` — ioctl(VFIO_IOMMU_SPAPR_TCE_GET_INFO): the default
    /// 32-bit DMA window and DDW support.
    pub struct VfioIommuSpaprTceInfo = "vfio_iommu_spapr_tce_info" {
        /// In: the size of the caller's struct.
        pub argsz: u32,
        /// Out: `VFIO_IOMMU_SPAPR_INFO_DDW`.
        pub flags: u32,
        /// Out: PCI bus address where the 32-bit window starts.
        pub dma32_window_start: u32,
        /// Out: size of the 32-bit window, in bytes.
        pub dma32_window_size: u32,
        /// Out: DDW capabilities.
        pub ddw: VfioIommuSpaprTceDdwInfo,
    }

    /// `struct vfio_eeh_pe_err` — the error to inject with `VFIO_EEH_PE_INJECT_ERR`.
    pub struct VfioEehPeErr = "vfio_eeh_pe_err" {
        /// Error type (platform-defined).
        pub type_: u32 => "type",
        /// Error function (platform-defined).
        pub func: u32,
        /// Address the error concerns.
        pub addr: u64,
        /// Address mask.
        pub mask: u64,
    }

    /// `struct vfio_eeh_pe_op` — ioctl(VFIO_EEH_PE_OP): an EEH operation on the container's
    /// partitionable endpoint (PE).
    pub struct VfioEehPeOp = "vfio_eeh_pe_op" {
        /// `sizeof(struct vfio_eeh_pe_op)` or, without an error to inject, at least up to `op`.
        pub argsz: u32,
        /// Must be 0.
        pub flags: u32,
        /// A `VFIO_EEH_PE_*` operation.
        pub op: u32,
        /// Padding the C struct leaves implicit before its union.
        pub __pad: u32 => _,
        /// For `VFIO_EEH_PE_INJECT_ERR`: the error (the only member of an anonymous union).
        pub err: VfioEehPeErr,
    }

    /// `struct vfio_iommu_spapr_register_memory` — ioctl(VFIO_IOMMU_SPAPR_REGISTER_MEMORY and
    /// _UNREGISTER_MEMORY): pre-register (pin and account) memory that later maps may use.
    pub struct VfioIommuSpaprRegisterMemory = "vfio_iommu_spapr_register_memory" {
        /// `sizeof(struct vfio_iommu_spapr_register_memory)`.
        pub argsz: u32,
        /// Must be 0.
        pub flags: u32,
        /// Process virtual address of the memory.
        pub vaddr: u64,
        /// Bytes.
        pub size: u64,
    }

    /// `struct vfio_iommu_spapr_tce_create` — ioctl(VFIO_IOMMU_SPAPR_TCE_CREATE): create a
    /// dynamic DMA window with a new TCE table in every group of the container.
    pub struct VfioIommuSpaprTceCreate = "vfio_iommu_spapr_tce_create" {
        /// `sizeof(struct vfio_iommu_spapr_tce_create)`.
        pub argsz: u32,
        /// Must be 0.
        pub flags: u32,
        /// In: log2 of the IOMMU page size.
        pub page_shift: u32,
        /// Reserved.
        pub __resv1: u32,
        /// In: window size, in bytes.
        pub window_size: u64,
        /// In: number of TCE table levels.
        pub levels: u32,
        /// Reserved.
        pub __resv2: u32,
        /// Out: PCI bus address where the new window starts; it identifies the window.
        pub start_addr: u64,
    }

    /// `struct vfio_iommu_spapr_tce_remove` — ioctl(VFIO_IOMMU_SPAPR_TCE_REMOVE): remove a
    /// DMA window from every group of the container and free its table.
    pub struct VfioIommuSpaprTceRemove = "vfio_iommu_spapr_tce_remove" {
        /// `sizeof(struct vfio_iommu_spapr_tce_remove)`.
        pub argsz: u32,
        /// Must be 0.
        pub flags: u32,
        /// In: start address of the window, as `VFIO_IOMMU_SPAPR_TCE_CREATE` returned it.
        pub start_addr: u64,
    }
}

crate::uapi_consts! {
    /// `vfio_iommu_spapr_tce_info.flags`: dynamic DMA windows are supported; `ddw` is valid.
    pub const VFIO_IOMMU_SPAPR_INFO_DDW: u32 = 1 << 0;

    /// `vfio_eeh_pe_op.op`: disable EEH.
    pub const VFIO_EEH_PE_DISABLE: u32 = 0;
    /// `vfio_eeh_pe_op.op`: enable EEH.
    pub const VFIO_EEH_PE_ENABLE: u32 = 1;
    /// `vfio_eeh_pe_op.op`: re-enable MMIO/PIO of a frozen PE.
    pub const VFIO_EEH_PE_UNFREEZE_IO: u32 = 2;
    /// `vfio_eeh_pe_op.op`: re-enable DMA of a frozen PE.
    pub const VFIO_EEH_PE_UNFREEZE_DMA: u32 = 3;
    /// `vfio_eeh_pe_op.op`: return the PE state, a `VFIO_EEH_PE_STATE_*` value.
    pub const VFIO_EEH_PE_GET_STATE: u32 = 4;
    /// PE state: functional.
    pub const VFIO_EEH_PE_STATE_NORMAL: u32 = 0;
    /// PE state: reset in progress.
    pub const VFIO_EEH_PE_STATE_RESET: u32 = 1;
    /// PE state: MMIO/PIO and DMA stopped.
    pub const VFIO_EEH_PE_STATE_STOPPED: u32 = 2;
    /// PE state: DMA stopped.
    pub const VFIO_EEH_PE_STATE_STOPPED_DMA: u32 = 4;
    /// PE state: unavailable.
    pub const VFIO_EEH_PE_STATE_UNAVAIL: u32 = 5;
    /// `vfio_eeh_pe_op.op`: deassert PE reset.
    pub const VFIO_EEH_PE_RESET_DEACTIVATE: u32 = 5;
    /// `vfio_eeh_pe_op.op`: assert hot reset.
    pub const VFIO_EEH_PE_RESET_HOT: u32 = 6;
    /// `vfio_eeh_pe_op.op`: assert fundamental reset.
    pub const VFIO_EEH_PE_RESET_FUNDAMENTAL: u32 = 7;
    /// `vfio_eeh_pe_op.op`: reconfigure the PE after reset.
    pub const VFIO_EEH_PE_CONFIGURE: u32 = 8;
    /// `vfio_eeh_pe_op.op`: inject the error in `err`.
    pub const VFIO_EEH_PE_INJECT_ERR: u32 = 9;

    /// `VFIO_IOMMU_SPAPR_TCE_GET_INFO`: fills a [`VfioIommuSpaprTceInfo`] (same number as
    /// `VFIO_IOMMU_GET_INFO`).
    pub const VFIO_IOMMU_SPAPR_TCE_GET_INFO: u32 = io(VFIO_TYPE, VFIO_BASE + 12);
    /// `VFIO_IOMMU_ENABLE`: enable the container's IOMMU (SPAPR TCE v1 accounts locked memory
    /// here); no argument.
    pub const VFIO_IOMMU_ENABLE: u32 = io(VFIO_TYPE, VFIO_BASE + 15);
    /// `VFIO_IOMMU_DISABLE`: disable the container's IOMMU; no argument.
    pub const VFIO_IOMMU_DISABLE: u32 = io(VFIO_TYPE, VFIO_BASE + 16);
    /// `VFIO_IOMMU_SPAPR_REGISTER_MEMORY`: takes a [`VfioIommuSpaprRegisterMemory`].
    pub const VFIO_IOMMU_SPAPR_REGISTER_MEMORY: u32 = io(VFIO_TYPE, VFIO_BASE + 17);
    /// `VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY`: takes a [`VfioIommuSpaprRegisterMemory`] exactly
    /// as registered.
    pub const VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY: u32 = io(VFIO_TYPE, VFIO_BASE + 18);
    /// `VFIO_IOMMU_SPAPR_TCE_CREATE`: takes a [`VfioIommuSpaprTceCreate`].
    pub const VFIO_IOMMU_SPAPR_TCE_CREATE: u32 = io(VFIO_TYPE, VFIO_BASE + 19);
    /// `VFIO_IOMMU_SPAPR_TCE_REMOVE`: takes a [`VfioIommuSpaprTceRemove`].
    pub const VFIO_IOMMU_SPAPR_TCE_REMOVE: u32 = io(VFIO_TYPE, VFIO_BASE + 20);
    /// `VFIO_EEH_PE_OP`: takes a [`VfioEehPeOp`].
    pub const VFIO_EEH_PE_OP: u32 = io(VFIO_TYPE, VFIO_BASE + 21);
}
