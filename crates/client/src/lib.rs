//! A safe, typed client of the Linux IOMMU userspace API: iommufd (`/dev/iommu`) and VFIO
//! (the device cdev, and the container/group interface with the type1 IOMMU).
//!
//! It speaks only system calls on the file descriptors, so the same code runs against a real
//! kernel and against uiommu (`uiommu exec -- PROGRAM`), which is what lets its integration
//! tests compare the two.
//!
//! # A VMM's first hour
//!
//! Assigning a PCI device to a guest through iommufd takes six steps. Each names the ioctl it
//! makes; every error names it too, with the errno and its meaning
//! (`IOMMU_IOAS_MAP: EEXIST (File exists)`).
//!
//! 1. **Find the device.** [`PciDevices`] lists the PCI functions sysfs shows, with their
//!    vendor/device IDs, driver and VFIO cdev; pick one with a [`PciFilter`], and open its
//!    cdev as a [`VfioDevice`] ([`PciDevice::open_cdev`]).
//! 2. **Open the context and bind.** [`Iommufd::open`] opens `/dev/iommu`;
//!    [`VfioDevice::bind_iommufd`] (`VFIO_DEVICE_BIND_IOMMUFD`) returns the device's
//!    [`DeviceId`] in it — the `dev_id` of everything that follows.
//! 3. **Make an address space and attach.** [`Iommufd::alloc_ioas`] gives an [`Ioas`];
//!    [`VfioDevice::attach`] (`VFIO_DEVICE_ATTACH_IOMMUFD_PT`) attaches the device, which
//!    allocates a HW page table for it ([`HwptId`]). For dirty tracking or nesting, build
//!    a [`Hwpt`] yourself ([`Hwpt::builder`]) and attach that.
//! 4. **Read the usable IOVAs** — *after* attaching: [`Ioas::iova_ranges`] reports the
//!    apertures and reserved regions of the devices attached now (see there for the
//!    ordering rule and the selftest mock's aperture, [`MOCK_APERTURE_START`]).
//! 5. **Map guest RAM.** Memory the VMM already owns (its guest RAM, from `vm-memory` or its
//!    own `mmap`) goes in with the `unsafe` [`Ioas::map_raw`], whose contract is: keep it
//!    mapped until the range is unmapped. Memory the crate allocates ([`MappedBuffer`]) goes
//!    in with [`Ioas::map`], and the IOAS then holds it while a range maps it — unmapping
//!    releases it. A memfd goes in with [`Ioas::map_file`]. [`Ioas::map_guard`] (or
//!    [`Ioas::guard`] for the others) returns a [`MapGuard`] that unmaps on drop.
//! 6. **Drive the device.** [`VfioDevice::region_info`] and [`VfioDevice::mmap_region`]
//!    reach its BARs, [`VfioDevice::set_irq_eventfds`] its interrupts, [`VfioDevice::reset`]
//!    resets it. I/O page faults arrive on a [`FaultQueue`]; a guest-visible IOMMU is a
//!    [`Viommu`].
//!
//! ```no_run
//! use uiommu_client::{Iommufd, Iova, MapFlags, PciDevices, PciFilter};
//!
//! // 1. The first device bound to vfio-pci.
//! let found = PciDevices::new().matching(&PciFilter::new().driver("vfio-pci"))?;
//! let dev = found.first().expect("a vfio-pci device").open_cdev()?;
//! // 2.
//! let iommufd = Iommufd::open()?;
//! let dev_id = dev.bind_iommufd(&iommufd)?;
//! // 3.
//! let ioas = iommufd.alloc_ioas()?;
//! let hwpt_id = dev.attach(&ioas)?;
//! // 4.
//! let ranges = ioas.iova_ranges()?;
//! for r in &ranges {
//!     println!("usable {:#x}..={:#x}", r.start, r.last);
//! }
//! // 5. 1 GiB of guest RAM at guest physical address 0, identity-mapped. A VMM has it from
//! // its memory manager (`vm-memory`'s regions, its own mmap); here the global allocator.
//! let ram_len = 1u64 << 30;
//! let layout = std::alloc::Layout::from_size_align(ram_len as usize, 2 << 20).unwrap();
//! // SAFETY: the layout has a non-zero size.
//! let ram = unsafe { std::alloc::alloc_zeroed(layout) };
//! assert!(!ram.is_null() && ranges.contains(0, ram_len - 1));
//! // SAFETY: `ram` is the VMM's guest memory; it stays mapped until `guard` is dropped, and
//! // the VMM never holds references into it (devices write it behind its back).
//! let iova = unsafe { ioas.map_raw(Iova::Fixed(0), ram, ram_len, MapFlags::RW)? };
//! let guard = ioas.guard(iova, ram_len);
//! // 6.
//! let info = dev.info()?;
//! println!("device {dev_id} on HWPT {hwpt_id}: {} regions", info.num_regions);
//! guard.unmap()?; // IOMMU_IOAS_UNMAP (dropping the guard does it too, silently)
//! // SAFETY: allocated above with this layout, and no longer mapped.
//! unsafe { std::alloc::dealloc(ram, layout) };
//! # Ok::<(), uiommu_client::Error>(())
//! ```
//!
//! # Lifetimes and ownership
//!
//! Objects are destroyed (`IOMMU_DESTROY`) when their handle drops, after every handle that
//! was built on them: a [`Hwpt`] holds its [`Ioas`], a [`Vdevice`] its [`Viommu`], a
//! [`VfioDevice`] what it is attached to now (and lets go when replaced or detached), a
//! [`MapGuard`] its IOAS. An [`Ioas`] (or [`VfioContainer`]) holds a [`MappedBuffer`] exactly
//! as long as some IOVA range maps it: a failed map holds nothing, an unmap (partial or
//! all) releases what it removed, a copy ([`Ioas::copy_from`]) shares the source's buffers of
//! the copied range only. [`MappedBuffer::holders`] shows the count.
//!
//! # Types
//!
//! - IDs are typed ([`IoasId`], [`HwptId`], [`DeviceId`], [`ViommuId`], …): an IOAS ID does
//!   not compile where a device ID is expected. Commands that take any object (destroy,
//!   options) take an [`ObjectId`], which every ID and a raw `u32` convert into.
//! - Lengths, offsets and addresses on the IOVA side are `u64`, as in the uAPI (`__u64
//!   length`, `iova`, `user_va`): an IOVA space is 64 bits wide whatever the process's pointer
//!   width. `usize` is kept for the process's own memory: a [`MappedBuffer`]'s size and the
//!   byte offsets of its CPU reads and writes ([`MappedBuffer::size`] gives the `u64`).
//! - The uAPI structs that appear in signatures are re-exported here ([`IommuHwptPgfault`],
//!   [`Errno`], …); every other definition is under [`uapi`].
//!
//! # Contents
//!
//! - [`Iommufd`]: the context — options, hw_info, the VFIO compatibility IOAS, destroy.
//! - [`Ioas`]: map ([`MappedBuffer`], [`MemFile`], raw addresses), unmap, copy, IOVA ranges;
//!   [`MapGuard`].
//! - [`Hwpt`]: paging, nest-parent, dirty-tracking and nested HWPTs; invalidation.
//! - [`FaultQueue`], [`Viommu`], [`Vdevice`], [`Veventq`], [`HwQueue`].
//! - [`VfioDevice`] (info, regions, IRQs, resets and PCI hot reset, device features and
//!   migration, ioeventfds, display planes), [`VfioContainer`] (type1, SPAPR TCE, EEH),
//!   [`VfioGroup`].
//! - [`PciDevices`]: VFIO devices found in sysfs ([`PciDevice`]: IDs, IOMMU group, driver,
//!   device cdev), picked with a [`PciFilter`].
//!
//! # Features
//!
//! - `selftest`: `IOMMU_TEST_CMD`, the interface of the kernel's selftest mock driver
//!   (`Iommufd::test`, `IommufdTest`, `MockDevice`, `Access`). It exists on kernels built
//!   with `CONFIG_IOMMUFD_TEST` and on uiommu, and is for test suites, not VMMs, hence off by
//!   default. The selftest's *data* types (its HWPT, vIOMMU and hw_info data) are always
//!   available, since they only describe what a kernel may report.
#![cfg_attr(
    feature = "selftest",
    doc = "\nWith the feature on: [`IommufdTest`], [`MockDevice`], [`Access`], [`Iommufd::test`]."
)]

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
pub use hw_info::{AmdInfo, HwCaps, HwInfo, HwInfoData, HwInfoType, Smmuv3Info, VtdInfo};
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

