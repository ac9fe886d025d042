//! `include/uapi/linux/iommufd.h`.

pub mod ioas;

pub use ioas::*;

/// The struct tables of every submodule.
pub const STRUCT_TABLES: &[&[crate::layout::StructLayout]] = &[ioas::STRUCTS];
/// The constant tables of every submodule.
pub const CONST_TABLES: &[&[crate::layout::ConstLayout]] = &[ioas::CONSTS];
/// Names `iommufd.h` defines that this crate does not declare, each with the reason.
pub const NOT_DECLARED: &[(&str, &str)] = &[("_IOMMUFD_H", "include guard")];
