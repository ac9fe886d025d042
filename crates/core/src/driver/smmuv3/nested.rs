//! Nested domains of a vSMMU (`arm_vsmmu_alloc_domain_nested`, `arm_smmu_validate_vste`,
//! `arm_smmu_make_nested_domain_ste`): the guest's STE words 0 and 1 over the vSMMU's
//! stage-2 parent, and the walk the SMMU does for such an STE (Arm IHI 0070 §3.3.2
//! "Stage 1 and stage 2 translation"):
//!
//! - V clear or Config abort: every request aborts, without an event (the kernel installs
//!   an abort STE);
//! - Config bypass: stage 1 bypassed, stage 2 translates (seed 003's "s1-bypass
//!   s2-translate");
//! - Config stage-1 translate: a physical nested STE ("s1-translate s2-translate"): the CD
//!   for the request's substream is read from the guest's CD table ([`super::cd`]) and its
//!   TTB0 table walked, every table address and the output through stage 2.
//!
//! The SMMU caches CDs and TLB entries of the domain ([`NestedCaches`]) until the guest's
//! commands clear them.

use super::SmmuMaster;
use super::cd::{self, Cd};
use super::nested_caches::NestedCaches;
use super::paging::PagingInner;
use super::spec::{get, ste};
use super::unit::lock;
use super::vsmmu_shared::VsmmuShared;
use crate::driver::skeleton::{NestedDomain, NestedHooks, ThroughS2};
use crate::iommu::NO_PASID;
use crate::iommu::PhysDevice;
use crate::iommu::translate::{DmaDomain, DmaFault, DmaMemory, FaultReason, Stage, Walked};
use crate::iotlb::Iotlb;
use std::sync::Arc;
use uiommu_pt::Access;
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;

/// `arm_smmu_validate_vste`: a guest STE with V clear becomes all zeroes; otherwise only the
/// nesting-allowed fields, Config abort, bypass or stage-1 translate, and EATS of "abort"
/// or "full ATS" are legal (`EIO` otherwise). EATS is taken out; returns whether ATS is to
/// be enabled (stage-1 translate with full ATS).
pub fn validate_vste(words: &mut [u64; 2]) -> Result<bool> {
    if words[0] & ste::V == 0 {
        *words = [0, 0];
        return Ok(false);
    }
    if words[0] & !ste::NESTING_ALLOWED_0 != 0 || words[1] & !ste::NESTING_ALLOWED_1 != 0 {
        return Err(Errno::EIO);
    }
    let cfg = get(words[0], ste::CFG);
    if ![ste::CFG_ABORT, ste::CFG_BYPASS, ste::CFG_S1_TRANS].contains(&cfg) {
        return Err(Errno::EIO);
    }
    let eats = get(words[1], ste::EATS);
    words[1] &= !ste::EATS;
    if eats != ste::EATS_ABT && eats != ste::EATS_TRANS {
        return Err(Errno::EIO);
    }
    Ok(cfg == ste::CFG_S1_TRANS && eats == ste::EATS_TRANS)
}

/// A nested domain (`struct arm_smmu_nested_domain`).
pub type SmmuNested = NestedDomain<SmmuVste>;

/// What the SMMU keeps per nested domain.
#[derive(Debug)]
pub struct SmmuVste {
    pub(crate) caches: Arc<NestedCaches>,
    pub(crate) vsmmu: Arc<VsmmuShared>,
    /// The guest's STE words 0 and 1, as validated (EATS removed).
    pub ste: [u64; 2],
    /// ATS is to be enabled for the device (`enable_ats`).
    pub enable_ats: bool,
}

impl SmmuNested {
    pub(crate) fn new(vsmmu: &Arc<VsmmuShared>, ste: [u64; 2], enable_ats: bool) -> Result<Self> {
        SmmuVste::new(vsmmu, ste, enable_ats).map(NestedDomain::of)
    }
}

