//! `VFIO_DEVICE_FEATURE` on a [`VfioDevice`]: the general GET/SET/PROBE entry point and typed
//! helpers for the features whose payloads the uAPI defines (migration and its state machine,
//! low power, device DMA logging, bus mastering, dma-buf export, the VF token); and
//! `VFIO_MIG_GET_PRECOPY_INFO` on the migration data fd ([`MigrationFile`]).

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use uiommu_uapi::Errno;
use uiommu_uapi::vfio::*;
use zerocopy::{FromBytes, IntoBytes};

use super::VfioDevice;
use crate::error::{Context, Error, Result};
use crate::flags::flags;
use crate::ioctl;

const OP: &str = "VFIO_DEVICE_FEATURE";

flags! {
    /// The operation bits of `vfio_device_feature.flags` (`VFIO_DEVICE_FEATURE_GET`, `_SET`,
    /// `_PROBE`); the feature number goes beside them.
    ///
    /// ```
    /// use uiommu_client::FeatureFlags;
    ///
    /// let f = FeatureFlags::PROBE | FeatureFlags::SET;
    /// assert!(f.contains(FeatureFlags::SET));
    /// assert_eq!(f.bits(), (1 << 18) | (1 << 17));
    /// ```
    pub struct FeatureFlags: u32 {
        /// `VFIO_DEVICE_FEATURE_GET`: read the feature into the payload.
        const GET = VFIO_DEVICE_FEATURE_GET;
        /// `VFIO_DEVICE_FEATURE_SET`: set the feature from the payload.
        const SET = VFIO_DEVICE_FEATURE_SET;
        /// `VFIO_DEVICE_FEATURE_PROBE`: only ask whether the feature (and GET/SET) is supported.
        const PROBE = VFIO_DEVICE_FEATURE_PROBE;
    }
}

flags! {
    /// `vfio_device_feature_migration.flags` (`VFIO_MIGRATION_*`): the optional migration
    /// states a device supports.
    ///
    /// ```no_run
    /// use uiommu_client::{MigrationFlags, VfioDevice};
    ///
    /// let dev = VfioDevice::open_cdev(0)?;
    /// let m = dev.migration_flags()?;
    /// assert!(m.contains(MigrationFlags::STOP_COPY));
    /// # Ok::<(), uiommu_client::Error>(())
    /// ```
    pub struct MigrationFlags: u64 {
        /// `VFIO_MIGRATION_STOP_COPY`: STOP, STOP_COPY and RESUMING (always set).
        const STOP_COPY = VFIO_MIGRATION_STOP_COPY;
        /// `VFIO_MIGRATION_P2P`: RUNNING_P2P (and PRE_COPY_P2P with PRE_COPY).
        const P2P = VFIO_MIGRATION_P2P;
        /// `VFIO_MIGRATION_PRE_COPY`: PRE_COPY (and PRE_COPY_P2P with P2P).
        const PRE_COPY = VFIO_MIGRATION_PRE_COPY;
    }
}

flags! {
    /// `vfio_precopy_info.flags`.
    ///
    /// ```
    /// use uiommu_client::PrecopyFlags;
    ///
    /// assert!(PrecopyFlags::empty().is_empty());
    /// assert_eq!(PrecopyFlags::REINIT.bits(), 1);
    /// ```
    pub struct PrecopyFlags: u32 {
        /// `VFIO_PRECOPY_INFO_REINIT`: new initial data is on the stream (reported only after
        /// [`VfioDevice::enable_precopy_info_v2`]).
        const REINIT = VFIO_PRECOPY_INFO_REINIT;
    }
}

flags! {
    /// `vfio_device_feature_dma_buf.open_flags`: how the exported dma-buf fd is opened.
    ///
    /// ```
    /// use uiommu_client::DmaBufOpenFlags;
    ///
    /// let f = DmaBufOpenFlags::RDWR | DmaBufOpenFlags::CLOEXEC;
    /// assert_eq!(f.bits(), (libc::O_RDWR | libc::O_CLOEXEC) as u32);
    /// ```
    pub struct DmaBufOpenFlags: u32 {
        /// `O_WRONLY`.
        const WRONLY = libc::O_WRONLY as u32;
        /// `O_RDWR`.
        const RDWR = libc::O_RDWR as u32;
        /// `O_CLOEXEC`.
        const CLOEXEC = libc::O_CLOEXEC as u32;
    }
}

