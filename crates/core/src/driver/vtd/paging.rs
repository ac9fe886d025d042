//! VT-d paging domains (`drivers/iommu/intel/iommu.c`): first-stage domains in the x86-64
//! paging format (`intel_iommu_domain_alloc_first_stage`, VT-d spec §9.7) and second-stage
//! domains (`intel_iommu_domain_alloc_second_stage`, §9.8), which may be nest parents and
//! track dirty pages. The domain is the shared [`PagingDomain`]; VT-d adds its DID, the
//! checks of a unit walking the table, and the invalidations of the domain and the nested
//! domains over it.

use super::VtdDev;
use super::regs::VtdConfig;
use super::tag::DomainTag;
use crate::driver::pt_glue::pt_errno;
use crate::driver::skeleton::{Paging, PagingDomain, PagingHooks};
use crate::iommu::PhysDevice;
use crate::iommu::translate::{DmaFault, Stage};
use crate::iotlb::Iotlb;
use crate::iotlb::s2cache::S2Cache;
use std::sync::{Arc, Mutex, PoisonError};
use uiommu_pt::{Config, PageTable, VtdSs, X86_64};
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;

const SZ_2M: u64 = 1 << 21;
const SZ_1G: u64 = 1 << 30;

/// What VT-d keeps per paging domain (`struct dmar_domain`'s).
#[derive(Debug)]
pub struct VtdDomain {
    pub(crate) tag: Arc<DomainTag>,
    /// IOVA bits the table translates (`max_vasz_lg2`).
    vasz_lg2: u32,
    /// Tags of the nested domains over this one: their cached combined translations depend
    /// on this table.
    pub(crate) children: Mutex<Vec<Arc<DomainTag>>>,
    /// This table's translations of the guest tables nested walks over it read.
    pub(crate) s2_cache: S2Cache,
}

/// A paging domain's state, shared with the nested domains over it.
pub(crate) type PagingInner = Paging<VtdDomain>;

/// A VT-d paging domain (`struct dmar_domain` with a `fspt` or `sspt`).
pub type VtdPaging = PagingDomain<VtdDomain>;

impl PagingHooks for VtdDomain {
    fn hw(&self, dev: &PhysDevice) -> Option<(Arc<Iotlb>, u16)> {
        dev.state::<VtdDev>()
            .map(|d| (Arc::clone(&d.unit.iotlb), self.tag.did))
    }

    /// After table entries went away: the IOTLB of every unit using this domain forgets the
    /// range, and nested domains over it forget everything (their combined entries are tagged
    /// by IOVA, not by the GPA that changed; the kernel's `CACHE_TAG_NESTING_IOTLB`).
    fn flush(&self, iova: u64, last: u64) {
        self.s2_cache.flush();
        self.tag.flush_range(iova, last);
        let children = self
            .children
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for child in children {
            child.flush_all();
        }
    }

    fn page_requests(&self, dev: &PhysDevice) -> bool {
        dev.state::<VtdDev>()
            .is_some_and(VtdDev::takes_page_requests)
    }

    fn record_fault(&self, dev: &PhysDevice, fault: &DmaFault) {
        if let Some(d) = dev.state::<VtdDev>() {
            d.unit.record(d.source_id, fault);
        }
    }
}

impl VtdPaging {
    /// `intel_iommu_domain_alloc_first_stage` once its checks passed.
    pub(crate) fn first_stage(cfg: &VtdConfig) -> Result<Self> {
        let (levels, vasz) = cfg.first_stage_geometry();
        let mut pt_cfg = Config::levels(levels);
        // The lower canonical half only (§3.6).
        pt_cfg.va_lg2 = vasz - 1;
        // 0: every size the format has.
        pt_cfg.pgsize_bitmap = if cfg.fs1gp() { 0 } else { !SZ_1G };
        let table = PageTable::new(X86_64, pt_cfg).map_err(pt_errno)?;
        Self::with(Box::new(table), Stage::First, vasz - 1, false, false)
    }

    /// `intel_iommu_domain_alloc_second_stage` once its checks passed.
    pub(crate) fn second_stage(cfg: &VtdConfig, nest_parent: bool, dirty: bool) -> Result<Self> {
        let (levels, vasz) = cfg.second_stage_geometry().ok_or(Errno::EINVAL)?;
        let mut pt_cfg = Config::levels(levels);
        pt_cfg.va_lg2 = vasz;
        let sslps = cfg.sslps();
        let mut bitmap = u64::MAX;
        if sslps & 1 == 0 {
            bitmap &= !SZ_2M;
        }
        if sslps & 2 == 0 {
            bitmap &= !SZ_1G;
        }
        pt_cfg.pgsize_bitmap = bitmap;
        let fmt = VtdSs {
            force_snoop: false,
            // ERRATA_772415_SPR17: no read-only mappings in a nest parent.
            force_writeable: nest_parent,
            ad: dirty,
        };
        let table = PageTable::new(fmt, pt_cfg).map_err(pt_errno)?;
        Self::with(Box::new(table), Stage::Second, vasz, nest_parent, dirty)
    }

    fn with(
        table: Box<dyn crate::driver::skeleton::IoTable>,
        stage: Stage,
        vasz_lg2: u32,
        nest_parent: bool,
        dirty_ops: bool,
    ) -> Result<Self> {
        let hooks = VtdDomain {
            tag: DomainTag::new()?,
            vasz_lg2,
            children: Mutex::default(),
            s2_cache: S2Cache::new(),
        };
        Ok(Self::build(table, stage, nest_parent, dirty_ops, hooks))
    }

    /// The domain ID.
    pub fn did(&self) -> u16 {
        self.hooks().tag.did
    }

    /// Whether this is a second-stage domain (`intel_domain_is_ss_paging`).
    pub fn is_second_stage(&self) -> bool {
        self.inner.stage == Stage::Second
    }
}

impl PagingInner {
    /// `paging_domain_compatible_first_stage` / `_second_stage`: `EINVAL` if the unit `cfg`
    /// cannot walk this table.
    pub(crate) fn compatible(&self, cfg: &VtdConfig) -> Result<()> {
        let bitmap = self.pgsize_bitmap();
        let vasz_lg2 = self.hooks.vasz_lg2;
        let ok = match self.stage {
            Stage::First => {
                cfg.sm()
                    && cfg.fsts()
                    && (cfg.fs5lp() || vasz_lg2 <= 48)
                    && (cfg.fs1gp() || bitmap & SZ_1G == 0)
                    && !cfg.needs_sync_on_map()
            }
            Stage::Second => {
                let sslps = cfg.sslps();
                let aw_bit = self.table.levels().saturating_sub(2);
                (!self.dirty_ops || cfg.ssads())
                    && (!self.nest_parent || cfg.nested())
                    && (!cfg.sm() || cfg.ssts())
                    && cfg.mgaw() >= vasz_lg2
                    && cfg.sagaw() & (1 << aw_bit) != 0
                    && (sslps & 1 != 0 || bitmap & SZ_2M == 0)
                    && (sslps & 2 != 0 || bitmap & SZ_1G == 0)
                    && !cfg.needs_sync_on_map()
            }
        };
        if ok { Ok(()) } else { Err(Errno::EINVAL) }
    }
}
