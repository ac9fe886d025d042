//! IOMMU groups (`device.c`'s `struct iommufd_group` and the iommu core's group domain state,
//! `drivers/iommu/iommu.c`): which domain each PASID of a group's devices translates through,
//! and which iommufd devices are attached to which HWPT.
//!
//! Two layers, as in the kernel: the iommu core sets domains on every device of the group and
//! reverts on failure (`__iommu_group_set_domain`, `__iommu_set_group_pasid`); iommufd keeps,
//! per PASID, the HWPT and the devices attached through it (`pasid_attach`).

use crate::iommu::PhysDevice;
use crate::iommu::domain::Domain;
use crate::object::Object;
use crate::object_table::ObjRef;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;

/// A device attached through an [`Attach`]: its references on the HWPT and on itself.
#[derive(Debug)]
pub(crate) struct Attached {
    pub(crate) hwpt: ObjRef<Object>,
    pub(crate) idev: ObjRef<Object>,
}

/// The devices of a group attached to one HWPT at one PASID (`struct iommufd_attach`).
#[derive(Debug, Default)]
pub(crate) struct Attach {
    /// By device object ID.
    pub(crate) devices: BTreeMap<u32, Attached>,
    /// The device the attach handle was made for (`handle->idev`): faults through this
    /// attachment are reported as its.
    pub(crate) handle_dev: u32,
}

impl Attach {
    /// The HWPT: every attached device holds a reference to the same one.
    pub(crate) fn hwpt(&self) -> Option<&ObjRef<Object>> {
        self.devices.values().next().map(|a| &a.hwpt)
    }
}

/// Everything behind a group's lock.
#[derive(Debug, Default)]
pub(crate) struct GroupState {
    /// The group's devices that are bound to this context, by device object ID.
    pub(crate) devices: BTreeMap<u32, Arc<PhysDevice>>,
    /// iommu core: the RID domain; `None` is the blocking domain a bound device starts in.
    rid_domain: Option<Arc<dyn Domain>>,
    /// iommu core: the domain of each PASID (`pasid_array`).
    pasid_domains: BTreeMap<u32, Arc<dyn Domain>>,
    /// iommufd: per PASID (`IOMMU_NO_PASID` for the RID), the attached HWPT and devices.
    pub(crate) attach: BTreeMap<u32, Attach>,
}

/// A group of devices that cannot be isolated from each other.
#[derive(Debug)]
pub struct Group {
    /// The iommu group ID.
    pub id: u32,
    state: Mutex<GroupState>,
}

fn same(a: &Arc<dyn Domain>, b: &Arc<dyn Domain>) -> bool {
    std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b))
}

fn max_pasids(dev: &PhysDevice) -> u64 {
    if dev.max_pasid_log2 == 0 {
        0
    } else {
        1u64 << dev.max_pasid_log2
    }
}

impl Group {
    pub(crate) fn new(id: u32) -> Self {
        Group {
            id,
            state: Mutex::new(GroupState::default()),
        }
    }

    /// `igroup->lock`.
    pub(crate) fn lock(&self) -> MutexGuard<'_, GroupState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl GroupState {
    fn first_device(&self) -> Result<&Arc<PhysDevice>> {
        self.devices.values().next().ok_or(Errno::ENODEV)
    }

    /// `__iommu_group_set_domain`: every device to `new`, back to the old domain on failure.
    fn set_rid_domain(&mut self, new: &Arc<dyn Domain>) -> Result<()> {
        let old = self.rid_domain.clone();
        let devices: Vec<_> = self.devices.values().cloned().collect();
        for (i, dev) in devices.iter().enumerate() {
            if let Err(e) = dev.driver.attach_dev(dev, new, old.as_ref()) {
                for done in &devices[..i] {
                    let back = old.clone().unwrap_or_else(|| done.driver.blocking_domain());
                    // Reverting to a domain the device was just in cannot fail in any model.
                    let _ = done.driver.attach_dev(done, &back, Some(new));
                }
                return Err(e);
            }
        }
        self.rid_domain = Some(new.clone());
        Ok(())
    }

