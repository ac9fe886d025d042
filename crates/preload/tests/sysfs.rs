//! The sysfs view of emulated devices through the preload library, loaded for real: a C
//! program finds edu as a VFIO program does, and Rust's `std::fs` sees the same tree, with the
//! host's own entries still listed around ours.
//!
//! As in `preload.rs`, the Rust scenarios run this binary again with `LD_PRELOAD`.

mod common;

use std::collections::BTreeSet;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

const SCENARIO_ENV: &str = "UIOMMU_PRELOAD_SYSFS_SCENARIO";
const DEVICES_ENV: &str = "UIOMMU_DEVICES";
/// The host's entries of a directory, as the parent saw them, for the child to compare.
const HOST_ENV: &str = "UIOMMU_TEST_HOST_ENTRIES";

#[test]
fn scenario_entry() {
    let Ok(name) = std::env::var(SCENARIO_ENV) else {
        return;
    };
    match name.as_str() {
        "std_view" => std_view(),
        "merged_listings" => merged_listings(),
        "two_devices" => two_devices(),
        "no_devices" => no_devices(),
        other => panic!("unknown scenario {other}"),
    }
    println!("scenario ok");
}

fn names(dir: &str) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_c_program_finds_edu_as_vfio_programs_do() {
    let dir = std::env::temp_dir().join(format!("uiommu-sysfs-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("find_edu");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs/find_edu.c");
    let cc = Command::new("cc")
        .arg("-O1")
        .arg("-o")
        .arg(&exe)
        .arg(&src)
        .status();
    let Ok(cc) = cc else {
        eprintln!("no C compiler: skipped");
        return;
    };
    assert!(cc.success(), "cc failed");
    let out = Command::new(&exe)
        .env("LD_PRELOAD", common::library())
        .env(DEVICES_ENV, "edu")
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), "ok 0000:00:10.0 group 9999 vfio0 511:0");
}

#[test]
fn std_fs_sees_the_tree() {
    common::run_with(SCENARIO_ENV, "std_view", &[(DEVICES_ENV, "edu")]);
}

fn std_view() {
    let dev = "/sys/bus/pci/devices/0000:00:10.0";
    assert_eq!(
        std::fs::read_to_string(format!("{dev}/vendor")).unwrap(),
        "0x1234\n"
    );
    assert_eq!(
        std::fs::read_link(format!("{dev}/driver")).unwrap(),
        Path::new("../../../bus/pci/drivers/vfio-pci")
    );
    assert_eq!(
        std::fs::canonicalize(format!("{dev}/iommu_group")).unwrap(),
        PathBuf::from("/sys/kernel/iommu_groups/9999")
    );
    assert!(
        std::fs::symlink_metadata(dev)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(std::fs::metadata(dev).unwrap().is_dir());
    let node = std::fs::metadata("/dev/vfio/devices/vfio0").unwrap();
    assert!(node.file_type().is_char_device());
    assert_eq!(node.rdev(), libc::makedev(511, 0));
    let iommu = std::fs::metadata("/dev/iommu").unwrap();
    assert!(iommu.file_type().is_char_device());
    assert_eq!(iommu.rdev(), libc::makedev(10, 256));
    let config = std::fs::read(format!("{dev}/config")).unwrap();
    assert_eq!(config.len(), 256);
    assert_eq!(&config[..4], &[0x34, 0x12, 0xe8, 0x11]);
    let resource = std::fs::read_to_string(format!("{dev}/resource")).unwrap();
    assert_eq!(resource.lines().count(), 13);
    assert!(!Path::new(&format!("{dev}/sriov_totalvfs")).exists());
    assert_eq!(
        names(&format!("{dev}/vfio-dev")),
        BTreeSet::from(["vfio0".to_string()])
    );
    // Writing an attribute is refused; the container node still opens as before.
    let e = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("{dev}/vendor"))
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EACCES));
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/vfio/vfio")
        .unwrap();
}

#[test]
fn listings_keep_the_host_entries() {
    let host: Vec<String> = names("/sys/bus/pci/devices").into_iter().collect();
    common::run_with(
        SCENARIO_ENV,
        "merged_listings",
        &[(DEVICES_ENV, "edu"), (HOST_ENV, &host.join(","))],
    );
}

fn merged_listings() {
    let host = std::env::var(HOST_ENV).unwrap();
    let mut expected: BTreeSet<String> = host
        .split(',')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    expected.insert("0000:00:10.0".into());
    assert_eq!(names("/sys/bus/pci/devices"), expected);
    assert!(names("/sys/kernel/iommu_groups").contains("9999"));
    assert!(names("/sys/bus/pci/drivers").contains("vfio-pci"));
    assert!(names("/sys").contains("bus"));
}

#[test]
fn devices_take_the_placement_they_are_given() {
    common::run_with(
        SCENARIO_ENV,
        "two_devices",
        &[(DEVICES_ENV, "edu,bdf=0000:00:1c.0,group=42;edu,group=42")],
    );
}

fn two_devices() {
    assert_eq!(
        names("/sys/kernel/iommu_groups/42/devices"),
        BTreeSet::from(["0000:00:10.0".to_string(), "0000:00:1c.0".to_string()])
    );
    assert_eq!(
        std::fs::read_to_string("/sys/bus/pci/devices/0000:00:10.0/vfio-dev/vfio1/dev").unwrap(),
        "511:1\n"
    );
    assert_eq!(names("/dev/vfio/devices").len(), 2);
}

#[test]
fn without_devices_only_the_misc_nodes_are_added() {
    common::run(SCENARIO_ENV, "no_devices");
}

/// No sysfs entry; `/dev/iommu` and `/dev/vfio/vfio` are there as the misc character devices
/// they are on Linux, and an fd opened from one is that node to `fstat` and to `readlink` of
/// `/proc/self/fd/N`.
fn no_devices() {
    assert!(!Path::new("/sys/bus/pci/devices/0000:00:10.0").exists());
    assert!(!names("/sys/bus/pci/devices").contains("0000:00:10.0"));
    assert!(!Path::new("/dev/vfio/devices").exists());
    for (path, rdev) in [("/dev/iommu", (10, 256)), ("/dev/vfio/vfio", (10, 196))] {
        let node = std::fs::metadata(path).unwrap();
        assert!(node.file_type().is_char_device(), "{path}");
        let dev = node.rdev();
        assert_eq!((libc::major(dev), libc::minor(dev)), rdev, "{path}");
        let file = std::fs::File::open(path).unwrap();
        let open = file.metadata().unwrap();
        assert!(open.file_type().is_char_device(), "{path} opened");
        assert_eq!(
            (open.rdev(), open.ino()),
            (dev, node.ino()),
            "{path} opened"
        );
        let link = format!("/proc/self/fd/{}", file.as_raw_fd());
        assert_eq!(
            std::fs::read_link(&link).unwrap(),
            Path::new(path),
            "{link}"
        );
    }
    assert!(names("/dev/vfio").contains("vfio"));
}
