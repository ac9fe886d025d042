//! The selftest mock's vIOMMU (`drivers/iommu/iommufd/selftest.c`: `struct mock_viommu`): an
//! optional two-page region the caller maps (its first word loops back `in_data`), nested
//! domains that know their vIOMMU, invalidation of its virtual devices' caches, and up to
//! `IOMMU_TEST_HW_QUEUE_MAX` HW queues, each after the previous index and depending on it.

use super::domain::MockNestedDomain;
use super::{MockDev, MockDriver};
use crate::driver::skeleton::invalidate::all_entries;
use crate::iommu::DriverData;
use crate::iommu::domain::Domain;
use crate::iommu::viommu::{HwQueueInit, HwQueueState, ViommuInit, ViommuOps};
use crate::iommu::viommu_core::ViommuCore;
use crate::mmap::{MmapRegistry, MmioPages};
use crate::object_table::{AnyObjRef, AnyWeakObj, WeakObj};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use uiommu_uapi::copy::{UserDataArray, read_user_data, write_user_data};
use uiommu_uapi::errno::Result;
use uiommu_uapi::selftest::{
    IOMMU_HW_QUEUE_TYPE_SELFTEST, IOMMU_TEST_HW_QUEUE_MAX, IOMMU_TEST_INVALIDATE_FLAG_ALL,
    IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST, IOMMU_VIOMMU_TYPE_SELFTEST,
    IommuViommuInvalidateSelftest, IommuViommuSelftest, MOCK_DEV_CACHE_ID_MAX, MOCK_DEV_CACHE_NUM,
};
use uiommu_uapi::{Errno, UserMemory, offset_of_end};

/// Pages of the mmap region.
const MMAP_PAGES: usize = 2;

/// The mmap region: its memory and where it is registered.
#[derive(Debug)]
struct Mmap {
    registry: Weak<MmapRegistry>,
    offset: u64,
}

impl Drop for Mmap {
    /// `iommufd_viommu_destroy_mmap`.
    fn drop(&mut self) {
        if let Some(r) = self.registry.upgrade() {
            r.destroy(self.offset);
        }
    }
}

/// A mock vIOMMU (`struct mock_viommu`).
#[derive(Debug)]
pub struct MockViommu {
    core: Arc<ViommuCore>,
    /// `s2_parent`.
    parent: Arc<dyn Domain>,
    /// `hw_queue[]` under `queue_mutex`: the queue objects by index, not counted.
    queues: Mutex<[Option<AnyWeakObj>; IOMMU_TEST_HW_QUEUE_MAX as usize]>,
    mmap: Option<Mmap>,
}

/// A mock HW queue's state (`struct mock_hw_queue`).
#[derive(Debug)]
struct MockHwQueue {
    index: usize,
    /// The previous index's queue, kept in use (`iommufd_hw_queue_depend`).
    _prev: Option<AnyObjRef>,
}

impl MockViommu {
    /// `mock_viommu_init`: with data, reads `in_data`, registers the region and reports
    /// `out_data`, `out_mmap_offset` and `out_mmap_length`.
    pub(super) fn new(init: &ViommuInit<'_>) -> Result<Self> {
        let mut mmap = None;
        if let Some(data) = &init.data {
            let mut cfg: IommuViommuSelftest = read_user_data(
                &data.mem,
                &data.data,
                IOMMU_VIOMMU_TYPE_SELFTEST,
                offset_of_end!(IommuViommuSelftest, out_data),
            )?;
            let pages = Arc::new(MmioPages::new(MMAP_PAGES));
            pages.write(0, &cfg.in_data.to_ne_bytes())?;
            let offset = init.mmaps.alloc(init.owner, pages.clone())?;
            let region = Mmap {
                registry: Arc::downgrade(init.mmaps),
                offset,
            };
            cfg.out_data = cfg.in_data;
            cfg.out_mmap_offset = offset;
            cfg.out_mmap_length = pages.len();
            // On failure the region is unregistered as `region` goes.
            write_user_data(
                &data.mem,
                &data.data,
                &cfg,
                IOMMU_VIOMMU_TYPE_SELFTEST,
                offset_of_end!(IommuViommuSelftest, out_data),
            )?;
            mmap = Some(region);
        }
        Ok(MockViommu {
            core: init.core.clone(),
            parent: init.parent.clone(),
            queues: Mutex::new(Default::default()),
            mmap,
        })
    }

