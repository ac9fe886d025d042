//! [`VfioDevice`]: a VFIO device fd — the cdev `/dev/vfio/devices/vfioN` with
//! `VFIO_DEVICE_BIND_IOMMUFD`, `VFIO_DEVICE_ATTACH_IOMMUFD_PT` (device or PASID; attaching
//! again replaces) and `VFIO_DEVICE_DETACH_IOMMUFD_PT`; and, on any device fd,
//! `VFIO_DEVICE_GET_INFO` and `VFIO_DEVICE_RESET`.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use uiommu_uapi::vfio::*;
use zerocopy::{FromBytes, IntoBytes};

use crate::error::{Context, Error, Result};
use crate::ids::{DeviceId, HwptId};
use crate::ioctl::{self, Region};
use crate::iommufd::Iommufd;
use crate::object::Object;
use crate::pt::PageTable;

/// `VFIO_DEVICE_GET_INFO`: `struct vfio_device_info` and its capability IDs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// `flags` (`VFIO_DEVICE_FLAGS_*`).
    pub flags: u32,
    /// `num_regions`.
    pub num_regions: u32,
    /// `num_irqs`.
    pub num_irqs: u32,
    /// Every capability's (`id`, `version`).
    pub caps: Vec<(u16, u16)>,
}

/// `VFIO_DEVICE_GET_REGION_INFO`: `struct vfio_region_info` and its capabilities.
///
/// ```no_run
/// use uiommu_client::VfioDevice;
/// use uiommu_client::uapi::vfio::VFIO_PCI_BAR0_REGION_INDEX;
///
/// let dev = VfioDevice::open_cdev(0)?;
/// let bar0 = dev.region_info(VFIO_PCI_BAR0_REGION_INDEX)?;
/// if bar0.mappable() {
///     for area in bar0.sparse_mmap.iter().flatten() {
///         println!("mmap {:#x}+{:#x}", bar0.offset + area.offset, area.size);
///     }
/// }
/// # Ok::<(), uiommu_client::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionInfo {
    /// `index`.
    pub index: u32,
    /// `flags` (`VFIO_REGION_INFO_FLAG_*`).
    pub flags: u32,
    /// `size` in bytes (0: the region does not exist).
    pub size: u64,
    /// `offset`: where the region starts in the device fd, for `pread`/`pwrite`/`mmap`.
    pub offset: u64,
    /// `VFIO_REGION_INFO_CAP_SPARSE_MMAP`: the only parts that may be mapped.
    pub sparse_mmap: Option<Vec<VfioRegionSparseMmapArea>>,
    /// `VFIO_REGION_INFO_CAP_TYPE`: (`type`, `subtype`) of a device-specific region.
    pub region_type: Option<(u32, u32)>,
    /// `VFIO_REGION_INFO_CAP_MSIX_MAPPABLE`: the MSI-X table in this BAR may be mapped.
    pub msix_mappable: bool,
    /// Every capability's (`id`, `version`), in chain order.
    pub caps: Vec<(u16, u16)>,
}

impl RegionInfo {
    /// Whether the region may be read (`VFIO_REGION_INFO_FLAG_READ`).
    pub fn readable(&self) -> bool {
        self.flags & VFIO_REGION_INFO_FLAG_READ != 0
    }
    /// Whether the region may be written (`VFIO_REGION_INFO_FLAG_WRITE`).
    pub fn writable(&self) -> bool {
        self.flags & VFIO_REGION_INFO_FLAG_WRITE != 0
    }
    /// Whether the region may be mapped (`VFIO_REGION_INFO_FLAG_MMAP`), subject to
    /// [`sparse_mmap`](Self::sparse_mmap).
    pub fn mappable(&self) -> bool {
        self.flags & VFIO_REGION_INFO_FLAG_MMAP != 0
    }
}

