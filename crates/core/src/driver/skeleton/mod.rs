//! What the hardware models share (the kernel drivers' common shape): a blocking domain, a
//! paging domain over any `pt` format with the model's hooks, the nested walk's reads of
//! guest tables through the nest parent, and the walk of a user invalidation array. A model
//! keeps only what its hardware does differently.

pub mod blocking;
pub mod hw_info;
pub mod invalidate;
pub mod kind;
pub mod nested;
pub mod paging;
pub mod table;
pub mod through_s2;

pub use blocking::BlockingDomain;
pub use hw_info::hw_info;
pub use kind::Kind;
pub use nested::{NestedDomain, NestedHooks};
pub use paging::{Paging, PagingDomain, PagingHooks};
pub use table::IoTable;
pub use through_s2::ThroughS2;
