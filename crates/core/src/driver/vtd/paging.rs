//! VT-d paging domains (`drivers/iommu/intel/iommu.c`): first-stage domains in the x86-64
//! paging format (`intel_iommu_domain_alloc_first_stage`, VT-d spec §9.7) and second-stage
//! domains (`intel_iommu_domain_alloc_second_stage`, §9.8), which may be nest parents and
//! track dirty pages.

use super::VtdDev;
use super::regs::VtdConfig;
use super::tag::DomainTag;
use crate::driver::pt_glue::DynRecorder;
pub(crate) use crate::driver::pt_glue::pt_errno;
use crate::iommu::PhysDevice;
use crate::iommu::domain::{Domain, DomainType};
use crate::iommu::translate::{DmaDomain, DmaFault, DmaMemory, FaultReason, Stage, Walked};
use crate::iommu::{IoptDomain, Prot};
use crate::iotlb::Iotlb;
use crate::iotlb::s2cache::S2Cache;
use std::any::Any;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use uiommu_pt::{
    Access, Config, DirtyRecorder, Gather, PageTable, Translation, VtdSs, WalkFault, X86_64,
};
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;

const SZ_2M: u64 = 1 << 21;
const SZ_1G: u64 = 1 << 30;

/// The table of a paging domain.
#[derive(Debug)]
pub(crate) enum Table {
    /// First stage (x86-64 paging).
    First(PageTable<X86_64>),
    /// Second stage.
    Second(PageTable<VtdSs>),
}

impl Table {
    fn pgsize_bitmap(&self) -> u64 {
        match self {
            Table::First(t) => t.pgsize_bitmap(),
            Table::Second(t) => t.pgsize_bitmap(),
        }
    }
    fn aperture(&self) -> (u64, u64) {
        match self {
            Table::First(t) => t.aperture(),
            Table::Second(t) => t.aperture(),
        }
    }
    fn levels(&self) -> u32 {
        match self {
            Table::First(t) => t.levels(),
            Table::Second(t) => t.levels(),
        }
    }
    pub(crate) fn translate(
        &self,
        iova: u64,
        access: Access,
    ) -> std::result::Result<Translation, WalkFault> {
        match self {
            Table::First(t) => t.translate(iova, access),
            Table::Second(t) => t.translate(iova, access),
        }
    }
    fn stage(&self) -> Stage {
        match self {
            Table::First(_) => Stage::First,
            Table::Second(_) => Stage::Second,
        }
    }
}

/// The state of a paging domain, shared with the nested domains over it.
#[derive(Debug)]
pub(crate) struct PagingInner {
    pub(crate) tag: Arc<DomainTag>,
    pub(crate) table: Table,
    pgsize_bitmap: u64,
    /// IOVA bits the table translates (`max_vasz_lg2`).
    vasz_lg2: u32,
    /// `nested_parent`.
    pub(crate) nest_parent: bool,
    /// Allocated with dirty tracking (`dirty_ops`).
    dirty_ops: bool,
    /// Dirty tracking enabled (SSADE in the PASID entries).
    tracking: AtomicBool,
    /// Tags of the nested domains over this one: their cached combined translations depend
    /// on this table.
    pub(crate) children: Mutex<Vec<Arc<DomainTag>>>,
    /// This table's translations of the guest tables nested walks over it read.
    pub(crate) s2_cache: S2Cache,
}

/// A VT-d paging domain (`struct dmar_domain` with a `fspt` or `sspt`).
#[derive(Debug)]
pub struct VtdPaging {
    pub(crate) inner: Arc<PagingInner>,
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
        Self::build(Table::First(table), vasz - 1, false, false)
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
        Self::build(Table::Second(table), vasz, nest_parent, dirty)
    }

    fn build(table: Table, vasz_lg2: u32, nest_parent: bool, dirty_ops: bool) -> Result<Self> {
        Ok(VtdPaging {
            inner: Arc::new(PagingInner {
                tag: DomainTag::new()?,
                pgsize_bitmap: table.pgsize_bitmap(),
                table,
                vasz_lg2,
                nest_parent,
                dirty_ops,
                tracking: AtomicBool::new(false),
                children: Mutex::default(),
                s2_cache: S2Cache::new(),
            }),
        })
    }

    /// The domain ID.
    pub fn did(&self) -> u16 {
        self.inner.tag.did
    }

    /// Whether this is a second-stage domain (`intel_domain_is_ss_paging`).
    pub fn is_second_stage(&self) -> bool {
        matches!(self.inner.table, Table::Second(_))
    }

    /// Whether it may be a nest parent.
    pub fn is_nest_parent(&self) -> bool {
        self.inner.nest_parent
    }

    /// `paging_domain_compatible_first_stage` / `_second_stage`: `EINVAL` if the unit `cfg`
    /// cannot walk this table.
    pub(crate) fn compatible(&self, cfg: &VtdConfig) -> Result<()> {
        let inner = &self.inner;
        let bitmap = inner.pgsize_bitmap;
        let ok = match &inner.table {
            Table::First(_) => {
                cfg.sm()
                    && cfg.fsts()
                    && (cfg.fs5lp() || inner.vasz_lg2 <= 48)
                    && (cfg.fs1gp() || bitmap & SZ_1G == 0)
                    && !cfg.needs_sync_on_map()
            }
            Table::Second(_) => {
                let sslps = cfg.sslps();
                let aw_bit = inner.table.levels().saturating_sub(2);
                (!inner.dirty_ops || cfg.ssads())
                    && (!inner.nest_parent || cfg.nested())
                    && (!cfg.sm() || cfg.ssts())
                    && cfg.mgaw() >= inner.vasz_lg2
                    && cfg.sagaw() & (1 << aw_bit) != 0
                    && (sslps & 1 != 0 || bitmap & SZ_2M == 0)
                    && (sslps & 2 != 0 || bitmap & SZ_1G == 0)
                    && !cfg.needs_sync_on_map()
            }
        };
        if ok { Ok(()) } else { Err(Errno::EINVAL) }
    }
}

