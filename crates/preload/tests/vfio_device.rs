//! A vfio-pci device file through the preload library, loaded for real: a C program drives the
//! emulated edu as a user-space VFIO driver does (`programs/vfio_edu.c`), on the cdev
//! `/dev/vfio/devices/vfioN` bound to `/dev/iommu`, behind each IOMMU model: config space and
//! BAR 0 by `pread`/`pwrite` (and `read`, `pwritev`, `preadv2`), DMA both ways through an IOAS
//! mapping, an MSI counted on an eventfd, DMA refused once unmapped, a forked child refused the
//! file, BAR 0 mapped with `mmap` and driven by loads and stores (DMA included) with the
//! program's own `SIGSEGV` and `SIGBUS` handlers working beside it, and a second round in the
//! same process after everything was closed. And the legacy way (`programs/vfio_group_edu.c`):
//! the group `/dev/vfio/N` in the type1 container `/dev/vfio/vfio`, a device fd from
//! `VFIO_GROUP_GET_DEVICE_FD`, DMA through `MAP_DMA`.

mod common;

/// Runs `programs/{name}.c` on an emulated edu behind the IOMMU model `driver`.
fn drive_edu(name: &str, driver: &str) {
    let env = [("UIOMMU_DEVICES", "edu"), ("UIOMMU_DRIVER", driver)];
    common::run_program(name, &[], &env);
}

#[test]
fn a_user_space_driver_runs_edu_behind_the_mock() {
    drive_edu("vfio_edu", "mock");
}

#[test]
fn a_user_space_driver_runs_edu_behind_vtd() {
    drive_edu("vfio_edu", "vtd");
}

#[test]
fn a_type1_driver_runs_edu_through_its_group_behind_the_mock() {
    drive_edu("vfio_group_edu", "mock");
}

#[test]
fn a_type1_driver_runs_edu_through_its_group_behind_vtd() {
    drive_edu("vfio_group_edu", "vtd");
}