// The uAPI definitions that appear in this crate's signatures and docs, so that they are
// documented here (rustdoc inlines them) and reachable without naming `uapi`.
pub use uiommu_uapi::Errno;
pub use uiommu_uapi::iommufd::{
    IOMMU_PGFAULT_FLAGS_LAST_PAGE, IOMMU_PGFAULT_FLAGS_PASID_VALID, IOMMU_PGFAULT_PERM_EXEC,
    IOMMU_PGFAULT_PERM_PRIV, IOMMU_PGFAULT_PERM_READ, IOMMU_PGFAULT_PERM_WRITE,
    IOMMUFD_PAGE_RESP_INVALID, IOMMUFD_PAGE_RESP_SUCCESS, IommuHwInfoAmd, IommuHwInfoArmSmmuv3,
    IommuHwInfoTegra241Cmdqv, IommuHwInfoVtd, IommuHwptAmdGuest, IommuHwptArmSmmuv3,
    IommuHwptPageResponse, IommuHwptPgfault, IommuHwptVtdS1, IommuHwptVtdS1Invalidate,
    IommuVeventArmSmmuv3, IommuViommuArmSmmuv3Invalidate, IommuViommuTegra241Cmdqv,
    IommufdVeventHeader,
};
pub use uiommu_uapi::selftest::{
    IommuHwptInvalidateSelftest, IommuHwptSelftest, IommuTestHwInfo, IommuViommuEventSelftest,
    IommuViommuInvalidateSelftest, IommuViommuSelftest, MOCK_APERTURE_LAST, MOCK_APERTURE_START,
    MOCK_PAGE_SIZE,
};
#[cfg(feature = "selftest")]
pub use uiommu_uapi::selftest::{TestCmdMember, TestTriggerIopf};
pub use uiommu_uapi::vfio::{
    CapChainError, VfioDeviceFeatureDmaLoggingRange, VfioEehPeErr, VfioIommuSpaprTceDdwInfo,
    VfioIommuType1InfoCapMigration, VfioIovaRange, VfioPciDependentDevice, VfioRegionDmaRange,
    VfioRegionSparseMmapArea,
};

/// The README's example, compiled as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The uAPI definitions the client is built on: every `#[repr(C)]` struct, ioctl number and
/// constant of `iommufd.h`, `vfio.h` and the selftest's `iommufd_test.h`, as
/// `uiommu_client::uapi::iommufd::…`, `uiommu_client::uapi::vfio::…`,
/// `uiommu_client::uapi::selftest::…`. The types that appear in this crate's signatures are
/// also re-exported at the top level.
pub use uiommu_uapi as uapi;
