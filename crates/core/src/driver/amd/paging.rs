//! AMD-Vi paging domains (`drivers/iommu/amd/iommu.c`: `amd_iommu_domain_alloc_paging_v1`
//! and `_v2`): host (v1) page tables (AMD IOMMU spec §2.2.3 "I/O Page Tables for Host
//! Translations"), which may track dirty pages and be nest parents, and guest-format (v2)
//! tables (§2.2.6 "Guest Page Tables", x86-64 paging) for PASID-capable domains, set in the
//! host's GCR3 table at PASID 0 with DTE[GIOV].

use super::AmdDev;
use super::regs::{AmdConfig, PAGE_MODE_5_LEVEL};
use super::tag::DomainId;
use crate::driver::pt_glue::DynRecorder;
pub(crate) use crate::driver::pt_glue::pt_errno;
use crate::iommu::PhysDevice;
use crate::iommu::domain::{Domain, DomainType};
use crate::iommu::translate::{DmaDomain, DmaFault, DmaMemory, FaultReason, Stage, Walked};
use crate::iommu::{IoptDomain, Prot};
use crate::iotlb::Iotlb;
use std::any::Any;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use uiommu_pt::{
    Access, AmdV1, Config, DirtyRecorder, Gather, PageTable, Translation, WalkFault, X86_64,
};
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;

/// The table of a paging domain (`pd_mode`).
#[derive(Debug)]
pub(crate) enum Table {
    /// `PD_MODE_V1`: host page table.
    V1(PageTable<AmdV1>),
    /// `PD_MODE_V2`: guest-format page table.
    V2(PageTable<X86_64>),
}

impl Table {
    pub(crate) fn translate(
        &self,
        iova: u64,
        access: Access,
    ) -> std::result::Result<Translation, WalkFault> {
        match self {
            Table::V1(t) => t.translate(iova, access),
            Table::V2(t) => t.translate(iova, access),
        }
    }
}

/// The state of a paging domain (`struct protection_domain`), shared with nested domains.
#[derive(Debug)]
pub(crate) struct PagingInner {
    /// `domain->id`.
    pub(crate) id: Arc<DomainId>,
    pub(crate) table: Table,
    pgsize_bitmap: u64,
    /// Allocated with `IOMMU_HWPT_ALLOC_NEST_PARENT`.
    pub(crate) nest_parent: bool,
    /// `dirty_ops` set.
    dirty_ops: bool,
    /// `dirty_tracking`: DTE[HAD] programmed.
    tracking: AtomicBool,
    /// The hDomIDs of nested domains over this one (`viommu_list`'s `gdomid_array`s): a
    /// change of this table reaches their combined translations too.
    pub(crate) nested_ids: Mutex<Vec<Weak<DomainId>>>,
}

/// An AMD-Vi paging domain.
#[derive(Debug)]
pub struct AmdPaging {
    pub(crate) inner: Arc<PagingInner>,
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
        Self::build(Table::V1(table), nest_parent, dirty)
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
        Self::build(Table::V2(table), false, false)
    }

    fn build(table: Table, nest_parent: bool, dirty_ops: bool) -> Result<Self> {
        let pgsize_bitmap = match &table {
            Table::V1(t) => t.pgsize_bitmap(),
            Table::V2(t) => t.pgsize_bitmap(),
        };
        Ok(AmdPaging {
            inner: Arc::new(PagingInner {
                id: DomainId::new()?,
                table,
                pgsize_bitmap,
                nest_parent,
                dirty_ops,
                tracking: AtomicBool::new(false),
                nested_ids: Mutex::default(),
            }),
        })
    }

    /// The DomainID.
    pub fn domain_id(&self) -> u16 {
        self.inner.id.id
    }

    /// A host (v1) table.
    pub fn is_v1(&self) -> bool {
        matches!(self.inner.table, Table::V1(_))
    }

    /// Allocated as a nest parent.
    pub fn is_nest_parent(&self) -> bool {
        self.inner.nest_parent
    }

    /// Whether dirty tracking is on (DTE[HAD]).
    pub fn tracking(&self) -> bool {
        self.inner.tracking.load(Ordering::Acquire)
    }
}

