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

mod info;
#[cfg(test)]
mod tests;

pub use info::{DeviceInfo, IrqAction, IrqData, IrqInfo, MmioRegion, RegionInfo};
use info::{decode_region_info, encode_irq_set};

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
        let op = "mmap VFIO region";
        if info.size == 0 || !info.mappable() {
            return Err(Error::os(
                "mmap VFIO region (empty, or no VFIO_REGION_INFO_FLAG_MMAP)",
                uiommu_uapi::Errno::EINVAL,
            ));
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
        let op = "pread VFIO region";
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
        let op = "pwrite VFIO region";
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
