//! The iommufd selftest mock driver (`drivers/iommu/iommufd/selftest.c`): one mock IOMMU, mock
//! devices each in their own group, AMD v1 mock paging domains and IOTLB-only nested domains.

pub mod domain;
pub mod viommu;

use super::skeleton::{self, BlockingDomain};
use crate::iommu::DeviceSpec;
use crate::iommu::domain::{Domain, DomainType};
use crate::iommu::viommu::{ViommuInit, ViommuOps};
use crate::iommu::viommu_core::ViommuCore;
use crate::iommu::{Capability, DriverData, HwInfo, IommuDriver, PhysDevice};
use domain::{MockNestedDomain, MockPagingDomain};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use uiommu_uapi::copy::read_user_data;
use uiommu_uapi::errno::Result;
use uiommu_uapi::iommufd::{
    IOMMU_HWPT_ALLOC_DIRTY_TRACKING, IOMMU_HWPT_ALLOC_NEST_PARENT, IOMMU_HWPT_ALLOC_PASID,
    IOMMU_HWPT_DATA_NONE,
};
use uiommu_uapi::selftest::{
    IOMMU_HW_INFO_SELFTEST_REGVAL, IOMMU_HW_INFO_TYPE_SELFTEST, IOMMU_HWPT_DATA_SELFTEST,
    IOMMU_TEST_DEV_CACHE_DEFAULT, IOMMU_VIOMMU_TYPE_SELFTEST, IommuHwptSelftest, IommuTestHwInfo,
    MOCK_DEV_CACHE_NUM, MOCK_FLAGS_DEVICE_NO_DIRTY, MOCK_FLAGS_DEVICE_PASID, MOCK_PASID_WIDTH,
};
use uiommu_uapi::{Errno, offset_of_end};
use viommu::MockViommu;

/// The PASID whose second attach fails on purpose, to test rollback (`pasid_1024_fake_error`).
const FAKE_ERROR_PASID: u32 = 1024;

/// A mock device's state (`struct mock_dev`).
#[derive(Debug)]
pub struct MockDev {
    /// `MOCK_FLAGS_DEVICE_*`.
    pub flags: u32,
    /// The device cache entries the tests invalidate (`cache[]`).
    pub cache: Mutex<[u32; MOCK_DEV_CACHE_NUM as usize]>,
    pasid_1024_fake_error: AtomicBool,
    /// The vIOMMU of the nested domain the device is attached to and the device's virtual ID
    /// there (`viommu`, `vdev_id` under `viommu_rwsem`).
    viommu: Mutex<Option<(Arc<ViommuCore>, u64)>>,
}

