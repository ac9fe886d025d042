//! What the DMA and driver scenario tests start from: a context whose process memory is a
//! [`TestMemory`], never charged for pins, and an empty IOAS in it; a guest's RAM in that
//! memory, where the guest's own tables are written.

use crate::context::{Context, Handle, Node, Process};
use crate::ioas::{LockedVm, PinRegistry, ProbeMemory};
use crate::object::{Ioas, Object};
use std::cell::Cell;
use std::sync::Arc;
use uiommu_uapi::UserMemory;
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

/// A guest's RAM at `uva` of the test memory, from GPA 0, and the bump allocator of the pages
/// its page tables take (from `tables_gpa` up).
#[derive(Debug)]
pub(crate) struct GuestRam {
    mem: Arc<TestMemory>,
    uva: u64,
    next_table: Cell<u64>,
}

impl GuestRam {
    pub(crate) fn new(mem: &Arc<TestMemory>, uva: u64, tables_gpa: u64) -> Self {
        GuestRam {
            mem: Arc::clone(mem),
            uva,
            next_table: Cell::new(tables_gpa),
        }
    }

    /// The little-endian word at `gpa`.
    pub(crate) fn read(&self, gpa: u64) -> u64 {
        u64::from_le_bytes(self.mem.get(self.uva + gpa, 8).try_into().unwrap())
    }

    /// Stores `v` at `gpa`.
    pub(crate) fn write(&self, gpa: u64, v: u64) {
        self.mem.write(self.uva + gpa, &v.to_le_bytes()).unwrap();
    }

    /// A zeroed 4 KiB table page: its GPA.
    pub(crate) fn new_table(&self) -> u64 {
        const PAGE: u64 = 4096;
        let t = self.next_table.get();
        self.next_table.set(t + PAGE);
        self.mem.write(self.uva + t, &[0; PAGE as usize]).unwrap();
        t
    }
}
