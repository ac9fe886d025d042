//! Scenarios over the whole uAPI, written once and run on two targets: a real Linux kernel
//! (the real-kernel CI leg boots one in QEMU) and uiommu (`uiommu exec`). Each asserts return
//! values, errnos and output fields as Linux 7.3 defines them.
//!
//! Target detection is in [`common`]: without `/dev/iommu`, a scenario prints a `SKIP` line
//! and passes, unless the target is required (`UIOMMU_CLIENT_REQUIRE=1`, or running under
//! uiommu's preload), in which case a missing device or selftest driver is a failure.

mod common;

mod events;
mod sizes;

mod edu;
mod hwpt;
mod ioas;
mod memory;
mod mock;
mod options;
mod vfio_compat;
mod viommu;