/// A migration state (`enum vfio_device_mig_state`, `VFIO_DEVICE_STATE_*`).
///
/// ```
/// use uiommu_client::MigState;
///
/// assert_eq!(MigState::from_raw(3), Some(MigState::StopCopy));
/// assert_eq!(MigState::Running.raw(), 2);
/// assert_eq!(MigState::from_raw(8), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MigState {
    /// `VFIO_DEVICE_STATE_ERROR`: failed; only a reset leaves it. Cannot be requested.
    Error,
    /// `VFIO_DEVICE_STATE_STOP`.
    Stop,
    /// `VFIO_DEVICE_STATE_RUNNING`.
    Running,
    /// `VFIO_DEVICE_STATE_STOP_COPY`: stopped, state streamed out on the data fd.
    StopCopy,
    /// `VFIO_DEVICE_STATE_RESUMING`: stopped, state loaded from the data fd.
    Resuming,
    /// `VFIO_DEVICE_STATE_RUNNING_P2P`: running, initiating no peer-to-peer DMA.
    RunningP2p,
    /// `VFIO_DEVICE_STATE_PRE_COPY`: running while streaming initial state.
    PreCopy,
    /// `VFIO_DEVICE_STATE_PRE_COPY_P2P`: PRE_COPY without peer-to-peer DMA.
    PreCopyP2p,
}

impl MigState {
    /// The `VFIO_DEVICE_STATE_*` value.
    pub fn raw(self) -> u32 {
        match self {
            MigState::Error => VFIO_DEVICE_STATE_ERROR,
            MigState::Stop => VFIO_DEVICE_STATE_STOP,
            MigState::Running => VFIO_DEVICE_STATE_RUNNING,
            MigState::StopCopy => VFIO_DEVICE_STATE_STOP_COPY,
            MigState::Resuming => VFIO_DEVICE_STATE_RESUMING,
            MigState::RunningP2p => VFIO_DEVICE_STATE_RUNNING_P2P,
            MigState::PreCopy => VFIO_DEVICE_STATE_PRE_COPY,
            MigState::PreCopyP2p => VFIO_DEVICE_STATE_PRE_COPY_P2P,
        }
    }

    /// The state of a `VFIO_DEVICE_STATE_*` value, `None` for values the uAPI does not define.
    pub fn from_raw(raw: u32) -> Option<Self> {
        Some(match raw {
            VFIO_DEVICE_STATE_ERROR => MigState::Error,
            VFIO_DEVICE_STATE_STOP => MigState::Stop,
            VFIO_DEVICE_STATE_RUNNING => MigState::Running,
            VFIO_DEVICE_STATE_STOP_COPY => MigState::StopCopy,
            VFIO_DEVICE_STATE_RESUMING => MigState::Resuming,
            VFIO_DEVICE_STATE_RUNNING_P2P => MigState::RunningP2p,
            VFIO_DEVICE_STATE_PRE_COPY => MigState::PreCopy,
            VFIO_DEVICE_STATE_PRE_COPY_P2P => MigState::PreCopyP2p,
            _ => return None,
        })
    }
}

/// `VFIO_MIG_GET_PRECOPY_INFO`: `struct vfio_precopy_info`.
///
/// ```no_run
/// use uiommu_client::{MigState, PrecopyInfo, VfioDevice};
///
/// let dev = VfioDevice::open_cdev(0)?;
/// let data = dev.set_mig_state(MigState::PreCopy)?.expect("a data fd");
/// let PrecopyInfo { initial_bytes, dirty_bytes, .. } = data.precopy_info()?;
/// # Ok::<(), uiommu_client::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrecopyInfo {
    /// `flags`.
    pub flags: PrecopyFlags,
    /// `initial_bytes`: initial precopy bytes still to read.
    pub initial_bytes: u64,
    /// `dirty_bytes`: bytes of state changed since they were read.
    pub dirty_bytes: u64,
}

