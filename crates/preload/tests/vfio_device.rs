//! A vfio-pci device file through the preload library, loaded for real: a C program drives the
//! emulated edu as a user-space VFIO driver does (`programs/vfio_edu.c`), on the cdev
//! `/dev/vfio/devices/vfioN` bound to `/dev/iommu`, behind each IOMMU model: config space and
//! BAR 0 by `pread`/`pwrite` (and `read`, `pwritev`, `preadv2`), DMA both ways through an IOAS
//! mapping, an MSI counted on an eventfd, DMA refused once unmapped, a forked child refused the
//! file, BAR 0 mapped with `mmap` and driven by loads and stores (DMA included) with the
//! program's own `SIGSEGV` and `SIGBUS` handlers working beside it, and a second round in the
//! same process after everything was closed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

/// `programs/vfio_edu.c` built (fortified, so `__read_chk`/`__pread_chk` are reached too), or
/// `None` without a C compiler.
fn program() -> Option<PathBuf> {
    let dir = std::env::temp_dir().join(format!("uiommu-vfio-device-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("vfio_edu");
    if exe.is_file() {
        return Some(exe);
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs/vfio_edu.c");
    let tmp = dir.join(format!("vfio_edu.{:?}", std::thread::current().id()));
    let Ok(cc) = Command::new("cc")
        .args(["-O2", "-D_FORTIFY_SOURCE=2", "-Wall", "-o"])
        .arg(&tmp)
        .arg(&src)
        .status()
    else {
        eprintln!("no C compiler: skipped");
        return None;
    };
    assert!(cc.success(), "cc failed");
    std::fs::rename(&tmp, &exe).unwrap();
    Some(exe)
}

fn drive_edu(driver: &str) {
    let Some(exe) = program() else { return };
    let out = Command::new(&exe)
        .env("LD_PRELOAD", common::library())
        .env("UIOMMU_DEVICES", "edu")
        .env("UIOMMU_DRIVER", driver)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim() == "ok",
        "{driver}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_user_space_driver_runs_edu_behind_the_mock() {
    drive_edu("mock");
}

#[test]
fn a_user_space_driver_runs_edu_behind_vtd() {
    drive_edu("vtd");
}
