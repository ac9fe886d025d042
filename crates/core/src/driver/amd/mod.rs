//! AMD-Vi (`drivers/iommu/amd/`): one [`AmdDriver`] is one IOMMU unit with its feature
//! registers ([`regs`]), IOTLB and event log ([`unit`]).
//!
//! - `hw_info` reports EFR and EFR2 (`amd_iommufd_hw_info`, `struct iommu_hw_info_amd`).
//! - Paging domains are host (v1) tables by default, for dirty tracking and for nest parents,
//!   and guest-format (v2) tables for `IOMMU_HWPT_ALLOC_PASID`
//!   (`amd_iommu_domain_alloc_paging_flags`) ([`paging`]).
//! - vIOMMUs of any type but the default sit over a v1 nest parent
//!   (`amd_iommufd_viommu_init`) ([`viommu`]); nested domains are a guest DTE over it
//!   ([`nested`]), allocated through the vIOMMU only where [`AmdConfig::viommu_nesting`]
//!   wires that op (7.3 does not). There is no nested allocation on a bare nest parent and no
//!   user cache invalidation: 7.3 has neither for AMD.
//! - Attach programs the device's DTE for the RID. PASIDs take only the blocking domain:
//!   7.3's AMD paging and nested domains have no `set_dev_pasid` (only SVA domains do), so
//!   attaching one to a PASID is `EOPNOTSUPP`. A guest's PASIDs are those of its GCR3 table.
//! - DMA of the unit's devices translates through [`crate::dma`]; faults are logged as
//!   IO_PAGE_FAULT events.

pub mod nested;
pub mod paging;
pub mod spec;
pub mod tag;
pub mod unit;
pub mod viommu;

pub use nested::{AmdNested, GuestDte};
pub use paging::AmdPaging;
pub use regs::AmdConfig;
/// The capability registers, by the name the model's logic uses.
pub use spec::regs;
pub use unit::{PageFaultEvent, Unit};
pub use viommu::AmdViommu;

use crate::driver::skeleton::{self, BlockingDomain};
use crate::iommu::DeviceSpec;
use crate::iommu::domain::Domain;
use crate::iommu::viommu::{ViommuInit, ViommuOps};
use crate::iommu::{Capability, DriverData, HwInfo, IommuDriver, PhysDevice, ReservedRegion};
use std::sync::{Arc, Mutex, PoisonError};
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;
use uiommu_uapi::iommufd::{
    IOMMU_HW_INFO_TYPE_AMD, IOMMU_HWPT_ALLOC_DIRTY_TRACKING, IOMMU_HWPT_ALLOC_NEST_PARENT,
    IOMMU_HWPT_ALLOC_PASID, IommuHwInfoAmd,
};

/// The driver's name.
const NAME: &str = "amd";

/// The MSI range every unit decodes as interrupts (`MSI_RANGE_START..=MSI_RANGE_END`).
pub const MSI_RANGE: (u64, u64) = (0xfee0_0000, 0xfeef_ffff);
/// The HyperTransport reserved range (`HT_RANGE_START..=HT_RANGE_END`).
pub const HT_RANGE: (u64, u64) = (0xfd_0000_0000, 0xff_ffff_ffff);

/// What a device behind a unit can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AmdDeviceConfig {
    /// PASID width of the function's PASID capability (0: none).
    pub pasid_bits: u8,
    /// The function has PRI.
    pub pri: bool,
    /// The function supports ATS.
    pub ats: bool,
}

/// What the device's DTE holds.
#[derive(Debug, Default)]
struct Dte {
    /// The DomainID (kept alive) of the translation programmed, `None` when blocked.
    domain: Option<Arc<tag::DomainId>>,
    /// `dev_data->pasid_enabled`: the PASID capability was enabled for an SVA-capable (v2)
    /// domain.
    pasid_enabled: bool,
}

/// A device's state: its unit, DeviceID and DTE.
#[derive(Debug)]
pub struct AmdDev {
    /// The unit it sits behind.
    pub unit: Arc<Unit>,
    /// Its DeviceID.
    pub device_id: u16,
    /// What it can do.
    pub config: AmdDeviceConfig,
    dte: Mutex<Dte>,
}

impl AmdDev {
    /// Whether recoverable faults become page requests: PRI on the function, PPR on the unit.
    pub fn takes_page_requests(&self) -> bool {
        self.config.pri && self.unit.config.has(regs::efr::PPR)
    }

