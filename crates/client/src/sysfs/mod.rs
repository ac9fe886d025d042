//! Finding VFIO devices the way VFIO programs do: in sysfs.
//!
//! Every PCI function is a directory under `/sys/bus/pci/devices`, named by its address
//! (`DDDD:BB:DD.F`), with the attributes of Linux's `Documentation/ABI/testing/sysfs-bus-pci`
//! (`vendor`, `device`, `subsystem_vendor`, `subsystem_device`, `class`: hex numbers), an
//! `iommu_group` link to `/sys/kernel/iommu_groups/N` (`sysfs-kernel-iommu_groups`), a
//! `driver` link to the bound driver, and, once bound to a VFIO driver on a kernel with
//! `CONFIG_VFIO_DEVICE_CDEV`, `vfio-dev/vfioN/dev` with the major:minor of the device cdev
//! `/dev/vfio/devices/vfioN` (`Documentation/driver-api/vfio.rst`, "VFIO device cdev"). The
//! group node is `/dev/vfio/N`.
//!
//! [`PciDevices`] scans such a directory (the real one, or any root for tests) into
//! [`PciDevice`]s and picks them with a [`PciFilter`]. Under `uiommu exec --device …` the same
//! code finds uiommu's emulated devices: its preload serves the sysfs view.

mod device;

#[cfg(test)]
mod tests;

pub use device::{PciDevice, VfioCdev};

use std::path::{Path, PathBuf};
use thiserror::Error;
use uiommu_uapi::Errno;

use crate::error::{Error, Result};

/// Where Linux lists PCI devices.
pub const PCI_DEVICES: &str = "/sys/bus/pci/devices";

/// What is wrong with a sysfs entry.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SysfsError {
    /// Reading the file, link or directory failed with this errno (`ENOENT`: no such
    /// device or attribute).
    #[error("{}", .0.describe())]
    Io(Errno),
    /// The content is not what the ABI document defines.
    #[error("malformed: {0:?}")]
    Malformed(String),
    /// The device has no VFIO node of the kind asked for: no `vfio-dev/vfioN` (not bound
    /// to a VFIO driver, or a kernel without `CONFIG_VFIO_DEVICE_CDEV`), or no
    /// `iommu_group` link (no IOMMU).
    #[error("{0}")]
    NoVfioNode(&'static str),
}

/// An [`Error::Sysfs`] for `path`.
fn sysfs_error(path: &Path, what: SysfsError) -> Error {
    Error::Sysfs {
        path: path.to_path_buf(),
        what,
    }
}

/// An I/O failure at `path`.
fn io_error(path: &Path, e: &std::io::Error) -> Error {
    sysfs_error(
        path,
        SysfsError::Io(Errno(e.raw_os_error().unwrap_or(libc::EIO))),
    )
}

/// Which devices to keep: every condition set must hold.
///
/// ```
/// use uiommu_client::PciFilter;
///
/// let edu = PciFilter::new().id(0x1234, 0x11e8).driver("vfio-pci");
/// let one = PciFilter::new().address("0000:00:03.0");
/// # let _ = (edu, one);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PciFilter {
    id: Option<(u16, u16)>,
    address: Option<String>,
    driver: Option<String>,
}

impl PciFilter {
    /// Every device.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only devices with this vendor and device ID.
    pub fn id(mut self, vendor: u16, device: u16) -> Self {
        self.id = Some((vendor, device));
        self
    }

    /// Only the device at this address (`DDDD:BB:DD.F`).
    pub fn address(mut self, address: impl Into<String>) -> Self {
        self.address = Some(address.into());
        self
    }

    /// Only devices bound to the driver of this name (`vfio-pci`).
    pub fn driver(mut self, name: impl Into<String>) -> Self {
        self.driver = Some(name.into());
        self
    }

