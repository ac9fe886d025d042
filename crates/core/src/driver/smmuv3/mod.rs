//! Arm SMMUv3 (`drivers/iommu/arm/arm-smmu-v3/`, Arm IHI 0070): one [`SmmuDriver`] is one
//! SMMU with its ID registers ([`regs`]), TLB and event queue ([`unit`]).
//!
//! - `hw_info` reports SMMU_IDR0..5, IIDR and AIDR as read (`arm_smmu_hw_info`).
//! - Paging domains are stage 1 by default and stage 2 when a nest parent is asked for
//!   (`arm_smmu_domain_alloc_paging_flags`, [`paging`]); dirty tracking is stage 1 on an SMMU
//!   with HTTU dirty state and coherent walks.
//! - A vSMMU (`IOMMU_VIOMMU_TYPE_ARM_SMMUV3`) over a stage-2 nest parent ([`viommu`],
//!   sharing [`vsmmu_shared`] with what it makes) makes nested domains from guest STEs
//!   ([`nested`]) whose CD tables live in guest memory ([`cd`]), takes guest CMDQ
//!   invalidations ([`cmdq`]) that clear what the SMMU caches for them ([`nested_caches`]),
//!   and reports events of its vDEVICEs with their virtual stream IDs ([`event`]).
//! - Attach installs the device's STE; per seed 003 a stream is abort (blocked), stage-1
//!   translate (a stage-1 domain, also at substreams), stage-2 translate (a nest parent
//!   itself: "s1-bypass s2-translate"), or a nested STE (abort, bypass or s1+s2).

pub mod cd;
pub mod cmdq;
pub mod event;
pub mod nested;
pub mod nested_caches;
pub mod paging;
pub mod spec;
pub mod unit;
pub mod viommu;
pub mod vsmmu_shared;

pub use nested::SmmuNested;
pub use paging::{SmmuPaging, StageId};
pub use regs::SmmuConfig;
/// The capability registers, by the name the model's logic uses.
pub use spec::regs;
pub use unit::Unit;
pub use viommu::Vsmmu;

use crate::driver::skeleton::{self, BlockingDomain};
use crate::iommu::DeviceSpec;
use crate::iommu::domain::Domain;
use crate::iommu::translate::DmaFault;
use crate::iommu::viommu::{ViommuInit, ViommuOps};
use crate::iommu::viommu_core::ViommuCore;
use crate::iommu::{Capability, DriverData, HwInfo, IommuDriver, PhysDevice, ReservedRegion};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;
use uiommu_uapi::iommufd::{
    IOMMU_HW_INFO_TYPE_ARM_SMMUV3, IOMMU_HWPT_ALLOC_DIRTY_TRACKING, IOMMU_HWPT_ALLOC_NEST_PARENT,
    IOMMU_HWPT_ALLOC_PASID, IOMMU_VIOMMU_TYPE_ARM_SMMUV3, IommuHwInfoArmSmmuv3,
};
use unit::lock;

/// The driver's name.
const NAME: &str = "smmuv3";

/// The software MSI window every SMMUv3 device reserves (`MSI_IOVA_BASE`, `MSI_IOVA_LENGTH`).
pub const MSI_IOVA: (u64, u64) = (0x800_0000, 0x10_0000);

/// `CTXDESC_LINEAR_CDMAX`: substream bits of a linear CD table.
const LINEAR_CDMAX: u8 = 10;

/// What a device behind an SMMU can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmmuDeviceConfig {
    /// PASID width of the function (`pasid-num-bits`; 0: none).
    pub pasid_bits: u8,
    /// The function and root complex support ATS.
    pub ats: bool,
    /// The root complex forces write-back snoops (`IOMMU_FWSPEC_PCI_RC_CANWBS`).
    pub canwbs: bool,
}

impl Default for SmmuDeviceConfig {
    fn default() -> Self {
        SmmuDeviceConfig {
            pasid_bits: 0,
            ats: false,
            canwbs: true,
        }
    }
}

/// The vSMMU a device reports its events to, under its vSID (`struct arm_smmu_vmaster`).
#[derive(Debug, Clone)]
struct Vmaster {
    core: Arc<ViommuCore>,
    vsid: u64,
}

