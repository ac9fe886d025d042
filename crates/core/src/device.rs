//! Devices bound to a context and their attachment to HW page tables
//! (`drivers/iommu/iommufd/device.c`).
//!
//! Attaching to an IOAS finds or makes an automatic paging HWPT: the IOAS's automatic HWPTs are
//! tried in order and one that the driver refuses with `EINVAL` ("incompatible") is skipped;
//! if none fits, a new one is allocated and attached. A device attached to a paging HWPT at its
//! RID imposes its reserved regions on the HWPT's IOAS.

use crate::context::{Context, Handle};
use crate::dma::Requester;
use crate::fault::{FaultGroup, FaultSource, PageRequest};
use crate::group::{Attach, Attached, Group, GroupState};
use crate::hwpt::{self, HwptView};
use crate::iommu::{Capability, Domain, NO_PASID, PhysDevice};
use crate::object::{Ioas, Object};
use crate::object_table::ObjRef;
use crate::vdevice::VdevLink;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;

/// A device bound to a context (`struct iommufd_device`).
#[derive(Debug)]
pub struct Device {
    /// The device object's ID.
    pub id: u32,
    /// The physical device.
    pub phys: Arc<PhysDevice>,
    /// Its group.
    pub group: Arc<Group>,
    /// Domains must enforce cache coherency for it.
    pub enforce_cache_coherency: bool,
    /// Its vDEVICE and whether it is being unbound (under `igroup->lock` in the kernel).
    vdev: Mutex<VdevLink>,
}

impl Device {
    /// The device's vDEVICE link.
    pub(crate) fn lock_vdev(&self) -> MutexGuard<'_, VdevLink> {
        self.vdev.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Device {
    /// `iommufd_device_destroy`: the device leaves its group.
    fn drop(&mut self) {
        self.group.lock().devices.remove(&self.id);
    }
}

/// `iommufd_device_bind`: binds `phys` to the context. Returns the binder's reference, which
/// keeps the device from being destroyed by `IOMMU_DESTROY` until it is given back.
pub fn bind(ctx: &Context, phys: Arc<PhysDevice>) -> Result<ObjRef<Object>> {
    let pending = ctx.objects.reserve()?;
    if !phys.driver.capable(&phys, Capability::CacheCoherency) {
        return Err(Errno::EINVAL);
    }
    let group = ctx.group(phys.group_id);
    let enforce_cache_coherency = phys
        .driver
        .capable(&phys, Capability::EnforceCacheCoherency);
    group.lock().devices.insert(pending.id(), phys.clone());
    let id = pending.id();
    Ok(pending.finalize(Object::Device(Device {
        id,
        phys,
        group,
        enforce_cache_coherency,
        vdev: Mutex::default(),
    })))
}

/// `iommufd_device_unbind`: gives back the binder's reference and destroys the device; its
/// vDEVICE goes first, leaving a tombstone (`iommufd_device_pre_destroy`).
pub fn unbind(ctx: &Context, idev: ObjRef<Object>) {
    if let Object::Device(d) = &*idev {
        crate::vdevice::remove_for_device(ctx, d);
    }
    if let Ok(obj) = ctx.objects.remove_ref(idev, false) {
        obj.body().destroy(ctx);
    }
}

/// Owner key of a device's reserved regions in an IOAS.
fn resv_owner(idev: &Device) -> u64 {
    u64::from(idev.id)
}

/// `iopt_table_enforce_dev_resv_regions`.
fn enforce_resv(ioas: &Ioas, idev: &Device) -> Result<()> {
    ioas.iopt
        .reserve_all(&resv_regions(&idev.phys), resv_owner(idev))
}

/// `iommufd_hwpt_pasid_compat`: a PASID needs a PASID-capable HWPT, and so does the RID once
/// any PASID is attached.
fn pasid_compat(g: &GroupState, hwpt: HwptView<'_>, pasid: u32) -> Result<()> {
    if pasid == NO_PASID {
        if !hwpt.pasid_compat() && g.attach.keys().any(|&p| p != NO_PASID) {
            return Err(Errno::EINVAL);
        }
    } else {
        if !hwpt.pasid_compat() {
            return Err(Errno::EINVAL);
        }
        let rid = g.attach.get(&NO_PASID).and_then(|a| a.hwpt());
        if rid
            .and_then(|h| HwptView::of(h))
            .is_some_and(|h| !h.pasid_compat())
        {
            return Err(Errno::EINVAL);
        }
    }
    Ok(())
}

fn view(hwpt: &ObjRef<Object>) -> HwptView<'_> {
    HwptView::of(hwpt).expect("attach targets are HWPTs")
}

