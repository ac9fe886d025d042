//! An SR-IOV physical function through the preload library, loaded for real: `sriov_numvfs`
//! written with `write(2)` creates and removes the VFs, whose sysfs entries, group node and
//! cdev come and go with them; a forked child sees the VFs its parent made.
//!
//! As in `preload.rs`, the scenarios run this binary again with `LD_PRELOAD`.

mod common;

use std::io::{Read, Write};
use std::os::unix::fs::FileTypeExt;

const SCENARIO_ENV: &str = "UIOMMU_PRELOAD_SRIOV_SCENARIO";
const DEVICES_ENV: &str = "UIOMMU_DEVICES";
const PF: &str = "/sys/bus/pci/devices/0000:00:10.0";
const VF: &str = "/sys/bus/pci/devices/0000:00:10.1";

#[test]
fn scenario_entry() {
    let Ok(name) = std::env::var(SCENARIO_ENV) else {
        return;
    };
    match name.as_str() {
        "numvfs" => numvfs(),
        other => panic!("unknown scenario {other}"),
    }
    println!("scenario ok");
}

#[test]
fn sriov_numvfs_makes_and_removes_the_vfs() {
    common::run_with(SCENARIO_ENV, "numvfs", &[(DEVICES_ENV, "ioat,vfs=2")]);
}

#[test]
fn a_forked_child_sees_the_vfs_its_parent_made() {
    let Some(exe) = common::program("sriov_fork") else {
        eprintln!("no C compiler: skipped");
        return;
    };
    let out = std::process::Command::new(&exe)
        .env("LD_PRELOAD", common::library())
        .env(DEVICES_ENV, "ioat,vfs=1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), "child ../0000:00:10.1\nparent 0");
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn link(path: &str) -> String {
    std::fs::read_link(path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .to_string_lossy()
        .into_owned()
}

/// `write(2)` of `text` to `sriov_numvfs`: the errno, if it fails.
fn store(text: &str) -> Result<(), i32> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("{PF}/sriov_numvfs"))
        .unwrap();
    match f.write(text.as_bytes()) {
        Ok(n) => {
            assert_eq!(n, text.len());
            Ok(())
        }
        Err(e) => Err(e.raw_os_error().unwrap()),
    }
}

fn numvfs() {
    assert_eq!(read(&format!("{PF}/sriov_totalvfs")), "2\n");
    assert_eq!(read(&format!("{PF}/sriov_numvfs")), "0\n");
    assert_eq!(read(&format!("{PF}/sriov_offset")), "1\n");
    assert_eq!(read(&format!("{PF}/sriov_vf_device")), "2021\n");
    assert!(std::fs::symlink_metadata(VF).is_err());
    assert!(std::fs::symlink_metadata(format!("{PF}/virtfn0")).is_err());
    assert!(std::fs::metadata("/dev/vfio/devices/vfio1").is_err());
    // A read-only attribute is not opened for writing.
    let ro = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("{PF}/sriov_totalvfs"));
    assert_eq!(ro.unwrap_err().raw_os_error(), Some(libc::EACCES));
    assert_eq!(store("3"), Err(libc::ERANGE));
    assert_eq!(store("one"), Err(libc::EINVAL));
    assert_eq!(store("1\n"), Ok(()));
    assert_eq!(read(&format!("{PF}/sriov_numvfs")), "1\n");
    assert_eq!(link(&format!("{PF}/virtfn0")), "../0000:00:10.1");
    assert!(std::fs::symlink_metadata(format!("{PF}/virtfn1")).is_err());
    assert_eq!(link(&format!("{VF}/physfn")), "../0000:00:10.0");
    assert!(link(&format!("{VF}/driver")).ends_with("/vfio-pci"));
    assert_eq!(
        link(&format!("{VF}/iommu_group")),
        "../../../kernel/iommu_groups/9998"
    );
    assert_eq!(read(&format!("{VF}/vfio-dev/vfio1/dev")), "511:1\n");
    assert!(
        std::fs::metadata("/dev/vfio/9998")
            .unwrap()
            .file_type()
            .is_char_device()
    );
    assert!(
        std::fs::metadata("/dev/vfio/devices/vfio1")
            .unwrap()
            .file_type()
            .is_char_device()
    );
    assert_eq!(store("2"), Err(libc::EBUSY), "from 1 to 2 VFs");
    // The attribute opened for reading and writing reads the current count.
    let mut rw = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(format!("{PF}/sriov_numvfs"))
        .unwrap();
    let mut text = String::new();
    rw.read_to_string(&mut text).unwrap();
    assert_eq!(text, "1\n");
    assert_eq!(store("0"), Ok(()));
    assert!(std::fs::symlink_metadata(VF).is_err());
    assert!(std::fs::metadata("/dev/vfio/devices/vfio1").is_err());
    assert_eq!(read(&format!("{PF}/sriov_numvfs")), "0\n");
}
