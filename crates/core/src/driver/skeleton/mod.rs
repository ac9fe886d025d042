//! What the hardware models share (the kernel drivers' common shape), one job per module:
//!
//! - [`blocking`]: the blocking domain;
//! - [`paging`]: the paging domain over any `pt` format ([`table`] erases the format), with
//!   the model's hooks for its tag, IOTLB flush and fault reports;
//! - [`nested`]: the nested domain's iommufd face over the model's state and walk;
//! - [`through_s2`]: guest memory read through the nest parent, for nested walks;
//! - [`invalidate`]: the walk of a user invalidation array;
//! - [`kind`]: a domain as its driver sees it;
//! - [`hw_info`](mod@hw_info): a driver's `hw_info` answer.
//!
//! A model keeps only what its hardware does differently.

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
