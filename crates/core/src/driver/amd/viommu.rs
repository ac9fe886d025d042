//! The AMD vIOMMU (`drivers/iommu/amd/iommufd.c`: `struct amd_iommu_viommu`): the v1 nest
//! parent all of its nested domains translate through, and the map from the guest's
//! DomainIDs to host DomainIDs (`gdomid_array`). Nested domains that carry the same guest
//! DomainID share one host DomainID, hence one set of IOTLB entries, as the guest's own
//! (DomainID, PASID) tags do on its IOMMU (`amd_iommu_alloc_domain_nested`).
//!
//! Linux 7.3 accepts every vIOMMU type but `IOMMU_VIOMMU_TYPE_DEFAULT`
//! (`amd_iommufd_get_viommu_size` does not look at the type) and its vIOMMU ops hold only
//! `destroy`: no nested allocation, no cache invalidation. [`AmdConfig::viommu_nesting`]
//! adds `alloc_domain_nested`. There is no invalidation to add: 7.3 has no AMD invalidation
//! data type (`IOMMU_HWPT_INVALIDATE_DATA_*` has none for AMD), so a guest's change of its
//! own tables reaches the IOTLB only when its host DomainID is invalidated — on a change of
//! the nest parent, or when the last nested domain of that guest DomainID goes.

use super::nested::{AmdGuest, AmdNested, GuestDte};
use super::paging::{AmdPaging, PagingInner};
use super::regs::AmdConfig;
use super::tag::DomainId;
use crate::iommu::DriverData;
use crate::iommu::domain::Domain;
use crate::iommu::viommu::{ViommuInit, ViommuOps};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use uiommu_uapi::copy::read_user_data;
use uiommu_uapi::errno::Result;
use uiommu_uapi::iommufd::{IOMMU_HWPT_DATA_AMD_GUEST, IommuHwptAmdGuest};
use uiommu_uapi::{Errno, offset_of_end};

/// An AMD vIOMMU.
#[derive(Debug)]
pub struct AmdViommu {
    /// The nest parent (`aviommu->parent`), which each of its nested domains holds too.
    parent: Arc<PagingInner>,
    config: AmdConfig,
    /// gDomID → hDomID, while a nested domain uses it.
    gdoms: Mutex<BTreeMap<u16, Weak<DomainId>>>,
}

impl AmdViommu {
    /// `amd_iommufd_viommu_init` over `parent`, which must be an AMD paging domain
    /// (`to_pdomain`; the core has checked it is a nest parent).
    pub fn new(init: &ViommuInit<'_>, config: AmdConfig) -> Result<Self> {
        let parent = init
            .parent
            .as_any()
            .downcast_ref::<AmdPaging>()
            .ok_or(Errno::EINVAL)?;
        Ok(Self::over(parent, config))
    }

    /// A vIOMMU over `parent`.
    pub fn over(parent: &AmdPaging, config: AmdConfig) -> Self {
        AmdViommu {
            parent: Arc::clone(&parent.inner),
            config,
            gdoms: Mutex::default(),
        }
    }

    /// The host DomainID of a guest DomainID: the one in use, or a new one
    /// (`gdom_info_load_or_alloc_locked`, `amd_iommu_pdom_id_alloc`: `ENOSPC`).
    fn hdom_of(&self, gdom_id: u16) -> Result<Arc<DomainId>> {
        let mut map = self.gdoms.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(id) = map.get(&gdom_id).and_then(Weak::upgrade) {
            return Ok(id);
        }
        let id = DomainId::new()?;
        map.insert(gdom_id, Arc::downgrade(&id));
        map.retain(|_, w| w.strong_count() > 0);
        drop(map);
        let mut nested = self
            .parent
            .hooks
            .nested_ids
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        nested.retain(|w| w.strong_count() > 0);
        nested.push(Arc::downgrade(&id));
        Ok(id)
    }

    /// `amd_iommu_alloc_domain_nested`: `EOPNOTSUPP` for another data type, the copy's
    /// errors, then the guest DTE's checks ([`GuestDte::validate`]).
    pub fn alloc_nested(&self, data: DriverData<'_>) -> Result<Arc<dyn Domain>> {
        if data.data.data_type != IOMMU_HWPT_DATA_AMD_GUEST {
            return Err(Errno::EOPNOTSUPP);
        }
        let g: IommuHwptAmdGuest = read_user_data(
            &data.mem,
            &data.data,
            IOMMU_HWPT_DATA_AMD_GUEST,
            offset_of_end!(IommuHwptAmdGuest, dte),
        )?;
        let gdte = GuestDte { raw: g.dte };
        gdte.validate(&self.config)?;
        let hdom = self.hdom_of(gdte.domain_id())?;
        Ok(Arc::new(AmdNested::of(AmdGuest {
            parent: Arc::clone(&self.parent),
            hdom,
            gdte,
        })))
    }
}

impl ViommuOps for AmdViommu {
    fn alloc_domain_nested(
        &self,
        _flags: u32,
        data: DriverData<'_>,
    ) -> Option<Result<Arc<dyn Domain>>> {
        self.config.viommu_nesting.then(|| self.alloc_nested(data))
    }
}