/// `iommufd_hw_pagetable_attach`.
pub(crate) fn attach_hwpt(
    _ctx: &Context,
    hwpt: &ObjRef<Object>,
    idev: &Handle<Device>,
    pasid: u32,
) -> Result<()> {
    let v = view(hwpt);
    let resv = v.paging().filter(|_| pasid == NO_PASID);
    let mut g = idev.group.lock();
    if let Some(attach) = g.attach.get(&pasid) {
        if attach.devices.contains_key(&idev.id) {
            return Err(Errno::EBUSY);
        }
        if attach.hwpt().is_some_and(|old| !old.same(hwpt)) {
            return Err(Errno::EINVAL);
        }
    }
    if let Some(paging) = resv {
        enforce_resv(&paging.ioas, idev)?;
    }
    if !g.attach.contains_key(&pasid) {
        let r = pasid_compat(&g, v, pasid).and_then(|()| {
            if pasid == NO_PASID {
                g.core_attach_rid(v.domain())
            } else {
                g.core_attach_pasid(v.domain(), pasid)
            }
        });
        if let Err(e) = r {
            if let Some(paging) = resv {
                paging.ioas.iopt.remove_reserved(resv_owner(idev));
            }
            return Err(e);
        }
    }
    let attached = Attached {
        hwpt: hwpt.clone(),
        idev: idev.object().clone(),
    };
    let handle_dev = idev.id;
    let attach = g.attach.entry(pasid).or_insert_with(|| Attach {
        handle_dev,
        ..Default::default()
    });
    attach.devices.insert(idev.id, attached);
    Ok(())
}

/// `iommufd_hw_pagetable_detach` and `iommufd_device_detach`: `false` if `pasid` had nothing.
pub(crate) fn detach_hwpt(ctx: &Context, idev: &Handle<Device>, pasid: u32) -> bool {
    let mut g = idev.group.lock();
    let Some(attach) = g.attach.get_mut(&pasid) else {
        return false;
    };
    let Some(gone) = attach.devices.remove(&idev.id) else {
        return false;
    };
    if attach.devices.is_empty() {
        let handle_dev = attach.handle_dev;
        g.attach.remove(&pasid);
        if pasid == NO_PASID {
            g.core_detach_rid();
        } else {
            g.core_detach_pasid(pasid);
        }
        // `iommufd_hwpt_detach_device`: faults still pending through this handle are refused.
        if let Some(fault) = view(&gone.hwpt).fault() {
            fault.auto_respond(FaultSource {
                dev_id: handle_dev,
                pasid,
            });
        }
    }
    if let Some(paging) = view(&gone.hwpt).paging().filter(|_| pasid == NO_PASID) {
        paging.ioas.iopt.remove_reserved(resv_owner(idev));
    }
    drop(g);
    let Attached { hwpt, idev } = gone;
    drop(idev);
    hwpt::put(ctx, hwpt);
    true
}

