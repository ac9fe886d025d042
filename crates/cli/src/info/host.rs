//! What sysfs shows of a host's IOMMUs: the units (`/sys/class/iommu`), the groups
//! (`/sys/kernel/iommu_groups/N/{type,devices}`, `sysfs-kernel-iommu_groups`) and the PCI
//! devices with their group, driver and unit (`/sys/bus/pci/devices/BDF/iommu`), read with the
//! client crate's [`PciDevices`].

use std::path::Path;
use uiommu_abi::placement::{self, DEVICES_ENV};
use uiommu_client::{PciDevice, PciDevices};

/// An IOMMU unit: an entry of `/sys/class/iommu`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// Its name (`dmar0`, `ivhd0`, `smmu3.0x0000000009050000`).
    pub name: String,
    /// The kind its name stands for.
    pub kind: &'static str,
}

/// An IOMMU group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// `N` of `/sys/kernel/iommu_groups/N`.
    pub number: u32,
    /// `type`: the default domain (`DMA`, `DMA-FQ`, `identity`, `blocked`), if readable.
    pub domain_type: Option<String>,
    /// The addresses in `devices/`.
    pub devices: Vec<String>,
}

/// A PCI function with what the IOMMU side says of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// What the client crate reads of it.
    pub pci: PciDevice,
    /// Its unit's name, from the `iommu` link.
    pub unit: Option<String>,
    /// Its IOMMU kind: its unit's, or uiommu's model for an emulated device.
    pub kind: Option<String>,
    /// Whether uiommu emulates it (an `exec --device`).
    pub emulated: bool,
}

/// The host as sysfs shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Host {
    /// The uiommu model serving this process (`UIOMMU_DRIVER`), under `uiommu exec`.
    pub uiommu_model: Option<String>,
    /// `/sys/class/iommu`.
    pub units: Vec<Unit>,
    /// `/sys/kernel/iommu_groups`, by number.
    pub groups: Vec<Group>,
    /// `/sys/bus/pci/devices`, by address.
    pub devices: Vec<Device>,
    /// What could not be read.
    pub errors: Vec<String>,
}

/// The kind of IOMMU a unit's name stands for: the names the kernel's drivers register
/// with `iommu_device_sysfs_add` (`dmar%d` for VT-d, `ivhd%d` for AMD-Vi, `smmu3.%pa` for
/// SMMUv3, `smmu.%pa` for SMMUv1/v2).
pub fn unit_kind(name: &str) -> &'static str {
    if name.starts_with("dmar") {
        "Intel VT-d"
    } else if name.starts_with("ivhd") {
        "AMD-Vi"
    } else if name.starts_with("smmu3.") {
        "Arm SMMUv3"
    } else if name.starts_with("smmu.") {
        "Arm SMMU"
    } else {
        "unknown"
    }
}

/// Reads the host's sysfs at `/`.
pub fn read() -> Host {
    read_at(Path::new("/"), std::env::var("UIOMMU_DRIVER").ok())
}

