//! vEVENTQ objects (`drivers/iommu/iommufd/eventq.c`: `struct iommufd_veventq`): a vIOMMU's
//! queue of events of one type ([`EventQueue`]), read through the object's fd.

use crate::context::{Context, Handle};
pub use crate::iommu::event_queue::EventQueue;
use crate::object::Object;
use crate::object_table::Prepared;
use crate::viommu::Viommu;
use std::sync::Arc;
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;

/// A vEVENTQ object (`IOMMUFD_OBJ_VEVENTQ`).
#[derive(Debug)]
pub struct Veventq {
    /// The vIOMMU (a user of it).
    pub viommu: Handle<Viommu>,
    /// The queue.
    pub queue: Arc<EventQueue>,
}

impl Drop for Veventq {
    /// `iommufd_veventq_destroy`: off the vIOMMU's list; pending events go with the queue.
    fn drop(&mut self) {
        self.viommu.core.remove_veventq(&self.queue);
    }
}

/// `iommufd_veventq_alloc` after the command checks (no flags, a type other than
/// `IOMMU_VEVENTQ_TYPE_DEFAULT`, a depth from 1 to `VEVENTQ_MAX_DEPTH`): a vEVENTQ of
/// `veventq_type` on `viommu_id`. `report` is given the unpublished object (to make its fd and
/// reply) while no other queue of the type can be added; the object is published only if it
/// succeeds.
pub fn alloc(
    ctx: &Context,
    viommu_id: u32,
    veventq_type: u32,
    depth: u32,
    report: impl FnOnce(&Prepared<'_, Object>) -> Result<()>,
) -> Result<()> {
    let viommu = ctx.get::<Viommu>(viommu_id)?;
    let mut list = viommu.core.lock_veventqs();
    if list.iter().any(|q| q.veventq_type == veventq_type) {
        return Err(Errno::EEXIST);
    }
    let pending = ctx.objects.reserve()?;
    let queue = Arc::new(EventQueue::new(veventq_type, depth));
    let prepared = pending.prepare(Object::Veventq(Veventq {
        viommu: viommu.clone(),
        queue: queue.clone(),
    }));
    list.push(queue);
    if let Err(e) = report(&prepared) {
        // The object leaves the list as it goes; let go of the list first.
        drop(list);
        drop(prepared);
        return Err(e);
    }
    drop(list);
    prepared.finalize();
    Ok(())
}
