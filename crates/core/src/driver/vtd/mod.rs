//! Intel VT-d in scalable mode (`drivers/iommu/intel/`): one [`VtdDriver`] is one remapping
//! unit with its capability registers ([`regs`]), IOTLB and fault recording ([`unit`]).
//!
//! - `hw_info` reports CAP_REG and ECAP_REG (`intel_iommu_hw_info`).
//! - Paging domains are first stage by default and second stage when asked for a nest parent
//!   or dirty tracking (`intel_iommu_domain_alloc_paging_flags`) ([`paging`]).
//! - Nested domains bind a guest first-stage table over a second-stage nest parent
//!   (`intel_iommu_domain_alloc_nested`) and take PASID-based IOTLB invalidations ([`nested`]).
//! - Attach programs the device's scalable-mode PASID table per RID (`IOMMU_NO_PASID`, the
//!   RID_PASID) and per PASID; tearing an entry down flushes what the unit cached for it.
//! - DMA of the unit's devices translates through [`crate::dma`]; faults are recorded, or
//!   become page requests for devices with PRI on a unit with ECAP_REG.PRS.

pub mod debugfs;
pub mod nested;
pub mod paging;
pub mod spec;
pub mod tag;
pub mod unit;

pub use nested::VtdNested;
pub use paging::VtdPaging;
pub use regs::VtdConfig;
/// The capability registers, by the name the model's logic uses.
pub use spec::regs;
pub use unit::{FaultRecord, PageResponse, Unit};

use crate::driver::skeleton::{self, BlockingDomain};
use crate::iommu::DeviceSpec;
use crate::iommu::NO_PASID;
use crate::iommu::domain::{Domain, DomainType};
use crate::iommu::{
    Capability, DebugfsFile, DriverData, HwInfo, IommuDriver, PhysDevice, ReservedRegion,
};
use paging::PagingInner;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use tag::DomainTag;
use uiommu_uapi::copy::read_user_data;
use uiommu_uapi::errno::Result;
use uiommu_uapi::iommufd::{
    IOMMU_HW_INFO_TYPE_INTEL_VTD, IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17,
    IOMMU_HWPT_ALLOC_DIRTY_TRACKING, IOMMU_HWPT_ALLOC_NEST_PARENT, IOMMU_HWPT_ALLOC_PASID,
    IOMMU_HWPT_DATA_VTD_S1, IommuHwInfoVtd, IommuHwptVtdS1,
};
use uiommu_uapi::{Errno, offset_of_end};

/// The driver's name.
const NAME: &str = "vtd";

/// The interrupt address range every VT-d unit decodes as interrupt requests, reserved for
/// DMA (`intel_iommu_get_resv_regions`: `IOAPIC_RANGE_START..=IOAPIC_RANGE_END`, MSI).
pub const IOAPIC_RANGE: (u64, u64) = (0xfee0_0000, 0xfeef_ffff);

/// What a device behind a unit can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VtdDeviceConfig {
    /// PASID width of the function's PASID capability (0: none).
    pub pasid_bits: u8,
    /// The function has PRI enabled: faults become page requests.
    pub pri: bool,
    /// The function supports ATS.
    pub ats: bool,
}

/// A device's state: its unit, requester ID and scalable-mode PASID table.
#[derive(Debug)]
pub struct VtdDev {
    /// The unit it sits behind.
    pub unit: Arc<Unit>,
    /// Its source ID (bus/device/function).
    pub source_id: u16,
    /// What it can do.
    pub config: VtdDeviceConfig,
    /// The present PASID entries (`NO_PASID` for RID_PASID): the domain each points at.
    entries: Mutex<BTreeMap<u32, PasidEntry>>,
}

/// A present scalable-mode PASID entry (VT-d spec §9.6): the domain's DID and the page table
/// its translation type walks first — the domain's own table, or for a nested domain its
/// nest parent's second-stage table (SSPTPTR), the guest's first-stage table being the
/// guest's. The table is held weakly: the entry does not keep a domain alive.
#[derive(Debug, Clone)]
pub(crate) struct PasidEntry {
    tag: Arc<DomainTag>,
    table: Weak<PagingInner>,
}

impl VtdDev {
    /// Whether recoverable faults become page requests.
    pub fn takes_page_requests(&self) -> bool {
        self.config.pri && self.unit.config.prs()
    }

    /// The DID the PASID entry of `pasid` holds, if present.
    pub fn did_of(&self, pasid: u32) -> Option<u16> {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&pasid)
            .map(|e| e.tag.did)
    }

    /// The page table the PASID entry of `pasid` points at, if present and still alive.
    pub(crate) fn table_of(&self, pasid: u32) -> Option<Arc<PagingInner>> {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&pasid)
            .and_then(|e| e.table.upgrade())
    }

    /// Points the PASID entry of `pasid` at `new` (or clears it), tearing the old one down.
    fn program(&self, pasid: u32, new: Option<PasidEntry>) {
        let mut e = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(old) = e.remove(&pasid) {
            old.tag.remove_use(&self.unit, pasid);
        }
        if let Some(new) = new {
            new.tag.add_use(&self.unit, pasid);
            e.insert(pasid, new);
        }
    }
}