    fn lock_queues(
        &self,
    ) -> MutexGuard<'_, [Option<AnyWeakObj>; IOMMU_TEST_HW_QUEUE_MAX as usize]> {
        self.queues.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One `iommu_viommu_invalidate_selftest` request.
    fn invalidate_one(&self, inv: &IommuViommuInvalidateSelftest) -> Result<()> {
        if inv.flags & !IOMMU_TEST_INVALIDATE_FLAG_ALL != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        if inv.cache_id > MOCK_DEV_CACHE_ID_MAX {
            return Err(Errno::EINVAL);
        }
        let dev = self
            .core
            .find_dev(u64::from(inv.vdev_id))
            .ok_or(Errno::EINVAL)?;
        let mdev = dev.state::<MockDev>().ok_or(Errno::EINVAL)?;
        let mut cache = mdev.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if inv.flags & IOMMU_TEST_INVALIDATE_FLAG_ALL != 0 {
            *cache = [0; MOCK_DEV_CACHE_NUM as usize];
        } else {
            cache[inv.cache_id as usize] = 0;
        }
        Ok(())
    }
}

impl ViommuOps for MockViommu {
    /// `mock_viommu_alloc_domain_nested`.
    fn alloc_domain_nested(
        &self,
        flags: u32,
        data: DriverData<'_>,
    ) -> Option<Result<Arc<dyn Domain>>> {
        Some((|| {
            if flags & !uiommu_uapi::iommufd::IOMMU_HWPT_ALLOC_PASID != 0 {
                return Err(Errno::EOPNOTSUPP);
            }
            // `__mock_domain_alloc_nested`.
            if data.data.data_type != uiommu_uapi::selftest::IOMMU_HWPT_DATA_SELFTEST {
                return Err(Errno::EOPNOTSUPP);
            }
            let cfg = MockDriver::selftest_data(&data)?;
            Ok(
                Arc::new(MockNestedDomain::new(cfg.iotlb, Some(self.core.clone())))
                    as Arc<dyn Domain>,
            )
        })())
    }

    /// `mock_viommu_cache_invalidate`: an empty array of the right type only checks the type;
    /// otherwise every request is read first, then run in order until one fails.
    fn cache_invalidate(
        &self,
        requests: &UserDataArray,
        mem: &dyn UserMemory,
    ) -> Option<(u32, Result<()>)> {
        if requests.entry_num == 0 && requests.data_type == IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST {
            return Some((0, Ok(())));
        }
        Some(all_entries(
            requests,
            mem,
            IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST,
            |i, all: &[IommuViommuInvalidateSelftest]| self.invalidate_one(&all[i]),
        ))
    }

    /// `mock_viommu_get_hw_queue_size`.
    fn hw_queue_supported(&self, queue_type: u32) -> bool {
        queue_type == IOMMU_HW_QUEUE_TYPE_SELFTEST
    }

    /// `mock_hw_queue_init_phys`: `EINVAL` past the last index, `EEXIST` for a taken one,
    /// `EIO` without the previous index, `EFAULT` if the physical address is not what the
    /// nest parent translates the queue's IOVA to.
    fn hw_queue_init_phys(&self, q: &HwQueueInit<'_>) -> Result<HwQueueState> {
        if q.index >= IOMMU_TEST_HW_QUEUE_MAX {
            return Err(Errno::EINVAL);
        }
        let index = q.index as usize;
        let mut queues = self.lock_queues();
        if queues[index].is_some() {
            return Err(Errno::EEXIST);
        }
        let prev = match index.checked_sub(1) {
            Some(p) => Some(
                queues[p]
                    .as_ref()
                    .and_then(WeakObj::upgrade)
                    .ok_or(Errno::EIO)?,
            ),
            None => None,
        };
        if self.parent.iova_to_phys(q.base_iova) != Some(q.base_pa) {
            return Err(Errno::EFAULT);
        }
        queues[index] = Some(q.obj.downgrade());
        Ok(Box::new(MockHwQueue { index, _prev: prev }))
    }

    /// `mock_hw_queue_destroy`: frees the index and the dependency on the previous queue.
    fn hw_queue_destroy(&self, state: HwQueueState) {
        if let Ok(q) = state.downcast::<MockHwQueue>() {
            self.lock_queues()[q.index] = None;
        }
    }
}

impl Drop for MockViommu {
    /// `mock_viommu_destroy`: the region is unregistered with `mmap`.
    fn drop(&mut self) {
        self.mmap.take();
    }
}