impl PagingInner {
    /// After entries went away: INVALIDATE_IOMMU_PAGES of the range under this DomainID,
    /// and of every hDomID nested over it (`domain_flush_pages_v1`,
    /// `iommu_flush_pages_v1_hdom_ids`). Those cache combined translations by guest IOVA, not
    /// by the GPA that changed, so their whole domain goes.
    fn flush(&self, iova: u64, len: u64) {
        self.id
            .flush_range(iova, iova.saturating_add(len.saturating_sub(1)));
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

    fn release(&self, mut gather: Gather) {
        match &self.table {
            Table::V1(t) => t.release(&mut gather),
            Table::V2(t) => t.release(&mut gather),
        }
    }
}

impl IoptDomain for AmdPaging {
    fn pgsize_bitmap(&self) -> u64 {
        self.inner.pgsize_bitmap
    }

    fn aperture(&self) -> (u64, u64) {
        match &self.inner.table {
            Table::V1(t) => t.aperture(),
            Table::V2(t) => t.aperture(),
        }
    }

    fn map(&self, iova: u64, oa: u64, len: u64, prot: Prot) -> Result<()> {
        let mut gather = Gather::default();
        let r = match &self.inner.table {
            Table::V1(t) => t.map(iova, oa, len, prot, &mut gather),
            Table::V2(t) => t.map(iova, oa, len, prot, &mut gather),
        };
        // Not-present entries are not cached (no NpCache): nothing to invalidate.
        self.inner.release(gather);
        r.map_err(pt_errno)
    }

    fn unmap(&self, iova: u64, len: u64) {
        let mut gather = Gather::default();
        match &self.inner.table {
            Table::V1(t) => t.unmap(iova, len, &mut gather),
            Table::V2(t) => t.unmap(iova, len, &mut gather),
        };
        self.inner.flush(iova, len);
        self.inner.release(gather);
    }

    fn has_dirty_tracking(&self) -> bool {
        self.inner.dirty_ops
    }

    /// `amd_iommu_set_dirty_tracking`: DTE[HAD] on or off for the domain's devices.
    fn set_dirty_tracking(&self, enable: bool) -> Result<()> {
        if !self.inner.dirty_ops {
            return Err(Errno::EINVAL);
        }
        self.inner.tracking.store(enable, Ordering::Release);
        Ok(())
    }

    /// The host table's dirty bits; cleared ones are invalidated so that the next write walks
    /// and sets them again.
    fn read_and_clear_dirty(
        &self,
        iova: u64,
        len: u64,
        no_clear: bool,
        out: &mut dyn DirtyRecorder,
    ) -> Result<()> {
        let Table::V1(t) = &self.inner.table else {
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

impl Domain for AmdPaging {
    fn domain_type(&self) -> DomainType {
        DomainType::Paging
    }

    fn iova_to_phys(&self, iova: u64) -> Option<u64> {
        match &self.inner.table {
            Table::V1(t) => t.iova_to_phys(iova),
            Table::V2(t) => t.iova_to_phys(iova),
        }
    }

    fn dma(&self) -> Option<&dyn DmaDomain> {
        Some(self)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl DmaDomain for AmdPaging {
    fn hw(&self, dev: &PhysDevice) -> Option<(Arc<Iotlb>, u16)> {
        dev.state::<AmdDev>()
            .map(|d| (Arc::clone(&d.unit.iotlb), self.inner.id.id))
    }

    /// The walk of the domain's own table: the host table (§2.2.3) for a v1 DTE, the guest
    /// table at GCR3[0] (§2.2.6) for a v2 one.
    fn walk(
        &self,
        _pasid: u32,
        iova: u64,
        access: Access,
        _mem: &DmaMemory,
    ) -> std::result::Result<Walked, FaultReason> {
        let stage = match self.inner.table {
            Table::V1(_) => Stage::Second,
            Table::V2(_) => Stage::First,
        };
        self.inner
            .table
            .translate(iova, access)
            .map(|t| Walked {
                phys: t.phys,
                page_lg2: t.page_lg2,
            })
            .map_err(|f| FaultReason::from_walk(stage, f))
    }

    fn record_fault(&self, dev: &PhysDevice, fault: &DmaFault) {
        if let Some(d) = dev.state::<AmdDev>() {
            d.unit.log_fault(d.device_id, Some(self.inner.id.id), fault);
        }
    }
}