/// What the device's STE holds.
#[derive(Debug, Default)]
struct SteState {
    /// The RID's domain (`None`: blocked).
    rid: Option<Arc<dyn Domain>>,
    /// Stage-1 domains at substreams other than 0 (`cd_table.used_ssids`).
    ssids: BTreeMap<u32, Arc<dyn Domain>>,
    /// The STE points at the host's CD table (`cd_table.in_ste`).
    cd_table_in_ste: bool,
    vmaster: Option<Vmaster>,
}

/// A device's state: its SMMU, stream ID and STE (`struct arm_smmu_master`).
#[derive(Debug)]
pub struct SmmuMaster {
    /// The SMMU.
    pub unit: Arc<Unit>,
    /// Its one stream ID.
    pub sid: u32,
    /// Substream bits (`master->ssid_bits`).
    pub ssid_bits: u8,
    /// What it can do.
    pub config: SmmuDeviceConfig,
    ste: Mutex<SteState>,
}

impl SmmuMaster {
    /// The domain the STE translates the RID with.
    pub fn rid_domain(&self) -> Option<Arc<dyn Domain>> {
        lock(&self.ste).rid.clone()
    }

    /// The vSID events are reported under, if the device has a vmaster.
    pub fn vsid(&self) -> Option<u64> {
        lock(&self.ste).vmaster.as_ref().map(|v| v.vsid)
    }

    /// `arm_smmu_handle_event` for a fault of this stream: to the vSMMU (vSID substituted)
    /// unless it is a stage-2 fault or there is no vmaster, else to the SMMU's event queue.
    pub(crate) fn report(&self, fault: &DmaFault) {
        let Some(rec) = event::record(self.sid, fault) else {
            return;
        };
        let vmaster = lock(&self.ste).vmaster.clone();
        if let Some(vm) = vmaster.filter(|_| !event::is_s2(&rec)) {
            if event::report_virtual(&vm.core, vm.vsid, &rec) {
                return;
            }
        }
        self.unit.record_event(rec);
    }
}

/// An SMMUv3 as an IOMMU driver.
#[derive(Debug)]
pub struct SmmuDriver {
    unit: Arc<Unit>,
    blocking: Arc<dyn Domain>,
}

/// A domain as this driver sees it.
type Kind<'a> = skeleton::Kind<'a, SmmuPaging, SmmuNested>;

fn kind(domain: &dyn Domain) -> Option<Kind<'_>> {
    Kind::of(domain, NAME)
}

impl SmmuDriver {
    /// An SMMU with `config`'s registers.
    pub fn new(config: SmmuConfig) -> Arc<Self> {
        Arc::new(SmmuDriver {
            unit: Arc::new(Unit::new(config)),
            blocking: Arc::new(BlockingDomain::of(NAME)),
        })
    }

    /// The SMMU.
    pub fn unit(&self) -> &Arc<Unit> {
        &self.unit
    }

    /// A device behind this SMMU with one stream, in a group of its own
    /// (`arm_smmu_probe_device`): its substream bits are the smaller of its PASID width and
    /// SSIDSIZE, at most 10 without 2-level CD tables.
    pub fn create_device(self: &Arc<Self>, config: SmmuDeviceConfig) -> PhysDevice {
        let cfg = &self.unit.config;
        let mut ssid_bits = config.pasid_bits.min(cfg.ssid_bits() as u8);
        if !cfg.cd2l() {
            ssid_bits = ssid_bits.min(LINEAR_CDMAX);
        }
        PhysDevice {
            driver: Arc::clone(self) as Arc<dyn IommuDriver>,
            group_id: super::group_id::alloc(),
            max_pasid_log2: ssid_bits,
            state: Box::new(SmmuMaster {
                unit: Arc::clone(&self.unit),
                sid: self.unit.next_sid(),
                ssid_bits,
                config,
                ste: Mutex::default(),
            }),
        }
    }

    fn master(dev: &PhysDevice) -> Result<&SmmuMaster> {
        dev.state::<SmmuMaster>().ok_or(Errno::ENODEV)
    }

