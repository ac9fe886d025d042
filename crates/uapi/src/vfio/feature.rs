//! Device features (`include/uapi/linux/vfio.h`, `VFIO_DEVICE_FEATURE`): a selector in
//! `flags`, GET/SET/PROBE, and per-feature data after the header — migration, low power,
//! device DMA logging, bus mastering and dma-buf export.

use super::container::{VFIO_BASE, VFIO_TYPE};
use crate::ioctl::io;

crate::uapi_structs! {
    /// `struct vfio_device_feature` — ioctl(VFIO_DEVICE_FEATURE): get, set or probe one
    /// feature. GET and SET exclude each other except with PROBE, which asks whether the
    /// feature (and the GET/SET given with it) is supported and needs no data.
    ///
    /// The C struct ends with the flexible array `__u8 data[]` holding the feature's struct
    /// (not part of `sizeof`, not a field here); `argsz` covers it.
    pub struct VfioDeviceFeature = "vfio_device_feature" {
        /// `sizeof(struct vfio_device_feature)` plus the data.
        pub argsz: u32,
        /// The feature number (`VFIO_DEVICE_FEATURE_MASK` bits) and GET/SET/PROBE.
        pub flags: u32,
    }

    /// `struct vfio_device_feature_migration` — GET of `VFIO_DEVICE_FEATURE_MIGRATION`: the
    /// device can migrate, with these optional states.
    pub struct VfioDeviceFeatureMigration = "vfio_device_feature_migration" {
        /// `VFIO_MIGRATION_*`; `STOP_COPY` is always set.
        pub flags: u64,
    }

    /// `struct vfio_device_feature_mig_state` — `VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE`: move
    /// the device to a migration state (SET) or read it (GET).
    pub struct VfioDeviceFeatureMigState = "vfio_device_feature_mig_state" {
        /// A `VFIO_DEVICE_STATE_*` (`enum vfio_device_mig_state`) value.
        pub device_state: u32,
        /// Out: the data transfer fd if the transition started one, else -1.
        pub data_fd: i32,
    }

    /// `struct vfio_precopy_info` — ioctl(VFIO_MIG_GET_PRECOPY_INFO) on a migration data fd in
    /// a PRE_COPY state: estimates of the data still to read.
    pub struct VfioPrecopyInfo = "vfio_precopy_info" {
        /// `sizeof(struct vfio_precopy_info)`.
        pub argsz: u32,
        /// Out: `VFIO_PRECOPY_INFO_REINIT`, only once `MIG_PRECOPY_INFOv2` was enabled;
        /// reserved otherwise.
        pub flags: u32,
        /// Out: initial precopy bytes still available.
        pub initial_bytes: u64,
        /// Out: bytes of state changed since it was read.
        pub dirty_bytes: u64,
    }

    /// `struct vfio_device_low_power_entry_with_wakeup` — SET of
    /// `VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP`: allow low power, signalling this
    /// eventfd when the device is woken.
    pub struct VfioDeviceLowPowerEntryWithWakeup = "vfio_device_low_power_entry_with_wakeup" {
        /// The eventfd to signal on wake-up.
        pub wakeup_eventfd: i32,
        /// Reserved.
        pub reserved: u32,
    }

    /// `struct vfio_device_feature_dma_logging_control` — SET of
    /// `VFIO_DEVICE_FEATURE_DMA_LOGGING_START`: have the device log the pages it writes by
    /// DMA within these IOVA ranges.
    pub struct VfioDeviceFeatureDmaLoggingControl = "vfio_device_feature_dma_logging_control" {
        /// In: tracking granularity hint; out: the granularity chosen.
        pub page_size: u64,
        /// Number of entries at `ranges`.
        pub num_ranges: u32,
        /// Reserved.
        pub __reserved: u32,
        /// User pointer to an array of [`VfioDeviceFeatureDmaLoggingRange`].
        pub ranges: u64,
    }

    /// `struct vfio_device_feature_dma_logging_range` — an IOVA range to log.
    pub struct VfioDeviceFeatureDmaLoggingRange = "vfio_device_feature_dma_logging_range" {
        /// First IOVA.
        pub iova: u64,
        /// Bytes.
        pub length: u64,
    }

    /// `struct vfio_device_feature_dma_logging_report` — GET of
    /// `VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT`: read and clear the log of a range. Bits are
    /// only ever set in the caller's bitmap, never cleared.
    pub struct VfioDeviceFeatureDmaLoggingReport = "vfio_device_feature_dma_logging_report" {
        /// First IOVA.
        pub iova: u64,
        /// Bytes.
        pub length: u64,
        /// Bytes per bit; any power of two.
        pub page_size: u64,
        /// User pointer to the `u64` bitmap.
        pub bitmap: u64,
    }

    /// `struct vfio_device_feature_mig_data_size` — GET of
    /// `VFIO_DEVICE_FEATURE_MIG_DATA_SIZE`: estimated bytes the STOP_COPY phase will produce.
    pub struct VfioDeviceFeatureMigDataSize = "vfio_device_feature_mig_data_size" {
        /// Estimated STOP_COPY length.
        pub stop_copy_length: u64,
    }

    /// `struct vfio_device_feature_bus_master` — SET of `VFIO_DEVICE_FEATURE_BUS_MASTER`:
    /// enable or block the device's DMA (CDX devices; PCI does this in config space).
    pub struct VfioDeviceFeatureBusMaster = "vfio_device_feature_bus_master" {
        /// `VFIO_DEVICE_FEATURE_CLEAR_MASTER` or `VFIO_DEVICE_FEATURE_SET_MASTER`.
        pub op: u32,
    }

    /// `struct vfio_region_dma_range` — a slice of a region exported as a dma-buf.
    pub struct VfioRegionDmaRange = "vfio_region_dma_range" {
        /// Offset within the region.
        pub offset: u64,
        /// Bytes.
        pub length: u64,
    }

    /// `struct vfio_device_feature_dma_buf` — GET of `VFIO_DEVICE_FEATURE_DMA_BUF`: a dma-buf
    /// fd (the ioctl's return value) over ranges of a region, for peer-to-peer DMA.
    ///
    /// The C struct ends with the flexible array `struct vfio_region_dma_range dma_ranges[]` of
    /// `nr_ranges` entries, not part of `sizeof` and not a field here.
    pub struct VfioDeviceFeatureDmaBuf = "vfio_device_feature_dma_buf" {
        /// The region to export from.
        pub region_index: u32,
        /// `open(2)` flags of the new fd (`O_RDWR`, `O_CLOEXEC`, ...).
        pub open_flags: u32,
        /// Must be 0.
        pub flags: u32,
        /// Number of ranges that follow.
        pub nr_ranges: u32,
    }
}