/// `VFIO_DEVICE_GET_IRQ_INFO`: `struct vfio_irq_info`.
///
/// ```no_run
/// use uiommu_client::VfioDevice;
/// use uiommu_client::uapi::vfio::VFIO_PCI_MSIX_IRQ_INDEX;
///
/// let dev = VfioDevice::open_cdev(0)?;
/// let msix = dev.irq_info(VFIO_PCI_MSIX_IRQ_INDEX)?;
/// println!("{} MSI-X vectors, eventfd {}", msix.count, msix.eventfd());
/// # Ok::<(), uiommu_client::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IrqInfo {
    /// `index`.
    pub index: u32,
    /// `flags` (`VFIO_IRQ_INFO_*`).
    pub flags: u32,
    /// `count`: the number of IRQs of the index (0: not supported).
    pub count: u32,
}

impl IrqInfo {
    /// `VFIO_IRQ_INFO_EVENTFD`: signalled through eventfds.
    pub fn eventfd(&self) -> bool {
        self.flags & VFIO_IRQ_INFO_EVENTFD != 0
    }
    /// `VFIO_IRQ_INFO_MASKABLE`.
    pub fn maskable(&self) -> bool {
        self.flags & VFIO_IRQ_INFO_MASKABLE != 0
    }
    /// `VFIO_IRQ_INFO_AUTOMASKED`: masked by the host when it fires (level-triggered).
    pub fn automasked(&self) -> bool {
        self.flags & VFIO_IRQ_INFO_AUTOMASKED != 0
    }
    /// `VFIO_IRQ_INFO_NORESIZE`: the vector count cannot change while enabled.
    pub fn noresize(&self) -> bool {
        self.flags & VFIO_IRQ_INFO_NORESIZE != 0
    }
}

/// What `VFIO_DEVICE_SET_IRQS` does to IRQs `start..start + count` of an index.
///
/// ```no_run
/// use uiommu_client::{IrqAction, IrqData, VfioDevice};
/// use uiommu_client::uapi::vfio::VFIO_PCI_INTX_IRQ_INDEX;
///
/// let dev = VfioDevice::open_cdev(0)?;
/// dev.set_irqs(VFIO_PCI_INTX_IRQ_INDEX, IrqAction::Unmask, 0, 1, IrqData::None)?;
/// # Ok::<(), uiommu_client::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IrqAction {
    /// `VFIO_IRQ_SET_ACTION_MASK`.
    Mask,
    /// `VFIO_IRQ_SET_ACTION_UNMASK`.
    Unmask,
    /// `VFIO_IRQ_SET_ACTION_TRIGGER`.
    Trigger,
}

impl IrqAction {
    fn bits(self) -> u32 {
        match self {
            IrqAction::Mask => VFIO_IRQ_SET_ACTION_MASK,
            IrqAction::Unmask => VFIO_IRQ_SET_ACTION_UNMASK,
            IrqAction::Trigger => VFIO_IRQ_SET_ACTION_TRIGGER,
        }
    }
}

