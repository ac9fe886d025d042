//! Virtual IOMMUs (`drivers/iommu/iommufd/viommu.c`, `driver.c`): a driver's vIOMMU instance
//! over a nest-parent paging HWPT, with the virtual devices it knows by virtual ID and the
//! vEVENTQs it reports events to.

use crate::context::{Context, Handle};
use crate::device::Device;
use crate::hwpt::HwptPaging;
use crate::iommu::viommu::{ViommuInit, ViommuOps};
use crate::iommu::viommu_core::ViommuCore;
use crate::iommu::{DriverData, IommuDriver};
use crate::object::Object;
use std::sync::{Arc, OnceLock};
use uiommu_uapi::errno::Result;
use uiommu_uapi::{Errno, UserMemory};

/// A vIOMMU (`IOMMUFD_OBJ_VIOMMU`).
#[derive(Debug)]
pub struct Viommu {
    /// What the driver shares with the core.
    pub core: Arc<ViommuCore>,
    /// The nest parent (a user of it).
    pub hwpt: Handle<HwptPaging>,
    /// The IOMMU instance (`iommu_dev`): devices behind it may use the vIOMMU.
    pub driver: Arc<dyn IommuDriver>,
    /// The driver's vIOMMU, set once `viommu_init` succeeded.
    ops: OnceLock<Box<dyn ViommuOps>>,
}

impl Viommu {
    /// The driver's ops (`viommu->ops`), if `viommu_init` succeeded.
    pub fn ops(&self) -> Option<&dyn ViommuOps> {
        self.ops.get().map(|o| &**o)
    }
}

impl Drop for Viommu {
    /// `iommufd_viommu_destroy`: the driver's `destroy` first, then the parent is let go.
    fn drop(&mut self) {
        drop(self.ops.take());
    }
}

/// `iommufd_viommu_alloc_ioctl` after the command checks (no flags, a type other than
/// `IOMMU_VIOMMU_TYPE_DEFAULT`): a vIOMMU of `viommu_type` for the IOMMU behind `dev_id`, on
/// nest-parent HWPT `hwpt_id`. `report` is given the new ID and must succeed (the reply)
/// before the vIOMMU is published.
pub fn alloc(
    ctx: &Context,
    viommu_type: u32,
    dev_id: u32,
    hwpt_id: u32,
    data: DriverData<'_>,
    report: impl FnOnce(u32) -> Result<()>,
) -> Result<()> {
    let idev = ctx.get::<Device>(dev_id)?;
    let dev = &idev.phys;
    if !dev.driver.viommu_supported(dev, viommu_type) {
        return Err(Errno::EOPNOTSUPP);
    }
    let hwpt = ctx.get::<HwptPaging>(hwpt_id)?;
    if !hwpt.nest_parent {
        return Err(Errno::EINVAL);
    }
    let pending = ctx.objects.reserve()?;
    let core = Arc::new(ViommuCore::new(viommu_type));
    let prepared = pending.prepare(Object::Viommu(Viommu {
        core: core.clone(),
        hwpt: hwpt.clone(),
        driver: dev.driver.clone(),
        ops: OnceLock::new(),
    }));
    let owner = prepared.obj_ref().erase();
    let init = ViommuInit {
        viommu_type,
        core: &core,
        owner: &owner,
        mmaps: ctx.mmaps(),
        parent: &hwpt.domain,
        data: (data.data.len != 0).then_some(data),
    };
    let ops = dev.driver.viommu_init(&init);
    drop(owner);
    let Object::Viommu(viommu) = &*prepared else {
        unreachable!("built a vIOMMU")
    };
    let _ = viommu.ops.set(ops?);
    report(prepared.id())?;
    prepared.finalize();
    Ok(())
}

/// `iommufd_hwpt_invalidate` on a vIOMMU: the driver's `cache_invalidate`, `EOPNOTSUPP`
/// without one. Returns the requests handled with the outcome.
pub fn cache_invalidate(
    viommu: &Viommu,
    requests: &uiommu_uapi::copy::UserDataArray,
    mem: &dyn UserMemory,
) -> (u32, Result<()>) {
    viommu
        .ops()
        .and_then(|o| o.cache_invalidate(requests, mem))
        .unwrap_or((0, Err(Errno::EOPNOTSUPP)))
}