    /// `iommu_attach_group_handle`: `EBUSY` if the group already has a domain of its own,
    /// `EINVAL` if the domain is another driver's.
    pub(crate) fn core_attach_rid(&mut self, domain: &Arc<dyn Domain>) -> Result<()> {
        if self.rid_domain.is_some() {
            return Err(Errno::EBUSY);
        }
        let dev = self.first_device()?;
        if !dev.driver.owns(domain.as_ref()) {
            return Err(Errno::EINVAL);
        }
        self.set_rid_domain(domain)
    }

    /// `iommu_replace_group_handle`.
    pub(crate) fn core_replace_rid(&mut self, domain: &Arc<dyn Domain>) -> Result<()> {
        let dev = self.first_device()?;
        if !dev.driver.owns(domain.as_ref()) {
            return Err(Errno::EINVAL);
        }
        self.set_rid_domain(domain)
    }

    /// `iommu_detach_group_handle`: back to the blocking domain.
    pub(crate) fn core_detach_rid(&mut self) {
        let old = self.rid_domain.take();
        for dev in self.devices.values() {
            let _ = dev
                .driver
                .attach_dev(dev, &dev.driver.blocking_domain(), old.as_ref());
        }
    }

    /// `__iommu_set_group_pasid`: every PASID-capable device to `domain`, reverting on failure.
    fn set_pasid(
        &self,
        domain: &Arc<dyn Domain>,
        pasid: u32,
        old: Option<&Arc<dyn Domain>>,
    ) -> Result<()> {
        let devices: Vec<_> = self
            .devices
            .values()
            .filter(|d| max_pasids(d) > 0)
            .cloned()
            .collect();
        for (i, dev) in devices.iter().enumerate() {
            if let Err(e) = dev.driver.set_dev_pasid(dev, pasid, domain, old) {
                for done in &devices[..i] {
                    let back = old
                        .cloned()
                        .unwrap_or_else(|| done.driver.blocking_domain());
                    let _ = done.driver.set_dev_pasid(done, pasid, &back, Some(domain));
                }
                return Err(e);
            }
        }
        Ok(())
    }

    /// `iommu_attach_device_pasid`.
    pub(crate) fn core_attach_pasid(&mut self, domain: &Arc<dyn Domain>, pasid: u32) -> Result<()> {
        let dev = self.first_device()?;
        if !dev.driver.owns(domain.as_ref()) || pasid == crate::iommu::NO_PASID {
            return Err(Errno::EINVAL);
        }
        if self
            .devices
            .values()
            .any(|d| max_pasids(d) > 0 && u64::from(pasid) >= max_pasids(d))
        {
            return Err(Errno::EINVAL);
        }
        if self.pasid_domains.contains_key(&pasid) {
            return Err(Errno::EBUSY);
        }
        self.set_pasid(domain, pasid, None)?;
        self.pasid_domains.insert(pasid, domain.clone());
        Ok(())
    }

    /// `iommu_replace_device_pasid`.
    pub(crate) fn core_replace_pasid(
        &mut self,
        domain: &Arc<dyn Domain>,
        pasid: u32,
    ) -> Result<()> {
        let dev = self.first_device()?;
        if !dev.driver.owns(domain.as_ref()) || pasid == crate::iommu::NO_PASID {
            return Err(Errno::EINVAL);
        }
        let curr = self
            .pasid_domains
            .get(&pasid)
            .cloned()
            .ok_or(Errno::EINVAL)?;
        if !same(&curr, domain) {
            self.set_pasid(domain, pasid, Some(&curr))?;
        }
        self.pasid_domains.insert(pasid, domain.clone());
        Ok(())
    }

    /// `iommu_detach_device_pasid`: the PASID back to the blocking domain.
    pub(crate) fn core_detach_pasid(&mut self, pasid: u32) {
        let old = self.pasid_domains.remove(&pasid);
        for dev in self.devices.values().filter(|d| max_pasids(d) > 0) {
            let blocking = dev.driver.blocking_domain();
            let _ = dev
                .driver
                .set_dev_pasid(dev, pasid, &blocking, old.as_ref());
        }
    }

    /// The domain a PASID translates through now, if any (the RID for `NO_PASID`).
    pub(crate) fn domain_of(&self, pasid: u32) -> Option<&Arc<dyn Domain>> {
        if pasid == crate::iommu::NO_PASID {
            self.rid_domain.as_ref()
        } else {
            self.pasid_domains.get(&pasid)
        }
    }
}
