//! Discovery against fake sysfs trees in a temporary directory, laid out as Linux lays out
//! `/sys/bus/pci/devices`.

use super::*;
use std::os::unix::fs::symlink;
use std::sync::atomic::{AtomicU32, Ordering};

/// A fresh directory, removed on drop.
struct Tree(PathBuf);

impl Tree {
    fn new() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("uiommu-sysfs-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Tree(dir)
    }

    /// A device with `ids` (vendor, device, subsystem vendor, subsystem device, class).
    fn device(&self, address: &str, ids: [u32; 5]) -> PathBuf {
        let d = self.0.join(address);
        std::fs::create_dir_all(&d).unwrap();
        let names = ["vendor", "device", "subsystem_vendor", "subsystem_device"];
        for (name, v) in names.iter().zip(ids) {
            std::fs::write(d.join(name), format!("{v:#06x}\n")).unwrap();
        }
        std::fs::write(d.join("class"), format!("{:#08x}\n", ids[4])).unwrap();
        d
    }

    /// Binds `dev` to `driver` in group `group`, with cdev `vfio<index>` at `major:minor`.
    fn vfio(&self, dev: &Path, driver: &str, group: u32, cdev: Option<(u32, &str)>) {
        symlink(
            format!("../../../kernel/iommu_groups/{group}"),
            dev.join("iommu_group"),
        )
        .unwrap();
        symlink(
            format!("../../../bus/pci/drivers/{driver}"),
            dev.join("driver"),
        )
        .unwrap();
        if let Some((index, numbers)) = cdev {
            let c = dev.join(format!("vfio-dev/vfio{index}"));
            std::fs::create_dir_all(&c).unwrap();
            std::fs::write(c.join("dev"), format!("{numbers}\n")).unwrap();
        }
    }

