//! `include/uapi/linux/vfio.h`: the container, group and device interfaces.

/// The struct tables of every submodule.
pub const STRUCT_TABLES: &[&[crate::layout::StructLayout]] = &[];
/// The constant tables of every submodule.
pub const CONST_TABLES: &[&[crate::layout::ConstLayout]] = &[];
/// Names `vfio.h` defines that this crate does not declare, each with the reason.
pub const NOT_DECLARED: &[(&str, &str)] = &[("_UAPIVFIO_H", "include guard")];
