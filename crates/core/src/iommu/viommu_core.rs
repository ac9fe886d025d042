//! The vIOMMU state iommufd keeps and offers the driver (`struct iommufd_viommu`'s `vdevs`
//! and `veventqs`; `drivers/iommu/iommufd/driver.c`: `iommufd_viommu_find_dev`,
//! `iommufd_viommu_get_vdev_id`, `iommufd_viommu_report_event`).

use super::PhysDevice;
use super::event_queue::EventQueue;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;

/// A slot of the virtual device table: reserved while the driver's `vdevice_init` runs.
#[derive(Debug)]
pub(crate) enum VdevSlot {
    Reserved,
    Live(Arc<PhysDevice>),
}

/// What a vIOMMU's driver state may keep and use: its virtual devices (`vdevs`) and its
/// vEVENTQs (`veventqs`, under `veventqs_rwsem`).
#[derive(Debug)]
pub struct ViommuCore {
    /// The `IOMMU_VIOMMU_TYPE_*`.
    pub viommu_type: u32,
    vdevs: Mutex<BTreeMap<u64, VdevSlot>>,
    veventqs: RwLock<Vec<Arc<EventQueue>>>,
}

impl ViommuCore {
    pub(crate) fn new(viommu_type: u32) -> Self {
        ViommuCore {
            viommu_type,
            vdevs: Mutex::new(BTreeMap::new()),
            veventqs: RwLock::new(Vec::new()),
        }
    }

    pub(crate) fn lock_vdevs(&self) -> MutexGuard<'_, BTreeMap<u64, VdevSlot>> {
        self.vdevs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn lock_veventqs(&self) -> RwLockWriteGuard<'_, Vec<Arc<EventQueue>>> {
        self.veventqs
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn read_veventqs(&self) -> RwLockReadGuard<'_, Vec<Arc<EventQueue>>> {
        self.veventqs.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn remove_veventq(&self, queue: &Arc<EventQueue>) {
        self.lock_veventqs().retain(|q| !Arc::ptr_eq(q, queue));
    }

    /// `iommufd_viommu_find_dev`: the device with virtual ID `vdev_id`.
    pub fn find_dev(&self, vdev_id: u64) -> Option<Arc<PhysDevice>> {
        match self.lock_vdevs().get(&vdev_id) {
            Some(VdevSlot::Live(dev)) => Some(dev.clone()),
            _ => None,
        }
    }

    /// `iommufd_viommu_get_vdev_id`: the virtual ID of `dev`; `ENOENT` if it has none here.
    pub fn get_vdev_id(&self, dev: &PhysDevice) -> Result<u64> {
        self.lock_vdevs()
            .iter()
            .find_map(|(&id, slot)| match slot {
                VdevSlot::Live(d) if std::ptr::eq(&**d, dev) => Some(id),
                _ => None,
            })
            .ok_or(Errno::ENOENT)
    }

    /// `iommufd_viommu_report_event`: `data` to the vEVENTQ of `veventq_type`. `EOPNOTSUPP`
    /// if there is none; `EINVAL` for no data.
    pub fn report_event(&self, veventq_type: u32, data: &[u8]) -> Result<()> {
        if data.is_empty() {
            return Err(Errno::EINVAL);
        }
        let queues = self.read_veventqs();
        let queue = queues
            .iter()
            .find(|q| q.veventq_type == veventq_type)
            .ok_or(Errno::EOPNOTSUPP)?;
        queue.report(data);
        Ok(())
    }
}