impl PagingInner {
    /// After table entries went away: the IOTLB of every unit using this domain forgets the
    /// range, and nested domains over it forget everything (their combined entries are tagged
    /// by IOVA, not by the GPA that changed; the kernel's `CACHE_TAG_NESTING_IOTLB`).
    fn flush(&self, iova: u64, len: u64) {
        let last = iova.saturating_add(len.saturating_sub(1));
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

    fn release(&self, mut gather: Gather) {
        match &self.table {
            Table::First(t) => t.release(&mut gather),
            Table::Second(t) => t.release(&mut gather),
        }
    }
}

impl IoptDomain for VtdPaging {
    fn pgsize_bitmap(&self) -> u64 {
        self.inner.pgsize_bitmap
    }

    fn aperture(&self) -> (u64, u64) {
        self.inner.table.aperture()
    }

    fn map(&self, iova: u64, oa: u64, len: u64, prot: Prot) -> Result<()> {
        let mut gather = Gather::default();
        let r = match &self.inner.table {
            Table::First(t) => t.map(iova, oa, len, prot, &mut gather),
            Table::Second(t) => t.map(iova, oa, len, prot, &mut gather),
        };
        // Not-present entries are never cached (CAP_REG.CM is 0): nothing to invalidate.
        self.inner.release(gather);
        r.map_err(pt_errno)
    }

    fn unmap(&self, iova: u64, len: u64) {
        let mut gather = Gather::default();
        match &self.inner.table {
            Table::First(t) => t.unmap(iova, len, &mut gather),
            Table::Second(t) => t.unmap(iova, len, &mut gather),
        };
        self.inner.flush(iova, len);
        self.inner.release(gather);
    }

    fn has_dirty_tracking(&self) -> bool {
        self.inner.dirty_ops
    }

    /// `intel_iommu_set_dirty_tracking`: SSADE on or off in the PASID entries.
    fn set_dirty_tracking(&self, enable: bool) -> Result<()> {
        if enable && !self.inner.dirty_ops {
            return Err(Errno::EINVAL);
        }
        self.inner.tracking.store(enable, Ordering::Release);
        Ok(())
    }

    /// The second-stage table's dirty bits; cleared ones are invalidated so that the next
    /// write walks and sets them again.
    fn read_and_clear_dirty(
        &self,
        iova: u64,
        len: u64,
        no_clear: bool,
        out: &mut dyn DirtyRecorder,
    ) -> Result<()> {
        let Table::Second(t) = &self.inner.table else {
            return Err(Errno::EOPNOTSUPP);
        };
        if !self.inner.dirty_ops {
            return Err(Errno::EOPNOTSUPP);
        }
        let mut gather = Gather::default();
        let r = t
            .read_and_clear_dirty(iova, len, no_clear, &mut DynRecorder(out), &mut gather)
            .map_err(pt_errno);
        if !no_clear && r.is_ok() {
            self.inner.flush(iova, len);
        }
        self.inner.release(gather);
        r
    }
}

impl Domain for VtdPaging {
    fn domain_type(&self) -> DomainType {
        DomainType::Paging
    }

    fn iova_to_phys(&self, iova: u64) -> Option<u64> {
        match &self.inner.table {
            Table::First(t) => t.iova_to_phys(iova),
            Table::Second(t) => t.iova_to_phys(iova),
        }
    }

    fn dma(&self) -> Option<&dyn DmaDomain> {
        Some(self)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl DmaDomain for VtdPaging {
    fn hw(&self, dev: &PhysDevice) -> Option<(Arc<Iotlb>, u16)> {
        dev.state::<VtdDev>()
            .map(|d| (Arc::clone(&d.unit.iotlb), self.inner.tag.did))
    }

    /// The walk of this domain's own table.
    fn walk(
        &self,
        _pasid: u32,
        iova: u64,
        access: Access,
        _mem: &DmaMemory,
    ) -> std::result::Result<Walked, FaultReason> {
        let table = &self.inner.table;
        table
            .translate(iova, access)
            .map(|t| Walked {
                phys: t.phys,
                page_lg2: t.page_lg2,
            })
            .map_err(|f| FaultReason::from_walk(table.stage(), f))
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