    /// The DomainID in the DTE, `None` when it blocks.
    pub fn domain_id(&self) -> Option<u16> {
        self.lock().domain.as_ref().map(|d| d.id)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Dte> {
        self.dte.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// An AMD-Vi unit as an IOMMU driver.
#[derive(Debug)]
pub struct AmdDriver {
    unit: Arc<Unit>,
    blocking: Arc<dyn Domain>,
    /// `amd_iommu_pgtable`: the table of a paging domain asked for nothing in particular
    /// (`PD_MODE_V1` unless `amd_iommu=pgtbl_v2`).
    pub default_v2: bool,
}

impl AmdDriver {
    /// A unit with `config`'s registers, v1 tables by default.
    pub fn new(config: AmdConfig) -> Arc<Self> {
        Arc::new(AmdDriver {
            unit: Arc::new(Unit::new(config)),
            blocking: Arc::new(BlockingDomain::of(NAME)),
            default_v2: false,
        })
    }

    /// The unit.
    pub fn unit(&self) -> &Arc<Unit> {
        &self.unit
    }

    /// A device behind this unit, in a group of its own. Its PASID width is the smaller of its
    /// own and the unit's, 0 where the unit cannot do PASIDs (`amd_iommu_probe_device`).
    pub fn create_device(self: &Arc<Self>, config: AmdDeviceConfig) -> PhysDevice {
        let cfg = &self.unit.config;
        let max_pasid_log2 = if cfg.pasid_supported() {
            config.pasid_bits.min(cfg.pasid_bits())
        } else {
            0
        };
        PhysDevice {
            driver: Arc::clone(self) as Arc<dyn IommuDriver>,
            group_id: super::group_id::alloc(),
            max_pasid_log2,
            state: Box::new(AmdDev {
                unit: Arc::clone(&self.unit),
                device_id: self.unit.next_device_id(),
                config,
                dte: Mutex::default(),
            }),
        }
    }

    fn adev(dev: &PhysDevice) -> Result<&AmdDev> {
        dev.state::<AmdDev>().ok_or(Errno::ENODEV)
    }

    fn alloc_v1(&self, nest_parent: bool, dirty: bool) -> Result<Arc<dyn Domain>> {
        Ok(Arc::new(AmdPaging::v1(
            &self.unit.config,
            nest_parent,
            dirty,
        )?))
    }

    fn alloc_v2(&self) -> Result<Arc<dyn Domain>> {
        Ok(Arc::new(AmdPaging::v2(&self.unit.config)?))
    }
}

impl IommuDriver for AmdDriver {
    fn name(&self) -> &'static str {
        NAME
    }

    /// `amd_iommu_probe_device`: a PCI function behind this unit, without PRI or ATS.
    fn probe_device(self: Arc<Self>, spec: DeviceSpec) -> Result<PhysDevice> {
        Ok(self.create_device(AmdDeviceConfig {
            pasid_bits: spec.pasid_bits,
            pri: false,
            ats: false,
        }))
    }

    /// `amd_iommu_capable`.
    fn capable(&self, dev: &PhysDevice, cap: Capability) -> bool {
        match cap {
            Capability::CacheCoherency | Capability::EnforceCacheCoherency => true,
            Capability::DirtyTracking => self.unit.config.hd_support(),
            Capability::PciAtsSupported => Self::adev(dev).is_ok_and(|d| d.config.ats),
        }
    }

    /// `amd_iommufd_hw_info`: EFR and EFR2.
    fn hw_info(&self, _dev: &PhysDevice, requested: u32) -> Option<Result<HwInfo>> {
        skeleton::hw_info(requested, IOMMU_HW_INFO_TYPE_AMD, || IommuHwInfoAmd {
            efr: self.unit.config.efr,
            efr2: self.unit.config.efr2,
        })
    }

    /// `amd_iommu_domain_alloc_paging_flags`: no driver data; dirty tracking and nest parents
    /// are v1 (if HDSup, and GT + GIoSup + GCR3TRPMode), PASID is v2 (if the unit does
    /// PASIDs), nothing asked is the default mode with the other as fallback; anything else
    /// is `EOPNOTSUPP`.
    fn domain_alloc_paging(
        &self,
        _dev: &PhysDevice,
        flags: u32,
        data: Option<DriverData<'_>>,
    ) -> Result<Arc<dyn Domain>> {
        const SUPPORTED: u32 =
            IOMMU_HWPT_ALLOC_DIRTY_TRACKING | IOMMU_HWPT_ALLOC_PASID | IOMMU_HWPT_ALLOC_NEST_PARENT;
        if flags & !SUPPORTED != 0 || data.is_some() {
            return Err(Errno::EOPNOTSUPP);
        }
        let cfg = &self.unit.config;
        let dirty = flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING != 0;
        let nest_parent = flags & IOMMU_HWPT_ALLOC_NEST_PARENT != 0;
        match flags {
            0 => {
                let first = if self.default_v2 {
                    self.alloc_v2()
                } else {
                    self.alloc_v1(false, false)
                };
                match first {
                    Err(Errno::EOPNOTSUPP) if self.default_v2 => self.alloc_v1(false, false),
                    Err(Errno::EOPNOTSUPP) => self.alloc_v2(),
                    r => r,
                }
            }
            IOMMU_HWPT_ALLOC_PASID if cfg.pasid_supported() => self.alloc_v2(),
            IOMMU_HWPT_ALLOC_PASID => Err(Errno::EOPNOTSUPP),
            _ if flags & IOMMU_HWPT_ALLOC_PASID != 0 => Err(Errno::EOPNOTSUPP),
            _ if dirty && !cfg.hd_support() => Err(Errno::EOPNOTSUPP),
            _ if nest_parent && !cfg.nest_parent_supported() => Err(Errno::EOPNOTSUPP),
            _ => self.alloc_v1(nest_parent, dirty),
        }
    }

    /// `amd_iommu_attach_device` (the same domain again is a no-op; a dirty-tracking domain
    /// needs HDSup, `EINVAL`), `nested_attach_device` (`EINVAL` while the PASID capability is
    /// enabled for an SVA-capable domain) and `blocked_domain_attach_device`.
    fn attach_dev(
        &self,
        dev: &PhysDevice,
        domain: &Arc<dyn Domain>,
        _old: Option<&Arc<dyn Domain>>,
    ) -> Result<()> {
        let adev = Self::adev(dev)?;
        let any = domain.as_any();
        let mut dte = adev.lock();
        if let Some(p) = any.downcast_ref::<AmdPaging>() {
            if dte
                .domain
                .as_ref()
                .is_some_and(|d| Arc::ptr_eq(d, &p.hooks().id))
            {
                return Ok(());
            }
            if p.has_dirty_tracking_ops() && !self.unit.config.hd_support() {
                return Err(Errno::EINVAL);
            }
            p.hooks().id.add_unit(&self.unit);
            dte.pasid_enabled = !p.is_v1() && dev.max_pasid_log2 > 0;
            dte.domain = Some(Arc::clone(&p.hooks().id));
        } else if let Some(n) = any.downcast_ref::<AmdNested>() {
            if dte.pasid_enabled {
                return Err(Errno::EINVAL);
            }
            n.hdom.add_unit(&self.unit);
            n.parent().hooks.id.add_unit(&self.unit);
            dte.domain = Some(Arc::clone(&n.hdom));
        } else if BlockingDomain::is_of(domain.as_ref(), NAME) {
            *dte = Dte::default();
        } else {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }

    /// Only the blocking domain has `set_dev_pasid` among the domains a user can make
    /// (`blocked_domain_set_dev_pasid`); the iommu core refuses the others (`EOPNOTSUPP`).
    fn set_dev_pasid(
        &self,
        dev: &PhysDevice,
        _pasid: u32,
        domain: &Arc<dyn Domain>,
        _old: Option<&Arc<dyn Domain>>,
    ) -> Result<()> {
        Self::adev(dev)?;
        if BlockingDomain::is_of(domain.as_ref(), NAME) {
            Ok(())
        } else {
            Err(Errno::EOPNOTSUPP)
        }
    }

    fn blocking_domain(&self) -> Arc<dyn Domain> {
        Arc::clone(&self.blocking)
    }

    /// `amd_iommu_get_resv_regions`: the MSI range, and the HyperTransport range unless
    /// EFR2 says to ignore it. No unity maps are described.
    fn reserved_regions(&self, _dev: &PhysDevice) -> Vec<ReservedRegion> {
        let mut r = vec![ReservedRegion {
            start: MSI_RANGE.0,
            last: MSI_RANGE.1,
            sw_msi: false,
        }];
        if !self.unit.config.ht_range_ignore() {
            r.push(ReservedRegion {
                start: HT_RANGE.0,
                last: HT_RANGE.1,
                sw_msi: false,
            });
        }
        r
    }

    /// Any AMD domain (`domain->owner == &amd_iommu_ops`).
    fn owns(&self, domain: &dyn Domain) -> bool {
        skeleton::Kind::<AmdPaging, AmdNested>::of(domain, NAME).is_some()
    }

    /// With nesting wired, the guest owns its GCR3 table: a PASID without an attachment of
    /// its own translates, and faults, through the nested domain of the RID.
    fn user_pasid_table(&self) -> bool {
        self.unit.config.viommu_nesting
    }

    /// `amd_iommufd_get_viommu_size`: every type (the core has refused the default).
    fn viommu_supported(&self, _dev: &PhysDevice, _viommu_type: u32) -> bool {
        true
    }

    /// `amd_iommufd_viommu_init`.
    fn viommu_init(&self, init: &ViommuInit<'_>) -> Result<Box<dyn ViommuOps>> {
        Ok(Box::new(AmdViommu::new(init, self.unit.config)?))
    }
}

impl AmdPaging {
    fn has_dirty_tracking_ops(&self) -> bool {
        crate::iommu::IoptDomain::has_dirty_tracking(self)
    }
}

#[cfg(test)]
mod scenarios;
#[cfg(test)]
mod tests;
