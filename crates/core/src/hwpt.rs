//! HW page tables (`drivers/iommu/iommufd/hw_pagetable.c`): a domain wrapped as an object.
//! A paging HWPT is kept filled from its IOAS; a nested HWPT is a caller-owned stage 1 over a
//! nest-parent paging HWPT.

use crate::context::{Context, Handle};
use crate::device::Device;
use crate::fault::FaultQueue;
use crate::iommu::IoptDomain;
use crate::iommu::domain::{Domain, DomainType};
use crate::iommu::{Capability, DriverData};
use crate::object::{Ioas, Object};
use crate::object_table::{ObjRef, Prepared, WeakObj};
use crate::viommu::Viommu;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;
use uiommu_uapi::iommufd::{
    IOMMU_HWPT_ALLOC_DIRTY_TRACKING, IOMMU_HWPT_ALLOC_NEST_PARENT, IOMMU_HWPT_ALLOC_PASID,
};

/// An entry of an IOAS's HWPT list: the domain's identity and the HWPT, not counted as a user.
#[derive(Debug, Clone)]
pub(crate) struct Listed {
    key: usize,
    pub(crate) hwpt: WeakObj<Object>,
}

fn domain_key(d: &Arc<dyn Domain>) -> usize {
    Arc::as_ptr(d) as *const () as usize
}

/// A paging HWPT (`struct iommufd_hwpt_paging`).
#[derive(Debug)]
pub struct HwptPaging {
    /// The domain.
    pub domain: Arc<dyn Domain>,
    /// The IOAS it is filled from (a user of it).
    pub ioas: Handle<Ioas>,
    /// May be the parent of nested HWPTs.
    pub nest_parent: bool,
    /// May be attached to PASIDs (`IOMMU_HWPT_ALLOC_PASID`).
    pub pasid_compat: bool,
    /// Made by an attach to an IOAS, destroyed with its last device.
    auto_domain: AtomicBool,
    /// In the IOAS's list and domains: the IOAS fills it.
    listed: AtomicBool,
    /// The fault queue its I/O page faults go to (`hwpt->fault`).
    pub fault: OnceLock<Handle<FaultQueue>>,
}

impl HwptPaging {
    /// Whether this is an automatic domain.
    pub fn is_auto(&self) -> bool {
        self.auto_domain.load(Ordering::Acquire)
    }

    pub(crate) fn set_auto(&self) {
        self.auto_domain.store(true, Ordering::Release);
    }

    /// Takes the HWPT out of its IOAS: off the list, and its domain no longer filled.
    fn unlist(&self) {
        if self.listed.swap(false, Ordering::AcqRel) {
            let key = domain_key(&self.domain);
            self.ioas.lock_hwpts().retain(|l| l.key != key);
            self.ioas
                .iopt
                .remove_domain(&(self.domain.clone() as Arc<dyn IoptDomain>));
        }
    }
}

impl Drop for HwptPaging {
    /// `iommufd_hwpt_paging_destroy`.
    fn drop(&mut self) {
        self.unlist();
    }
}

/// A nested HWPT (`struct iommufd_hwpt_nested`).
#[derive(Debug)]
pub struct HwptNested {
    /// The domain.
    pub domain: Arc<dyn Domain>,
    /// The nest parent (a user of it; through the vIOMMU for one allocated on a vIOMMU).
    pub parent: Handle<HwptPaging>,
    /// The vIOMMU it was allocated on, if any (a user of it).
    pub viommu: Option<Handle<Viommu>>,
    /// May be attached to PASIDs.
    pub pasid_compat: bool,
    /// The fault queue its I/O page faults go to (`hwpt->fault`).
    pub fault: OnceLock<Handle<FaultQueue>>,
}

/// What a device can be attached to: either kind of HWPT.
#[derive(Debug, Clone, Copy)]
pub enum HwptView<'a> {
    /// A paging HWPT.
    Paging(&'a HwptPaging),
    /// A nested HWPT.
    Nested(&'a HwptNested),
}

impl<'a> HwptView<'a> {
    /// The HWPT in `obj`, if it is one.
    pub fn of(obj: &'a Object) -> Option<Self> {
        match obj {
            Object::HwptPaging(h) => Some(HwptView::Paging(h)),
            Object::HwptNested(h) => Some(HwptView::Nested(h)),
            _ => None,
        }
    }

    /// The domain.
    pub fn domain(self) -> &'a Arc<dyn Domain> {
        match self {
            HwptView::Paging(h) => &h.domain,
            HwptView::Nested(h) => &h.domain,
        }
    }

    /// Whether PASIDs may use it.
    pub fn pasid_compat(self) -> bool {
        match self {
            HwptView::Paging(h) => h.pasid_compat,
            HwptView::Nested(h) => h.pasid_compat,
        }
    }

    /// The fault queue, if the HWPT was allocated with one.
    pub fn fault(self) -> Option<&'a Handle<FaultQueue>> {
        match self {
            HwptView::Paging(h) => h.fault.get(),
            HwptView::Nested(h) => h.fault.get(),
        }
    }

    /// The paging HWPT, if it is one (`find_hwpt_paging` for our purposes: reserved regions
    /// follow the IOAS of a paging HWPT only).
    pub fn paging(self) -> Option<&'a HwptPaging> {
        match self {
            HwptView::Paging(h) => Some(h),
            HwptView::Nested(_) => None,
        }
    }
}

