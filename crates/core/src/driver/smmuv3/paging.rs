//! SMMUv3 paging domains (`arm_smmu_domain_alloc_paging_flags`, `arm_smmu_domain_finalise`):
//! stage 1 (VMSAv8-64 stage-1 tables, tagged by an ASID) or stage 2 (stage-2 tables, tagged
//! by a VMID, possibly a nest parent), in the granule io-pgtable picks for the SMMU. The
//! domain is the shared [`PagingDomain`]; the SMMU adds its ASID or VMID, the TLB
//! invalidations of it and of the nested domains over it, and its event reports.

use super::SmmuMaster;
use super::nested_caches::NestedCaches;
use super::regs::SmmuConfig;
use super::unit::{ASIDS, DomainTag, Unit, lock};
use crate::driver::pt_glue::pt_errno;
use crate::driver::skeleton::{IoTable, Paging, PagingDomain, PagingHooks};
use crate::iommu::PhysDevice;
use crate::iommu::translate::{DmaFault, Stage};
use crate::iotlb::Iotlb;
use std::sync::{Arc, Mutex};
use uiommu_pt::{ArmLpae, PageTable};
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;

/// A table of `granule` for stage 2 (`s2`) or stage 1, `va_lg2` input bits, `oas` output
/// bits, the page sizes of `bitmap`; stage-1 descriptors with DBM if `dbm`.
fn new_table(
    s2: bool,
    granule: u32,
    va_lg2: u32,
    oas: u32,
    bitmap: u64,
    dbm: bool,
) -> Result<Box<dyn IoTable>> {
    fn build<const G: u32, const S2: bool>(
        va_lg2: u32,
        oas: u32,
        bitmap: u64,
        dbm: bool,
    ) -> Result<Box<dyn IoTable>> {
        let mut cfg = ArmLpae::<G, S2>::config(va_lg2);
        cfg.oa_lg2 = oas;
        cfg.pgsize_bitmap = bitmap;
        let t = PageTable::new(ArmLpae::<G, S2> { dbm }, cfg).map_err(pt_errno)?;
        Ok(Box::new(t))
    }
    match (s2, granule) {
        (false, 12) => build::<12, false>(va_lg2, oas, bitmap, dbm),
        (false, 14) => build::<14, false>(va_lg2, oas, bitmap, dbm),
        (false, _) => build::<16, false>(va_lg2, oas, bitmap, dbm),
        (true, 12) => build::<12, true>(va_lg2, oas, bitmap, false),
        (true, 14) => build::<14, true>(va_lg2, oas, bitmap, false),
        (true, _) => build::<16, true>(va_lg2, oas, bitmap, false),
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

/// What the SMMU keeps per paging domain (`struct arm_smmu_domain`'s).
#[derive(Debug)]
pub struct SmmuDomain {
    pub(crate) tag: Arc<DomainTag>,
    pub(crate) id: StageId,
    /// Tags of the nested domains over this one (their combined entries hang on this table).
    pub(crate) children: Mutex<Vec<Arc<NestedCaches>>>,
}

/// A paging domain's state, shared with the nested domains over it.
pub(crate) type PagingInner = Paging<SmmuDomain>;

/// An SMMUv3 paging domain (`struct arm_smmu_domain`).
pub type SmmuPaging = PagingDomain<SmmuDomain>;

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
        let table = new_table(s2, granule, ias, cfg.oas().min(48), bitmap, dirty)?;
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
        let stage = if s2 { Stage::Second } else { Stage::First };
        let hooks = SmmuDomain {
            tag,
            id,
            children: Mutex::default(),
        };
        Ok(Self::build(table, stage, nest_parent, dirty && !s2, hooks))
    }

    /// The SMMU the domain was finalised for (`smmu_domain->smmu`).
    pub fn unit(&self) -> &Arc<Unit> {
        &self.hooks().tag.unit
    }

    /// Stage and identifier.
    pub fn stage_id(&self) -> StageId {
        self.hooks().id
    }

    /// Stage 2 (`ARM_SMMU_DOMAIN_S2`).
    pub fn is_s2(&self) -> bool {
        self.inner.stage == Stage::Second
    }
}

fn release_id(unit: &Unit, id: StageId) {
    match id {
        StageId::S1 { asid } => lock(&ASIDS).release(u32::from(asid)),
        StageId::S2 { vmid } => unit.free_vmid(vmid),
    }
}

impl Drop for SmmuDomain {
    /// `arm_smmu_domain_free_paging`: the ASID or VMID goes back.
    fn drop(&mut self) {
        release_id(&self.tag.unit, self.id);
    }
}

impl PagingHooks for SmmuDomain {
    /// The SMMU's TLB, for a master of the SMMU the domain was finalised for.
    fn hw(&self, dev: &PhysDevice) -> Option<(Arc<Iotlb>, u16)> {
        let m = dev.state::<SmmuMaster>()?;
        Arc::ptr_eq(&m.unit, &self.tag.unit).then(|| (Arc::clone(&m.unit.iotlb), self.tag.did))
    }

    /// After entries went away: the range under this domain's tag, and every combined entry
    /// of the nested domains over it (stage-2 changes clear stage 1 of the VMID,
    /// `INV_TYPE_S2_VMID_S1_CLEAR`).
    fn flush(&self, iova: u64, last: u64) {
        self.tag
            .unit
            .iotlb
            .invalidate_range(self.tag.did, None, iova, last);
        for child in lock(&self.children).iter() {
            child.tlbi_all();
        }
    }

    fn record_fault(&self, dev: &PhysDevice, fault: &DmaFault) {
        if let Some(m) = dev.state::<SmmuMaster>() {
            m.report(fault);
        }
    }

    /// `arm_smmu_set_dirty_tracking` exists only for dirty-tracking domains, whose CD's HD is
    /// always set.
    fn untracked(_enable: bool) -> Result<()> {
        Err(Errno::EOPNOTSUPP)
    }
}
