//! SMMUv3 paging domains (`arm_smmu_domain_alloc_paging_flags`, `arm_smmu_domain_finalise`):
//! stage 1 (VMSAv8-64 stage-1 tables, tagged by an ASID) or stage 2 (stage-2 tables, tagged
//! by a VMID, possibly a nest parent), in the granule io-pgtable picks for the SMMU.

use super::SmmuMaster;
use super::nested::NestedCaches;
use super::regs::SmmuConfig;
use super::unit::{ASIDS, DomainTag, Unit, lock};
use crate::driver::pt_glue::DynRecorder;
pub(crate) use crate::driver::pt_glue::pt_errno;
use crate::iommu::PhysDevice;
use crate::iommu::domain::{Domain, DomainType};
use crate::iommu::translate::{DmaDomain, DmaFault, DmaMemory, FaultReason, Stage, Walked};
use crate::iommu::{IoptDomain, Prot};
use crate::iotlb::Iotlb;
use std::any::Any;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use uiommu_pt::{
    Access, Arm4kS1, Arm4kS2, Arm16kS1, Arm16kS2, Arm64kS1, Arm64kS2, ArmLpae, DirtyRecorder,
    Gather, PageTable, Translation, WalkFault,
};
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;

/// A domain's table: a stage and a granule.
#[derive(Debug)]
pub(crate) enum Table {
    S1G4(PageTable<Arm4kS1>),
    S1G16(PageTable<Arm16kS1>),
    S1G64(PageTable<Arm64kS1>),
    S2G4(PageTable<Arm4kS2>),
    S2G16(PageTable<Arm16kS2>),
    S2G64(PageTable<Arm64kS2>),
}

/// Runs `$body` with `$t` bound to the table, whatever its format.
macro_rules! with_table {
    ($table:expr, |$t:ident| $body:expr) => {
        match $table {
            Table::S1G4($t) => $body,
            Table::S1G16($t) => $body,
            Table::S1G64($t) => $body,
            Table::S2G4($t) => $body,
            Table::S2G16($t) => $body,
            Table::S2G64($t) => $body,
        }
    };
}

impl Table {
    fn new(s2: bool, granule: u32, va_lg2: u32, oas: u32, bitmap: u64, dbm: bool) -> Result<Self> {
        fn build<const G: u32, const S2: bool>(
            va_lg2: u32,
            oas: u32,
            bitmap: u64,
            dbm: bool,
        ) -> Result<PageTable<ArmLpae<G, S2>>> {
            let mut cfg = ArmLpae::<G, S2>::config(va_lg2);
            cfg.oa_lg2 = oas;
            cfg.pgsize_bitmap = bitmap;
            PageTable::new(ArmLpae { dbm }, cfg).map_err(pt_errno)
        }
        Ok(match (s2, granule) {
            (false, 12) => Table::S1G4(build(va_lg2, oas, bitmap, dbm)?),
            (false, 14) => Table::S1G16(build(va_lg2, oas, bitmap, dbm)?),
            (false, _) => Table::S1G64(build(va_lg2, oas, bitmap, dbm)?),
            (true, 12) => Table::S2G4(build(va_lg2, oas, bitmap, false)?),
            (true, 14) => Table::S2G16(build(va_lg2, oas, bitmap, false)?),
            (true, _) => Table::S2G64(build(va_lg2, oas, bitmap, false)?),
        })
    }

    pub(crate) fn is_s2(&self) -> bool {
        matches!(self, Table::S2G4(_) | Table::S2G16(_) | Table::S2G64(_))
    }

    pub(crate) fn translate(
        &self,
        iova: u64,
        access: Access,
    ) -> std::result::Result<Translation, WalkFault> {
        with_table!(self, |t| t.translate(iova, access))
    }

    fn stage(&self) -> Stage {
        if self.is_s2() {
            Stage::Second
        } else {
            Stage::First
        }
    }
}

