//! VT-d nested domains (`drivers/iommu/intel/nested.c`): a guest's first-stage table, bound
//! from `struct iommu_hwpt_vtd_s1` into scalable-mode PASID entries with translation type
//! "nested" (VT-d spec §9.6: FSPTPTR, FSPM, SRE, WPE, EAFE; the SSPTPTR of the nest parent),
//! and their invalidation by `struct iommu_hwpt_vtd_s1_invalidate` (§6.5.2.4 PASID-based IOTLB
//! invalidation).
//!
//! The guest's table lives in guest memory: every table address it holds is a guest-physical
//! address, translated by the nest parent (the second stage) and read from the owning process's
//! memory. A walk is the nested 2-D walk of §3.8: each first-stage table read and the final
//! output go through the second stage.

use super::VtdDev;
use super::paging::PagingInner;
use super::regs::VtdConfig;
use super::tag::DomainTag;
use crate::driver::skeleton::invalidate::each_entry;
use crate::driver::skeleton::{NestedDomain, NestedHooks, PagingHooks, ThroughS2};
use crate::iommu::PhysDevice;
use crate::iommu::translate::{DmaDomain, DmaFault, DmaMemory, FaultReason, Stage, Walked};
use crate::iotlb::Iotlb;
use std::sync::{Arc, PoisonError};
use uiommu_pt::{Access, Config, GuestTables, RootWalk, X86_64};
use uiommu_uapi::copy::UserDataArray;
use uiommu_uapi::errno::Result;
use uiommu_uapi::iommufd::{
    IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, IOMMU_VTD_INV_FLAGS_LEAF, IOMMU_VTD_S1_EAFE,
    IOMMU_VTD_S1_SRE, IommuHwptVtdS1, IommuHwptVtdS1Invalidate,
};
use uiommu_uapi::{Errno, UserMemory, offset_of_end};

/// `ADDR_WIDTH_4LEVEL`.
pub const ADDR_WIDTH_4LEVEL: u32 = 48;
/// `ADDR_WIDTH_5LEVEL`.
pub const ADDR_WIDTH_5LEVEL: u32 = 57;
/// `VTD_PAGE_SIZE`.
const VTD_PAGE_SIZE: u64 = 4096;

/// A VT-d nested domain (`struct dmar_domain` with `s2_domain` and `s1_cfg`).
pub type VtdNested = NestedDomain<VtdS1>;

/// What VT-d keeps per nested domain.
#[derive(Debug)]
pub struct VtdS1 {
    pub(crate) tag: Arc<DomainTag>,
    /// The nest parent.
    pub(crate) parent: Arc<PagingInner>,
    /// The guest's configuration.
    pub s1: IommuHwptVtdS1,
}

impl VtdNested {
    /// A nested domain over `parent` (a second-stage nest parent) from `s1`.
    pub(crate) fn new(parent: Arc<PagingInner>, s1: IommuHwptVtdS1) -> Result<Self> {
        VtdS1::new(parent, s1).map(NestedDomain::of)
    }
}

impl VtdS1 {
    fn new(parent: Arc<PagingInner>, s1: IommuHwptVtdS1) -> Result<Self> {
        let tag = DomainTag::new()?;
        parent
            .hooks
            .children
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::clone(&tag));
        Ok(VtdS1 { tag, parent, s1 })
    }

    /// The domain ID.
    pub fn did(&self) -> u16 {
        self.tag.did
    }

    /// `intel_pasid_setup_nested`'s checks of the guest's configuration against the unit:
    /// 4-level always, 5-level only with FS5LP, supervisor requests only with SRS, the
    /// extended accessed flag only with EAFS; `EINVAL` otherwise.
    pub(crate) fn check_setup(&self, cfg: &VtdConfig) -> Result<()> {
        match self.s1.addr_width {
            ADDR_WIDTH_4LEVEL => {}
            ADDR_WIDTH_5LEVEL if cfg.fs5lp() => {}
            _ => return Err(Errno::EINVAL),
        }
        if self.s1.flags & IOMMU_VTD_S1_SRE != 0 && !cfg.srs() {
            return Err(Errno::EINVAL);
        }
        if self.s1.flags & IOMMU_VTD_S1_EAFE != 0 && !cfg.eafs() {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }

    fn levels(&self) -> u32 {
        if self.s1.addr_width == ADDR_WIDTH_5LEVEL {
            5
        } else {
            4
        }
    }
}

