//! The kinds of objects a context holds (`enum iommufd_object_type`) and what destroying each
//! one involves beyond releasing its references.

use crate::access::Access;
use crate::context::{Context, Handle, Kind};
use crate::device::Device;
use crate::fault::FaultQueue;
use crate::hw_queue::HwQueue;
use crate::hwpt::{HwptNested, HwptPaging};
use crate::ioas::IoPagetable;
use crate::selftest::SelftestDevice;
use crate::vdevice::Vdevice;
use crate::veventq::Veventq;
use crate::viommu::Viommu;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// An object in a context.
#[derive(Debug)]
pub enum Object {
    /// `IOMMUFD_OBJ_IOAS`.
    Ioas(Ioas),
    /// `IOMMUFD_OBJ_HWPT_PAGING`.
    HwptPaging(HwptPaging),
    /// `IOMMUFD_OBJ_HWPT_NESTED`.
    HwptNested(HwptNested),
    /// `IOMMUFD_OBJ_DEVICE`.
    Device(Device),
    /// `IOMMUFD_OBJ_SELFTEST`: a mock device created by `IOMMU_TEST_OP_MOCK_DOMAIN`.
    Selftest(SelftestDevice),
    /// `IOMMUFD_OBJ_ACCESS`.
    Access(Access),
    /// `IOMMUFD_OBJ_FAULT`.
    Fault(FaultQueue),
    /// `IOMMUFD_OBJ_VIOMMU`.
    Viommu(Viommu),
    /// `IOMMUFD_OBJ_VDEVICE`.
    Vdevice(Vdevice),
    /// `IOMMUFD_OBJ_VEVENTQ`.
    Veventq(Veventq),
    /// `IOMMUFD_OBJ_HW_QUEUE`.
    HwQueue(HwQueue),
}

impl Object {
    /// Work a removed object must do with its context before its references go (the kernel's
    /// `destroy` ops that call back into iommufd, e.g. a mock device unbinding its device).
    pub fn destroy(&self, ctx: &Context) {
        match self {
            Object::Selftest(s) => s.destroy(ctx),
            Object::HwQueue(q) => q.destroy(ctx),
            _ => {}
        }
    }
}

/// An I/O address space object (`struct iommufd_ioas`).
#[derive(Default)]
pub struct Ioas {
    /// Its translation state.
    pub iopt: IoPagetable,
    /// `hwpt_list`: the paging HWPTs built on this IOAS. Its lock is held only briefly, so
    /// that dropping a HWPT (which leaves the list) can happen anywhere.
    hwpts: Mutex<Vec<crate::hwpt::Listed>>,
    /// `ioas->mutex`: serializes HWPT allocation and the auto-domain search, so that two
    /// attaches cannot both decide to allocate.
    alloc: Mutex<()>,
}

impl Ioas {
    /// The HWPT list.
    pub(crate) fn lock_hwpts(&self) -> MutexGuard<'_, Vec<crate::hwpt::Listed>> {
        self.hwpts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The paging HWPTs built on this IOAS that are still live, in creation order.
    pub fn paging_hwpts(&self) -> Vec<Handle<HwptPaging>> {
        let listed = self.lock_hwpts().clone();
        listed
            .iter()
            .filter_map(|l| l.hwpt.upgrade())
            .filter_map(Handle::new)
            .collect()
    }

    /// `ioas->mutex`.
    pub(crate) fn lock_alloc(&self) -> MutexGuard<'_, ()> {
        self.alloc.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::fmt::Debug for Ioas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ioas")
            .field("areas", &self.iopt.areas().len())
            .finish_non_exhaustive()
    }
}

macro_rules! kind {
    ($variant:ident, $ty:ty) => {
        impl Kind for $ty {
            fn of(obj: &Object) -> Option<&Self> {
                match obj {
                    Object::$variant(x) => Some(x),
                    _ => None,
                }
            }
        }
    };
}

kind!(Ioas, Ioas);
kind!(HwptPaging, HwptPaging);
kind!(HwptNested, HwptNested);
kind!(Device, Device);
kind!(Selftest, SelftestDevice);
kind!(Access, Access);
kind!(Fault, FaultQueue);
kind!(Viommu, Viommu);
kind!(Vdevice, Vdevice);
kind!(Veventq, Veventq);
kind!(HwQueue, HwQueue);