/// What an allocation's `IOMMU_HWPT_ALLOC_*` flags ask for. Which of them a target accepts
/// is known only once the target is found (`iommufd_hwpt_paging_alloc`,
/// `iommufd_hwpt_nested_alloc`, `iommufd_viommu_alloc_hwpt_nested`), so they are decided there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AllocFlags {
    /// `IOMMU_HWPT_ALLOC_NEST_PARENT`.
    pub nest_parent: bool,
    /// `IOMMU_HWPT_ALLOC_DIRTY_TRACKING`.
    pub dirty_tracking: bool,
    /// `IOMMU_HWPT_ALLOC_PASID`.
    pub pasid: bool,
    /// `IOMMU_HWPT_FAULT_ID_VALID`, with the fault queue's ID.
    pub fault_id: Option<u32>,
    /// A flag no allocation knows: `EOPNOTSUPP` whatever the target.
    pub unknown: bool,
}

impl AllocFlags {
    /// No flag.
    pub const NONE: Self = Self {
        nest_parent: false,
        dirty_tracking: false,
        pasid: false,
        fault_id: None,
        unknown: false,
    };
    /// `IOMMU_HWPT_ALLOC_NEST_PARENT` alone.
    pub const NEST_PARENT: Self = Self {
        nest_parent: true,
        ..Self::NONE
    };

    /// The flags the driver's `domain_alloc_*` is given: all but `IOMMU_HWPT_FAULT_ID_VALID`.
    fn driver_flags(self) -> u32 {
        let mut flags = 0;
        if self.nest_parent {
            flags |= IOMMU_HWPT_ALLOC_NEST_PARENT;
        }
        if self.dirty_tracking {
            flags |= IOMMU_HWPT_ALLOC_DIRTY_TRACKING;
        }
        if self.pasid {
            flags |= IOMMU_HWPT_ALLOC_PASID;
        }
        flags
    }

    /// Whether a nested allocation takes them: PASID and a fault queue only.
    fn nested_ok(self) -> bool {
        !(self.unknown || self.nest_parent || self.dirty_tracking)
    }
}

/// `iommufd_hwpt_paging_alloc`: a paging HWPT for `idev` on `ioas`, unpublished. With
/// `immediate_attach` the device is attached (to `pasid`) before the IOAS fills the domain, as
/// an attach to an IOAS does. The caller holds the IOAS's allocation lock.
pub(crate) fn alloc_paging<'c>(
    ctx: &'c Context,
    ioas: &Handle<Ioas>,
    idev: &Handle<Device>,
    pasid: u32,
    flags: AllocFlags,
    immediate_attach: bool,
    data: Option<DriverData<'_>>,
) -> Result<Prepared<'c, Object>> {
    let dev = &idev.phys;
    if flags.unknown {
        return Err(Errno::EOPNOTSUPP);
    }
    if flags.dirty_tracking && !dev.driver.capable(dev, Capability::DirtyTracking) {
        return Err(Errno::EOPNOTSUPP);
    }
    if flags.fault_id.is_some() && flags.nest_parent {
        return Err(Errno::EOPNOTSUPP);
    }
    let pending = ctx.objects.reserve()?;
    let domain = dev
        .driver
        .domain_alloc_paging(dev, flags.driver_flags(), data)?;
    let prepared = pending.prepare(Object::HwptPaging(HwptPaging {
        domain: domain.clone(),
        ioas: ioas.clone(),
        nest_parent: flags.nest_parent,
        pasid_compat: flags.pasid,
        auto_domain: AtomicBool::new(false),
        listed: AtomicBool::new(false),
        fault: OnceLock::new(),
    }));
    let hwpt_ref = prepared.obj_ref();
    if immediate_attach {
        crate::device::attach_hwpt(ctx, &hwpt_ref, idev, pasid)?;
    }
    if let Err(e) = ioas.iopt.add_domain(domain.clone() as Arc<dyn IoptDomain>) {
        if immediate_attach {
            crate::device::detach_hwpt(ctx, idev, pasid);
        }
        return Err(e);
    }
    let Object::HwptPaging(hwpt) = &*prepared else {
        unreachable!("built as paging")
    };
    hwpt.listed.store(true, Ordering::Release);
    ioas.lock_hwpts().push(Listed {
        key: domain_key(&domain),
        hwpt: hwpt_ref.downgrade(),
    });
    Ok(prepared)
}

