//! One PCI function's sysfs directory, read into a [`PciDevice`]: its IDs, IOMMU group,
//! driver and VFIO device cdev (see the parent module for the ABI documents).

use std::path::{Path, PathBuf};

use super::{SysfsError, io_error, sysfs_error};
use crate::error::Result;
use crate::vfio::{VfioDevice, VfioGroup};

/// A VFIO device cdev: `/dev/vfio/devices/vfio<index>`, from `vfio-dev/vfio<index>/dev`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VfioCdev {
    /// `N` of `vfioN`.
    pub index: u32,
    /// The character device's major number.
    pub major: u32,
    /// The character device's minor number.
    pub minor: u32,
}

impl VfioCdev {
    /// `/dev/vfio/devices/vfio<index>`.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("/dev/vfio/devices/vfio{}", self.index))
    }
}

/// A PCI function as sysfs shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PciDevice {
    /// Its address, `DDDD:BB:DD.F`: the directory's name.
    pub address: String,
    /// The sysfs directory.
    pub path: PathBuf,
    /// `vendor`.
    pub vendor: u16,
    /// `device`.
    pub device: u16,
    /// `subsystem_vendor`.
    pub subsystem_vendor: u16,
    /// `subsystem_device`.
    pub subsystem_device: u16,
    /// `class`: base class, sub-class and programming interface (24 bits).
    pub class: u32,
    /// The IOMMU group, from the `iommu_group` link; `None` without one (no IOMMU).
    pub iommu_group: Option<u32>,
    /// The bound driver's name, from the `driver` link; `None` if unbound.
    pub driver: Option<String>,
    /// The VFIO device cdev, when bound to a VFIO driver that registered one.
    pub vfio_cdev: Option<VfioCdev>,
}

impl PciDevice {
    /// The VFIO device cdev's path, `/dev/vfio/devices/vfioN`, if it has one.
    pub fn cdev_path(&self) -> Option<PathBuf> {
        self.vfio_cdev.map(|c| c.path())
    }

    /// Opens the device's VFIO cdev, to bind to an iommufd
    /// ([`VfioDevice::bind_iommufd`](crate::VfioDevice::bind_iommufd)). Without one:
    /// [`SysfsError::NoVfioNode`] naming the device's sysfs directory.
    pub fn open_cdev(&self) -> Result<VfioDevice> {
        let path = self.cdev_path().ok_or_else(|| {
            sysfs_error(
                &self.path.join("vfio-dev"),
                SysfsError::NoVfioNode("no VFIO device cdev: bind it to vfio-pci"),
            )
        })?;
        VfioDevice::open_path(path)
    }

    /// Opens the device's VFIO group node, for the legacy container interface. Without an
    /// IOMMU group: [`SysfsError::NoVfioNode`].
    pub fn open_group(&self) -> Result<VfioGroup> {
        let path = self.group_path().ok_or_else(|| {
            sysfs_error(
                &self.path.join("iommu_group"),
                SysfsError::NoVfioNode("no IOMMU group"),
            )
        })?;
        VfioGroup::open_path(path)
    }

    /// Reads the device directory `path`.
    pub fn read(path: &Path) -> Result<Self> {
        let address = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| sysfs_error(path, SysfsError::Malformed("no address".into())))?
            .to_owned();
        let id = |attr: &str| -> Result<u16> {
            let v = hex(&path.join(attr))?;
            u16::try_from(v).map_err(|_| malformed(&path.join(attr), &format!("{v:#x}")))
        };
        let group = link_name(&path.join("iommu_group"))?;
        let iommu_group = match group {
            Some(g) => Some(
                g.parse()
                    .map_err(|_| malformed(&path.join("iommu_group"), &g))?,
            ),
            None => None,
        };
        Ok(PciDevice {
            vendor: id("vendor")?,
            device: id("device")?,
            subsystem_vendor: id("subsystem_vendor")?,
            subsystem_device: id("subsystem_device")?,
            class: hex(&path.join("class"))? as u32,
            iommu_group,
            driver: link_name(&path.join("driver"))?,
            vfio_cdev: vfio_cdev(&path.join("vfio-dev"))?,
            path: path.to_path_buf(),
            address,
        })
    }

    /// The VFIO group node `/dev/vfio/<group>`, if the device has an IOMMU group.
    pub fn group_path(&self) -> Option<PathBuf> {
        self.iommu_group
            .map(|g| PathBuf::from(format!("/dev/vfio/{g}")))
    }
}

fn malformed(path: &Path, content: &str) -> crate::error::Error {
    sysfs_error(path, SysfsError::Malformed(content.to_owned()))
}

/// A file's content without its trailing newline.
fn read(path: &Path) -> Result<String> {
    let s = std::fs::read_to_string(path).map_err(|e| io_error(path, &e))?;
    Ok(s.trim_end().to_owned())
}

/// A `0x`-prefixed hex attribute (`vendor`, `class`).
fn hex(path: &Path) -> Result<u64> {
    let s = read(path)?;
    s.strip_prefix("0x")
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .ok_or_else(|| malformed(path, &s))
}

/// The last component of the link at `path`; `None` if there is no link.
fn link_name(path: &Path) -> Result<Option<String>> {
    match std::fs::read_link(path) {
        Ok(target) => target
            .file_name()
            .and_then(|n| n.to_str())
            .map(|n| Some(n.to_owned()))
            .ok_or_else(|| malformed(path, &target.to_string_lossy())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(path, &e)),
    }
}

/// The cdev under `vfio-dev` (its one `vfioN` entry); `None` if the directory is absent.
fn vfio_cdev(dir: &Path) -> Result<Option<VfioCdev>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(dir, &e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| io_error(dir, &e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(index) = name.strip_prefix("vfio").and_then(|n| n.parse().ok()) else {
            continue;
        };
        let dev = entry.path().join("dev");
        let numbers = read(&dev)?;
        let (major, minor) = numbers
            .split_once(':')
            .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
            .ok_or_else(|| malformed(&dev, &numbers))?;
        return Ok(Some(VfioCdev {
            index,
            major,
            minor,
        }));
    }
    Ok(None)
}
