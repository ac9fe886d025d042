//! HW queues (`drivers/iommu/iommufd/viommu.c`: `struct iommufd_hw_queue`): a queue of a
//! vIOMMU that the hardware reads from guest memory by physical address. Its memory is an IOVA
//! range of the nest parent's IOAS, pinned by an internal access for the queue's life, so the
//! range cannot be unmapped (`EBUSY`) while the queue exists; its pages must be physically
//! contiguous.

use crate::access::{self, Access};
use crate::context::{Context, Handle};
use crate::ioas::PAGE_SIZE;
use crate::iommu::viommu::{HwQueueInit, HwQueueState};
use crate::object::Object;
use crate::object_table::ObjRef;
use crate::viommu::Viommu;
use std::sync::{Mutex, MutexGuard, PoisonError};
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;

/// The internal access pinning a queue's memory and the page-aligned range it pinned.
#[derive(Debug)]
struct Pinned {
    access: ObjRef<Object>,
    iova: u64,
    length: u64,
}

impl Pinned {
    /// `iommufd_hw_queue_destroy_access`: unpin, detach, destroy.
    fn release(self, ctx: &Context) {
        if let Some(a) = Handle::<Access>::new(self.access.clone()) {
            a.unpin_pages(self.iova, self.length);
            a.detach();
        }
        access::destroy(ctx, self.access);
    }
}

/// A HW queue (`IOMMUFD_OBJ_HW_QUEUE`).
pub struct HwQueue {
    /// The vIOMMU (a user of it).
    pub viommu: Handle<Viommu>,
    /// The `IOMMU_HW_QUEUE_TYPE_*`.
    pub queue_type: u32,
    /// The queue's base as an IOVA of the nest parent (`base_addr`).
    pub base_addr: u64,
    /// Bytes of queue memory.
    pub length: u64,
    pinned: Mutex<Option<Pinned>>,
    state: Mutex<Option<HwQueueState>>,
}

impl std::fmt::Debug for HwQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HwQueue")
            .field("type", &self.queue_type)
            .field("base_addr", &self.base_addr)
            .field("length", &self.length)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl HwQueue {
    /// `iommufd_hw_queue_destroy`: the driver's `destroy`, then the pinned memory is let go.
    pub(crate) fn destroy(&self, ctx: &Context) {
        if let Some(state) = lock(&self.state).take() {
            if let Some(ops) = self.viommu.ops() {
                ops.hw_queue_destroy(state);
            }
        }
        let pinned = lock(&self.pinned).take();
        if let Some(p) = pinned {
            p.release(ctx);
        }
    }
}

/// `iommufd_hw_queue_alloc_phys`: pins `iova..iova+length` of the nest parent's IOAS through a
/// new internal access and returns it with the physical address of `iova`. `ERANGE` if the
/// page-rounded range overflows; the access's pin errors; `EFAULT` if the pages are not
/// contiguous.
fn alloc_phys(ctx: &Context, viommu: &Viommu, iova: u64, length: u64) -> Result<(Pinned, u64)> {
    let aligned = iova & !(PAGE_SIZE - 1);
    let offset = iova - aligned;
    let rounded = offset
        .checked_add(length)
        .and_then(|l| l.checked_add(PAGE_SIZE - 1))
        .ok_or(Errno::ERANGE)?;
    let length = rounded / PAGE_SIZE * PAGE_SIZE;
    let access = access::create_internal(ctx)?;
    let Some(handle) = Handle::<Access>::new(access.clone()) else {
        unreachable!("made an access")
    };
    let pages = handle
        .attach_internal(viommu.hwpt.ioas.clone())
        .and_then(|()| handle.pin_pages(aligned, length, false));
    let pinned = Pinned {
        access,
        iova: aligned,
        length,
    };
    let pages = match pages {
        Ok(p) => p,
        Err(e) => {
            handle.detach();
            drop(handle);
            access::destroy(ctx, pinned.access);
            return Err(e);
        }
    };
    drop(handle);
    let contiguous = pages
        .windows(2)
        .all(|w| w[0].checked_add(PAGE_SIZE) == Some(w[1]));
    match pages.first() {
        Some(&first) if contiguous => Ok((pinned, first + offset)),
        _ => {
            pinned.release(ctx);
            Err(Errno::EFAULT)
        }
    }
}

/// `iommufd_hw_queue_alloc_ioctl` after the command checks (no flags, a type other than
/// `IOMMU_HW_QUEUE_TYPE_DEFAULT`, a non-empty range that does not wrap): a HW queue of
/// `queue_type` at `index` of `viommu_id`, on `iova..iova+length` of the nest parent. `report`
/// is given the new ID and must succeed (the reply) before the queue is published.
pub fn alloc(
    ctx: &Context,
    viommu_id: u32,
    queue_type: u32,
    index: u32,
    iova: u64,
    length: u64,
    report: impl FnOnce(u32) -> Result<()>,
) -> Result<()> {
    let viommu = ctx.get::<Viommu>(viommu_id)?;
    let ops = viommu.ops().ok_or(Errno::EOPNOTSUPP)?;
    if !ops.hw_queue_supported(queue_type) {
        return Err(Errno::EOPNOTSUPP);
    }
    let pending = ctx.objects.reserve()?;
    let (pinned, base_pa) = alloc_phys(ctx, &viommu, iova, length)?;
    let prepared = pending.prepare(Object::HwQueue(HwQueue {
        viommu: viommu.clone(),
        queue_type,
        base_addr: iova,
        length,
        pinned: Mutex::new(Some(pinned)),
        state: Mutex::new(None),
    }));
    let obj = prepared.obj_ref().erase();
    let state = ops.hw_queue_init_phys(&HwQueueInit {
        obj: &obj,
        queue_type,
        index,
        base_iova: iova,
        length,
        base_pa,
    });
    drop(obj);
    let Object::HwQueue(queue) = &*prepared else {
        unreachable!("built a HW queue")
    };
    let r = state.and_then(|s| {
        *lock(&queue.state) = Some(s);
        report(prepared.id())
    });
    if let Err(e) = r {
        queue.destroy(ctx);
        return Err(e);
    }
    prepared.finalize();
    Ok(())
}
