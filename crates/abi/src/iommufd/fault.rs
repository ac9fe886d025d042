//! IOMMU_FAULT_QUEUE_ALLOC (`drivers/iommu/iommufd/eventq.c`: `iommufd_fault_alloc`): a fault
//! queue and its fd, whose reads and writes are [`crate::fault_file`]'s.

use super::Cmd;
use crate::files::{FaultFile, File};
use std::sync::Arc;
use uiommu_core::context::Handle;
use uiommu_core::fault::FaultQueue;
use uiommu_core::object::Object;
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;
use uiommu_uapi::iommufd::IommuFaultAlloc;

/// IOMMU_FAULT_QUEUE_ALLOC: a fault queue and its fd. The queue is published only once the
/// reply is written; the fd holds a user of it, so it cannot be destroyed while open.
pub(super) fn alloc(c: &Cmd) -> Result<()> {
    let mut cmd: IommuFaultAlloc = c.get();
    if cmd.flags != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let prepared = c
        .ctx
        .objects
        .reserve()?
        .prepare(Object::Fault(FaultQueue::default()));
    let queue = Handle::<FaultQueue>::new(prepared.obj_ref()).expect("made a fault queue");
    let file = File::Fault(Arc::new(FaultFile {
        ctx: c.ctx.arc(),
        queue,
    }));
    let fd = c.fds.install(file)?;
    cmd.out_fault_id = prepared.id();
    cmd.out_fault_fd = fd as u32;
    if let Err(e) = c.respond(&cmd) {
        c.fds.uninstall(fd);
        return Err(e);
    }
    prepared.finalize();
    Ok(())
}