/// The data of `VFIO_DEVICE_SET_IRQS`.
///
/// ```no_run
/// use std::os::fd::AsRawFd;
/// use uiommu_client::{IrqAction, IrqData, VfioDevice};
/// use uiommu_client::uapi::vfio::VFIO_PCI_MSIX_IRQ_INDEX;
///
/// let dev = VfioDevice::open_cdev(0)?;
/// # let efd = std::fs::File::open("/dev/null").unwrap();
/// let fds = [efd.as_raw_fd(), -1];
/// dev.set_irqs(VFIO_PCI_MSIX_IRQ_INDEX, IrqAction::Trigger, 0, 0, IrqData::Eventfd(&fds))?;
/// dev.disable_irqs(VFIO_PCI_MSIX_IRQ_INDEX)?;
/// # Ok::<(), uiommu_client::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IrqData<'a> {
    /// `VFIO_IRQ_SET_DATA_NONE`: act on every IRQ of the range (with `Trigger` and count 0:
    /// disable the index).
    None,
    /// `VFIO_IRQ_SET_DATA_BOOL`: act on the IRQs whose byte is true.
    Bool(&'a [bool]),
    /// `VFIO_IRQ_SET_DATA_EVENTFD`: one eventfd per IRQ, -1 to unassign.
    Eventfd(&'a [RawFd]),
}

/// Encodes a `VFIO_DEVICE_SET_IRQS` argument: `struct vfio_irq_set` followed by its data.
/// `count` is the data's length, or `count` itself for [`IrqData::None`].
pub(crate) fn encode_irq_set(
    index: u32,
    action: IrqAction,
    start: u32,
    count: u32,
    data: IrqData<'_>,
) -> Vec<u8> {
    let (data_flag, count, payload): (u32, u32, Vec<u8>) = match data {
        IrqData::None => (VFIO_IRQ_SET_DATA_NONE, count, Vec::new()),
        IrqData::Bool(b) => (
            VFIO_IRQ_SET_DATA_BOOL,
            b.len() as u32,
            b.iter().map(|&v| u8::from(v)).collect(),
        ),
        IrqData::Eventfd(fds) => (
            VFIO_IRQ_SET_DATA_EVENTFD,
            fds.len() as u32,
            fds.iter().flat_map(|fd| fd.to_ne_bytes()).collect(),
        ),
    };
    let head = VfioIrqSet {
        argsz: (size_of::<VfioIrqSet>() + payload.len()) as u32,
        flags: data_flag | action.bits(),
        index,
        start,
        count,
    };
    let mut out = head.as_bytes().to_vec();
    out.extend_from_slice(&payload);
    out
}

/// A device region mapped into the process with `mmap` of the device fd at the region's
/// offset (a PCI BAR, typically): register access by single volatile loads and stores of
/// 4 or 8 bytes. Unmapped on drop.
///
/// ```no_run
/// use uiommu_client::VfioDevice;
/// use uiommu_client::uapi::vfio::VFIO_PCI_BAR0_REGION_INDEX;
///
/// let dev = VfioDevice::open_cdev(0)?;
/// let bar0 = dev.mmap_region(&dev.region_info(VFIO_PCI_BAR0_REGION_INDEX)?)?;
/// let id = bar0.read32(0);
/// bar0.write64(0x80, 0x10_0000);
/// println!("{id:#x}, {:#x} bytes", bar0.len());
/// # Ok::<(), uiommu_client::Error>(())
/// ```
#[derive(Debug)]
pub struct MmioRegion {
    region: Region,
    index: u32,
    writable: bool,
}

impl MmioRegion {
    /// The region index (`VFIO_PCI_BAR0_REGION_INDEX`, ...).
    pub fn index(&self) -> u32 {
        self.index
    }

    /// Length in bytes (the region's `size`).
    pub fn len(&self) -> usize {
        self.region.len()
    }

    /// Whether the mapping is empty (never: regions of size 0 are not mapped).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads the 32-bit register at `offset`. Panics if unaligned or out of bounds.
    pub fn read32(&self, offset: usize) -> u32 {
        self.region.read_volatile_u32(offset)
    }

    /// Reads the 64-bit register at `offset`. Panics if unaligned or out of bounds.
    pub fn read64(&self, offset: usize) -> u64 {
        self.region.read_volatile_u64(offset)
    }

    /// Writes the 32-bit register at `offset`. Panics if unaligned, out of bounds, or the
    /// region is read-only.
    pub fn write32(&self, offset: usize, value: u32) {
        assert!(self.writable, "region {} is not writable", self.index);
        self.region.write_volatile_u32(offset, value);
    }

    /// Writes the 64-bit register at `offset`. Panics if unaligned, out of bounds, or the
    /// region is read-only.
    pub fn write64(&self, offset: usize, value: u64) {
        assert!(self.writable, "region {} is not writable", self.index);
        self.region.write_volatile_u64(offset, value);
    }
}

/// Decodes a `VFIO_DEVICE_GET_REGION_INFO` reply (`buf`: the fixed struct, then the chain).
pub(crate) fn decode_region_info(op: &'static str, buf: &[u8]) -> Result<RegionInfo> {
    let fixed = size_of::<VfioRegionInfo>();
    let (info, _) = VfioRegionInfo::read_from_prefix(buf).map_err(|_| Error::Protocol {
        op,
        what: "short reply".into(),
    })?;
    let mut out = RegionInfo {
        index: info.index,
        flags: info.flags,
        size: info.size,
        offset: info.offset,
        sparse_mmap: None,
        region_type: None,
        msix_mappable: false,
        caps: Vec::new(),
    };
    if info.flags & VFIO_REGION_INFO_FLAG_CAPS == 0 {
        return Ok(out);
    }
    let err = |source| Error::CapChain { op, source };
    for cap in CapChain::new(buf, info.cap_offset, fixed).iter() {
        let cap = cap.map_err(err)?;
        out.caps.push((cap.header.id, cap.header.version));
        match cap.header.id {
            VFIO_REGION_INFO_CAP_SPARSE_MMAP => {
                let head: VfioRegionInfoCapSparseMmap = cap.read().map_err(err)?;
                let areas = cap
                    .trailing::<VfioRegionInfoCapSparseMmap, VfioRegionSparseMmapArea>(
                        head.nr_areas as usize,
                    )
                    .map_err(err)?;
                out.sparse_mmap = Some(areas);
            }
            VFIO_REGION_INFO_CAP_TYPE => {
                let t: VfioRegionInfoCapType = cap.read().map_err(err)?;
                out.region_type = Some((t.type_, t.subtype));
            }
            VFIO_REGION_INFO_CAP_MSIX_MAPPABLE => out.msix_mappable = true,
            _ => {}
        }
    }
    Ok(out)
}

/// A VFIO device.
///
/// ```no_run
/// use uiommu_client::{Iommufd, VfioDevice};
///
/// let iommufd = Iommufd::open()?;
/// let ioas = iommufd.alloc_ioas()?;
/// let dev = VfioDevice::open_cdev(0)?;
/// let dev_id = dev.bind_iommufd(&iommufd)?; // for Hwpt, Viommu, hw_info
/// let hwpt_id = dev.attach(&ioas)?; // the automatic HWPT
/// println!("device {dev_id} on HWPT {hwpt_id}: {:?}", iommufd.hw_info(dev_id)?.data_type);
/// dev.detach()?;
/// # Ok::<(), uiommu_client::Error>(())
/// ```
#[derive(Debug)]
pub struct VfioDevice {
    // Closing the device fd unbinds it; only then may what it was attached to go.
    file: File,
    attached: Mutex<Attached>,
    bound: Mutex<Option<Iommufd>>,
}

/// What a device holds: the page table of its RID and of each attached PASID, as long as
/// it is attached to it (replaced or detached, it is let go).
#[derive(Debug, Default)]
struct Attached {
    rid: Option<Arc<Object>>,
    pasids: BTreeMap<u32, Arc<Object>>,
}

impl VfioDevice {
    /// Opens the cdev `/dev/vfio/devices/vfio<n>`.
    pub fn open_cdev(n: u32) -> Result<Self> {
        Self::open_path(format!("/dev/vfio/devices/vfio{n}"))
    }

    /// Opens a device node at `path`.
    pub fn open_path(path: impl AsRef<Path>) -> Result<Self> {
        Ok(Self::from_fd(super::open_rw(path.as_ref())?.into()))
    }

    /// Wraps an open device fd.
    pub fn from_fd(fd: OwnedFd) -> Self {
        VfioDevice {
            file: File::from(fd),
            attached: Mutex::new(Attached::default()),
            bound: Mutex::new(None),
        }
    }

    /// ioctl(VFIO_DEVICE_BIND_IOMMUFD): returns the device ID in `iommufd` (`out_devid`),
    /// the `dev_id` of [`Hwpt::builder`](crate::Hwpt::builder),
    /// [`Viommu::alloc`](crate::Viommu::alloc) and [`Iommufd::hw_info`]. Until attached the
    /// device can do no DMA.
    pub fn bind_iommufd(&self, iommufd: &Iommufd) -> Result<DeviceId> {
        let mut cmd = VfioDeviceBindIommufd {
            argsz: size_of::<VfioDeviceBindIommufd>() as u32,
            iommufd: iommufd.as_fd().as_raw_fd(),
            ..Default::default()
        };
        ioctl::ioctl(self.as_fd(), VFIO_DEVICE_BIND_IOMMUFD, &mut cmd)
            .op("VFIO_DEVICE_BIND_IOMMUFD")?;
        *self.bound.lock().unwrap_or_else(|e| e.into_inner()) = Some(iommufd.clone());
        Ok(DeviceId::from_raw(cmd.out_devid))
    }

    fn attach_raw(&self, flags: u32, pasid: u32, pt_id: u32) -> Result<HwptId> {
        let mut cmd = VfioDeviceAttachIommufdPt {
            argsz: size_of::<VfioDeviceAttachIommufdPt>() as u32,
            flags,
            pt_id,
            pasid,
        };
        ioctl::ioctl(self.as_fd(), VFIO_DEVICE_ATTACH_IOMMUFD_PT, &mut cmd)
            .op("VFIO_DEVICE_ATTACH_IOMMUFD_PT")?;
        Ok(HwptId::from_raw(cmd.pt_id))
    }

    fn attached(&self) -> std::sync::MutexGuard<'_, Attached> {
        self.attached.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// ioctl(VFIO_DEVICE_ATTACH_IOMMUFD_PT): attach (or replace) to `pt`. Returns `pt_id` as
    /// written back: the HWPT (automatically allocated, or reused, for an IOAS). The device
    /// holds `pt` until it is attached elsewhere, detached or closed.
    ///
    /// Attach before mapping: see [`Ioas::iova_ranges`](crate::Ioas::iova_ranges) for why.
    pub fn attach(&self, pt: &dyn PageTable) -> Result<HwptId> {
        let mut held = self.attached();
        let id = self.attach_raw(0, 0, pt.as_pt_id().raw())?;
        held.rid = Some(pt.object().clone());
        Ok(id)
    }

    /// `VFIO_DEVICE_ATTACH_IOMMUFD_PT` with `VFIO_DEVICE_ATTACH_PASID`: attach (or replace)
    /// PASID `pasid` of the device to `pt`.
    pub fn attach_pasid(&self, pasid: u32, pt: &dyn PageTable) -> Result<HwptId> {
        let mut held = self.attached();
        let id = self.attach_raw(VFIO_DEVICE_ATTACH_PASID, pasid, pt.as_pt_id().raw())?;
        held.pasids.insert(pasid, pt.object().clone());
        Ok(id)
    }

    fn detach_raw(&self, flags: u32, pasid: u32) -> Result<()> {
        let mut cmd = VfioDeviceDetachIommufdPt {
            argsz: size_of::<VfioDeviceDetachIommufdPt>() as u32,
            flags,
            pasid,
        };
        ioctl::ioctl(self.as_fd(), VFIO_DEVICE_DETACH_IOMMUFD_PT, &mut cmd)
            .op("VFIO_DEVICE_DETACH_IOMMUFD_PT")
            .map(|_| ())
    }

    /// ioctl(VFIO_DEVICE_DETACH_IOMMUFD_PT): the device blocks DMA, and no longer holds
    /// what it was attached to.
    pub fn detach(&self) -> Result<()> {
        let mut held = self.attached();
        self.detach_raw(0, 0)?;
        held.rid = None;
        Ok(())
    }

    /// `VFIO_DEVICE_DETACH_IOMMUFD_PT` with `VFIO_DEVICE_DETACH_PASID`.
    pub fn detach_pasid(&self, pasid: u32) -> Result<()> {
        let mut held = self.attached();
        self.detach_raw(VFIO_DEVICE_DETACH_PASID, pasid)?;
        held.pasids.remove(&pasid);
        Ok(())
    }

    /// ioctl(VFIO_DEVICE_GET_INFO), capabilities included.
    pub fn info(&self) -> Result<DeviceInfo> {
        let op = "VFIO_DEVICE_GET_INFO";
        let fixed = size_of::<VfioDeviceInfo>();
        let mut argsz = fixed;
        for _ in 0..4 {
            let mut buf = vec![0u8; argsz];
            buf[..4].copy_from_slice(&(argsz as u32).to_ne_bytes());
            ioctl::ioctl_bytes(self.as_fd(), VFIO_DEVICE_GET_INFO, &mut buf).op(op)?;
            let (info, _) =
                VfioDeviceInfo::read_from_prefix(&buf).map_err(|_| Error::Protocol {
                    op,
                    what: "short reply".into(),
                })?;
            if info.argsz as usize > buf.len() {
                argsz = info.argsz as usize;
                continue;
            }
            let chain = CapChain::new(&buf, info.cap_offset, fixed);
            let caps = chain
                .iter()
                .map(|c| c.map(|c| (c.header.id, c.header.version)))
                .collect::<std::result::Result<_, _>>()
                .map_err(|source| Error::CapChain { op, source })?;
            return Ok(DeviceInfo {
                flags: info.flags,
                num_regions: info.num_regions,
                num_irqs: info.num_irqs,
                caps,
            });
        }
        Err(Error::Protocol {
            op,
            what: "argsz keeps growing".into(),
        })
    }

    /// ioctl(VFIO_DEVICE_GET_REGION_INFO) of region `index`, asking again with the `argsz`
    /// the kernel reports when the capabilities do not fit, and the chain decoded.
    pub fn region_info(&self, index: u32) -> Result<RegionInfo> {
        let op = "VFIO_DEVICE_GET_REGION_INFO";
        let mut argsz = size_of::<VfioRegionInfo>();
        for _ in 0..4 {
            let mut buf = vec![0u8; argsz];
            let head = VfioRegionInfo {
                argsz: argsz as u32,
                index,
                ..Default::default()
            };
            buf[..size_of::<VfioRegionInfo>()].copy_from_slice(head.as_bytes());
            ioctl::ioctl_bytes(self.as_fd(), VFIO_DEVICE_GET_REGION_INFO, &mut buf).op(op)?;
            let want = u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
            if want > buf.len() {
                argsz = want;
                continue;
            }
            return decode_region_info(op, &buf);
        }
        Err(Error::Protocol {
            op,
            what: "argsz keeps growing".into(),
        })
    }

    /// `mmap` of the whole region `info` (from [`region_info`](Self::region_info)), shared,
    /// readable and, if the region is, writable. `EINVAL` if the region is empty or not
    /// mappable (`VFIO_REGION_INFO_FLAG_MMAP`); a sparse region's holes fail in the kernel.
    pub fn mmap_region(&self, info: &RegionInfo) -> Result<MmioRegion> {
        let op = "mmap";
        if info.size == 0 || !info.mappable() {
            return Err(Error::os(op, uiommu_uapi::Errno::EINVAL));
        }
        let len =
            usize::try_from(info.size).map_err(|_| Error::os(op, uiommu_uapi::Errno::EINVAL))?;
        let mut prot = 0;
        if info.readable() {
            prot |= libc::PROT_READ;
        }
        if info.writable() {
            prot |= libc::PROT_WRITE;
        }
        let region =
            Region::map(len, prot, libc::MAP_SHARED, Some(self.as_fd()), info.offset).op(op)?;
        Ok(MmioRegion {
            region,
            index: info.index,
            writable: info.writable(),
        })
    }

    pub(super) fn check_region_access(
        op: &'static str,
        info: &RegionInfo,
        offset: u64,
        len: usize,
    ) -> Result<u64> {
        match offset.checked_add(len as u64) {
            Some(end) if end <= info.size => Ok(info.offset + offset),
            _ => Err(Error::OutOfBounds {
                op,
                offset,
                len: len as u64,
                size: info.size,
            }),
        }
    }

    /// `pread` of `buf.len()` bytes at `offset` in region `info` (config space, a BAR, ...):
    /// the access goes through the VFIO driver, mapped or not.
    pub fn read_region(&self, info: &RegionInfo, offset: u64, buf: &mut [u8]) -> Result<()> {
        let op = "pread";
        let at = Self::check_region_access(op, info, offset, buf.len())?;
        self.file.read_exact_at(buf, at).map_err(|e| {
            Error::os(
                op,
                uiommu_uapi::Errno(e.raw_os_error().unwrap_or(libc::EIO)),
            )
        })
    }

    /// `pwrite` of `data` at `offset` in region `info`.
    pub fn write_region(&self, info: &RegionInfo, offset: u64, data: &[u8]) -> Result<()> {
        let op = "pwrite";
        let at = Self::check_region_access(op, info, offset, data.len())?;
        self.file.write_all_at(data, at).map_err(|e| {
            Error::os(
                op,
                uiommu_uapi::Errno(e.raw_os_error().unwrap_or(libc::EIO)),
            )
        })
    }

    /// ioctl(VFIO_DEVICE_GET_IRQ_INFO) of IRQ index `index`.
    pub fn irq_info(&self, index: u32) -> Result<IrqInfo> {
        let mut cmd = VfioIrqInfo {
            argsz: size_of::<VfioIrqInfo>() as u32,
            index,
            ..Default::default()
        };
        ioctl::ioctl(self.as_fd(), VFIO_DEVICE_GET_IRQ_INFO, &mut cmd)
            .op("VFIO_DEVICE_GET_IRQ_INFO")?;
        Ok(IrqInfo {
            index: cmd.index,
            flags: cmd.flags,
            count: cmd.count,
        })
    }

    /// ioctl(VFIO_DEVICE_SET_IRQS): `action` on IRQs `start..` of `index`, with `data`
    /// (whose length is the IRQ count; `count` is used only with [`IrqData::None`]).
    pub fn set_irqs(
        &self,
        index: u32,
        action: IrqAction,
        start: u32,
        count: u32,
        data: IrqData<'_>,
    ) -> Result<()> {
        let mut buf = encode_irq_set(index, action, start, count, data);
        ioctl::ioctl_bytes(self.as_fd(), VFIO_DEVICE_SET_IRQS, &mut buf)
            .op("VFIO_DEVICE_SET_IRQS")
            .map(|_| ())
    }

    /// Routes IRQs `start..start + fds.len()` of `index` to eventfds
    /// (`DATA_EVENTFD | ACTION_TRIGGER`; -1 unassigns one).
    pub fn set_irq_eventfds(&self, index: u32, start: u32, fds: &[RawFd]) -> Result<()> {
        self.set_irqs(index, IrqAction::Trigger, start, 0, IrqData::Eventfd(fds))
    }

    /// Disables every IRQ of `index` (`DATA_NONE | ACTION_TRIGGER`, count 0).
    pub fn disable_irqs(&self, index: u32) -> Result<()> {
        self.set_irqs(index, IrqAction::Trigger, 0, 0, IrqData::None)
    }

    /// ioctl(VFIO_DEVICE_RESET).
    pub fn reset(&self) -> Result<()> {
        ioctl::ioctl_value(self.as_fd(), VFIO_DEVICE_RESET, 0)
            .op("VFIO_DEVICE_RESET")
            .map(|_| ())
    }
}

impl AsFd for VfioDevice {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_irq_sets() {
        let b = encode_irq_set(
            VFIO_PCI_MSIX_IRQ_INDEX,
            IrqAction::Trigger,
            2,
            0,
            IrqData::Eventfd(&[7, -1]),
        );
        let (head, data) = VfioIrqSet::read_from_prefix(&b).unwrap();
        assert_eq!(head.argsz as usize, size_of::<VfioIrqSet>() + 8);
        assert_eq!(
            head.flags,
            VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER
        );
        assert_eq!((head.index, head.start, head.count), (2, 2, 2));
        assert_eq!(data[..4], 7i32.to_ne_bytes());
        assert_eq!(data[4..], (-1i32).to_ne_bytes());

        let b = encode_irq_set(0, IrqAction::Unmask, 0, 1, IrqData::Bool(&[true, false]));
        let (head, data) = VfioIrqSet::read_from_prefix(&b).unwrap();
        assert_eq!(
            head.flags,
            VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_UNMASK
        );
        assert_eq!((head.count, data), (2, &[1u8, 0][..]));

        let b = encode_irq_set(1, IrqAction::Trigger, 0, 0, IrqData::None);
        let (head, data) = VfioIrqSet::read_from_prefix(&b).unwrap();
        assert_eq!(head.argsz as usize, size_of::<VfioIrqSet>());
        assert_eq!(
            head.flags,
            VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER
        );
        assert!(data.is_empty());
    }

    #[test]
    fn decodes_region_info_with_caps() {
        let fixed = size_of::<VfioRegionInfo>();
        let areas = [
            VfioRegionSparseMmapArea {
                offset: 0,
                size: 0x2000,
            },
            VfioRegionSparseMmapArea {
                offset: 0x3000,
                size: 0x1000,
            },
        ];
        let mut b = CapChainBuilder::new();
        b.push_with(
            &VfioRegionInfoCapSparseMmap {
                nr_areas: 2,
                ..Default::default()
            },
            &areas,
        );
        b.push_raw(VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, 1, &[]);
        b.push(&VfioRegionInfoCapType {
            type_: VFIO_REGION_TYPE_GFX,
            subtype: VFIO_REGION_SUBTYPE_GFX_EDID,
            ..Default::default()
        });
        let caps = b.to_bytes(fixed).unwrap();
        let info = VfioRegionInfo {
            argsz: (fixed + caps.len()) as u32,
            flags: VFIO_REGION_INFO_FLAG_READ
                | VFIO_REGION_INFO_FLAG_MMAP
                | VFIO_REGION_INFO_FLAG_CAPS,
            index: 0,
            cap_offset: fixed as u32,
            size: 0x4000,
            offset: 0x1_0000_0000,
        };
        let mut buf = info.as_bytes().to_vec();
        buf.extend_from_slice(&caps);
        let r = decode_region_info("t", &buf).unwrap();
        assert!(r.readable() && r.mappable() && !r.writable());
        assert_eq!((r.size, r.offset), (0x4000, 0x1_0000_0000));
        assert_eq!(r.sparse_mmap.as_deref(), Some(&areas[..]));
        assert!(r.msix_mappable);
        assert_eq!(
            r.region_type,
            Some((VFIO_REGION_TYPE_GFX, VFIO_REGION_SUBTYPE_GFX_EDID))
        );
        assert_eq!(r.caps.len(), 3);

        // Without FLAG_CAPS the chain is not looked at.
        let mut plain = info;
        plain.flags = VFIO_REGION_INFO_FLAG_READ;
        plain.cap_offset = 0;
        let r = decode_region_info("t", plain.as_bytes()).unwrap();
        assert!(r.caps.is_empty() && r.sparse_mmap.is_none());
        // A chain pointing into the fixed struct is an error.
        let mut bad = info.as_bytes().to_vec();
        bad[12..16].copy_from_slice(&4u32.to_ne_bytes());
        bad.extend_from_slice(&caps);
        assert!(matches!(
            decode_region_info("t", &bad),
            Err(Error::CapChain { .. })
        ));
    }
}