/// A VT-d unit as an IOMMU driver.
#[derive(Debug)]
pub struct VtdDriver {
    unit: Arc<Unit>,
    blocking: Arc<dyn Domain>,
}

/// A domain as this driver sees it.
type Kind<'a> = skeleton::Kind<'a, VtdPaging, VtdNested>;

fn kind(domain: &dyn Domain) -> Option<Kind<'_>> {
    Kind::of(domain, NAME)
}

impl VtdDriver {
    /// A unit with `config`'s registers.
    pub fn new(config: VtdConfig) -> Arc<Self> {
        Arc::new(VtdDriver {
            unit: Arc::new(Unit::new(config)),
            blocking: Arc::new(BlockingDomain::of(NAME)),
        })
    }

    /// The unit.
    pub fn unit(&self) -> &Arc<Unit> {
        &self.unit
    }

    /// A device behind this unit, in a group of its own. Its PASID width is the smaller of its
    /// own and the unit's (`dev_iommu_get_max_pasids`); 0 if the unit has no PASID support.
    pub fn create_device(self: &Arc<Self>, config: VtdDeviceConfig) -> PhysDevice {
        PhysDevice {
            driver: Arc::clone(self) as Arc<dyn IommuDriver>,
            group_id: super::group_id::alloc(),
            max_pasid_log2: config.pasid_bits.min(self.unit.config.pasid_bits()),
            state: Box::new(VtdDev {
                unit: Arc::clone(&self.unit),
                source_id: self.unit.next_source_id(),
                config,
                entries: Mutex::default(),
            }),
        }
    }

    fn vdev(dev: &PhysDevice) -> Result<&VtdDev> {
        dev.state::<VtdDev>().ok_or(Errno::ENODEV)
    }

    /// The checks of attaching `domain` to a PASID entry of a device on this unit
    /// (`paging_domain_compatible`, and for a nested domain its parent's and
    /// `intel_pasid_setup_nested`'s): the entry to program, `None` for blocking.
    fn check_attach(&self, domain: &dyn Domain) -> Result<Option<PasidEntry>> {
        let cfg = &self.unit.config;
        match kind(domain).ok_or(Errno::EINVAL)? {
            Kind::Blocked => Ok(None),
            Kind::Paging(p) => {
                p.inner.compatible(cfg)?;
                Ok(Some(PasidEntry {
                    tag: Arc::clone(&p.hooks().tag),
                    table: Arc::downgrade(&p.inner),
                }))
            }
            Kind::Nested(n) => {
                n.parent.compatible(cfg)?;
                n.check_setup(cfg)?;
                Ok(Some(PasidEntry {
                    tag: Arc::clone(&n.tag),
                    table: Arc::downgrade(&n.parent),
                }))
            }
        }
    }
}