    /// Whether `d` passes.
    pub fn matches(&self, d: &PciDevice) -> bool {
        self.id.is_none_or(|id| id == (d.vendor, d.device))
            && self.address.as_ref().is_none_or(|a| *a == d.address)
            && self
                .driver
                .as_ref()
                .is_none_or(|n| d.driver.as_ref() == Some(n))
    }
}

/// The PCI devices listed in a sysfs directory.
///
/// ```
/// use uiommu_client::{PciDevices, PciFilter};
///
/// // A directory laid out as /sys/bus/pci/devices is.
/// let root = std::env::temp_dir().join(format!("pci-doc-{}", std::process::id()));
/// let dev = root.join("0000:00:03.0");
/// std::fs::create_dir_all(dev.join("vfio-dev/vfio0"))?;
/// for (attr, value) in [
///     ("vendor", "0x1234"), ("device", "0x11e8"), ("subsystem_vendor", "0x1af4"),
///     ("subsystem_device", "0x1100"), ("class", "0x00ff00"), ("vfio-dev/vfio0/dev", "511:0"),
/// ] {
///     std::fs::write(dev.join(attr), format!("{value}\n"))?;
/// }
/// std::os::unix::fs::symlink("../../../kernel/iommu_groups/7", dev.join("iommu_group"))?;
/// std::os::unix::fs::symlink("../../../bus/pci/drivers/vfio-pci", dev.join("driver"))?;
///
/// let found = PciDevices::at(&root).matching(&PciFilter::new().id(0x1234, 0x11e8))?;
/// assert_eq!(found.len(), 1);
/// let edu = &found[0];
/// assert_eq!(edu.driver.as_deref(), Some("vfio-pci"));
/// assert_eq!(edu.group_path().unwrap(), std::path::Path::new("/dev/vfio/7"));
/// let cdev = edu.vfio_cdev.as_ref().unwrap();
/// assert_eq!((cdev.index, cdev.major, cdev.minor), (0, 511, 0));
/// assert_eq!(cdev.path(), std::path::Path::new("/dev/vfio/devices/vfio0"));
/// std::fs::remove_dir_all(&root).unwrap();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PciDevices {
    root: PathBuf,
}

impl Default for PciDevices {
    fn default() -> Self {
        Self::new()
    }
}

impl PciDevices {
    /// The system's devices, [`PCI_DEVICES`].
    pub fn new() -> Self {
        Self::at(PCI_DEVICES)
    }

    /// The devices listed under `root`.
    pub fn at(root: impl Into<PathBuf>) -> Self {
        PciDevices { root: root.into() }
    }

    /// The directory scanned.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The device at `address` (`DDDD:BB:DD.F`); [`SysfsError::Io`] with `ENOENT` if there
    /// is none.
    pub fn device(&self, address: &str) -> Result<PciDevice> {
        PciDevice::read(&self.root.join(address))
    }

    /// Every device, by address.
    pub fn all(&self) -> Result<Vec<PciDevice>> {
        self.matching(&PciFilter::new())
    }

    /// The devices `filter` keeps, by address.
    pub fn matching(&self, filter: &PciFilter) -> Result<Vec<PciDevice>> {
        if let Some(address) = &filter.address {
            return match self.device(address) {
                Ok(d) => Ok(filter.matches(&d).then_some(d).into_iter().collect()),
                Err(Error::Sysfs {
                    what: SysfsError::Io(Errno::ENOENT),
                    ..
                }) => Ok(Vec::new()),
                Err(e) => Err(e),
            };
        }
        let dir = std::fs::read_dir(&self.root).map_err(|e| io_error(&self.root, &e))?;
        let mut found = Vec::new();
        for entry in dir {
            let entry = entry.map_err(|e| io_error(&self.root, &e))?;
            let d = PciDevice::read(&entry.path())?;
            if filter.matches(&d) {
                found.push(d);
            }
        }
        found.sort_by(|a, b| a.address.cmp(&b.address));
        Ok(found)
    }
}
