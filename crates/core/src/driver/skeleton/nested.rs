//! The nested domain of every hardware model (`IOMMU_DOMAIN_NESTED`): a guest's stage-1
//! configuration over a nest parent. The model supplies the state and the walk
//! ([`NestedHooks`]); the domain's iommufd face is shared. The model's state is reached
//! through the domain by `Deref`.

use crate::dma::{DmaDomain, DmaFault, DmaMemory, FaultReason, Iotlb, Walked};
use crate::domain::{Domain, DomainType};
use crate::driver::PhysDevice;
use std::any::Any;
use std::fmt::Debug;
use std::ops::Deref;
use std::sync::Arc;
use uiommu_pt::Access;
use uiommu_uapi::UserMemory;
use uiommu_uapi::copy::UserDataArray;
use uiommu_uapi::errno::Result;

/// What a model's nested domain does.
pub trait NestedHooks: Debug + Send + Sync + 'static {
    /// [`DmaDomain::hw`].
    fn hw(&self, dev: &PhysDevice) -> Option<(Arc<Iotlb>, u16)>;

    /// [`DmaDomain::walk`]: the two-stage walk.
    fn walk(
        &self,
        pasid: u32,
        iova: u64,
        access: Access,
        mem: &DmaMemory,
    ) -> std::result::Result<Walked, FaultReason>;

    /// [`DmaDomain::page_requests`].
    fn page_requests(&self, _dev: &PhysDevice) -> bool {
        false
    }

    /// [`DmaDomain::record_fault`].
    fn record_fault(&self, dev: &PhysDevice, fault: &DmaFault);

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

impl<N: NestedHooks> crate::ioas::IoptDomain for NestedDomain<N> {
    fn pgsize_bitmap(&self) -> u64 {
        0
    }
    fn aperture(&self) -> (u64, u64) {
        (0, u64::MAX)
    }
    /// A nested domain maps nothing itself (the IOAS maps its parent).
    fn map(&self, _: u64, _: u64, _: u64, _: crate::ioas::Prot) -> Result<()> {
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
        Some(self)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl<N: NestedHooks> DmaDomain for NestedDomain<N> {
    fn hw(&self, dev: &PhysDevice) -> Option<(Arc<Iotlb>, u16)> {
        self.0.hw(dev)
    }

    fn walk(
        &self,
        pasid: u32,
        iova: u64,
        access: Access,
        mem: &DmaMemory,
    ) -> std::result::Result<Walked, FaultReason> {
        self.0.walk(pasid, iova, access, mem)
    }

    fn page_requests(&self, dev: &PhysDevice) -> bool {
        self.0.page_requests(dev)
    }

    fn record_fault(&self, dev: &PhysDevice, fault: &DmaFault) {
        self.0.record_fault(dev, fault);
    }
}