/// `iommufd_hwpt_nested_alloc`: a nested HWPT for `idev` over `parent`, unpublished.
pub(crate) fn alloc_nested<'c>(
    ctx: &'c Context,
    parent: &Handle<HwptPaging>,
    idev: &Handle<Device>,
    flags: AllocFlags,
    data: DriverData<'_>,
) -> Result<Prepared<'c, Object>> {
    let dev = &idev.phys;
    if !flags.nested_ok() || data.data.len == 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    if parent.is_auto() || !parent.nest_parent || !dev.driver.owns(parent.domain.as_ref()) {
        return Err(Errno::EINVAL);
    }
    let pending = ctx.objects.reserve()?;
    let domain = dev
        .driver
        .domain_alloc_nested(dev, &parent.domain, flags.driver_flags(), data)
        .unwrap_or(Err(Errno::EOPNOTSUPP))?;
    Ok(pending.prepare(Object::HwptNested(HwptNested {
        domain,
        parent: parent.clone(),
        viommu: None,
        pasid_compat: flags.pasid,
        fault: OnceLock::new(),
    })))
}

/// `iommufd_viommu_alloc_hwpt_nested`: a nested HWPT from `viommu`'s driver, over the
/// vIOMMU's nest parent, unpublished.
fn alloc_viommu_nested<'c>(
    ctx: &'c Context,
    viommu: &Handle<Viommu>,
    flags: AllocFlags,
    data: DriverData<'_>,
) -> Result<Prepared<'c, Object>> {
    if !flags.nested_ok() || data.data.len == 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    // A driver without `alloc_domain_nested` answers `None`: the reserved ID is given back.
    let ops = viommu.ops().ok_or(Errno::EOPNOTSUPP)?;
    let pending = ctx.objects.reserve()?;
    let domain = ops
        .alloc_domain_nested(flags.driver_flags(), data)
        .unwrap_or(Err(Errno::EOPNOTSUPP))?;
    if domain.domain_type() != DomainType::Nested {
        return Err(Errno::EOPNOTSUPP);
    }
    Ok(pending.prepare(Object::HwptNested(HwptNested {
        domain,
        parent: viommu.hwpt.clone(),
        viommu: Some(viommu.clone()),
        pasid_compat: flags.pasid,
        fault: OnceLock::new(),
    })))
}

/// `iommufd_hw_pagetable_put`: gives back a device's reference; an automatic domain goes
/// with its last device.
pub(crate) fn put(ctx: &Context, hwpt: ObjRef<Object>) {
    let auto = matches!(&*hwpt, Object::HwptPaging(h) if h.is_auto());
    if auto {
        if let Ok(obj) = ctx.objects.remove_ref(hwpt, false) {
            obj.body().destroy(ctx);
        }
    }
}

/// `iommufd_hwpt_alloc` after the command checks: a HWPT for `idev` on `pt_id` (an IOAS for a
/// paging HWPT, a nest-parent paging HWPT or a vIOMMU for a nested one), with the fault queue
/// of `flags.fault_id` if any. `report` is given the new ID and must succeed (the ioctl's
/// reply) before the HWPT is published; otherwise it is destroyed.
pub fn alloc_user(
    ctx: &Context,
    idev: &Handle<Device>,
    pt_id: u32,
    flags: AllocFlags,
    data: DriverData<'_>,
    report: impl FnOnce(u32) -> Result<()>,
) -> Result<()> {
    // Any lookup failure of the target is EINVAL here, not ENOENT.
    let pt = ctx.get_any(pt_id).map_err(|_| Errno::EINVAL)?;
    let ioas = Handle::<Ioas>::new(pt.clone());
    let _alloc = ioas.as_ref().map(|i| i.lock_alloc());
    let prepared = match (&ioas, Handle::<HwptPaging>::new(pt.clone())) {
        (Some(ioas), _) => {
            let data = (data.data.len != 0).then_some(data);
            alloc_paging(ctx, ioas, idev, crate::iommu::NO_PASID, flags, false, data)?
        }
        (None, Some(parent)) => alloc_nested(ctx, &parent, idev, flags, data)?,
        (None, None) => match Handle::<Viommu>::new(pt.clone()) {
            Some(viommu) => {
                if !crate::iommu::same_iommu(&viommu.driver, &idev.phys.driver) {
                    return Err(Errno::EINVAL);
                }
                alloc_viommu_nested(ctx, &viommu, flags, data)?
            }
            None => return Err(Errno::EINVAL),
        },
    };
    if let Some(fault_id) = flags.fault_id {
        // `iommufd_get_fault`: only a fault queue will do (ENOENT otherwise).
        let fault = ctx.get::<FaultQueue>(fault_id)?;
        let slot = match HwptView::of(&prepared) {
            Some(HwptView::Paging(h)) => &h.fault,
            Some(HwptView::Nested(h)) => &h.fault,
            None => unreachable!("built a HWPT"),
        };
        let _ = slot.set(fault);
    }
    report(prepared.id())?;
    prepared.finalize();
    Ok(())
}