    /// `arm_smmu_attach_dev_nested` with `arm_smmu_attach_prepare_vmaster`: the vSMMU must be
    /// on this SMMU (`EINVAL`), no substream may be in use (`EBUSY`), and a stage-1 STE
    /// needs the device's vDEVICE (its error, `ENOENT`); abort and bypass STEs do not.
    fn attach_nested(
        &self,
        dev: &PhysDevice,
        n: &SmmuNested,
        st: &mut SteState,
    ) -> Result<Option<Vmaster>> {
        if !Arc::ptr_eq(&n.vsmmu.unit, &self.unit) {
            return Err(Errno::EINVAL);
        }
        if !st.ssids.is_empty() {
            return Err(Errno::EBUSY);
        }
        let core = &n.vsmmu.core;
        match core.get_vdev_id(dev) {
            Ok(vsid) => Ok(Some(Vmaster {
                core: Arc::clone(core),
                vsid,
            })),
            Err(_) if spec::get(n.ste[0], spec::ste::CFG) != spec::ste::CFG_S1_TRANS => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl IommuDriver for SmmuDriver {
    fn name(&self) -> &'static str {
        NAME
    }

    /// `arm_smmu_probe_device`: a PCI function behind this SMMU, without ATS.
    fn probe_device(self: Arc<Self>, spec: DeviceSpec) -> Result<PhysDevice> {
        Ok(self.create_device(SmmuDeviceConfig {
            pasid_bits: spec.pasid_bits,
            ..Default::default()
        }))
    }

    /// `arm_smmu_capable`.
    fn capable(&self, dev: &PhysDevice, cap: Capability) -> bool {
        let cfg = &self.unit.config;
        let m = Self::master(dev).ok();
        match cap {
            Capability::CacheCoherency => cfg.coherent(),
            Capability::EnforceCacheCoherency => m.is_some_and(|m| m.config.canwbs),
            Capability::DirtyTracking => cfg.dbm_capable(),
            Capability::PciAtsSupported => cfg.ats() && m.is_some_and(|m| m.config.ats),
        }
    }

    /// `arm_smmu_hw_info`: the ID registers as the SMMU has them.
    fn hw_info(&self, _dev: &PhysDevice, requested: u32) -> Option<Result<HwInfo>> {
        let cfg = &self.unit.config;
        skeleton::hw_info(requested, IOMMU_HW_INFO_TYPE_ARM_SMMUV3, || {
            IommuHwInfoArmSmmuv3 {
                flags: 0,
                __reserved: 0,
                idr: cfg.idr,
                iidr: cfg.iidr,
                aidr: cfg.aidr,
            }
        })
    }

    /// `arm_smmu_domain_alloc_paging_flags`: no driver data; stage 1 unless a nest parent
    /// (or no stage 1) is asked for.
    fn domain_alloc_paging(
        &self,
        _dev: &PhysDevice,
        flags: u32,
        data: Option<DriverData<'_>>,
    ) -> Result<Arc<dyn Domain>> {
        const PAGING: u32 =
            IOMMU_HWPT_ALLOC_DIRTY_TRACKING | IOMMU_HWPT_ALLOC_PASID | IOMMU_HWPT_ALLOC_NEST_PARENT;
        if flags & !PAGING != 0 || data.is_some() {
            return Err(Errno::EOPNOTSUPP);
        }
        let cfg = &self.unit.config;
        let dirty = flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING != 0;
        let (s2, nest_parent) = match flags {
            0 => (!cfg.s1p(), false),
            IOMMU_HWPT_ALLOC_NEST_PARENT if cfg.nesting() => (true, true),
            f if f & IOMMU_HWPT_ALLOC_NEST_PARENT == 0 && cfg.s1p() => (false, false),
            _ => return Err(Errno::EOPNOTSUPP),
        };
        Ok(Arc::new(SmmuPaging::new(
            &self.unit,
            s2,
            nest_parent,
            dirty,
        )?))
    }

    /// `attach_dev` of each domain kind (`arm_smmu_attach_dev`, `arm_smmu_attach_dev_nested`,
    /// `arm_smmu_attach_dev_blocked`).
    fn attach_dev(
        &self,
        dev: &PhysDevice,
        domain: &Arc<dyn Domain>,
        _old: Option<&Arc<dyn Domain>>,
    ) -> Result<()> {
        let m = Self::master(dev)?;
        let mut st = lock(&m.ste);
        let k = kind(domain.as_ref()).ok_or(Errno::EINVAL)?;
        let (vmaster, in_ste) = match k {
            Kind::Blocked => {
                // An abort STE, or a CD-table STE with S1DSS terminate while substreams are
                // in use.
                let in_ste = !st.ssids.is_empty();
                st.rid = None;
                st.vmaster = None;
                st.cd_table_in_ste = in_ste;
                return Ok(());
            }
            Kind::Paging(p) => {
                if !Arc::ptr_eq(p.unit(), &self.unit) {
                    return Err(Errno::EINVAL);
                }
                if p.is_s2() && !st.ssids.is_empty() {
                    return Err(Errno::EBUSY);
                }
                (None, !p.is_s2())
            }
            Kind::Nested(n) => (self.attach_nested(dev, n, &mut st)?, false),
        };
        st.rid = Some(Arc::clone(domain));
        st.vmaster = vmaster;
        st.cd_table_in_ste = in_ste;
        Ok(())
    }

    /// `set_dev_pasid`: stage-1 domains only (`arm_smmu_s1_set_dev_pasid`,
    /// `arm_smmu_set_pasid`), with the RID on the host's CD table or blocked; the blocking
    /// domain clears the CD (`arm_smmu_blocking_set_dev_pasid`). Nested domains have no
    /// `set_dev_pasid` (`EOPNOTSUPP`).
    fn set_dev_pasid(
        &self,
        dev: &PhysDevice,
        pasid: u32,
        domain: &Arc<dyn Domain>,
        _old: Option<&Arc<dyn Domain>>,
    ) -> Result<()> {
        let m = Self::master(dev)?;
        let mut st = lock(&m.ste);
        match kind(domain.as_ref()).ok_or(Errno::EINVAL)? {
            Kind::Blocked => {
                st.ssids.remove(&pasid);
                if st.ssids.is_empty() && st.rid.is_none() {
                    st.cd_table_in_ste = false;
                }
                Ok(())
            }
            Kind::Nested(_) => Err(Errno::EOPNOTSUPP),
            Kind::Paging(p) => {
                if !Arc::ptr_eq(p.unit(), &self.unit) || p.is_s2() {
                    return Err(Errno::EINVAL);
                }
                if !st.cd_table_in_ste && st.rid.is_some() {
                    return Err(Errno::EINVAL);
                }
                st.ssids.insert(pasid, Arc::clone(domain));
                st.cd_table_in_ste = true;
                Ok(())
            }
        }
    }

    fn blocking_domain(&self) -> Arc<dyn Domain> {
        Arc::clone(&self.blocking)
    }

    /// `arm_smmu_get_resv_regions`: the software MSI window.
    fn reserved_regions(&self, _dev: &PhysDevice) -> Vec<ReservedRegion> {
        vec![ReservedRegion {
            start: MSI_IOVA.0,
            last: MSI_IOVA.0 + MSI_IOVA.1 - 1,
            sw_msi: true,
        }]
    }

    /// Any SMMUv3 domain (`domain->owner == &arm_smmu_ops`): attach decides whether this
    /// SMMU can use it.
    fn owns(&self, domain: &dyn Domain) -> bool {
        kind(domain).is_some()
    }

    /// `arm_smmu_ops.user_pasid_table`: a nested STE's CD table is the guest's.
    fn user_pasid_table(&self) -> bool {
        true
    }

    /// `arm_smmu_get_viommu_size`: nesting, and a way to keep the guest from bypassing
    /// the cache (CANWBS or S2FWB).
    fn viommu_supported(&self, dev: &PhysDevice, viommu_type: u32) -> bool {
        let cfg = &self.unit.config;
        let canwbs = Self::master(dev).is_ok_and(|m| m.config.canwbs);
        viommu_type == IOMMU_VIOMMU_TYPE_ARM_SMMUV3 && cfg.nesting() && (canwbs || cfg.s2fwb())
    }

    /// `arm_vsmmu_init`.
    fn viommu_init(&self, init: &ViommuInit<'_>) -> Result<Box<dyn ViommuOps>> {
        Ok(Box::new(Vsmmu::new(&self.unit, init)?))
    }
}

#[cfg(test)]
mod rig;
#[cfg(test)]
mod scenarios;
#[cfg(test)]
mod tests;
