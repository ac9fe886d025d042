//! `drivers/iommu/iommufd/iommufd_test.h`: `IOMMU_TEST_CMD` and the mock driver's data.

/// The struct tables of this module.
pub const STRUCT_TABLES: &[&[crate::layout::StructLayout]] = &[];
/// The constant tables of this module.
pub const CONST_TABLES: &[&[crate::layout::ConstLayout]] = &[];
/// Names `iommufd_test.h` defines that this crate does not declare, each with the reason.
pub const NOT_DECLARED: &[(&str, &str)] = &[("_UAPI_IOMMUFD_TEST_H", "include guard")];