/// The stage and its identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageId {
    /// Stage 1 with this ASID.
    S1 {
        /// `cd.asid`.
        asid: u16,
    },
    /// Stage 2 with this VMID.
    S2 {
        /// `s2_cfg.vmid`.
        vmid: u16,
    },
}

/// A paging domain's state, shared with the nested domains over it.
#[derive(Debug)]
pub(crate) struct PagingInner {
    pub(crate) tag: Arc<DomainTag>,
    pub(crate) table: Table,
    pub(crate) id: StageId,
    pgsize_bitmap: u64,
    aperture_end: u64,
    pub(crate) nest_parent: bool,
    dirty_ops: bool,
    tracking: AtomicBool,
    /// Tags of the nested domains over this one (their combined entries hang on this table).
    pub(crate) children: Mutex<Vec<Arc<NestedCaches>>>,
}

/// An SMMUv3 paging domain (`struct arm_smmu_domain`).
#[derive(Debug)]
pub struct SmmuPaging {
    pub(crate) inner: Arc<PagingInner>,
}

/// The sizes io-pgtable keeps for a granule (`arm_lpae_restrict_pgsizes`).
fn granule_sizes(granule: u32) -> u64 {
    match granule {
        12 => (1 << 12) | (1 << 21) | (1 << 30),
        14 => (1 << 14) | (1 << 25),
        _ => (1 << 16) | (1 << 29),
    }
}

impl SmmuPaging {
    /// `arm_smmu_domain_finalise` for `s2` or stage 1: the geometry from the SMMU's
    /// registers, then an ASID or a VMID (`ENOSPC` when none is left).
    pub(crate) fn new(unit: &Arc<Unit>, s2: bool, nest_parent: bool, dirty: bool) -> Result<Self> {
        let cfg: &SmmuConfig = &unit.config;
        let granule = cfg.domain_granule().ok_or(Errno::EINVAL)?;
        // Stage 1: 48 input bits (52 with VAX is beyond the table format); stage 2: the OAS.
        let ias = if s2 { cfg.oas().min(48) } else { 48 };
        let bitmap = cfg.pgsize_bitmap() & granule_sizes(granule);
        let table = Table::new(s2, granule, ias, cfg.oas().min(48), bitmap, dirty)?;
        let id = if s2 {
            StageId::S2 {
                vmid: unit.alloc_vmid()?,
            }
        } else {
            let asid = lock(&ASIDS).alloc(1 << cfg.asid_bits())?;
            StageId::S1 { asid: asid as u16 }
        };
        let tag = match unit.alloc_tag() {
            Ok(t) => t,
            Err(e) => {
                release_id(unit, id);
                return Err(e);
            }
        };
        Ok(SmmuPaging {
            inner: Arc::new(PagingInner {
                pgsize_bitmap: with_table!(&table, |t| t.pgsize_bitmap()),
                aperture_end: (1u64 << ias) - 1,
                tag,
                table,
                id,
                nest_parent,
                dirty_ops: dirty && !s2,
                tracking: AtomicBool::new(false),
                children: Mutex::default(),
            }),
        })
    }

    /// The SMMU the domain was finalised for (`smmu_domain->smmu`).
    pub fn unit(&self) -> &Arc<Unit> {
        &self.inner.tag.unit
    }

    /// Stage and identifier.
    pub fn stage_id(&self) -> StageId {
        self.inner.id
    }

    /// Stage 2 (`ARM_SMMU_DOMAIN_S2`).
    pub fn is_s2(&self) -> bool {
        self.inner.table.is_s2()
    }

    /// Allocated as a nest parent.
    pub fn is_nest_parent(&self) -> bool {
        self.inner.nest_parent
    }
}

fn release_id(unit: &Unit, id: StageId) {
    match id {
        StageId::S1 { asid } => lock(&ASIDS).release(u32::from(asid)),
        StageId::S2 { vmid } => unit.free_vmid(vmid),
    }
}