impl IommuDriver for VtdDriver {
    fn name(&self) -> &'static str {
        NAME
    }

    /// `intel_iommu_probe_device`: a PCI function behind this unit, without PRI or ATS.
    fn probe_device(self: Arc<Self>, spec: DeviceSpec) -> Result<PhysDevice> {
        Ok(self.create_device(VtdDeviceConfig {
            pasid_bits: spec.pasid_bits,
            pri: false,
            ats: false,
        }))
    }

    /// `intel_iommu_capable`.
    fn capable(&self, dev: &PhysDevice, cap: Capability) -> bool {
        let cfg = &self.unit.config;
        match cap {
            Capability::CacheCoherency => true,
            Capability::EnforceCacheCoherency => cfg.snoop_control(),
            Capability::DirtyTracking => cfg.ssads(),
            Capability::PciAtsSupported => {
                cfg.ecap & regs::ecap::DT != 0 && Self::vdev(dev).is_ok_and(|d| d.config.ats)
            }
        }
    }

    /// `intel_iommu_hw_info`: CAP_REG and ECAP_REG as the unit has them, with the SPR17
    /// erratum flag the kernel always sets.
    fn hw_info(&self, _dev: &PhysDevice, requested: u32) -> Option<Result<HwInfo>> {
        skeleton::hw_info(requested, IOMMU_HW_INFO_TYPE_INTEL_VTD, || IommuHwInfoVtd {
            flags: IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17,
            __reserved: 0,
            cap_reg: self.unit.config.cap,
            ecap_reg: self.unit.config.ecap,
        })
    }

    /// `intel_iommu_domain_alloc_paging_flags`: no driver data; first stage if it can be,
    /// else second stage.
    fn domain_alloc_paging(
        &self,
        _dev: &PhysDevice,
        flags: u32,
        data: Option<DriverData<'_>>,
    ) -> Result<Arc<dyn Domain>> {
        if data.is_some() {
            return Err(Errno::EOPNOTSUPP);
        }
        let cfg = &self.unit.config;
        // `intel_iommu_domain_alloc_first_stage`: EOPNOTSUPP falls through.
        if flags & !IOMMU_HWPT_ALLOC_PASID == 0 && cfg.sm() && cfg.fsts() {
            return Ok(Arc::new(VtdPaging::first_stage(cfg)?));
        }
        // `intel_iommu_domain_alloc_second_stage`.
        const SS_FLAGS: u32 =
            IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_DIRTY_TRACKING | IOMMU_HWPT_ALLOC_PASID;
        let nest_parent = flags & IOMMU_HWPT_ALLOC_NEST_PARENT != 0;
        let dirty = flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING != 0;
        if flags & !SS_FLAGS != 0 || (nest_parent && !cfg.nested()) || (dirty && !cfg.ssads()) {
            return Err(Errno::EOPNOTSUPP);
        }
        if cfg.sm() && !cfg.ssts() {
            return Err(Errno::EOPNOTSUPP);
        }
        Ok(Arc::new(VtdPaging::second_stage(cfg, nest_parent, dirty)?))
    }

    /// `intel_iommu_domain_alloc_nested`: the guest's configuration is read here and checked
    /// against the unit when a PASID entry is set up with it.
    fn domain_alloc_nested(
        &self,
        _dev: &PhysDevice,
        parent: &Arc<dyn Domain>,
        flags: u32,
        data: DriverData<'_>,
    ) -> Option<Result<Arc<dyn Domain>>> {
        Some((|| {
            if !self.unit.config.nested() || flags & !IOMMU_HWPT_ALLOC_PASID != 0 {
                return Err(Errno::EOPNOTSUPP);
            }
            if data.data.data_type != IOMMU_HWPT_DATA_VTD_S1 {
                return Err(Errno::EOPNOTSUPP);
            }
            let parent = match parent.as_any().downcast_ref::<VtdPaging>() {
                Some(p) if p.is_second_stage() && p.is_nest_parent() => Arc::clone(&p.inner),
                _ => return Err(Errno::EINVAL),
            };
            let s1: IommuHwptVtdS1 = read_user_data(
                &data.mem,
                &data.data,
                IOMMU_HWPT_DATA_VTD_S1,
                offset_of_end!(IommuHwptVtdS1, __reserved),
            )?;
            Ok(Arc::new(VtdNested::new(parent, s1)?) as Arc<dyn Domain>)
        })())
    }

    /// `intel_iommu_attach_device` / `intel_nested_attach_dev` / `blocking_domain_attach_dev`:
    /// the RID_PASID entry.
    fn attach_dev(
        &self,
        dev: &PhysDevice,
        domain: &Arc<dyn Domain>,
        _old: Option<&Arc<dyn Domain>>,
    ) -> Result<()> {
        let vdev = Self::vdev(dev)?;
        let entry = self.check_attach(domain.as_ref())?;
        vdev.program(NO_PASID, entry);
        Ok(())
    }

    /// `intel_iommu_set_dev_pasid` / `intel_nested_set_dev_pasid` /
    /// `blocking_domain_set_dev_pasid`.
    fn set_dev_pasid(
        &self,
        dev: &PhysDevice,
        pasid: u32,
        domain: &Arc<dyn Domain>,
        _old: Option<&Arc<dyn Domain>>,
    ) -> Result<()> {
        let vdev = Self::vdev(dev)?;
        if domain.domain_type() != DomainType::Blocked && !self.unit.config.pasid() {
            return Err(Errno::EOPNOTSUPP);
        }
        let entry = self.check_attach(domain.as_ref())?;
        vdev.program(pasid, entry);
        Ok(())
    }

    fn blocking_domain(&self) -> Arc<dyn Domain> {
        Arc::clone(&self.blocking)
    }

    fn reserved_regions(&self, _dev: &PhysDevice) -> Vec<ReservedRegion> {
        vec![ReservedRegion {
            start: IOAPIC_RANGE.0,
            last: IOAPIC_RANGE.1,
            sw_msi: false,
        }]
    }

    /// Any VT-d domain (`domain->owner == &intel_iommu_ops`): attach decides whether this
    /// unit can walk it.
    fn owns(&self, domain: &dyn Domain) -> bool {
        kind(domain).is_some()
    }

    /// `intel_iommu_debugfs_create_dev`: the device's `domain_translation_struct`.
    fn debugfs(&self, dev: &PhysDevice, name: &str) -> Vec<DebugfsFile> {
        debugfs::files(dev, name)
    }
}

#[cfg(test)]
mod tests;
