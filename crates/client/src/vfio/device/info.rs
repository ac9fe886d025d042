//! What a VFIO device reports about itself (`VFIO_DEVICE_GET_INFO`,
//! `VFIO_DEVICE_GET_REGION_INFO`, `VFIO_DEVICE_GET_IRQ_INFO`), the `VFIO_DEVICE_SET_IRQS`
//! request, and a mapped MMIO region.

use std::os::fd::RawFd;

use uiommu_uapi::vfio::*;
use zerocopy::{FromBytes, IntoBytes};

use crate::error::{Error, Result};
use crate::ioctl::Region;

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
    pub(super) region: Region,
    pub(super) index: u32,
    pub(super) writable: bool,
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