/// `iommufd_device_do_replace`: moves the group's devices at `pasid` to `hwpt`. Returns the
/// old HWPT's last reference for the caller to put.
fn replace_hwpt(
    hwpt: &ObjRef<Object>,
    idev: &Handle<Device>,
    pasid: u32,
) -> Result<Option<ObjRef<Object>>> {
    let v = view(hwpt);
    let mut g = idev.group.lock();
    let attach = g.attach.get(&pasid).ok_or(Errno::EINVAL)?;
    if !attach.devices.contains_key(&idev.id) {
        return Err(Errno::EINVAL);
    }
    let old = attach.hwpt().expect("an attach has devices").clone();
    if old.same(hwpt) {
        return Ok(None);
    }
    let old_paging = view(&old).paging().filter(|_| pasid == NO_PASID);
    let new_paging = v.paging().filter(|_| pasid == NO_PASID);
    let members: Vec<u32> = attach.devices.keys().copied().collect();
    // A move to another IOAS takes every attached device's reserved regions along
    // (`iommufd_group_do_replace_reserved_iova`, `iommufd_group_remove_reserved_iova`).
    let moves_ioas = |p: &crate::hwpt::HwptPaging| {
        old_paging.is_none_or(|o| !std::ptr::eq::<Ioas>(&*o.ioas, &*p.ioas))
    };
    let mut enforced = Vec::new();
    if let Some(p) = new_paging.filter(|p| moves_ioas(p)) {
        for &id in &members {
            let regions = g
                .devices
                .get(&id)
                .map(|d| resv_regions(d))
                .unwrap_or_default();
            if let Err(e) = p.ioas.iopt.reserve_all(&regions, u64::from(id)) {
                for &done in &enforced {
                    p.ioas.iopt.remove_reserved(u64::from(done));
                }
                return Err(e);
            }
            enforced.push(id);
        }
    }
    let r = pasid_compat(&g, v, pasid).and_then(|()| {
        if pasid == NO_PASID {
            g.core_replace_rid(v.domain())
        } else {
            g.core_replace_pasid(v.domain(), pasid)
        }
    });
    if let Err(e) = r {
        if let Some(p) = new_paging {
            for &done in &enforced {
                p.ioas.iopt.remove_reserved(u64::from(done));
            }
        }
        return Err(e);
    }
    if let Some(o) = old_paging.filter(|_| new_paging.is_none_or(moves_ioas)) {
        for &id in &members {
            o.ioas.iopt.remove_reserved(u64::from(id));
        }
    }
    let attach = g.attach.get_mut(&pasid).expect("still attached");
    // `iommufd_hwpt_replace_device`: the old handle's pending faults are refused.
    if let Some(fault) = view(&old).fault() {
        fault.auto_respond(FaultSource {
            dev_id: attach.handle_dev,
            pasid,
        });
    }
    attach.handle_dev = idev.id;
    let mut olds: Vec<ObjRef<Object>> = attach
        .devices
        .values_mut()
        .map(|a| std::mem::replace(&mut a.hwpt, hwpt.clone()))
        .collect();
    drop(g);
    let last = olds.pop();
    drop(olds);
    Ok(last)
}

fn resv_regions(dev: &PhysDevice) -> Vec<(u64, u64)> {
    dev.driver
        .reserved_regions(dev)
        .iter()
        .map(|r| (r.start, r.last))
        .collect()
}

/// Attach or replace (`attach_fn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Attach,
    Replace,
}

fn do_mode(
    ctx: &Context,
    mode: Mode,
    hwpt: &ObjRef<Object>,
    idev: &Handle<Device>,
    pasid: u32,
) -> Result<Option<ObjRef<Object>>> {
    match mode {
        Mode::Attach => attach_hwpt(ctx, hwpt, idev, pasid).map(|()| None),
        Mode::Replace => replace_hwpt(hwpt, idev, pasid),
    }
}

/// `iommufd_device_auto_get_domain`.
fn auto_get_domain(
    ctx: &Context,
    mode: Mode,
    ioas: &Handle<Ioas>,
    idev: &Handle<Device>,
    pasid: u32,
) -> Result<(u32, Option<ObjRef<Object>>)> {
    let _alloc = ioas.lock_alloc();
    let candidates: Vec<_> = ioas.lock_hwpts().clone();
    for listed in candidates {
        let Some(h) = listed.hwpt.upgrade() else {
            continue;
        };
        if !matches!(&*h, Object::HwptPaging(p) if p.is_auto()) {
            continue;
        }
        match do_mode(ctx, mode, &h, idev, pasid) {
            Err(Errno::EINVAL) => continue,
            Err(e) => return Err(e),
            Ok(old) => return Ok((h.id(), old)),
        }
    }
    let prepared = hwpt::alloc_paging(
        ctx,
        ioas,
        idev,
        pasid,
        hwpt::AllocFlags::NONE,
        mode == Mode::Attach,
        None,
    )?;
    let href = prepared.obj_ref();
    let old = if mode == Mode::Replace {
        replace_hwpt(&href, idev, pasid)?
    } else {
        None
    };
    if let Object::HwptPaging(p) = &*prepared {
        p.set_auto();
    }
    let id = prepared.id();
    prepared.finalize();
    Ok((id, old))
}

/// `iommufd_device_change_pt`: attach or replace `idev` at `pasid` to the object `pt_id` — a
/// HWPT, or an IOAS (through an automatic HWPT, whose ID is returned).
fn change_pt(
    ctx: &Context,
    mode: Mode,
    idev: &Handle<Device>,
    pasid: u32,
    pt_id: u32,
) -> Result<u32> {
    let pt = ctx.get_any(pt_id)?;
    let (id, old) = match &*pt {
        Object::HwptPaging(_) | Object::HwptNested(_) => {
            (pt_id, do_mode(ctx, mode, &pt, idev, pasid)?)
        }
        Object::Ioas(_) => {
            let ioas = Handle::<Ioas>::new(pt.clone()).expect("matched an IOAS");
            auto_get_domain(ctx, mode, &ioas, idev, pasid)?
        }
        _ => return Err(Errno::EINVAL),
    };
    drop(pt);
    if let Some(old) = old {
        hwpt::put(ctx, old);
    }
    Ok(id)
}

