//! IOMMU domains: what a device translates through (the kernel's `struct iommu_domain` and
//! `iommu_domain_ops`, `include/linux/iommu.h`).
//!
//! The paging operations are [`IoptDomain`], the view an IOAS has of the domains it fills;
//! [`Domain`] adds what the rest of the subsystem needs: the kind, translation lookup, the
//! hardware translation model, and downcasting to the driver's own type.

use super::translate::DmaDomain;
use std::any::Any;
use std::fmt::Debug;
use uiommu_uapi::copy::UserDataArray;
use uiommu_uapi::errno::Result;
use uiommu_uapi::{Errno, UserMemory};

pub use uiommu_pt::{DirtyRecorder, Prot};

/// A paging domain attached to the IOAS: the kernel's `iommu_domain` as the IOAS sees it.
/// Implementations synchronise internally; the IOAS calls `map`/`unmap` under its own lock.
pub trait IoptDomain: Send + Sync {
    /// Supported page sizes; the lowest set bit is the smallest (`pgsize_bitmap`).
    fn pgsize_bitmap(&self) -> u64;
    /// First and last IOVA the domain translates (`geometry.aperture_start/_end`).
    fn aperture(&self) -> (u64, u64);
    /// Maps `iova..iova + len` to output addresses `oa..oa + len`. On failure nothing of this
    /// call stays mapped (`iommu_map` unwinds).
    fn map(&self, iova: u64, oa: u64, len: u64, prot: Prot) -> Result<()>;
    /// Unmaps `iova..iova + len`, which was mapped by earlier `map` calls.
    fn unmap(&self, iova: u64, len: u64);
    /// Whether the domain has `dirty_ops`.
    fn has_dirty_tracking(&self) -> bool {
        false
    }
    /// `dirty_ops->set_dirty_tracking`.
    fn set_dirty_tracking(&self, _enable: bool) -> Result<()> {
        Err(Errno::EOPNOTSUPP)
    }
    /// `dirty_ops->read_and_clear_dirty` over `iova..iova + len`: records dirty ranges and,
    /// unless `no_clear` (`IOMMU_DIRTY_NO_CLEAR`), clears them.
    fn read_and_clear_dirty(
        &self,
        _iova: u64,
        _len: u64,
        _no_clear: bool,
        _bitmap: &mut dyn DirtyRecorder,
    ) -> Result<()> {
        Err(Errno::EOPNOTSUPP)
    }
}

/// The kind of a domain (`IOMMU_DOMAIN_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainType {
    /// DMA is blocked.
    Blocked,
    /// DMA is untranslated.
    Identity,
    /// A page table uiommu owns and fills from an IOAS (`IOMMU_DOMAIN_UNMANAGED`).
    Paging,
    /// A stage-1 the caller owns, nested over a paging parent (`IOMMU_DOMAIN_NESTED`).
    Nested,
}

/// A domain of some driver.
pub trait Domain: IoptDomain + Debug {
    /// What kind of domain this is.
    fn domain_type(&self) -> DomainType;

    /// The output address `iova` translates to, if mapped (`iommu_iova_to_phys`).
    fn iova_to_phys(&self, _iova: u64) -> Option<u64> {
        None
    }

    /// `cache_invalidate_user`: runs the caller's invalidation requests in order and returns
    /// how many were handled with the outcome; `None` if the domain has no such operation.
    fn cache_invalidate_user(
        &self,
        _requests: &UserDataArray,
        _mem: &dyn UserMemory,
    ) -> Option<(u32, Result<()>)> {
        None
    }

    /// The hardware translation model the DMA engine uses, if the driver has one.
    fn dma(&self) -> Option<&dyn DmaDomain> {
        None
    }

    /// The driver's own type, for downcasting.
    fn as_any(&self) -> &dyn Any;
}

/// The paging operations of a domain that has no page table (blocking, identity, nested): it
/// has no page sizes, so no IOAS can take it, and mapping is refused.
#[macro_export]
macro_rules! impl_no_paging {
    ($ty:ty) => {
        impl $crate::iommu::IoptDomain for $ty {
            fn pgsize_bitmap(&self) -> u64 {
                0
            }
            fn aperture(&self) -> (u64, u64) {
                (0, u64::MAX)
            }
            fn map(
                &self,
                _: u64,
                _: u64,
                _: u64,
                _: $crate::iommu::Prot,
            ) -> uiommu_uapi::errno::Result<()> {
                Err(uiommu_uapi::Errno::EINVAL)
            }
            fn unmap(&self, _: u64, _: u64) {}
        }
    };
}