    fn devices(&self) -> PciDevices {
        PciDevices::at(&self.0)
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const EDU: [u32; 5] = [0x1234, 0x11e8, 0x1af4, 0x1100, 0x00ff00];
const NIC: [u32; 5] = [0x8086, 0x10d3, 0x8086, 0x0000, 0x020000];

/// Two edus on vfio-pci (one without a cdev: a kernel without VFIO_DEVICE_CDEV), a NIC bound
/// to its own driver, and a host bridge with no group and no driver.
fn machine() -> Tree {
    let t = Tree::new();
    let a = t.device("0000:00:04.0", EDU);
    t.vfio(&a, "vfio-pci", 5, Some((1, "511:1")));
    let b = t.device("0000:00:03.0", EDU);
    t.vfio(&b, "vfio-pci", 4, None);
    let nic = t.device("0000:00:02.0", NIC);
    t.vfio(&nic, "e1000e", 3, None);
    t.device("0000:00:00.0", [0x8086, 0x29c0, 0x1af4, 0x1100, 0x060000]);
    t
}

#[test]
fn every_attribute_is_read() {
    let t = machine();
    let d = t.devices().device("0000:00:04.0").unwrap();
    assert_eq!(
        d,
        PciDevice {
            address: "0000:00:04.0".into(),
            path: t.0.join("0000:00:04.0"),
            vendor: 0x1234,
            device: 0x11e8,
            subsystem_vendor: 0x1af4,
            subsystem_device: 0x1100,
            class: 0x00ff00,
            iommu_group: Some(5),
            driver: Some("vfio-pci".into()),
            vfio_cdev: Some(VfioCdev {
                index: 1,
                major: 511,
                minor: 1
            }),
        }
    );
    assert_eq!(d.group_path(), Some(PathBuf::from("/dev/vfio/5")));
    assert_eq!(
        d.vfio_cdev.unwrap().path(),
        PathBuf::from("/dev/vfio/devices/vfio1")
    );
    let bridge = t.devices().device("0000:00:00.0").unwrap();
    assert_eq!(
        (
            bridge.iommu_group,
            bridge.driver.clone(),
            bridge.vfio_cdev,
            bridge.group_path()
        ),
        (None, None, None, None)
    );
}

#[test]
fn all_lists_by_address_and_filters_combine() {
    let t = machine();
    let addresses = |f: &PciFilter| -> Vec<String> {
        let found = t.devices().matching(f).unwrap();
        found.into_iter().map(|d| d.address).collect()
    };
    let all: Vec<_> = t
        .devices()
        .all()
        .unwrap()
        .into_iter()
        .map(|d| d.address)
        .collect();
    assert_eq!(
        all,
        [
            "0000:00:00.0",
            "0000:00:02.0",
            "0000:00:03.0",
            "0000:00:04.0"
        ]
    );
    assert_eq!(
        addresses(&PciFilter::new().id(0x1234, 0x11e8)),
        ["0000:00:03.0", "0000:00:04.0"]
    );
    assert_eq!(
        addresses(&PciFilter::new().driver("vfio-pci")),
        ["0000:00:03.0", "0000:00:04.0"]
    );
    assert_eq!(
        addresses(&PciFilter::new().driver("e1000e")),
        ["0000:00:02.0"]
    );
    assert_eq!(
        addresses(&PciFilter::new().id(0x1234, 0x11e8).address("0000:00:04.0")),
        ["0000:00:04.0"]
    );
    assert!(addresses(&PciFilter::new().id(0x8086, 0x10d3).driver("vfio-pci")).is_empty());
    assert!(addresses(&PciFilter::new().address("0000:00:09.0")).is_empty());
}

#[test]
fn missing_and_malformed_entries_are_typed_errors() {
    let t = machine();
    let e = t.devices().device("0000:00:09.0").unwrap_err();
    assert_eq!(e.errno(), Some(Errno::ENOENT));
    assert!(matches!(&e, Error::Sysfs { path, .. } if path.ends_with("0000:00:09.0/vendor")));

    let bad = t.device("0000:00:05.0", EDU);
    std::fs::write(bad.join("device"), "11e8\n").unwrap();
    let e = t.devices().device("0000:00:05.0").unwrap_err();
    assert_eq!(
        e,
        Error::Sysfs {
            path: bad.join("device"),
            what: SysfsError::Malformed("11e8".into())
        }
    );
    assert_eq!(
        e.to_string(),
        format!("{}: malformed: \"11e8\"", bad.join("device").display())
    );
    // A scan reports the bad device rather than hiding it.
    assert_eq!(t.devices().all().unwrap_err(), e);

    std::fs::write(bad.join("device"), "0x11e8\n").unwrap();
    std::fs::create_dir_all(bad.join("vfio-dev/vfio2")).unwrap();
    std::fs::write(bad.join("vfio-dev/vfio2/dev"), "511\n").unwrap();
    let e = t.devices().device("0000:00:05.0").unwrap_err();
    assert!(matches!(e, Error::Sysfs { what: SysfsError::Malformed(s), .. } if s == "511"));

    let e = PciDevices::at(t.0.join("nowhere")).all().unwrap_err();
    assert_eq!((e.errno(), e.op()), (Some(Errno::ENOENT), "sysfs"));
}

#[test]
fn opening_vfio_nodes_names_what_is_missing() {
    let t = Tree::new();
    let plain = t.device("0000:00:05.0", [0x8086, 0x1234, 0, 0, 0x020000]);
    let d = t.devices().device("0000:00:05.0").unwrap();
    assert_eq!((d.cdev_path(), d.group_path()), (None, None));
    let e = d.open_cdev().unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: no VFIO device cdev: bind it to vfio-pci",
            plain.join("vfio-dev").display()
        )
    );
    assert!(
        d.open_group()
            .unwrap_err()
            .to_string()
            .ends_with("no IOMMU group")
    );
    t.vfio(&plain, "vfio-pci", 7, Some((3, "511:3")));
    let d = t.devices().device("0000:00:05.0").unwrap();
    assert_eq!(
        d.cdev_path(),
        Some(PathBuf::from("/dev/vfio/devices/vfio3"))
    );
    assert_eq!(d.group_path(), Some(PathBuf::from("/dev/vfio/7")));
}