/// A migration data fd, returned by [`VfioDevice::set_mig_state`] when a transition starts
/// a data transfer: read the device state from it (STOP_COPY, PRE_COPY) or write it
/// (RESUMING) through [`file`](Self::file). Closed on drop.
///
/// ```no_run
/// use std::io::Read;
/// use uiommu_client::{MigState, VfioDevice};
///
/// let dev = VfioDevice::open_cdev(0)?;
/// dev.set_mig_state(MigState::Stop)?;
/// let data = dev.set_mig_state(MigState::StopCopy)?.expect("a data fd");
/// let mut state = Vec::new();
/// data.file().read_to_end(&mut state).expect("read");
/// # Ok::<(), uiommu_client::Error>(())
/// ```
#[derive(Debug)]
pub struct MigrationFile {
    file: File,
}

impl MigrationFile {
    /// The data fd as a file, for `read(2)`/`write(2)`.
    ///
    /// ```no_run
    /// use uiommu_client::{MigState, VfioDevice};
    ///
    /// let dev = VfioDevice::open_cdev(0)?;
    /// let data = dev.set_mig_state(MigState::StopCopy)?.expect("a data fd");
    /// let len = data.file().metadata().map(|m| m.len()).unwrap_or(0);
    /// # Ok::<(), uiommu_client::Error>(())
    /// ```
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The data fd as a file, owned.
    ///
    /// ```no_run
    /// use std::io::Write;
    /// use uiommu_client::{MigState, VfioDevice};
    ///
    /// let dev = VfioDevice::open_cdev(0)?;
    /// let data = dev.set_mig_state(MigState::Resuming)?.expect("a data fd");
    /// let mut f = data.into_file();
    /// f.write_all(b"saved state").expect("write");
    /// # Ok::<(), uiommu_client::Error>(())
    /// ```
    pub fn into_file(self) -> File {
        self.file
    }

    /// ioctl(VFIO_MIG_GET_PRECOPY_INFO), in a PRE_COPY state.
    ///
    /// ```no_run
    /// use uiommu_client::{MigState, VfioDevice};
    ///
    /// let dev = VfioDevice::open_cdev(0)?;
    /// let data = dev.set_mig_state(MigState::PreCopy)?.expect("a data fd");
    /// let info = data.precopy_info()?;
    /// println!("{} initial, {} dirty", info.initial_bytes, info.dirty_bytes);
    /// # Ok::<(), uiommu_client::Error>(())
    /// ```
    pub fn precopy_info(&self) -> Result<PrecopyInfo> {
        let mut cmd = precopy_info_request();
        ioctl::ioctl(self.as_fd(), VFIO_MIG_GET_PRECOPY_INFO, &mut cmd)
            .op("VFIO_MIG_GET_PRECOPY_INFO")?;
        Ok(decode_precopy_info(&cmd))
    }
}

