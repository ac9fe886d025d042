//! AMD-Vi nested domains (`drivers/iommu/amd/nested.c`): a guest's Device Table Entry
//! (`struct iommu_hwpt_amd_guest`, AMD IOMMU spec §2.2.2.1 "Device Table Entry Format") whose
//! guest translation fields — GV, GLX, GIOV, PPR, the GCR3 table root pointer and the guest
//! paging mode — are merged into the host DTE over the vIOMMU's v1 nest parent
//! (`set_dte_nested`), tagged with the host DomainID the vIOMMU maps the guest's DomainID to.
//!
//! A request is translated as §2.2.6 "Guest Translation" describes: the PASID indexes the
//! GCR3 table (1 to 3 levels of 512 entries as GLX says), whose entry holds the guest CR3 of a
//! 4- or 5-level x86-64 table (§2.2.6.2, the guest paging mode in DTE[2]). Every table address
//! in guest memory and the final output are guest-physical, translated by the host table.
//! A request without PASID takes the guest table of PASID 0 when GIOV is set, and the host
//! table alone otherwise. Guest tables are walked in the lower half of the address space only:
//! upper-half (sign-extended) addresses are out of range.

use super::AmdDev;
use super::paging::PagingInner;
use super::regs::{AmdConfig, PAGE_MODE_5_LEVEL};
use super::spec::dte;
use super::tag::DomainId;
use crate::driver::skeleton::{NestedDomain, NestedHooks, ThroughS2};
use crate::iommu::NO_PASID;
use crate::iommu::PhysDevice;
use crate::iommu::translate::{DmaDomain, DmaFault, DmaMemory, FaultReason, Stage, Walked};
use crate::iotlb::Iotlb;
use std::sync::Arc;
use uiommu_pt::{Access, Config, GuestMemory, GuestTables, RootWalk, X86_64};
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;

/// The guest translation fields of a guest DTE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestDte {
    /// The 256-bit entry as given.
    pub raw: [u64; 4],
}

impl GuestDte {
    /// GLX.
    pub fn glx(&self) -> u64 {
        (self.raw[0] >> dte::GLX_SHIFT) & 3
    }

    /// The guest paging mode field.
    pub fn gpt_level(&self) -> u64 {
        (self.raw[2] >> dte::GPT_LEVEL_SHIFT) & 3
    }

    /// The GCR3 table root pointer (a guest-physical address).
    pub fn gcr3(&self) -> u64 {
        let q0 = (self.raw[0] & dte::GCR3_14_12) >> 58;
        let lo = (self.raw[1] & dte::GCR3_30_15) >> 16;
        let hi = (self.raw[1] & dte::GCR3_51_31) >> 43;
        (q0 << 12) | (lo << 15) | (hi << 31)
    }

    /// The guest's DomainID.
    pub fn domain_id(&self) -> u16 {
        (self.raw[1] & dte::DOMID) as u16
    }

    /// GIOV.
    pub fn giov(&self) -> bool {
        self.raw[0] & dte::GIOV != 0
    }

    /// PPR.
    pub fn ppr(&self) -> bool {
        self.raw[0] & dte::PPR != 0
    }

    /// `validate_gdte_nested`, in its order: Mode and the host root pointer must be zero, a
    /// valid DTE with GV needs a non-zero GCR3 root (`EINVAL`), the paging mode must be 4 or
    /// 5 levels and GLX not 3 (`EINVAL`), and 5 levels need a 5-level unit (`EOPNOTSUPP`).
    pub fn validate(&self, cfg: &AmdConfig) -> Result<()> {
        let q0 = self.raw[0];
        if q0 & dte::MODE != 0 || q0 & dte::HOST_TRP != 0 {
            return Err(Errno::EINVAL);
        }
        if q0 & dte::V != 0 && q0 & dte::GV != 0 && self.gcr3() == 0 {
            return Err(Errno::EINVAL);
        }
        let level = self.gpt_level();
        if level != dte::GUEST_PGTABLE_4_LEVEL && level != dte::GUEST_PGTABLE_5_LEVEL {
            return Err(Errno::EINVAL);
        }
        if self.glx() == 3 {
            return Err(Errno::EINVAL);
        }
        if level == dte::GUEST_PGTABLE_5_LEVEL && cfg.gpt_level() < PAGE_MODE_5_LEVEL {
            return Err(Errno::EOPNOTSUPP);
        }
        Ok(())
    }
}

/// An AMD nested domain (`struct nested_domain`).
pub type AmdNested = NestedDomain<AmdGuest>;