impl MockDev {
    /// The vIOMMU the device is attached through and its virtual ID there, if any.
    pub fn viommu(&self) -> Option<(Arc<ViommuCore>, u64)> {
        self.viommu
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The driver's name.
const NAME: &str = "mock";

/// The mock driver.
#[derive(Debug)]
pub struct MockDriver {
    blocking: Arc<dyn Domain>,
}

impl MockDriver {
    /// The one mock IOMMU.
    pub fn get() -> Arc<MockDriver> {
        static MOCK: OnceLock<Arc<MockDriver>> = OnceLock::new();
        Arc::clone(MOCK.get_or_init(|| {
            Arc::new(MockDriver {
                blocking: Arc::new(BlockingDomain::of(NAME)),
            })
        }))
    }

    /// `mock_dev_create`: a new mock device in its own group. Unknown flags are `EINVAL`.
    pub fn create_device(self: &Arc<Self>, flags: u32) -> Result<PhysDevice> {
        if flags & !(MOCK_FLAGS_DEVICE_NO_DIRTY | MOCK_FLAGS_DEVICE_PASID) != 0 {
            return Err(Errno::EINVAL);
        }
        let pasid_bits = if flags & MOCK_FLAGS_DEVICE_PASID != 0 {
            MOCK_PASID_WIDTH
        } else {
            0
        };
        Ok(PhysDevice {
            driver: Arc::clone(self) as Arc<dyn IommuDriver>,
            group_id: crate::driver::group_id::alloc(),
            max_pasid_log2: pasid_bits as u8,
            state: Box::new(MockDev {
                flags,
                cache: Mutex::new([IOMMU_TEST_DEV_CACHE_DEFAULT; MOCK_DEV_CACHE_NUM as usize]),
                pasid_1024_fake_error: AtomicBool::new(false),
                viommu: Mutex::new(None),
            }),
        })
    }

    fn mock_dev(dev: &PhysDevice) -> Result<&MockDev> {
        dev.state::<MockDev>().ok_or(Errno::ENODEV)
    }

    /// Reads `struct iommu_hwpt_selftest`, whose first version ended at `iotlb`.
    pub(crate) fn selftest_data(data: &DriverData<'_>) -> Result<IommuHwptSelftest> {
        read_user_data(
            &data.mem,
            &data.data,
            IOMMU_HWPT_DATA_SELFTEST,
            offset_of_end!(IommuHwptSelftest, iotlb),
        )
    }
}

impl IommuDriver for MockDriver {
    fn name(&self) -> &'static str {
        NAME
    }

    /// `mock_dev_create` with the flags that describe `spec`: the mock's functions have a
    /// PASID width of `MOCK_PASID_WIDTH` or none (`EINVAL` for another).
    fn probe_device(self: Arc<Self>, spec: DeviceSpec) -> Result<PhysDevice> {
        let mut flags = 0;
        match u32::from(spec.pasid_bits) {
            0 => {}
            MOCK_PASID_WIDTH => flags |= MOCK_FLAGS_DEVICE_PASID,
            _ => return Err(Errno::EINVAL),
        }
        if spec.no_dirty {
            flags |= MOCK_FLAGS_DEVICE_NO_DIRTY;
        }
        self.create_device(flags)
    }

    /// `mock_domain_capable`.
    fn capable(&self, dev: &PhysDevice, cap: Capability) -> bool {
        let flags = Self::mock_dev(dev).map(|d| d.flags).unwrap_or(0);
        match cap {
            Capability::CacheCoherency => true,
            Capability::DirtyTracking => flags & MOCK_FLAGS_DEVICE_NO_DIRTY == 0,
            Capability::EnforceCacheCoherency | Capability::PciAtsSupported => false,
        }
    }

    /// `mock_domain_hw_info`.
    fn hw_info(&self, _dev: &PhysDevice, requested: u32) -> Option<Result<HwInfo>> {
        skeleton::hw_info(requested, IOMMU_HW_INFO_TYPE_SELFTEST, || IommuTestHwInfo {
            flags: 0,
            test_reg: IOMMU_HW_INFO_SELFTEST_REGVAL,
        })
    }

    /// `mock_domain_alloc_paging_flags`.
    fn domain_alloc_paging(
        &self,
        dev: &PhysDevice,
        flags: u32,
        data: Option<DriverData<'_>>,
    ) -> Result<Arc<dyn Domain>> {
        const PAGING_FLAGS: u32 =
            IOMMU_HWPT_ALLOC_DIRTY_TRACKING | IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_PASID;
        let dirty = flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING != 0;
        let no_dirty_ops = Self::mock_dev(dev)?.flags & MOCK_FLAGS_DEVICE_NO_DIRTY != 0;
        if flags & !PAGING_FLAGS != 0 || (dirty && no_dirty_ops) {
            return Err(Errno::EOPNOTSUPP);
        }
        let mut cfg = IommuHwptSelftest::default();
        if let Some(data) = data {
            let t = data.data.data_type;
            if t != IOMMU_HWPT_DATA_SELFTEST && t != IOMMU_HWPT_DATA_NONE {
                return Err(Errno::EOPNOTSUPP);
            }
            cfg = Self::selftest_data(&data)?;
        }
        match cfg.pagetable_type {
            uiommu_uapi::selftest::MOCK_IOMMUPT_DEFAULT
            | uiommu_uapi::selftest::MOCK_IOMMUPT_HUGE => {
                Ok(Arc::new(MockPagingDomain::new(cfg.pagetable_type, dirty)?))
            }
            _ => Err(Errno::EOPNOTSUPP),
        }
    }

    /// `mock_domain_alloc_nested`.
    fn domain_alloc_nested(
        &self,
        _dev: &PhysDevice,
        parent: &Arc<dyn Domain>,
        flags: u32,
        data: DriverData<'_>,
    ) -> Option<Result<Arc<dyn Domain>>> {
        Some((|| {
            if flags & !IOMMU_HWPT_ALLOC_PASID != 0 {
                return Err(Errno::EOPNOTSUPP);
            }
            if parent.domain_type() != DomainType::Paging
                || !parent.as_any().is::<MockPagingDomain>()
            {
                return Err(Errno::EINVAL);
            }
            if data.data.data_type != IOMMU_HWPT_DATA_SELFTEST {
                return Err(Errno::EOPNOTSUPP);
            }
            let cfg = Self::selftest_data(&data)?;
            Ok(Arc::new(MockNestedDomain::new(cfg.iotlb, None)) as Arc<dyn Domain>)
        })())
    }

    /// `mock_domain_nop_attach`: a dirty-tracking domain cannot take a device without dirty
    /// tracking; a nested domain on a vIOMMU needs the device to have a vDEVICE there
    /// (`ENOENT`), whose virtual ID the device then reports its events with.
    fn attach_dev(
        &self,
        dev: &PhysDevice,
        domain: &Arc<dyn Domain>,
        _old: Option<&Arc<dyn Domain>>,
    ) -> Result<()> {
        let mdev = Self::mock_dev(dev)?;
        if domain.has_dirty_tracking() && mdev.flags & MOCK_FLAGS_DEVICE_NO_DIRTY != 0 {
            return Err(Errno::EINVAL);
        }
        let new = match domain.as_any().downcast_ref::<MockNestedDomain>() {
            Some(MockNestedDomain {
                viommu: Some(core), ..
            }) => Some((core.clone(), core.get_vdev_id(dev)?)),
            _ => None,
        };
        *mdev.viommu.lock().unwrap_or_else(PoisonError::into_inner) = new;
        Ok(())
    }

    /// `mock_domain_set_dev_pasid_nop`: the second attach of PASID 1024 fails with `ENOMEM`,
    /// so that the core's rollback can be tested; blocking it resets the sequence.
    fn set_dev_pasid(
        &self,
        dev: &PhysDevice,
        pasid: u32,
        domain: &Arc<dyn Domain>,
        _old: Option<&Arc<dyn Domain>>,
    ) -> Result<()> {
        if pasid == FAKE_ERROR_PASID {
            let fake = &Self::mock_dev(dev)?.pasid_1024_fake_error;
            if domain.domain_type() == DomainType::Blocked {
                fake.store(false, Ordering::Release);
            } else if fake.swap(false, Ordering::AcqRel) {
                return Err(Errno::ENOMEM);
            } else {
                fake.store(true, Ordering::Release);
            }
        }
        Ok(())
    }

    fn blocking_domain(&self) -> Arc<dyn Domain> {
        Arc::clone(&self.blocking)
    }

    /// `mock_get_viommu_size`.
    fn viommu_supported(&self, _dev: &PhysDevice, viommu_type: u32) -> bool {
        viommu_type == IOMMU_VIOMMU_TYPE_SELFTEST
    }

    /// `mock_viommu_init`.
    fn viommu_init(&self, init: &ViommuInit<'_>) -> Result<Box<dyn ViommuOps>> {
        Ok(Box::new(MockViommu::new(init)?))
    }

    fn user_pasid_table(&self) -> bool {
        true
    }

    fn owns(&self, domain: &dyn Domain) -> bool {
        skeleton::Kind::<MockPagingDomain, MockNestedDomain>::of(domain, NAME).is_some()
    }
}

#[cfg(test)]
mod tests;
