//! AMD-Vi paging domains (`drivers/iommu/amd/iommu.c`: `amd_iommu_domain_alloc_paging_v1`
//! and `_v2`): host (v1) page tables (AMD IOMMU spec §2.2.3 "I/O Page Tables for Host
//! Translations"), which may track dirty pages and be nest parents, and guest-format (v2)
//! tables (§2.2.6 "Guest Page Tables", x86-64 paging) for PASID-capable domains, set in the
//! host's GCR3 table at PASID 0 with DTE[GIOV]. The domain is the shared [`PagingDomain`];
//! AMD-Vi adds its DomainID and the invalidations of it and the hDomIDs nested over it.

use super::AmdDev;
use super::regs::{AmdConfig, PAGE_MODE_5_LEVEL};
use super::tag::DomainId;
use crate::driver::pt_glue::pt_errno;
use crate::driver::skeleton::{IoTable, Paging, PagingDomain, PagingHooks};
use crate::iommu::PhysDevice;
use crate::iommu::translate::{DmaFault, Stage};
use crate::iotlb::Iotlb;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use uiommu_pt::{AmdV1, Config, PageTable, X86_64};
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;

/// What AMD-Vi keeps per paging domain (`struct protection_domain`'s).
#[derive(Debug)]
pub struct AmdDomain {
    /// `domain->id`.
    pub(crate) id: Arc<DomainId>,
    /// The hDomIDs of nested domains over this one (`viommu_list`'s `gdomid_array`s): a
    /// change of this table reaches their combined translations too.
    pub(crate) nested_ids: Mutex<Vec<Weak<DomainId>>>,
}

/// A paging domain's state, shared with nested domains.
pub(crate) type PagingInner = Paging<AmdDomain>;

/// An AMD-Vi paging domain. Its table is walked as the second stage for v1 (host) tables
/// and the first for v2 (guest-format) ones.
pub type AmdPaging = PagingDomain<AmdDomain>;

impl PagingHooks for AmdDomain {
    fn hw(&self, dev: &PhysDevice) -> Option<(Arc<Iotlb>, u16)> {
        dev.state::<AmdDev>()
            .map(|d| (Arc::clone(&d.unit.iotlb), self.id.id))
    }

    /// After entries went away: INVALIDATE_IOMMU_PAGES of the range under this DomainID,
    /// and of every hDomID nested over it (`domain_flush_pages_v1`,
    /// `iommu_flush_pages_v1_hdom_ids`). Those cache combined translations by guest IOVA, not
    /// by the GPA that changed, so their whole domain goes.
    fn flush(&self, iova: u64, last: u64) {
        self.id.flush_range(iova, last);
        let nested: Vec<_> = {
            let mut ids = self
                .nested_ids
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            ids.retain(|w| w.strong_count() > 0);
            ids.iter().filter_map(Weak::upgrade).collect()
        };
        for id in nested {
            id.flush_all();
        }
    }

    fn record_fault(&self, dev: &PhysDevice, fault: &DmaFault) {
        if let Some(d) = dev.state::<AmdDev>() {
            d.unit.log_fault(d.device_id, Some(self.id.id), fault);
        }
    }

    /// `amd_iommu_set_dirty_tracking` refuses a domain without dirty tracking either way.
    fn untracked(_enable: bool) -> Result<()> {
        Err(Errno::EINVAL)
    }
}

impl AmdPaging {
    /// `amd_iommu_domain_alloc_paging_v1` (`EOPNOTSUPP` with host translation disabled): a
    /// table of `amd_iommu_hpt_vasize` bits with every power-of-two page but 512 GiB
    /// (`AMD_IOMMU_PGSIZES`), force-coherent leaves.
    pub(crate) fn v1(cfg: &AmdConfig, nest_parent: bool, dirty: bool) -> Result<Self> {
        if cfg.hatdis() {
            return Err(Errno::EOPNOTSUPP);
        }
        let vasz = cfg.hpt_vasize();
        let levels = vasz.saturating_sub(12).div_ceil(9).max(1);
        let mut pt = Config::levels(levels);
        pt.va_lg2 = vasz;
        let fmt = AmdV1 {
            force_coherence: true,
        };
        let table = PageTable::new(fmt, pt).map_err(pt_errno)?;
        Self::with(Box::new(table), Stage::Second, nest_parent, dirty)
    }

    /// `amd_iommu_domain_alloc_paging_v2` (`EOPNOTSUPP` without GIoSup and GTSup): 47 or 56
    /// bits as `amd_iommu_gpt_level` says, no sign extension.
    pub(crate) fn v2(cfg: &AmdConfig) -> Result<Self> {
        if !cfg.v2_supported() {
            return Err(Errno::EOPNOTSUPP);
        }
        let (levels, vasz) = if cfg.gpt_level() == PAGE_MODE_5_LEVEL {
            (5, 56)
        } else {
            (4, 47)
        };
        let mut pt = Config::levels(levels);
        pt.va_lg2 = vasz;
        let table = PageTable::new(X86_64, pt).map_err(pt_errno)?;
        Self::with(Box::new(table), Stage::First, false, false)
    }

    fn with(table: Box<dyn IoTable>, stage: Stage, nest_parent: bool, dirty: bool) -> Result<Self> {
        let hooks = AmdDomain {
            id: DomainId::new()?,
            nested_ids: Mutex::default(),
        };
        Ok(Self::build(table, stage, nest_parent, dirty, hooks))
    }

    /// The DomainID.
    pub fn domain_id(&self) -> u16 {
        self.hooks().id.id
    }

    /// A host (v1) table.
    pub fn is_v1(&self) -> bool {
        self.inner.stage == Stage::Second
    }
}
