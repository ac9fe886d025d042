//! What the DMA and driver scenario tests start from: a context whose process memory is a
//! [`TestMemory`], never charged for pins, and an empty IOAS in it.

use crate::context::{Context, Handle, Node, Process};
use crate::ioas::{LockedVm, PinRegistry, ProbeMemory};
use crate::object::{Ioas, Object};
use std::sync::Arc;
use uiommu_uapi::user::testing::TestMemory;

/// A context over `mem` and a new IOAS in it, with the IOAS's object ID.
pub(crate) fn context_with_ioas(mem: &Arc<TestMemory>) -> (Arc<Context>, Handle<Ioas>, u32) {
    let process = Process {
        memory: Arc::new(ProbeMemory(Arc::clone(mem))),
        registry: Arc::new(PinRegistry::new()),
        user_locked: Arc::new(LockedVm::new(1 << 30)),
        mm_locked: Arc::new(LockedVm::new(1 << 30)),
        cap_ipc_lock: true,
        cap_sys_resource: true,
    };
    let ctx = Context::new(process, Node::Iommu, crate::driver::mock::MockDriver::get());
    let pending = ctx.objects.reserve().expect("an empty context has room");
    let ioas_id = pending.id();
    let ioas = Handle::new(pending.finalize(Object::Ioas(Ioas::default())))
        .expect("the object just made is an IOAS");
    (ctx, ioas, ioas_id)
}
