//! [`VfioGroup`]: `/dev/vfio/$GROUP` — `VFIO_GROUP_GET_STATUS`, `VFIO_GROUP_SET_CONTAINER`,
//! `VFIO_GROUP_UNSET_CONTAINER`, `VFIO_GROUP_GET_DEVICE_FD`.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use uiommu_uapi::vfio::*;

use super::{VfioContainer, VfioDevice};
use crate::error::{Context, Error, Result};
use crate::ioctl;

/// A VFIO group.
///
/// ```no_run
/// use uiommu_client::{VfioContainer, VfioGroup};
/// use uiommu_client::uapi::vfio::{VFIO_GROUP_FLAGS_VIABLE, VFIO_TYPE1v2_IOMMU};
///
/// let container = VfioContainer::open()?;
/// let group = VfioGroup::open(26)?;
/// assert!(group.status()? & VFIO_GROUP_FLAGS_VIABLE != 0);
/// group.set_container(&container)?;
/// container.set_iommu(VFIO_TYPE1v2_IOMMU)?;
/// let dev = group.device("0000:00:03.0")?;
/// # Ok::<(), uiommu_client::Error>(())
/// ```
#[derive(Debug)]
pub struct VfioGroup {
    file: File,
}

impl VfioGroup {
    /// Opens `/dev/vfio/<group>`.
    pub fn open(group: u32) -> Result<Self> {
        Self::open_path(format!("/dev/vfio/{group}"))
    }

    /// Opens a group node at `path`.
    pub fn open_path(path: impl AsRef<std::path::Path>) -> Result<Self> {
        Ok(VfioGroup {
            file: super::open_rw(path.as_ref())?,
        })
    }

    /// ioctl(VFIO_GROUP_GET_STATUS): `flags` (`VFIO_GROUP_FLAGS_*`).
    pub fn status(&self) -> Result<u32> {
        let mut s = VfioGroupStatus {
            argsz: size_of::<VfioGroupStatus>() as u32,
            flags: 0,
        };
        ioctl::ioctl(self.as_fd(), VFIO_GROUP_GET_STATUS, &mut s).op("VFIO_GROUP_GET_STATUS")?;
        Ok(s.flags)
    }

    /// ioctl(VFIO_GROUP_SET_CONTAINER).
    pub fn set_container(&self, container: &VfioContainer) -> Result<()> {
        let mut fd: i32 = container.as_fd().as_raw_fd();
        ioctl::ioctl(self.as_fd(), VFIO_GROUP_SET_CONTAINER, &mut fd)
            .op("VFIO_GROUP_SET_CONTAINER")
            .map(|_| ())
    }

    /// ioctl(VFIO_GROUP_UNSET_CONTAINER).
    pub fn unset_container(&self) -> Result<()> {
        ioctl::ioctl_value(self.as_fd(), VFIO_GROUP_UNSET_CONTAINER, 0)
            .op("VFIO_GROUP_UNSET_CONTAINER")
            .map(|_| ())
    }

    /// ioctl(VFIO_GROUP_GET_DEVICE_FD) for the device named `name` (e.g. a PCI address).
    pub fn device(&self, name: &str) -> Result<VfioDevice> {
        let mut bytes = name.as_bytes().to_vec();
        if bytes.contains(&0) {
            return Err(Error::Protocol {
                op: "VFIO_GROUP_GET_DEVICE_FD",
                what: "name contains NUL".into(),
            });
        }
        bytes.push(0);
        let fd = ioctl::ioctl_bytes(self.as_fd(), VFIO_GROUP_GET_DEVICE_FD, &mut bytes)
            .op("VFIO_GROUP_GET_DEVICE_FD")?;
        Ok(VfioDevice::from_fd(ioctl::own_fd(fd)))
    }
}

impl AsFd for VfioGroup {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}
