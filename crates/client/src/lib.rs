//! A safe, typed client of the Linux IOMMU userspace API: iommufd (`/dev/iommu`) and VFIO
//! (the device cdev, and the container/group interface with the type1 IOMMU).
//!
//! It speaks only system calls on the file descriptors, so the same code runs against a real
//! kernel and against uiommu (`uiommu exec -- PROGRAM`), which is what lets its integration
//! tests compare the two.
//!
//! - [`Iommufd`]: the context — options, hw_info, the VFIO compatibility IOAS, destroy.
//! - [`Ioas`]: map ([`MappedBuffer`], [`MemFile`]), unmap, copy, IOVA ranges.
//! - [`Hwpt`]: paging, nest-parent, dirty-tracking and nested HWPTs; invalidation.
//! - [`FaultQueue`], [`Viommu`], [`Vdevice`], [`Veventq`], [`HwQueue`].
//! - [`VfioDevice`] (info, regions, IRQs, resets and PCI hot reset, device features and
//!   migration, ioeventfds, display planes), [`VfioContainer`] (type1, SPAPR TCE, EEH),
//!   [`VfioGroup`].
//! - [`PciDevices`]: VFIO devices found in sysfs ([`PciDevice`]: IDs, IOMMU group, driver,
//!   device cdev), picked with a [`PciFilter`].
//! - [`IommufdTest`]: `IOMMU_TEST_CMD` for the selftest mock driver.
//!
//! Objects are destroyed (`IOMMU_DESTROY`) when their handle drops, after every handle that
//! was built on them: a [`Hwpt`] keeps its [`Ioas`] alive, a [`Vdevice`] its [`Viommu`].
//! Memory given to a mapping is kept alive by the IOAS (or container) it was mapped into.
//!
//! ```no_run
//! use uiommu_client::{Iommufd, Iova, MapFlags, MappedBuffer};
//!
//! let fd = Iommufd::open()?;
//! let ioas = fd.alloc_ioas()?;
//! let buf = MappedBuffer::new(2 << 20)?;
//! let iova = ioas.map(&buf, Iova::Fixed(0x4000_0000), MapFlags::RW)?;
//! for r in ioas.iova_ranges()?.ranges {
//!     println!("{:#x}..={:#x}", r.start, r.last);
//! }
//! ioas.unmap(iova, 2 << 20)?;
//! # Ok::<(), uiommu_client::Error>(())
//! ```

mod buffer;
mod error;
mod fault;
mod flags;
mod hw_info;
mod hwpt;
mod ids;
mod ioas;
mod ioctl;
mod iommufd;
mod object;
mod pt;
#[cfg(feature = "selftest")]
mod selftest;
mod spans;
mod sysfs;
mod vfio;
mod viommu;

pub use buffer::{MappedBuffer, MemFile, page_size};
pub use error::{Error, Result};
pub use fault::{FaultQueue, PageResponse, Readiness};
pub use hw_info::{AmdInfo, HwCaps, HwInfo, HwInfoData, Smmuv3Info, VtdInfo};
pub use hwpt::{DirtyFlags, Hwpt, HwptBuilder, HwptData, HwptFlags, InvalidateData, Invalidated};
pub use ids::{
    DeviceId, FaultQueueId, HwQueueId, HwptId, IoasId, MockDeviceId, ObjectId, PtId, VdeviceId,
    VeventqId, ViommuId,
};
pub use ioas::{Ioas, Iova, IovaRange, IovaRanges, IovaRangesReply, MapFlags, MapGuard};
pub use iommufd::{Iommufd, RlimitMode};
pub use pt::PageTable;
#[cfg(feature = "selftest")]
pub use selftest::{Access, IommufdTest, MockDevice};
pub use sysfs::{PCI_DEVICES, PciDevice, PciDevices, PciFilter, SysfsError, VfioCdev};
pub use vfio::{
    DeviceInfo, DmaBufOpenFlags, DmaMapFlags, DrmPlaneType, EehOp, EehPeState, FeatureFlags,
    GfxPlane, GfxPlaneKind, HotResetFlags, HotResetInfo, IoeventfdData, IrqAction, IrqData,
    IrqInfo, MigState, MigrationFile, MigrationFlags, MmioRegion, PrecopyFlags, PrecopyInfo,
    RegionInfo, SpaprTceInfo, Type1Info, VfioContainer, VfioDevice, VfioGroup,
};
pub use viommu::{HwQueue, Vdevice, Vevent, Veventq, Viommu, ViommuMapping, ViommuType};

/// The uAPI definitions the client is built on: every `#[repr(C)]` struct, ioctl number and
/// constant of `iommufd.h`, `vfio.h` and the selftest's `iommufd_test.h`, as
/// `uiommu_client::uapi::iommufd::…`, `uiommu_client::uapi::vfio::…`,
/// `uiommu_client::uapi::selftest::…`. The types that appear in this crate's signatures are
/// also re-exported at the top level.
pub use uiommu_uapi as uapi;
