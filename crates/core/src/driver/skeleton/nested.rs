//! The nested domain of every hardware model (`IOMMU_DOMAIN_NESTED`): a guest's stage-1
//! configuration over a nest parent. The model supplies the state, its DMA and its
//! invalidations ([`NestedHooks`]); the domain's iommufd face is shared. The model's state is reached
//! through the domain by `Deref`.

use crate::iommu::domain::{Domain, DomainType};
use crate::iommu::translate::DmaDomain;
use std::any::Any;
use std::fmt::Debug;
use std::ops::Deref;
use uiommu_uapi::UserMemory;
use uiommu_uapi::copy::UserDataArray;
use uiommu_uapi::errno::Result;

/// What a model's nested domain does: its DMA (the two-stage walk, its tag, its fault
/// reports) is the model state's own [`DmaDomain`].
pub trait NestedHooks: DmaDomain + Debug + 'static {
    /// [`Domain::cache_invalidate_user`] (`None`: the domain takes no invalidations; the
    /// model's are a walk of [`super::invalidate`]).
    fn cache_invalidate_user(
        &self,
        _requests: &UserDataArray,
        _mem: &dyn UserMemory,
    ) -> Option<(u32, Result<()>)> {
        None
    }
}

/// A nested domain with the model's state `N`.
#[derive(Debug)]
pub struct NestedDomain<N>(N);

impl<N> NestedDomain<N> {
    /// The domain of `state`.
    pub const fn of(state: N) -> Self {
        NestedDomain(state)
    }
}

impl<N> Deref for NestedDomain<N> {
    type Target = N;

    fn deref(&self) -> &N {
        &self.0
    }
}

impl<N: NestedHooks> crate::iommu::IoptDomain for NestedDomain<N> {
    fn pgsize_bitmap(&self) -> u64 {
        0
    }
    fn aperture(&self) -> (u64, u64) {
        (0, u64::MAX)
    }
    /// A nested domain maps nothing itself (the IOAS maps its parent).
    fn map(&self, _: u64, _: u64, _: u64, _: crate::iommu::Prot) -> Result<()> {
        Err(uiommu_uapi::Errno::EINVAL)
    }
    fn unmap(&self, _: u64, _: u64) {}
}

impl<N: NestedHooks> Domain for NestedDomain<N> {
    fn domain_type(&self) -> DomainType {
        DomainType::Nested
    }

    fn cache_invalidate_user(
        &self,
        requests: &UserDataArray,
        mem: &dyn UserMemory,
    ) -> Option<(u32, Result<()>)> {
        self.0.cache_invalidate_user(requests, mem)
    }

    fn dma(&self) -> Option<&dyn DmaDomain> {
        Some(&self.0)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