crate::uapi_consts! {
    /// `vfio_device_feature.flags`: the 16-bit feature number.
    pub const VFIO_DEVICE_FEATURE_MASK: u32 = 0xffff;
    /// `vfio_device_feature.flags`: read the feature into the data.
    pub const VFIO_DEVICE_FEATURE_GET: u32 = 1 << 16;
    /// `vfio_device_feature.flags`: set the feature from the data.
    pub const VFIO_DEVICE_FEATURE_SET: u32 = 1 << 17;
    /// `vfio_device_feature.flags`: only ask whether the feature is supported.
    pub const VFIO_DEVICE_FEATURE_PROBE: u32 = 1 << 18;
    /// `VFIO_DEVICE_FEATURE`: takes a [`VfioDeviceFeature`] and its data.
    pub const VFIO_DEVICE_FEATURE: u32 = io(VFIO_TYPE, VFIO_BASE + 17);

    /// Feature: SET the 16-byte UUID VF token shared by an SR-IOV PF and its VFs.
    pub const VFIO_DEVICE_FEATURE_PCI_VF_TOKEN: u32 = 0;
    /// Feature: GET [`VfioDeviceFeatureMigration`].
    pub const VFIO_DEVICE_FEATURE_MIGRATION: u32 = 1;
    /// `vfio_device_feature_migration.flags`: STOP, STOP_COPY and RESUMING are supported.
    pub const VFIO_MIGRATION_STOP_COPY: u64 = 1 << 0;
    /// `vfio_device_feature_migration.flags`: RUNNING_P2P (and PRE_COPY_P2P) are supported.
    pub const VFIO_MIGRATION_P2P: u64 = 1 << 1;
    /// `vfio_device_feature_migration.flags`: PRE_COPY (and PRE_COPY_P2P) are supported.
    pub const VFIO_MIGRATION_PRE_COPY: u64 = 1 << 2;
    /// Feature: GET/SET [`VfioDeviceFeatureMigState`].
    pub const VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE: u32 = 2;
    /// Migration state: failed; only `VFIO_DEVICE_RESET` leaves it. Cannot be requested.
    pub const VFIO_DEVICE_STATE_ERROR: u32 = 0;
    /// Migration state: stopped; no DMA, interrupts or internal state change.
    pub const VFIO_DEVICE_STATE_STOP: u32 = 1;
    /// Migration state: running normally.
    pub const VFIO_DEVICE_STATE_RUNNING: u32 = 2;
    /// Migration state: stopped, its state streamed out on the data fd.
    pub const VFIO_DEVICE_STATE_STOP_COPY: u32 = 3;
    /// Migration state: stopped, loading state written to the data fd.
    pub const VFIO_DEVICE_STATE_RESUMING: u32 = 4;
    /// Migration state: running but initiating no peer-to-peer DMA.
    pub const VFIO_DEVICE_STATE_RUNNING_P2P: u32 = 5;
    /// Migration state: running while streaming initial state.
    pub const VFIO_DEVICE_STATE_PRE_COPY: u32 = 6;
    /// Migration state: PRE_COPY without peer-to-peer DMA.
    pub const VFIO_DEVICE_STATE_PRE_COPY_P2P: u32 = 7;
    /// Number of migration states.
    pub const VFIO_DEVICE_STATE_NR: u32 = 8;
    /// `vfio_precopy_info.flags`: new initial data is on the stream.
    pub const VFIO_PRECOPY_INFO_REINIT: u32 = 1 << 0;
    /// `VFIO_MIG_GET_PRECOPY_INFO`: fills a [`VfioPrecopyInfo`]; on the migration data fd
    /// (same number as `VFIO_EEH_PE_OP`).
    pub const VFIO_MIG_GET_PRECOPY_INFO: u32 = io(VFIO_TYPE, VFIO_BASE + 21);

    /// Feature: SET allows runtime low power; mmap access is disabled until exit.
    pub const VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY: u32 = 3;
    /// Feature: SET [`VfioDeviceLowPowerEntryWithWakeup`].
    pub const VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP: u32 = 4;
    /// Feature: SET leaves low power.
    pub const VFIO_DEVICE_FEATURE_LOW_POWER_EXIT: u32 = 5;
    /// Feature: SET [`VfioDeviceFeatureDmaLoggingControl`] starts device DMA logging.
    pub const VFIO_DEVICE_FEATURE_DMA_LOGGING_START: u32 = 6;
    /// Feature: SET stops device DMA logging.
    pub const VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP: u32 = 7;
    /// Feature: GET [`VfioDeviceFeatureDmaLoggingReport`].
    pub const VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT: u32 = 8;
    /// Feature: GET [`VfioDeviceFeatureMigDataSize`].
    pub const VFIO_DEVICE_FEATURE_MIG_DATA_SIZE: u32 = 9;
    /// `vfio_device_feature_bus_master.op`: block the device's DMA.
    pub const VFIO_DEVICE_FEATURE_CLEAR_MASTER: u32 = 0;
    /// `vfio_device_feature_bus_master.op`: allow the device's DMA.
    pub const VFIO_DEVICE_FEATURE_SET_MASTER: u32 = 1;
    /// Feature: SET [`VfioDeviceFeatureBusMaster`].
    pub const VFIO_DEVICE_FEATURE_BUS_MASTER: u32 = 10;
    /// Feature: GET [`VfioDeviceFeatureDmaBuf`] returns a dma-buf fd.
    pub const VFIO_DEVICE_FEATURE_DMA_BUF: u32 = 11;
    /// Feature: SET enables `VFIO_PRECOPY_INFO_REINIT` reporting.
    #[allow(non_upper_case_globals)]
    pub const VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2: u32 = 12;
}
