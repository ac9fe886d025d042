//! [`VfioDevice`]: a VFIO device fd — the cdev `/dev/vfio/devices/vfioN` with
//! `VFIO_DEVICE_BIND_IOMMUFD`, `VFIO_DEVICE_ATTACH_IOMMUFD_PT` (device or PASID; attaching
//! again replaces) and `VFIO_DEVICE_DETACH_IOMMUFD_PT`; and, on any device fd,
//! `VFIO_DEVICE_GET_INFO` and `VFIO_DEVICE_RESET`.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::{Arc, Mutex};

use uiommu_uapi::vfio::*;
use zerocopy::FromBytes;

use crate::error::{Context, Error, Result};
use crate::ioctl;
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

/// A VFIO device.
///
/// ```no_run
/// use uiommu_client::{Iommufd, VfioDevice};
///
/// let iommufd = Iommufd::open()?;
/// let ioas = iommufd.alloc_ioas()?;
/// let dev = VfioDevice::open_cdev(0)?;
/// let dev_id = dev.bind_iommufd(&iommufd)?;
/// let hwpt_id = dev.attach(&ioas)?;
/// dev.detach()?;
/// # Ok::<(), uiommu_client::Error>(())
/// ```
#[derive(Debug)]
pub struct VfioDevice {
    // Closing the device fd unbinds it; only then may what it was attached to go.
    file: File,
    attached: Mutex<Vec<Arc<Object>>>,
    bound: Mutex<Option<Iommufd>>,
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
            attached: Mutex::new(Vec::new()),
            bound: Mutex::new(None),
        }
    }

    /// ioctl(VFIO_DEVICE_BIND_IOMMUFD): returns the device ID in `iommufd` (`out_devid`).
    pub fn bind_iommufd(&self, iommufd: &Iommufd) -> Result<u32> {
        let mut cmd = VfioDeviceBindIommufd {
            argsz: size_of::<VfioDeviceBindIommufd>() as u32,
            iommufd: iommufd.as_fd().as_raw_fd(),
            ..Default::default()
        };
        ioctl::ioctl(self.as_fd(), VFIO_DEVICE_BIND_IOMMUFD, &mut cmd)
            .op("VFIO_DEVICE_BIND_IOMMUFD")?;
        *self.bound.lock().unwrap_or_else(|e| e.into_inner()) = Some(iommufd.clone());
        Ok(cmd.out_devid)
    }

    fn attach_raw(&self, flags: u32, pasid: u32, pt_id: u32) -> Result<u32> {
        let mut cmd = VfioDeviceAttachIommufdPt {
            argsz: size_of::<VfioDeviceAttachIommufdPt>() as u32,
            flags,
            pt_id,
            pasid,
        };
        ioctl::ioctl(self.as_fd(), VFIO_DEVICE_ATTACH_IOMMUFD_PT, &mut cmd)
            .op("VFIO_DEVICE_ATTACH_IOMMUFD_PT")?;
        Ok(cmd.pt_id)
    }

    fn keep(&self, pt: &dyn PageTable) {
        self.attached
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(pt.object().clone());
    }

    /// ioctl(VFIO_DEVICE_ATTACH_IOMMUFD_PT): attach (or replace) to `pt`. Returns `pt_id` as
    /// written back (the HWPT, auto-allocated for an IOAS).
    pub fn attach(&self, pt: &dyn PageTable) -> Result<u32> {
        let id = self.attach_raw(0, 0, pt.pt_id())?;
        self.keep(pt);
        Ok(id)
    }

    /// `VFIO_DEVICE_ATTACH_IOMMUFD_PT` with `VFIO_DEVICE_ATTACH_PASID`.
    pub fn attach_pasid(&self, pasid: u32, pt: &dyn PageTable) -> Result<u32> {
        let id = self.attach_raw(VFIO_DEVICE_ATTACH_PASID, pasid, pt.pt_id())?;
        self.keep(pt);
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

    /// ioctl(VFIO_DEVICE_DETACH_IOMMUFD_PT): the device blocks DMA.
    pub fn detach(&self) -> Result<()> {
        self.detach_raw(0, 0)
    }

    /// `VFIO_DEVICE_DETACH_IOMMUFD_PT` with `VFIO_DEVICE_DETACH_PASID`.
    pub fn detach_pasid(&self, pasid: u32) -> Result<()> {
        self.detach_raw(VFIO_DEVICE_DETACH_PASID, pasid)
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