/// `iommufd_device_attach`: returns the ID of the HWPT attached (an automatic one for an IOAS).
pub fn attach(ctx: &Context, idev: &Handle<Device>, pasid: u32, pt_id: u32) -> Result<u32> {
    change_pt(ctx, Mode::Attach, idev, pasid, pt_id)
}

/// `iommufd_device_replace`.
pub fn replace(ctx: &Context, idev: &Handle<Device>, pasid: u32, pt_id: u32) -> Result<u32> {
    change_pt(ctx, Mode::Replace, idev, pasid, pt_id)
}

/// `iommufd_device_detach`.
pub fn detach(ctx: &Context, idev: &Handle<Device>, pasid: u32) {
    detach_hwpt(ctx, idev, pasid);
}

/// The PASIDs (`NO_PASID` for the RID) `idev` is attached at.
pub fn attached_pasids(idev: &Handle<Device>) -> Vec<u32> {
    let g = idev.group.lock();
    g.attach
        .iter()
        .filter(|(_, a)| a.devices.contains_key(&idev.id))
        .map(|(&pasid, _)| pasid)
        .collect()
}

/// The HWPT attached to `idev` at `pasid`, if any.
pub fn attached_hwpt(idev: &Handle<Device>, pasid: u32) -> Option<ObjRef<Object>> {
    let g = idev.group.lock();
    g.attach
        .get(&pasid)?
        .devices
        .get(&idev.id)
        .map(|a| a.hwpt.clone())
}

/// The domain `pasid` of `idev`'s group translates through now, as the iommu core records it
/// (`iommu_attach_handle_get`).
pub fn current_domain(idev: &Handle<Device>, pasid: u32) -> Option<Arc<dyn Domain>> {
    idev.group.lock().domain_of(pasid).cloned()
}

/// `iommu_report_device_fault` for a complete page request group of `idev`: delivered to the
/// fault queue of the HWPT the faulting PASID (or the RID) is attached to
/// (`find_fault_handler`). A PASID with no attachment of its own falls back to a nested domain
/// on the RID when the guest owns the PASID table. `EINVAL` if nothing takes the fault (the
/// kernel then answers the device itself).
pub fn report_page_fault(idev: &Handle<Device>, faults: Vec<PageRequest>) -> Result<()> {
    let first = faults.first().ok_or(Errno::EINVAL)?;
    let g = idev.group.lock();
    let attached = if first.flags & uiommu_uapi::iommufd::IOMMU_PGFAULT_FLAGS_PASID_VALID != 0 {
        match g.attach.get(&first.pasid) {
            Some(a) => Some((first.pasid, a)),
            None if idev.phys.driver.user_pasid_table() => g
                .attach
                .get(&NO_PASID)
                .filter(|a| {
                    a.hwpt()
                        .is_some_and(|h| matches!(HwptView::of(h), Some(HwptView::Nested(_))))
                })
                .map(|a| (NO_PASID, a)),
            None => None,
        }
    } else {
        g.attach.get(&NO_PASID).map(|a| (NO_PASID, a))
    };
    let (pasid, attach) = attached.ok_or(Errno::EINVAL)?;
    let hwpt = attach.hwpt().ok_or(Errno::EINVAL)?;
    let fault = view(hwpt).fault().ok_or(Errno::EINVAL)?.clone();
    let source = FaultSource {
        dev_id: attach.handle_dev,
        pasid,
    };
    drop(g);
    fault.deliver(FaultGroup { source, faults });
    Ok(())
}

/// A bound device is what the DMA engine's requests come from.
impl Requester for Handle<Device> {
    fn phys(&self) -> &PhysDevice {
        &self.phys
    }

    fn dev_id(&self) -> u32 {
        self.id
    }

    fn current_domain(&self, pasid: u32) -> Option<Arc<dyn Domain>> {
        current_domain(self, pasid)
    }

    fn report_page_fault(&self, faults: Vec<PageRequest>) -> Result<()> {
        report_page_fault(self, faults)
    }
}
