//! IOMMU domains: what a device translates through (the kernel's `struct iommu_domain` and
//! `iommu_domain_ops`, `include/linux/iommu.h`).

use std::any::Any;
use std::fmt::Debug;
use uiommu_pt::{DirtyRecorder, Prot};
use uiommu_uapi::errno::Result;

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

/// A domain of some driver. Drivers downcast with [`Domain::as_any`] to reach their own state.
pub trait Domain: Send + Sync + Debug {
    /// What kind of domain this is.
    fn domain_type(&self) -> DomainType;

    /// Page sizes the domain maps (`pgsize_bitmap`); 0 for non-paging domains.
    fn pgsize_bitmap(&self) -> u64 {
        0
    }

    /// The IOVA window the domain translates, inclusive (`geometry.aperture_*`).
    fn aperture(&self) -> (u64, u64) {
        (0, u64::MAX)
    }

    /// Maps `iova..iova+len` to output address `oa` (`iommu_map`); paging domains only.
    fn map(&self, _iova: u64, _oa: u64, _len: u64, _prot: Prot) -> Result<()> {
        Err(uiommu_uapi::Errno::EINVAL)
    }

    /// Unmaps `iova..iova+len`, returning the bytes unmapped (`iommu_unmap`).
    fn unmap(&self, _iova: u64, _len: u64) -> u64 {
        0
    }

    /// The output address `iova` translates to, if mapped (`iommu_iova_to_phys`).
    fn iova_to_phys(&self, _iova: u64) -> Option<u64> {
        None
    }

    /// Whether the domain was allocated with dirty tracking (`domain->dirty_ops`).
    fn has_dirty_tracking(&self) -> bool {
        false
    }

    /// Starts or stops dirty tracking (`set_dirty_tracking`).
    fn set_dirty_tracking(&self, _enable: bool) -> Result<()> {
        Err(uiommu_uapi::Errno::EOPNOTSUPP)
    }

    /// Reports the dirty pages of `iova..iova+len` to `out`, clearing them unless `no_clear`
    /// (`read_and_clear_dirty`).
    fn read_and_clear_dirty(
        &self,
        _iova: u64,
        _len: u64,
        _no_clear: bool,
        _out: &mut dyn DirtyRecorder,
    ) -> Result<()> {
        Err(uiommu_uapi::Errno::EOPNOTSUPP)
    }

    /// The driver's own type, for downcasting.
    fn as_any(&self) -> &dyn Any;
}