impl Drop for PagingInner {
    /// `arm_smmu_domain_free_paging`: the ASID or VMID goes back.
    fn drop(&mut self) {
        release_id(&self.tag.unit, self.id);
    }
}

impl PagingInner {
    /// After entries went away: the range under this domain's tag, and every combined entry
    /// of the nested domains over it (stage-2 changes clear stage 1 of the VMID,
    /// `INV_TYPE_S2_VMID_S1_CLEAR`).
    fn flush(&self, iova: u64, len: u64) {
        let last = iova.saturating_add(len.saturating_sub(1));
        self.tag
            .unit
            .iotlb
            .invalidate_range(self.tag.did, None, iova, last);
        for child in lock(&self.children).iter() {
            child.tlbi_all();
        }
    }

    fn release(&self, mut gather: Gather) {
        with_table!(&self.table, |t| t.release(&mut gather));
    }
}

impl IoptDomain for SmmuPaging {
    fn pgsize_bitmap(&self) -> u64 {
        self.inner.pgsize_bitmap
    }

    fn aperture(&self) -> (u64, u64) {
        (0, self.inner.aperture_end)
    }

    fn map(&self, iova: u64, oa: u64, len: u64, prot: Prot) -> Result<()> {
        let mut gather = Gather::default();
        let r = with_table!(&self.inner.table, |t| t.map(
            iova,
            oa,
            len,
            prot,
            &mut gather
        ));
        self.inner.release(gather);
        r.map_err(pt_errno)
    }

    fn unmap(&self, iova: u64, len: u64) {
        let mut gather = Gather::default();
        with_table!(&self.inner.table, |t| t.unmap(iova, len, &mut gather));
        self.inner.flush(iova, len);
        self.inner.release(gather);
    }

    fn has_dirty_tracking(&self) -> bool {
        self.inner.dirty_ops
    }

    /// `arm_smmu_set_dirty_tracking`: the CD's HD is always set for a dirty-tracking domain.
    fn set_dirty_tracking(&self, enable: bool) -> Result<()> {
        if !self.inner.dirty_ops {
            return Err(Errno::EOPNOTSUPP);
        }
        self.inner.tracking.store(enable, Ordering::Release);
        Ok(())
    }

    /// `arm_smmu_read_and_clear_dirty`: the stage-1 descriptors' dirty state (DBM with
    /// AP[2] clear); cleaned ones are invalidated so the next write walks again.
    fn read_and_clear_dirty(
        &self,
        iova: u64,
        len: u64,
        no_clear: bool,
        out: &mut dyn DirtyRecorder,
    ) -> Result<()> {
        if !self.inner.dirty_ops {
            return Err(Errno::EOPNOTSUPP);
        }
        let mut rec = DynRecorder(out);
        let mut gather = Gather::default();
        let r = with_table!(&self.inner.table, |t| t.read_and_clear_dirty(
            iova,
            len,
            no_clear,
            &mut rec,
            &mut gather
        ))
        .map_err(pt_errno);
        if !no_clear && r.is_ok() {
            self.inner.flush(iova, len);
        }
        self.inner.release(gather);
        r
    }
}

impl Domain for SmmuPaging {
    fn domain_type(&self) -> DomainType {
        DomainType::Paging
    }

    fn iova_to_phys(&self, iova: u64) -> Option<u64> {
        with_table!(&self.inner.table, |t| t.iova_to_phys(iova))
    }

    fn dma(&self) -> Option<&dyn DmaDomain> {
        Some(self)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl DmaDomain for SmmuPaging {
    fn hw(&self, dev: &PhysDevice) -> Option<(Arc<Iotlb>, u16)> {
        let m = dev.state::<SmmuMaster>()?;
        Arc::ptr_eq(&m.unit, self.unit()).then(|| (Arc::clone(&m.unit.iotlb), self.inner.tag.did))
    }

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

    fn record_fault(&self, dev: &PhysDevice, fault: &DmaFault) {
        if let Some(m) = dev.state::<SmmuMaster>() {
            m.report(fault);
        }
    }
}