impl AsFd for MigrationFile {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

pub(crate) fn precopy_info_request() -> VfioPrecopyInfo {
    VfioPrecopyInfo {
        argsz: size_of::<VfioPrecopyInfo>() as u32,
        ..Default::default()
    }
}

pub(crate) fn decode_precopy_info(cmd: &VfioPrecopyInfo) -> PrecopyInfo {
    PrecopyInfo {
        flags: PrecopyFlags::from_bits_retain(cmd.flags),
        initial_bytes: cmd.initial_bytes,
        dirty_bytes: cmd.dirty_bytes,
    }
}

/// Encodes a `VFIO_DEVICE_FEATURE` argument: the header, then `data`.
pub(crate) fn encode_feature(feature: u32, flags: FeatureFlags, data: &[u8]) -> Result<Vec<u8>> {
    if feature & !VFIO_DEVICE_FEATURE_MASK != 0 {
        return Err(Error::os(OP, Errno::EINVAL));
    }
    let head = VfioDeviceFeature {
        argsz: (size_of::<VfioDeviceFeature>() + data.len()) as u32,
        flags: feature | flags.bits(),
    };
    let mut out = head.as_bytes().to_vec();
    out.extend_from_slice(data);
    Ok(out)
}

/// Encodes the payload of `VFIO_DEVICE_FEATURE_DMA_BUF`: the struct, then the ranges.
pub(crate) fn encode_dma_buf(
    region_index: u32,
    open_flags: DmaBufOpenFlags,
    ranges: &[VfioRegionDmaRange],
) -> Vec<u8> {
    let head = VfioDeviceFeatureDmaBuf {
        region_index,
        open_flags: open_flags.bits(),
        flags: 0,
        nr_ranges: ranges.len() as u32,
    };
    let mut out = head.as_bytes().to_vec();
    out.extend_from_slice(ranges.as_bytes());
    out
}

/// The `u64` words a DMA logging report of `length` bytes at `page_size` granularity needs.
pub(crate) fn report_words(length: u64, page_size: u64) -> Option<usize> {
    if !page_size.is_power_of_two() {
        return None;
    }
    usize::try_from(length.div_ceil(page_size).div_ceil(64)).ok()
}

impl VfioDevice {
    /// ioctl(VFIO_DEVICE_FEATURE) of `feature` (a `VFIO_DEVICE_FEATURE_*` number, at most
    /// `VFIO_DEVICE_FEATURE_MASK`) with `flags`: `data` is sent after the header and
    /// overwritten with what the kernel wrote back (a GET's reply). Returns the ioctl's
    /// value (an fd for features that create one).
    ///
    /// ```no_run
    /// use uiommu_client::{FeatureFlags, VfioDevice};
    /// use uiommu_client::uapi::vfio::VFIO_DEVICE_FEATURE_MIG_DATA_SIZE;
    ///
    /// let dev = VfioDevice::open_cdev(0)?;
    /// let mut size = [0u8; 8];
    /// dev.feature(VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, FeatureFlags::GET, &mut size)?;
    /// println!("{} bytes", u64::from_ne_bytes(size));
    /// # Ok::<(), uiommu_client::Error>(())
    /// ```
    pub fn feature(&self, feature: u32, flags: FeatureFlags, data: &mut [u8]) -> Result<i32> {
        let mut buf = encode_feature(feature, flags, data)?;
        let rc = ioctl::ioctl_bytes(self.as_fd(), VFIO_DEVICE_FEATURE, &mut buf).op(OP)?;
        data.copy_from_slice(&buf[size_of::<VfioDeviceFeature>()..]);
        Ok(rc)
    }

