//! The selftest mock's objects (`drivers/iommu/iommufd/selftest.c`): a mock device created by
//! `IOMMU_TEST_OP_MOCK_DOMAIN`, bound and attached in one step, and the checks the selftests
//! make on mock domains.
//!
//! Such a device sits behind the context's IOMMU ([`Context::iommu`]): the selftest mock
//! driver, as in the kernel, or any other model (`uiommu exec --driver vtd`, `smmuv3`,
//! `amd`). Behind a hardware model the device is a PCI function of that IOMMU and everything
//! the uAPI does with it (auto domains, `IOMMU_GET_HW_INFO`, paging and nested HWPTs,
//! vIOMMUs, PASIDs, invalidation) is that model's; the test operations that inspect mock
//! objects find none and fail as the kernel's do for a domain or device that is not the
//! mock's.

use crate::context::{Context, Handle};
use crate::device::{self, Device};
use crate::iommu::{DeviceSpec, NO_PASID, PhysDevice};
use crate::object::Object;
use crate::object_table::{ObjRef, Prepared};
use std::sync::{Arc, Mutex, PoisonError};
use uiommu_uapi::errno::Result;

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

    /// `iommufd_selftest_destroy`: detach, then unbind. The kernel detaches only the RID, so a
    /// PASID left attached keeps its HWPT (and the pinned pages of its IOAS) until the
    /// context's release, which then stops with a WARN and leaks them; here every PASID is
    /// detached first, as VFIO's unbind does (`vfio_iommufd_physical_unbind`), so a closed
    /// context leaves no pin and no charge behind.
    pub(crate) fn destroy(&self, ctx: &Context) {
        let taken = self
            .idev
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(idev) = taken {
            if let Some(h) = Handle::<Device>::new(idev.clone()) {
                let mut pasids = device::attached_pasids(&h);
                pasids.sort_by_key(|&p| p == NO_PASID);
                for pasid in pasids {
                    device::detach(ctx, &h, pasid);
                }
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

/// `iommufd_test_mock_domain`: creates the device `spec` describes behind the context's IOMMU,
/// binds it and attaches it to `pt_id` (an IOAS, for an automatic domain, or a HWPT). `spec`
/// is what the device flags gave, or why they gave nothing (`mock_dev_create`'s check): that
/// error comes after the object's allocation, as in the kernel.
pub fn mock_domain(
    ctx: &Context,
    pt_id: u32,
    spec: Result<DeviceSpec>,
) -> Result<NewMockDevice<'_>> {
    let pending = ctx.objects.reserve()?;
    let stdev_id = pending.id();
    let spec = spec?;
    let phys = Arc::new(Arc::clone(ctx.iommu()).probe_device(spec)?);
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