/// Reads a sysfs laid out under `root`; `model` is the uiommu model serving the process.
pub fn read_at(root: &Path, model: Option<String>) -> Host {
    let mut h = Host {
        uiommu_model: model.filter(|m| !m.is_empty()),
        ..Host::default()
    };
    let emulated = emulated_addresses();
    match names(&root.join("sys/class/iommu")) {
        Ok(entries) => {
            h.units = entries
                .into_iter()
                .map(|name| Unit {
                    kind: unit_kind(&name),
                    name,
                })
                .collect();
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => h.errors.push(format!("/sys/class/iommu: {e}")),
    }
    match names(&root.join("sys/kernel/iommu_groups")) {
        Ok(entries) => {
            let dir = root.join("sys/kernel/iommu_groups");
            let mut groups: Vec<Group> = entries
                .iter()
                .filter_map(|n| Some((n.parse::<u32>().ok()?, dir.join(n))))
                .map(|(number, d)| Group {
                    number,
                    domain_type: std::fs::read_to_string(d.join("type"))
                        .ok()
                        .map(|t| t.trim().to_owned()),
                    devices: names(&d.join("devices")).unwrap_or_default(),
                })
                .collect();
            groups.sort_by_key(|g| g.number);
            h.groups = groups;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => h.errors.push(format!("/sys/kernel/iommu_groups: {e}")),
    }
    let pci = PciDevices::at(root.join("sys/bus/pci/devices"));
    let addresses = match names(pci.root()) {
        Ok(a) => a,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            h.errors.push(format!("{}: {e}", pci.root().display()));
            Vec::new()
        }
    };
    for address in addresses {
        // One device the client cannot read does not hide the others.
        match pci.device(&address) {
            Ok(d) => {
                let unit = link_name(&d.path.join("iommu"));
                let is_emulated = emulated.contains(&d.address);
                let kind = if is_emulated {
                    h.uiommu_model.as_ref().map(|m| format!("uiommu {m} model"))
                } else {
                    unit.as_deref().map(|u| unit_kind(u).to_owned())
                };
                h.devices.push(Device {
                    pci: d,
                    unit,
                    kind,
                    emulated: is_emulated,
                });
            }
            Err(e) => h.errors.push(format!("{address}: {e}")),
        }
    }
    h
}

/// The addresses of the devices `uiommu exec --device` emulates for this process.
fn emulated_addresses() -> Vec<String> {
    let list = std::env::var(DEVICES_ENV).unwrap_or_default();
    placement::parse_list(&list)
        .map(|ds| ds.iter().map(|d| d.bdf.to_string()).collect())
        .unwrap_or_default()
}

/// The entries of `dir`, sorted.
fn names(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut v: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    Ok(v)
}

/// The last component of the link at `path`, if it is one.
fn link_name(path: &Path) -> Option<String> {
    std::fs::read_link(path)
        .ok()
        .as_deref()
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn scratch(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("uiommu-info-{name}-{}", std::process::id()))
    }

    #[test]
    fn reads_units_groups_and_devices() {
        let root = scratch("host");
        let sys = root.join("sys");
        let dev = sys.join("devices/pci0000:00/0000:00:03.0");
        std::fs::create_dir_all(dev.join("vfio-dev/vfio2")).unwrap();
        for (a, v) in [
            ("vendor", "0x8086"),
            ("device", "0x10fb"),
            ("subsystem_vendor", "0x8086"),
            ("subsystem_device", "0x0003"),
            ("class", "0x020000"),
            ("vfio-dev/vfio2/dev", "511:2"),
        ] {
            std::fs::write(dev.join(a), format!("{v}\n")).unwrap();
        }
        std::fs::create_dir_all(sys.join("bus/pci/devices")).unwrap();
        symlink(&dev, sys.join("bus/pci/devices/0000:00:03.0")).unwrap();
        symlink("../../../kernel/iommu_groups/12", dev.join("iommu_group")).unwrap();
        symlink("../../../bus/pci/drivers/vfio-pci", dev.join("driver")).unwrap();
        symlink("../../virtual/iommu/dmar1", dev.join("iommu")).unwrap();
        std::fs::create_dir_all(sys.join("class/iommu/dmar1")).unwrap();
        std::fs::create_dir_all(sys.join("class/iommu/ivhd0")).unwrap();
        for g in ["12", "3"] {
            let d = sys.join("kernel/iommu_groups").join(g);
            std::fs::create_dir_all(d.join("devices")).unwrap();
            std::fs::write(d.join("type"), "DMA-FQ\n").unwrap();
        }
        symlink(
            &dev,
            sys.join("kernel/iommu_groups/12/devices/0000:00:03.0"),
        )
        .unwrap();

        let h = read_at(&root, None);
        std::fs::remove_dir_all(&root).unwrap();
        assert_eq!(h.errors, Vec::<String>::new());
        let units: Vec<_> = h.units.iter().map(|u| (u.name.as_str(), u.kind)).collect();
        assert_eq!(units, [("dmar1", "Intel VT-d"), ("ivhd0", "AMD-Vi")]);
        assert_eq!(h.groups.len(), 2);
        assert_eq!((h.groups[0].number, h.groups[1].number), (3, 12));
        assert_eq!(h.groups[1].devices, ["0000:00:03.0"]);
        assert_eq!(h.groups[1].domain_type.as_deref(), Some("DMA-FQ"));
        let d = &h.devices[0];
        assert_eq!((d.pci.vendor, d.pci.device), (0x8086, 0x10fb));
        assert_eq!(d.pci.driver.as_deref(), Some("vfio-pci"));
        assert_eq!(d.unit.as_deref(), Some("dmar1"));
        assert_eq!(d.kind.as_deref(), Some("Intel VT-d"));
        assert!(!d.emulated);
    }

    #[test]
    fn unit_names_give_the_kind() {
        assert_eq!(unit_kind("smmu3.0x0000000009050000"), "Arm SMMUv3");
        assert_eq!(unit_kind("smmu.0x2b400000"), "Arm SMMU");
        assert_eq!(unit_kind("virtio-iommu"), "unknown");
    }
}