/// What AMD-Vi keeps per nested domain.
#[derive(Debug)]
pub struct AmdGuest {
    /// The nest parent of the vIOMMU it was allocated on (`ndom->viommu->parent`).
    pub(crate) parent: Arc<PagingInner>,
    /// The host DomainID its guest DomainID maps to (`gdom_info->hdom_id`).
    pub(crate) hdom: Arc<DomainId>,
    /// The guest's DTE.
    pub gdte: GuestDte,
}

impl AmdGuest {
    /// The host DomainID programmed into the DTE.
    pub fn host_domain_id(&self) -> u16 {
        self.hdom.id
    }

    pub(crate) fn parent(&self) -> &Arc<PagingInner> {
        &self.parent
    }

    /// The host table, walked for every guest-physical address (§2.2.6); a v2 parent has
    /// none.
    fn host(&self) -> std::result::Result<&PagingInner, FaultReason> {
        let parent = self.parent();
        if parent.stage == Stage::Second {
            Ok(parent)
        } else {
            Err(FaultReason::Unsupported)
        }
    }
}

/// The GCR3 table walk (§2.2.6.1): the guest CR3 of `pasid`, `None` if an entry on the way is
/// not valid or the PASID is wider than the table's levels.
fn gcr3_lookup(
    guest: &ThroughS2<'_>,
    root: u64,
    levels: u32,
    pasid: u32,
) -> std::result::Result<Option<u64>, FaultReason> {
    if u64::from(pasid) >> (9 * levels) != 0 {
        return Ok(None);
    }
    let mut table = root & dte::GCR3_ADDR;
    for level in (0..levels).rev() {
        let index = (u64::from(pasid) >> (9 * level)) & 0x1ff;
        let addr = table + index * 8;
        let e = guest.read_u64(addr).map_err(|f| FaultReason::TableAccess {
            stage: Stage::First,
            addr: f.addr,
        })?;
        if e & dte::GCR3_VALID == 0 {
            return Ok(None);
        }
        table = e & dte::GCR3_ADDR;
    }
    Ok(Some(table))
}

impl NestedHooks for AmdGuest {}

impl DmaDomain for AmdGuest {
    fn hw(&self, dev: &PhysDevice) -> Option<(Arc<Iotlb>, u16)> {
        dev.state::<AmdDev>()
            .map(|d| (Arc::clone(&d.unit.iotlb), self.hdom.id))
    }

    /// The nested walk: GCR3 table, then the guest's table, each read through the host
    /// table, then the guest-physical output through the host table. The page cached is the
    /// smaller of the two stages' pages.
    fn walk(
        &self,
        pasid: u32,
        iova: u64,
        access: Access,
        mem: &DmaMemory,
    ) -> std::result::Result<Walked, FaultReason> {
        let host = self.host()?;
        let guest_pasid = match pasid {
            NO_PASID if !self.gdte.giov() => return host.walk(iova, access),
            NO_PASID => 0,
            p => p,
        };
        let guest = ThroughS2::new(host.table.as_ref(), mem);
        let levels = self.gdte.glx() as u32 + 1;
        let cr3 = gcr3_lookup(&guest, self.gdte.gcr3(), levels, guest_pasid)?
            .ok_or(FaultReason::Blocked)?;
        let gpt_levels = if self.gdte.gpt_level() == dte::GUEST_PGTABLE_5_LEVEL {
            5
        } else {
            4
        };
        let table = RootWalk::new(
            X86_64,
            GuestTables { mem: guest },
            cr3,
            Config::levels(gpt_levels),
        )
        .map_err(|_| FaultReason::Unsupported)?;
        let t1 = table
            .translate(iova, access)
            .map_err(|f| FaultReason::from_walk(Stage::First, f))?;
        let t2 = host.walk(t1.phys, access)?;
        Ok(Walked {
            phys: t2.phys,
            page_lg2: t1.page_lg2.min(t2.page_lg2),
        })
    }

    /// DTE[PPR] comes from the guest; the function must have PRI and the unit PPR.
    fn page_requests(&self, dev: &PhysDevice) -> bool {
        self.gdte.ppr()
            && dev
                .state::<AmdDev>()
                .is_some_and(AmdDev::takes_page_requests)
    }

    fn record_fault(&self, dev: &PhysDevice, fault: &DmaFault) {
        if let Some(d) = dev.state::<AmdDev>() {
            d.unit.log_fault(d.device_id, Some(self.hdom.id), fault);
        }
    }
}
