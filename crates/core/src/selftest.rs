//! The selftest mock's objects (`drivers/iommu/iommufd/selftest.c`): a mock device created by
//! `IOMMU_TEST_OP_MOCK_DOMAIN`, bound and attached in one step, and the checks the selftests
//! make on mock domains.
//!
//! Which IOMMU such a device sits behind is the context's [`TestIommu`]: the selftest mock
//! driver, as in the kernel, a VT-d unit (`uiommu exec --driver vtd`) or an SMMUv3
//! (`--driver smmuv3`). Behind VT-d or the SMMU, the device is a PCI function of that IOMMU
//! and everything the uAPI does with it (auto domains, `IOMMU_GET_HW_INFO`, paging and nested
//! HWPTs, vIOMMUs, PASIDs, invalidation) is that model's;
//! the test operations that inspect mock objects find none and fail as the kernel's do for a
//! domain or device that is not the mock's.

use crate::context::{Context, Handle};
use crate::device::{self, Device, NO_PASID};
use crate::driver::PhysDevice;
use crate::driver::mock::MockDriver;
use crate::driver::smmuv3::{SmmuDeviceConfig, SmmuDriver};
use crate::driver::vtd::{VtdDeviceConfig, VtdDriver};
use crate::object::{ObjRef, Prepared};
use crate::objects::Object;
use std::sync::{Arc, Mutex, PoisonError};
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;
use uiommu_uapi::selftest::{
    MOCK_FLAGS_DEVICE_NO_DIRTY, MOCK_FLAGS_DEVICE_PASID, MOCK_PASID_WIDTH,
};

/// The IOMMU that devices made by `IOMMU_TEST_OP_MOCK_DOMAIN` sit behind.
#[derive(Debug, Clone, Default)]
pub enum TestIommu {
    /// The selftest mock driver (`mock_ops`), as on a kernel with `CONFIG_IOMMUFD_TEST`.
    #[default]
    Mock,
    /// A VT-d unit in scalable mode.
    Vtd(Arc<VtdDriver>),
    /// An Arm SMMUv3.
    Smmuv3(Arc<SmmuDriver>),
}

impl TestIommu {
    /// A selftest device with `IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS`'s `dev_flags`.
    ///
    /// Behind VT-d or the SMMU the flags the mock accepts keep their checks (`EINVAL` for any
    /// other): `MOCK_FLAGS_DEVICE_PASID` gives the function a 20-bit PASID capability (without
    /// it, it has none); `MOCK_FLAGS_DEVICE_NO_DIRTY` describes the mock's hardware and changes
    /// nothing, as dirty tracking is the IOMMU's (ECAP_REG.SSADS, SMMU_IDR0.HTTU).
    pub fn create_device(&self, dev_flags: u32) -> Result<PhysDevice> {
        match self {
            TestIommu::Mock => MockDriver::get().create_device(dev_flags),
            TestIommu::Vtd(unit) => Ok(unit.create_device(VtdDeviceConfig {
                pasid_bits: model_pasid_bits(dev_flags)?,
                pri: false,
                ats: false,
            })),
            TestIommu::Smmuv3(smmu) => Ok(smmu.create_device(SmmuDeviceConfig {
                pasid_bits: model_pasid_bits(dev_flags)?,
                ..Default::default()
            })),
        }
    }
}

/// The PASID width a device of a hardware model gets for the mock's `dev_flags`, with the
/// mock's check of them.
fn model_pasid_bits(dev_flags: u32) -> Result<u8> {
    if dev_flags & !(MOCK_FLAGS_DEVICE_NO_DIRTY | MOCK_FLAGS_DEVICE_PASID) != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(if dev_flags & MOCK_FLAGS_DEVICE_PASID != 0 {
        MOCK_PASID_WIDTH as u8
    } else {
        0
    })
}

/// `struct selftest_obj` of type `TYPE_IDEV`: a mock device and its binding.
#[derive(Debug)]
pub struct SelftestDevice {
    /// The mock device.
    pub phys: Arc<PhysDevice>,
    /// The binder's reference on the iommufd device, given back on destroy.
    idev: Mutex<Option<ObjRef<Object>>>,
}

impl SelftestDevice {
    /// The bound iommufd device.
    pub fn idev(&self) -> Option<Handle<Device>> {
        let idev = self.idev.lock().unwrap_or_else(PoisonError::into_inner);
        idev.as_ref().and_then(|r| Handle::new(r.clone()))
    }

    /// `iommufd_selftest_destroy`: detach the RID, then unbind.
    pub(crate) fn destroy(&self, ctx: &Context) {
        let taken = self
            .idev
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(idev) = taken {
            if let Some(h) = Handle::<Device>::new(idev.clone()) {
                device::detach(ctx, &h, NO_PASID);
            }
            device::unbind(ctx, idev);
        }
    }
}

/// A mock device made by [`mock_domain`], not yet published. Dropping it undoes everything.
#[derive(Debug)]
pub struct NewMockDevice<'c> {
    ctx: &'c Context,
    prepared: Option<Prepared<'c, Object>>,
    /// `out_stdev_id`.
    pub stdev_id: u32,
    /// `out_idev_id`.
    pub idev_id: u32,
    /// `out_hwpt_id`: the HWPT the device was attached to.
    pub hwpt_id: u32,
}

impl NewMockDevice<'_> {
    /// Publishes the mock device.
    pub fn finalize(mut self) {
        if let Some(p) = self.prepared.take() {
            p.finalize();
        }
    }
}

impl Drop for NewMockDevice<'_> {
    fn drop(&mut self) {
        if let Some(p) = self.prepared.take() {
            p.destroy(self.ctx);
        }
    }
}

/// `iommufd_test_mock_domain`: creates a device with `dev_flags` behind the context's
/// [`TestIommu`], binds it and attaches it to `pt_id` (an IOAS, for an automatic domain, or a
/// HWPT).
pub fn mock_domain(ctx: &Context, pt_id: u32, dev_flags: u32) -> Result<NewMockDevice<'_>> {
    let pending = ctx.objects.reserve()?;
    let stdev_id = pending.id();
    let phys = Arc::new(ctx.test_iommu().create_device(dev_flags)?);
    let idev = device::bind(ctx, phys.clone())?;
    let idev_id = idev.id();
    let handle = Handle::<Device>::new(idev.clone()).expect("bind makes a device");
    let hwpt_id = match device::attach(ctx, &handle, NO_PASID, pt_id) {
        Ok(id) => id,
        Err(e) => {
            drop(handle);
            device::unbind(ctx, idev);
            return Err(e);
        }
    };
    drop(handle);
    let prepared = pending.prepare(Object::Selftest(SelftestDevice {
        phys,
        idev: Mutex::new(Some(idev)),
    }));
    Ok(NewMockDevice {
        ctx,
        prepared: Some(prepared),
        stdev_id,
        idev_id,
        hwpt_id,
    })
}
