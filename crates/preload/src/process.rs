//! The process that opens contexts: its address space, pin counts, locked-memory counters and
//! capabilities, as core's [`Process`] describes them.
//!
//! All contexts of the process share one pin registry and one pair of `locked_vm` counters: the
//! per-process counter (`mm_struct::locked_vm`) is exactly that, and the per-user counter
//! (`user_struct::locked_vm`) can only see this process's pins in process. The limits follow
//! `RLIMIT_MEMLOCK`, read when pages are charged, as the kernel reads it then: a command that
//! pins nothing (or a process with `CAP_IPC_LOCK`, whose pins are not charged) never asks.

use crate::maps::MapsMemory;
use crate::sys;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use uiommu_abi::host::Process;
use uiommu_abi::host::{LockedVm, PAGE_SIZE, PinRegistry};

const CAP_IPC_LOCK: u32 = 14;
const CAP_SYS_RESOURCE: u32 = 24;

struct Shared {
    memory: Arc<MapsMemory>,
    registry: Arc<PinRegistry>,
    user_locked: Arc<LockedVm>,
    mm_locked: Arc<LockedVm>,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| Shared {
        memory: Arc::new(MapsMemory::SELF),
        registry: Arc::new(PinRegistry::new()),
        user_locked: Arc::new(LockedVm::with_source(limit_pages)),
        mm_locked: Arc::new(LockedVm::with_source(limit_pages)),
    })
}

/// `RLIMIT_MEMLOCK >> PAGE_SHIFT`, read when pages are charged.
fn limit_pages() -> u64 {
    sys::memlock_limit() / PAGE_SIZE
}

/// The process as a context opened now sees it (capabilities are those in effect now).
pub fn current() -> Process {
    let s = shared();
    let caps = sys::effective_caps();
    Process {
        memory: s.memory.clone(),
        registry: s.registry.clone(),
        user_locked: s.user_locked.clone(),
        mm_locked: s.mm_locked.clone(),
        cap_ipc_lock: caps & (1 << CAP_IPC_LOCK) != 0,
        cap_sys_resource: caps & (1 << CAP_SYS_RESOURCE) != 0,
    }
}

/// A child sharing this process's contexts since a `fork`, as the pages it maps see it: its
/// own address space, pin counts and `mm_struct::locked_vm`, and the same user (the per-user
/// counter is this process's, as both are one `user_struct`). Its capabilities are read now.
pub fn of_child(pid: u32, memory: Arc<MapsMemory>) -> Process {
    let s = shared();
    let caps = sys::effective_caps_of(pid as libc::c_int);
    Process {
        memory,
        registry: Arc::new(PinRegistry::new()),
        user_locked: s.user_locked.clone(),
        mm_locked: Arc::new(LockedVm::new(limit_pages())),
        cap_ipc_lock: caps & (1 << CAP_IPC_LOCK) != 0,
        cap_sys_resource: caps & (1 << CAP_SYS_RESOURCE) != 0,
    }
}

/// This process's ID once asked of the kernel (0: not yet, or forgotten by a fork).
static PID: AtomicU32 = AtomicU32::new(0);

/// This process's ID, kept: asked of the kernel once, and again after a `fork` (the child
/// handler forgets it, see [`forked`]). A child made without libc's fork handlers (a raw
/// `clone`, `_Fork`) would see its parent's.
pub fn pid() -> u32 {
    crate::fork::install();
    match PID.load(Ordering::Acquire) {
        0 => {
            let p = std::process::id();
            PID.store(p, Ordering::Release);
            p
        }
        p => p,
    }
}

/// In a forked child: the kept process ID is the parent's.
pub fn forked() {
    PID.store(0, Ordering::Release);
}