impl SmmuVste {
    fn new(vsmmu: &Arc<VsmmuShared>, ste: [u64; 2], enable_ats: bool) -> Result<Self> {
        let caches = Arc::new(NestedCaches::new(vsmmu.unit.alloc_tag()?));
        lock(&vsmmu.parent.hooks.children).push(Arc::clone(&caches));
        Ok(SmmuVste {
            caches,
            vsmmu: Arc::clone(vsmmu),
            ste,
            enable_ats,
        })
    }

    /// STE.Config as the kernel installs it: abort for a guest STE with V clear.
    pub fn config(&self) -> u64 {
        if self.ste[0] & ste::V == 0 {
            ste::CFG_ABORT
        } else {
            get(self.ste[0], ste::CFG)
        }
    }

    fn parent(&self) -> &PagingInner {
        &self.vsmmu.parent
    }

    /// Stage 2 alone: the IPA `ipa` to an output address.
    fn stage2(&self, ipa: u64, access: Access) -> std::result::Result<Walked, FaultReason> {
        self.parent().walk(ipa, access)
    }

    /// The CD of `ssid`: cached, or read from the guest's table and cached if valid.
    fn cd(&self, ssid: u32, mem: &DmaMemory) -> std::result::Result<Cd, FaultReason> {
        if let Some(cd) = self.caches.cd(ssid) {
            return Ok(cd);
        }
        let unit = &self.vsmmu.unit;
        let guest = ThroughS2::new(self.parent().table.as_ref(), mem);
        let cd = cd::fetch(&unit.config, self.ste[0], ssid, &guest)?;
        self.caches.keep_cd(ssid, cd);
        Ok(cd)
    }

    /// The stage-1 translate configuration for a request of `pasid`.
    fn s1_walk(
        &self,
        pasid: u32,
        iova: u64,
        access: Access,
        mem: &DmaMemory,
    ) -> std::result::Result<Walked, FaultReason> {
        let ssid = match cd::substream(&self.vsmmu.unit.config, self.ste, pasid)? {
            Some(ssid) => ssid,
            None => return self.stage2(iova, access),
        };
        let cd = self.cd(ssid, mem)?;
        self.caches.note_asid(cd.asid, pasid);
        let guest = ThroughS2::new(self.parent().table.as_ref(), mem);
        let (ipa, s1_lg2) = cd
            .walk(&guest, iova, access)
            .map_err(|f| FaultReason::from_walk(Stage::First, f))?;
        let out = self.stage2(ipa, access)?;
        Ok(Walked {
            phys: out.phys,
            page_lg2: s1_lg2.min(out.page_lg2),
        })
    }
}

impl Drop for SmmuVste {
    /// `arm_smmu_domain_nested_free`: off the parent's list.
    fn drop(&mut self) {
        lock(&self.vsmmu.parent.hooks.children).retain(|c| !Arc::ptr_eq(c, &self.caches));
    }
}

impl NestedHooks for SmmuVste {}

impl DmaDomain for SmmuVste {
    fn hw(&self, dev: &PhysDevice) -> Option<(Arc<Iotlb>, u16)> {
        let m = dev.state::<SmmuMaster>()?;
        Arc::ptr_eq(&m.unit, &self.vsmmu.unit)
            .then(|| (Arc::clone(&m.unit.iotlb), self.caches.tag.did))
    }

    fn walk(
        &self,
        pasid: u32,
        iova: u64,
        access: Access,
        mem: &DmaMemory,
    ) -> std::result::Result<Walked, FaultReason> {
        match self.config() {
            ste::CFG_BYPASS if pasid == NO_PASID => self.stage2(iova, access),
            // Substreams need a CD table (§5.2: SSIDs with S1CDMax 0 are C_BAD_SUBSTREAMID).
            ste::CFG_BYPASS => Err(FaultReason::BadConfig {
                event: super::spec::evt::C_BAD_SUBSTREAMID,
            }),
            ste::CFG_S1_TRANS => self.s1_walk(pasid, iova, access, mem),
            _ => Err(FaultReason::Blocked),
        }
    }

    fn record_fault(&self, dev: &PhysDevice, fault: &DmaFault) {
        if let Some(m) = dev.state::<SmmuMaster>() {
            m.report(fault);
        }
    }
}