impl Drop for VtdS1 {
    /// `intel_nested_domain_free`: off the parent's list.
    fn drop(&mut self) {
        self.parent
            .hooks
            .children
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|t| !Arc::ptr_eq(t, &self.tag));
    }
}

impl VtdS1 {
    /// One PASID-based IOTLB invalidation request (§6.5.2.4): `EOPNOTSUPP` for unknown
    /// flags or a reserved field, `EINVAL` for an unaligned address or an "all" length with
    /// an address; sent to every PASID the domain is used at.
    fn invalidate(&self, inv: IommuHwptVtdS1Invalidate) -> Result<()> {
        if inv.flags & !IOMMU_VTD_INV_FLAGS_LEAF != 0 || inv.__reserved != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        if inv.addr % VTD_PAGE_SIZE != 0 || (inv.npages == u64::MAX && inv.addr != 0) {
            return Err(Errno::EINVAL);
        }
        if inv.npages == u64::MAX {
            self.tag.flush_pasids(None);
        } else if inv.npages != 0 {
            let len = inv.npages.saturating_mul(VTD_PAGE_SIZE);
            let last = inv.addr.saturating_add(len - 1);
            self.tag.flush_pasids(Some((inv.addr, last)));
        }
        Ok(())
    }
}

impl NestedHooks for VtdS1 {
    /// `intel_nested_cache_invalidate_user`: each entry is checked and, if valid, sent as
    /// PASID-based IOTLB invalidations; the count is of the entries handled before the first
    /// error.
    fn cache_invalidate_user(
        &self,
        requests: &UserDataArray,
        mem: &dyn UserMemory,
    ) -> Option<(u32, Result<()>)> {
        let min_len = offset_of_end!(IommuHwptVtdS1Invalidate, __reserved);
        Some(each_entry(
            requests,
            mem,
            IOMMU_HWPT_INVALIDATE_DATA_VTD_S1,
            min_len,
            |inv| self.invalidate(inv),
        ))
    }
}

impl DmaDomain for VtdS1 {
    fn hw(&self, dev: &PhysDevice) -> Option<(Arc<Iotlb>, u16)> {
        dev.state::<VtdDev>()
            .map(|d| (Arc::clone(&d.unit.iotlb), self.tag.did))
    }

    /// The nested walk (§3.8): the guest's first-stage table (§3.6, x86-64 paging entries
    /// §9.7) read through the second stage, with its accessed and dirty bits, then the
    /// guest-physical output through the second stage. The page cached is the smaller of the
    /// two stages' pages.
    fn walk(
        &self,
        _pasid: u32,
        iova: u64,
        access: Access,
        mem: &DmaMemory,
    ) -> std::result::Result<Walked, FaultReason> {
        let parent = &self.parent;
        if parent.stage != Stage::Second {
            return Err(FaultReason::Unsupported);
        }
        let guest = ThroughS2::new(parent.table.as_ref(), mem).cached(&parent.hooks.s2_cache);
        let first = RootWalk::new(
            X86_64,
            GuestTables { mem: guest },
            self.s1.pgtbl_addr,
            Config::levels(self.levels()),
        )
        .map_err(|_| FaultReason::Unsupported)?;
        let t1 = first
            .translate(iova, access)
            .map_err(|f| FaultReason::from_walk(Stage::First, f))?;
        let t2 = parent.walk(t1.phys, access)?;
        Ok(Walked {
            phys: t2.phys,
            page_lg2: t1.page_lg2.min(t2.page_lg2),
        })
    }

    /// As the parent's: the unit's fault recording and page requests.
    fn page_requests(&self, dev: &PhysDevice) -> bool {
        self.parent.hooks.page_requests(dev)
    }

    fn record_fault(&self, dev: &PhysDevice, fault: &DmaFault) {
        self.parent.hooks.record_fault(dev, fault);
    }
}
