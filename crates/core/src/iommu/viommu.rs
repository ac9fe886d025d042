//! A driver's vIOMMU hooks (`include/linux/iommufd.h`: `struct iommufd_viommu_ops`, and the
//! `get_viommu_size`/`viommu_init` members of `struct iommu_ops`).
//!
//! [`super::IommuDriver::viommu_init`] returns the per-vIOMMU state as a [`ViommuOps`] object:
//! the kernel's driver structure that embeds `struct iommufd_viommu` together with its ops.
//! Every hook defaults to "not provided", which the core reports as `EOPNOTSUPP`.

use super::{DriverData, PhysDevice};
use crate::iommu::domain::Domain;
use crate::iommu::viommu_core::ViommuCore;
use crate::mmap::MmapRegistry;
use crate::object_table::AnyObjRef;
use std::any::Any;
use std::fmt::Debug;
use std::sync::Arc;
use uiommu_uapi::copy::UserDataArray;
use uiommu_uapi::errno::Result;
use uiommu_uapi::{Errno, UserMemory};

/// What `viommu_init` is given.
#[derive(Debug)]
pub struct ViommuInit<'a> {
    /// The `IOMMU_VIOMMU_TYPE_*` the caller asked for.
    pub viommu_type: u32,
    /// The core state the driver may keep: virtual devices and event reporting.
    pub core: &'a Arc<ViommuCore>,
    /// The vIOMMU object itself, not yet published: the owner of mmap regions.
    pub owner: &'a AnyObjRef,
    /// The context's mmap regions (`iommufd_viommu_alloc_mmap`).
    pub mmaps: &'a Arc<MmapRegistry>,
    /// The nest parent's domain (stage 2).
    pub parent: &'a Arc<dyn Domain>,
    /// The caller's driver data, if any (`data_len` non-zero).
    pub data: Option<DriverData<'a>>,
}

/// What `hw_queue_init_phys` is given.
#[derive(Debug)]
pub struct HwQueueInit<'a> {
    /// The HW queue object itself, not yet published (for `iommufd_hw_queue_depend`).
    pub obj: &'a AnyObjRef,
    /// The `IOMMU_HW_QUEUE_TYPE_*`.
    pub queue_type: u32,
    /// The queue's index on the vIOMMU.
    pub index: u32,
    /// The queue's base as an IOVA of the nest parent (`base_addr`).
    pub base_iova: u64,
    /// Bytes of queue memory.
    pub length: u64,
    /// The queue's base as a physical (here: host) address, its pages pinned.
    pub base_pa: u64,
}

/// A driver's state for one HW queue, given back to [`ViommuOps::hw_queue_destroy`].
pub type HwQueueState = Box<dyn Any + Send + Sync>;

/// A driver's vIOMMU (`struct iommufd_viommu_ops` and the driver's own data). Dropping it is
/// the `destroy` op.
pub trait ViommuOps: Send + Sync + Debug {
    /// `alloc_domain_nested`: a nested domain on this vIOMMU. `None` if not provided.
    fn alloc_domain_nested(
        &self,
        _flags: u32,
        _data: DriverData<'_>,
    ) -> Option<Result<Arc<dyn Domain>>> {
        None
    }

    /// `cache_invalidate`: runs the caller's requests in order; returns how many were handled
    /// with the outcome. `None` if not provided.
    fn cache_invalidate(
        &self,
        _requests: &UserDataArray,
        _mem: &dyn UserMemory,
    ) -> Option<(u32, Result<()>)> {
        None
    }

    /// `vdevice_init`: accepts `dev` as virtual device `virt_id`.
    fn vdevice_init(&self, _dev: &Arc<PhysDevice>, _virt_id: u64) -> Result<()> {
        Ok(())
    }

    /// The vDEVICE's `destroy`: undoes a successful [`Self::vdevice_init`].
    fn vdevice_destroy(&self, _dev: &Arc<PhysDevice>, _virt_id: u64) {}

    /// `get_hw_queue_size` is non-zero (and `hw_queue_init_phys` provided) for `queue_type`.
    fn hw_queue_supported(&self, _queue_type: u32) -> bool {
        false
    }

    /// `hw_queue_init_phys`: sets up a HW queue over pinned, contiguous memory.
    fn hw_queue_init_phys(&self, _queue: &HwQueueInit<'_>) -> Result<HwQueueState> {
        Err(Errno::EOPNOTSUPP)
    }

    /// The HW queue's `destroy`, with the state [`Self::hw_queue_init_phys`] returned.
    fn hw_queue_destroy(&self, _state: HwQueueState) {}
}
