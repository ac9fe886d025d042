//! `drivers/iommu/iommufd/iommufd_test.h`: `IOMMU_TEST_CMD` and the mock driver's data.
//!
//! - [`cmd`]: `struct iommu_test_cmd`, its operations and `IOMMU_TEST_CMD`.
//! - [`mock`]: the mock driver's geometry, flags and driver-specific structs.

pub mod cmd;
pub mod mock;

// Both submodules have STRUCTS/CONSTS tables; those names are ambiguous here on purpose and
// are used through the submodules.
#[allow(ambiguous_glob_reexports)]
pub use cmd::*;
#[allow(ambiguous_glob_reexports)]
pub use mock::*;

/// The struct tables of this module.
pub const STRUCT_TABLES: &[&[crate::layout::StructLayout]] = &[cmd::STRUCTS, mock::STRUCTS];
/// The constant tables of this module.
pub const CONST_TABLES: &[&[crate::layout::ConstLayout]] = &[cmd::CONSTS, mock::CONSTS];
/// Names `iommufd_test.h` defines that this crate does not declare, each with the reason.
pub const NOT_DECLARED: &[(&str, &str)] = &[("_UAPI_IOMMUFD_TEST_H", "include guard")];
