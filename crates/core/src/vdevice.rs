//! Virtual devices (`drivers/iommu/iommufd/viommu.c`: `struct iommufd_vdevice`): a device as
//! a vIOMMU sees it, under its virtual ID. A device has at most one; while it exists the
//! vIOMMU (and the driver's nested domains on it) can find the device by that ID.
//!
//! Unbinding the device destroys its vDEVICE and leaves a tombstone at the vDEVICE's ID, so a
//! later `IOMMU_DESTROY` of that ID is `ENOENT` (`iommufd_device_remove_vdev`).

use crate::context::{Context, Handle};
use crate::device::Device;
use crate::iommu::viommu_core::VdevSlot;
use crate::object::Object;
use crate::object_table::{ObjRef, Prepared, WeakObj};
use crate::viommu::Viommu;
use std::collections::btree_map::Entry;
use std::sync::atomic::{AtomicBool, Ordering};
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;

/// A device's side of the link (`idev->vdev`, `idev->destroying`), under the device's lock.
#[derive(Debug, Default)]
pub(crate) struct VdevLink {
    /// The device is being unbound: no new vDEVICE may take it.
    pub(crate) destroying: bool,
    /// Its vDEVICE, not counted as a user.
    pub(crate) vdev: Option<WeakObj<Object>>,
}

/// A vDEVICE (`IOMMUFD_OBJ_VDEVICE`).
#[derive(Debug)]
pub struct Vdevice {
    /// The vIOMMU (a user of it).
    pub viommu: Handle<Viommu>,
    /// The device (a user of it).
    pub idev: Handle<Device>,
    /// The device's ID on the vIOMMU.
    pub virt_id: u64,
    /// Accepted by the driver and in the vIOMMU's table.
    live: AtomicBool,
}

impl Drop for Vdevice {
    /// `iommufd_vdevice_destroy` / `_abort`: the driver's `destroy`, out of the vIOMMU's table,
    /// and the device's link cleared.
    fn drop(&mut self) {
        let mut link = self.idev.lock_vdev();
        if self.live.swap(false, Ordering::AcqRel) {
            if let Some(ops) = self.viommu.ops() {
                ops.vdevice_destroy(&self.idev.phys, self.virt_id);
            }
            self.viommu.core.lock_vdevs().remove(&self.virt_id);
        }
        // Only this vDEVICE can be linked: another is refused while the link is set.
        link.vdev = None;
    }
}

/// `iommufd_vdevice_alloc_ioctl`: the device `dev_id` as `virt_id` on `viommu_id`. `report`
/// is given the new ID and must succeed (the reply) before the vDEVICE is published.
pub fn alloc(
    ctx: &Context,
    viommu_id: u32,
    dev_id: u32,
    virt_id: u64,
    report: impl FnOnce(u32) -> Result<()>,
) -> Result<()> {
    let viommu = ctx.get::<Viommu>(viommu_id)?;
    let idev = ctx.get::<Device>(dev_id)?;
    if !crate::iommu::same_iommu(&viommu.driver, &idev.phys.driver) {
        return Err(Errno::EINVAL);
    }
    let mut link = idev.lock_vdev();
    if link.destroying {
        return Err(Errno::ENOENT);
    }
    if link.vdev.is_some() {
        return Err(Errno::EEXIST);
    }
    let pending = ctx.objects.reserve()?;
    let id = pending.id();
    let prepared = pending.prepare(Object::Vdevice(Vdevice {
        viommu: viommu.clone(),
        idev: idev.clone(),
        virt_id,
        live: AtomicBool::new(false),
    }));
    link.vdev = Some(prepared.obj_ref().downgrade());
    let r = publish(&viommu, &idev, virt_id, &prepared).and_then(|()| report(id));
    // Dropping an aborted vDEVICE takes the device's lock.
    drop(link);
    r?;
    prepared.finalize();
    Ok(())
}

/// Reserves `virt_id` on the vIOMMU, lets the driver accept the device and fills the slot.
fn publish(
    viommu: &Viommu,
    idev: &Device,
    virt_id: u64,
    prepared: &Prepared<'_, Object>,
) -> Result<()> {
    match viommu.core.lock_vdevs().entry(virt_id) {
        Entry::Occupied(_) => return Err(Errno::EEXIST),
        Entry::Vacant(v) => {
            v.insert(VdevSlot::Reserved);
        }
    }
    if let Some(ops) = viommu.ops() {
        if let Err(e) = ops.vdevice_init(&idev.phys, virt_id) {
            viommu.core.lock_vdevs().remove(&virt_id);
            return Err(e);
        }
    }
    viommu
        .core
        .lock_vdevs()
        .insert(virt_id, VdevSlot::Live(idev.phys.clone()));
    if let Object::Vdevice(v) = &**prepared {
        v.live.store(true, Ordering::Release);
    }
    Ok(())
}

/// `iommufd_device_remove_vdev`: the device is going; its vDEVICE, if any, is destroyed and
/// its ID tombstoned. No vDEVICE can be made for the device afterwards.
pub(crate) fn remove_for_device(ctx: &Context, idev: &Device) {
    let vdev: Option<ObjRef<Object>> = {
        let mut link = idev.lock_vdev();
        link.destroying = true;
        link.vdev.as_ref().and_then(WeakObj::upgrade)
    };
    // A vDEVICE being destroyed by the caller right now is no longer upgradable.
    if let Some(v) = vdev {
        if let Ok(obj) = ctx.objects.remove_ref(v, true) {
            obj.body().destroy(ctx);
        }
    }
}
