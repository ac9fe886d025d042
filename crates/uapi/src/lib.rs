//! The Linux iommufd and VFIO user API, exactly as Linux 7.3 defines it.
//!
//! - [`iommufd`]: `include/uapi/linux/iommufd.h` — commands, structs, driver data, events.
//! - [`vfio`]: `include/uapi/linux/vfio.h` — container, group and device ioctls, the type1
//!   and SPAPR TCE IOMMUs with their capability chains, device features and the device cdev.
//! - [`selftest`]: `IOMMU_TEST_CMD` from `drivers/iommu/iommufd/iommufd_test.h`, the mock
//!   driver's interface.
//! - [`copy`]: the extensible-struct copy rules every ioctl applies.
//! - [`catalog`] and [`trace`]: every ioctl by name and the strace-shaped line of a call.
//!
//! Structs are `#[repr(C)]` and derive `zerocopy` traits; each records its C layout
//! ([`layout::CLayout`]) so that a test can compare it with the real headers.

#[cfg(target_endian = "big")]
compile_error!(
    "the iommufd uAPI carries little-endian fields (__aligned_le64); big-endian hosts are not supported"
);

pub mod layout;

pub mod catalog;
pub mod copy;
pub mod errno;
pub mod ioctl;
pub mod iommufd;
pub mod selftest;
pub mod trace;
pub mod user;
pub mod vfio;

pub use errno::Errno;
pub use user::UserMemory;

/// Every struct declared in this crate, for the ABI test.
pub fn all_structs() -> impl Iterator<Item = &'static layout::StructLayout> {
    [
        iommufd::STRUCT_TABLES,
        vfio::STRUCT_TABLES,
        selftest::STRUCT_TABLES,
    ]
    .into_iter()
    .flatten()
    .flat_map(|t| t.iter())
}

/// Every constant declared in this crate, for the ABI test.
pub fn all_consts() -> impl Iterator<Item = &'static layout::ConstLayout> {
    [
        iommufd::CONST_TABLES,
        vfio::CONST_TABLES,
        selftest::CONST_TABLES,
    ]
    .into_iter()
    .flatten()
    .flat_map(|t| t.iter())
}

/// Names the headers define that this crate does not declare, with the reason for each.
pub fn not_declared() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    [
        iommufd::NOT_DECLARED,
        vfio::NOT_DECLARED,
        selftest::NOT_DECLARED,
    ]
    .into_iter()
    .flatten()
}