    /// `VFIO_DEVICE_FEATURE` with `VFIO_DEVICE_FEATURE_PROBE`: whether `feature` supports the
    /// operations in `flags` (`GET`, `SET`, both or none). `false` when the kernel answers
    /// `ENOTTY` (no such feature) or `EINVAL` (not with these operations).
    ///
    /// ```no_run
    /// use uiommu_client::{FeatureFlags, VfioDevice};
    /// use uiommu_client::uapi::vfio::VFIO_DEVICE_FEATURE_MIGRATION;
    ///
    /// let dev = VfioDevice::open_cdev(0)?;
    /// if dev.probe_feature(VFIO_DEVICE_FEATURE_MIGRATION, FeatureFlags::GET)? {
    ///     println!("{:?}", dev.migration_flags()?);
    /// }
    /// # Ok::<(), uiommu_client::Error>(())
    /// ```
    pub fn probe_feature(&self, feature: u32, flags: FeatureFlags) -> Result<bool> {
        match self.feature(feature, flags | FeatureFlags::PROBE, &mut []) {
            Ok(_) => Ok(true),
            Err(e) if matches!(e.errno(), Some(Errno::ENOTTY | Errno::EINVAL)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// GET of a feature whose reply is the struct `T`.
    fn feature_get<T: IntoBytes + FromBytes + zerocopy::Immutable>(
        &self,
        feature: u32,
        arg: T,
    ) -> Result<T> {
        let mut data = arg.as_bytes().to_vec();
        self.feature(feature, FeatureFlags::GET, &mut data)?;
        T::read_from_bytes(&data).map_err(|_| Error::Protocol {
            op: OP,
            what: "short reply".into(),
        })
    }

    /// SET of a feature with `data`; returns what the kernel wrote back.
    fn feature_set(&self, feature: u32, data: &mut [u8]) -> Result<i32> {
        self.feature(feature, FeatureFlags::SET, data)
    }

    /// GET of `VFIO_DEVICE_FEATURE_MIGRATION`: the migration states the device supports.
    ///
    /// ```no_run
    /// use uiommu_client::{MigState, MigrationFlags, VfioDevice};
    ///
    /// let dev = VfioDevice::open_cdev(0)?;
    /// if dev.migration_flags()?.contains(MigrationFlags::PRE_COPY) {
    ///     dev.set_mig_state(MigState::PreCopy)?;
    /// }
    /// # Ok::<(), uiommu_client::Error>(())
    /// ```
    pub fn migration_flags(&self) -> Result<MigrationFlags> {
        let m = self.feature_get(
            VFIO_DEVICE_FEATURE_MIGRATION,
            VfioDeviceFeatureMigration::default(),
        )?;
        Ok(MigrationFlags::from_bits_retain(m.flags))
    }

    /// GET of `VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE`: the current migration state.
    ///
    /// ```no_run
    /// use uiommu_client::{MigState, VfioDevice};
    ///
    /// let dev = VfioDevice::open_cdev(0)?;
    /// assert_eq!(dev.mig_state()?, MigState::Running);
    /// # Ok::<(), uiommu_client::Error>(())
    /// ```
    pub fn mig_state(&self) -> Result<MigState> {
        let s = self.feature_get(
            VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
            VfioDeviceFeatureMigState::default(),
        )?;
        MigState::from_raw(s.device_state).ok_or_else(|| Error::Protocol {
            op: OP,
            what: format!("migration state {}", s.device_state),
        })
    }

    /// SET of `VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE`: move to `state`. Returns the data fd
    /// when the transition started a transfer (STOP_COPY, RESUMING, PRE_COPY, ...).
    ///
    /// ```no_run
    /// use uiommu_client::{MigState, VfioDevice};
    ///
    /// let dev = VfioDevice::open_cdev(0)?;
    /// assert!(dev.set_mig_state(MigState::Stop)?.is_none());
    /// let data = dev.set_mig_state(MigState::StopCopy)?;
    /// # Ok::<(), uiommu_client::Error>(())
    /// ```
    pub fn set_mig_state(&self, state: MigState) -> Result<Option<MigrationFile>> {
        let mut s = mig_state_request(state);
        self.feature_set(VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, s.as_mut_bytes())?;
        Ok((s.data_fd >= 0).then(|| MigrationFile {
            file: File::from(ioctl::own_fd(s.data_fd)),
        }))
    }

    /// GET of `VFIO_DEVICE_FEATURE_MIG_DATA_SIZE`: the estimated STOP_COPY length in bytes.
    ///
    /// ```no_run
    /// use uiommu_client::VfioDevice;
    ///
    /// let dev = VfioDevice::open_cdev(0)?;
    /// println!("about {} bytes to copy", dev.mig_data_size()?);
    /// # Ok::<(), uiommu_client::Error>(())
    /// ```
    pub fn mig_data_size(&self) -> Result<u64> {
        Ok(self
            .feature_get(
                VFIO_DEVICE_FEATURE_MIG_DATA_SIZE,
                VfioDeviceFeatureMigDataSize::default(),
            )?
            .stop_copy_length)
    }

    /// SET of `VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2`: have
    /// [`MigrationFile::precopy_info`] report [`PrecopyFlags::REINIT`].
    ///
    /// ```no_run
    /// use uiommu_client::{MigState, PrecopyFlags, VfioDevice};
    ///
    /// let dev = VfioDevice::open_cdev(0)?;
    /// dev.enable_precopy_info_v2()?;
    /// let data = dev.set_mig_state(MigState::PreCopy)?.expect("a data fd");
    /// if data.precopy_info()?.flags.contains(PrecopyFlags::REINIT) {
    ///     println!("initial data again");
    /// }
    /// # Ok::<(), uiommu_client::Error>(())
    /// ```
    pub fn enable_precopy_info_v2(&self) -> Result<()> {
        self.feature_set(VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2, &mut [])
            .map(|_| ())
    }

    /// SET of `VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY`: allow runtime low power (mmap access is
    /// off until [`low_power_exit`](Self::low_power_exit)).
    ///
    /// ```no_run
    /// use uiommu_client::VfioDevice;
    ///
    /// let dev = VfioDevice::open_cdev(0)?;
    /// dev.low_power_entry()?;
    /// dev.low_power_exit()?;
    /// # Ok::<(), uiommu_client::Error>(())
    /// ```
    pub fn low_power_entry(&self) -> Result<()> {
        self.feature_set(VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY, &mut [])
            .map(|_| ())
    }

    /// SET of `VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP`: as
    /// [`low_power_entry`](Self::low_power_entry), signalling `eventfd` when the device wakes.
    ///
    /// ```no_run
    /// use std::os::fd::AsFd;
    /// use uiommu_client::VfioDevice;
    ///
    /// let dev = VfioDevice::open_cdev(0)?;
    /// # let efd = std::fs::File::open("/dev/null").unwrap();
    /// dev.low_power_entry_with_wakeup(efd.as_fd())?;
    /// # Ok::<(), uiommu_client::Error>(())
    /// ```
    pub fn low_power_entry_with_wakeup(&self, eventfd: BorrowedFd<'_>) -> Result<()> {
        let mut arg = VfioDeviceLowPowerEntryWithWakeup {
            wakeup_eventfd: eventfd.as_raw_fd(),
            reserved: 0,
        };
        self.feature_set(
            VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP,
            arg.as_mut_bytes(),
        )
        .map(|_| ())
    }

    /// SET of `VFIO_DEVICE_FEATURE_LOW_POWER_EXIT`.
    ///
    /// ```no_run
    /// use uiommu_client::VfioDevice;
    ///
    /// let dev = VfioDevice::open_cdev(0)?;
    /// dev.low_power_exit()?;
    /// # Ok::<(), uiommu_client::Error>(())
    /// ```
    pub fn low_power_exit(&self) -> Result<()> {
        self.feature_set(VFIO_DEVICE_FEATURE_LOW_POWER_EXIT, &mut [])
            .map(|_| ())
    }

    /// SET of `VFIO_DEVICE_FEATURE_DMA_LOGGING_START`: log the device's DMA writes in
    /// `ranges`, with `page_size` as the granularity hint. Returns the granularity chosen.
    ///
    /// ```no_run
    /// use uiommu_client::VfioDevice;
    /// use uiommu_client::uapi::vfio::VfioDeviceFeatureDmaLoggingRange;
    ///
    /// let dev = VfioDevice::open_cdev(0)?;
    /// let range = VfioDeviceFeatureDmaLoggingRange { iova: 0, length: 1 << 20 };
    /// let page = dev.dma_logging_start(4096, &[range])?;
    /// let mut bitmap = vec![0u64; (1 << 20) / page as usize / 64];
    /// dev.dma_logging_report(0, 1 << 20, page, &mut bitmap)?;
    /// dev.dma_logging_stop()?;
    /// # Ok::<(), uiommu_client::Error>(())
    /// ```
    pub fn dma_logging_start(
        &self,
        page_size: u64,
        ranges: &[VfioDeviceFeatureDmaLoggingRange],
    ) -> Result<u64> {
        let mut arg = dma_logging_control(page_size, ranges);
        self.feature_set(VFIO_DEVICE_FEATURE_DMA_LOGGING_START, arg.as_mut_bytes())?;
        Ok(arg.page_size)
    }

    /// SET of `VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP`.
    ///
    /// ```no_run
    /// use uiommu_client::VfioDevice;
    ///
    /// let dev = VfioDevice::open_cdev(0)?;
    /// dev.dma_logging_stop()?;
    /// # Ok::<(), uiommu_client::Error>(())
    /// ```
    pub fn dma_logging_stop(&self) -> Result<()> {
        self.feature_set(VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP, &mut [])
            .map(|_| ())
    }

    /// GET of `VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT`: read and clear the log of
    /// `iova..iova + length` into `bitmap`, one bit per `page_size` bytes (a power of two).
    /// Bits are only set, never cleared. `EINVAL` for a bad page size and
    /// [`Error::OutOfBounds`] for a bitmap too small, before anything is sent.
    ///
    /// ```no_run
    /// use uiommu_client::VfioDevice;
    ///
    /// let dev = VfioDevice::open_cdev(0)?;
    /// let mut bitmap = [0u64; 4];
    /// dev.dma_logging_report(0x10_0000, 1 << 20, 4096, &mut bitmap)?;
    /// let dirty: u32 = bitmap.iter().map(|w| w.count_ones()).sum();
    /// # Ok::<(), uiommu_client::Error>(())
    /// ```
    pub fn dma_logging_report(
        &self,
        iova: u64,
        length: u64,
        page_size: u64,
        bitmap: &mut [u64],
    ) -> Result<()> {
        let words = report_words(length, page_size).ok_or(Error::os(OP, Errno::EINVAL))?;
        if words > bitmap.len() {
            return Err(Error::OutOfBounds {
                op: OP,
                offset: 0,
                len: (words * 8) as u64,
                size: (bitmap.len() * 8) as u64,
            });
        }
        let mut arg = VfioDeviceFeatureDmaLoggingReport {
            iova,
            length,
            page_size,
            bitmap: bitmap.as_mut_ptr() as u64,
        };
        self.feature(
            VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
            FeatureFlags::GET,
            arg.as_mut_bytes(),
        )
        .map(|_| ())
    }

    /// SET of `VFIO_DEVICE_FEATURE_BUS_MASTER`: allow (`true`) or block the device's DMA.
    ///
    /// ```no_run
    /// use uiommu_client::VfioDevice;
    ///
    /// let dev = VfioDevice::open_cdev(0)?;
    /// dev.set_bus_master(true)?;
    /// # Ok::<(), uiommu_client::Error>(())
    /// ```
    pub fn set_bus_master(&self, enable: bool) -> Result<()> {
        let mut arg = VfioDeviceFeatureBusMaster {
            op: if enable {
                VFIO_DEVICE_FEATURE_SET_MASTER
            } else {
                VFIO_DEVICE_FEATURE_CLEAR_MASTER
            },
        };
        self.feature_set(VFIO_DEVICE_FEATURE_BUS_MASTER, arg.as_mut_bytes())
            .map(|_| ())
    }

    /// GET of `VFIO_DEVICE_FEATURE_DMA_BUF`: a dma-buf over `ranges` of region
    /// `region_index`, for peer-to-peer DMA (map it with `IOMMU_IOAS_MAP_FILE`).
    ///
    /// ```no_run
    /// use uiommu_client::{DmaBufOpenFlags, VfioDevice};
    /// use uiommu_client::uapi::vfio::{VfioRegionDmaRange, VFIO_PCI_BAR2_REGION_INDEX};
    ///
    /// let dev = VfioDevice::open_cdev(0)?;
    /// let range = VfioRegionDmaRange { offset: 0, length: 1 << 20 };
    /// let dmabuf = dev.dma_buf(
    ///     VFIO_PCI_BAR2_REGION_INDEX,
    ///     DmaBufOpenFlags::RDWR | DmaBufOpenFlags::CLOEXEC,
    ///     &[range],
    /// )?;
    /// # Ok::<(), uiommu_client::Error>(())
    /// ```
    pub fn dma_buf(
        &self,
        region_index: u32,
        open_flags: DmaBufOpenFlags,
        ranges: &[VfioRegionDmaRange],
    ) -> Result<OwnedFd> {
        let mut data = encode_dma_buf(region_index, open_flags, ranges);
        let fd = self.feature(VFIO_DEVICE_FEATURE_DMA_BUF, FeatureFlags::GET, &mut data)?;
        Ok(ioctl::own_fd(fd))
    }

    /// SET of `VFIO_DEVICE_FEATURE_PCI_VF_TOKEN`: the 16-byte UUID VF token shared by an
    /// SR-IOV PF and its VFs.
    ///
    /// ```no_run
    /// use uiommu_client::VfioDevice;
    ///
    /// let pf = VfioDevice::open_cdev(0)?;
    /// pf.set_vf_token(&[0x2a; 16])?;
    /// # Ok::<(), uiommu_client::Error>(())
    /// ```
    pub fn set_vf_token(&self, uuid: &[u8; 16]) -> Result<()> {
        let mut data = *uuid;
        self.feature_set(VFIO_DEVICE_FEATURE_PCI_VF_TOKEN, &mut data)
            .map(|_| ())
    }
}

pub(crate) fn mig_state_request(state: MigState) -> VfioDeviceFeatureMigState {
    VfioDeviceFeatureMigState {
        device_state: state.raw(),
        data_fd: -1,
    }
}

/// The `VFIO_DEVICE_FEATURE_DMA_LOGGING_START` payload; `ranges` is borrowed by the caller
/// for the duration of the call (the `ioctl` module's invariant).
pub(crate) fn dma_logging_control(
    page_size: u64,
    ranges: &[VfioDeviceFeatureDmaLoggingRange],
) -> VfioDeviceFeatureDmaLoggingControl {
    VfioDeviceFeatureDmaLoggingControl {
        page_size,
        num_ranges: ranges.len() as u32,
        __reserved: 0,
        ranges: ranges.as_ptr() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_feature_headers() {
        let b = encode_feature(
            VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
            FeatureFlags::SET,
            mig_state_request(MigState::StopCopy).as_bytes(),
        )
        .unwrap();
        let (head, data) = VfioDeviceFeature::read_from_prefix(&b).unwrap();
        assert_eq!(head.argsz as usize, size_of::<VfioDeviceFeature>() + 8);
        assert_eq!(
            head.flags,
            VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE
        );
        let s = VfioDeviceFeatureMigState::read_from_bytes(data).unwrap();
        assert_eq!(
            (s.device_state, s.data_fd),
            (VFIO_DEVICE_STATE_STOP_COPY, -1)
        );

        // A probe carries no data.
        let b = encode_feature(
            VFIO_DEVICE_FEATURE_MIGRATION,
            FeatureFlags::PROBE | FeatureFlags::GET,
            &[],
        )
        .unwrap();
        let (head, data) = VfioDeviceFeature::read_from_prefix(&b).unwrap();
        assert_eq!(head.argsz, 8);
        assert_eq!(
            head.flags,
            VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION
        );
        assert!(data.is_empty());

        // A feature number outside the mask is refused before the kernel sees it.
        let e = encode_feature(0x1_0000, FeatureFlags::GET, &[]).unwrap_err();
        assert_eq!((e.op(), e.errno()), (OP, Some(Errno::EINVAL)));
    }

    #[test]
    fn encodes_dma_buf_and_logging() {
        let ranges = [
            VfioRegionDmaRange {
                offset: 0,
                length: 0x1000,
            },
            VfioRegionDmaRange {
                offset: 0x4000,
                length: 0x2000,
            },
        ];
        let b = encode_dma_buf(2, DmaBufOpenFlags::RDWR | DmaBufOpenFlags::CLOEXEC, &ranges);
        let (head, rest) = VfioDeviceFeatureDmaBuf::read_from_prefix(&b).unwrap();
        assert_eq!(head.region_index, 2);
        assert_eq!(head.open_flags, (libc::O_RDWR | libc::O_CLOEXEC) as u32);
        assert_eq!((head.flags, head.nr_ranges), (0, 2));
        assert_eq!(rest, ranges.as_bytes());

        let log = [VfioDeviceFeatureDmaLoggingRange {
            iova: 0x1000,
            length: 0x10_0000,
        }];
        let c = dma_logging_control(4096, &log);
        assert_eq!((c.page_size, c.num_ranges, c.__reserved), (4096, 1, 0));
        assert_eq!(c.ranges, log.as_ptr() as u64);

        assert_eq!(report_words(1 << 20, 4096), Some(4));
        assert_eq!(report_words(4096 * 65, 4096), Some(2));
        assert_eq!(report_words(1, 4096), Some(1));
        assert_eq!(report_words(1 << 20, 3000), None);
        assert_eq!(report_words(1 << 20, 0), None);
    }

    #[test]
    fn mig_states_round_trip() {
        for raw in 0..VFIO_DEVICE_STATE_NR {
            assert_eq!(MigState::from_raw(raw).unwrap().raw(), raw);
        }
        assert_eq!(MigState::from_raw(VFIO_DEVICE_STATE_NR), None);
    }

    #[test]
    fn precopy_info_request_and_reply() {
        let req = precopy_info_request();
        assert_eq!(req.argsz as usize, size_of::<VfioPrecopyInfo>());
        assert_eq!((req.flags, req.initial_bytes, req.dirty_bytes), (0, 0, 0));
        let reply = VfioPrecopyInfo {
            flags: VFIO_PRECOPY_INFO_REINIT,
            initial_bytes: 100,
            dirty_bytes: 7,
            ..req
        };
        let info = decode_precopy_info(&reply);
        assert_eq!(info.flags, PrecopyFlags::REINIT);
        assert_eq!((info.initial_bytes, info.dirty_bytes), (100, 7));
    }
}
