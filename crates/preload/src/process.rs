//! The process that opens contexts: its address space, pin counts, locked-memory counters and
//! capabilities, as core's [`Process`] describes them.
//!
//! All contexts of the process share one pin registry and one pair of `locked_vm` counters: the
//! per-process counter (`mm_struct::locked_vm`) is exactly that, and the per-user counter
//! (`user_struct::locked_vm`) can only see this process's pins in process. The limits follow
//! `RLIMIT_MEMLOCK`, re-read before every command that may charge, as the kernel reads it when
//! it charges ([`charges`]); the commands that never pin skip that system call.

use crate::maps::MapsMemory;
use crate::sys;
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
    SHARED.get_or_init(|| {
        let limit = limit_pages();
        Shared {
            memory: Arc::new(MapsMemory::SELF),
            registry: Arc::new(PinRegistry::new()),
            user_locked: Arc::new(LockedVm::new(limit)),
            mm_locked: Arc::new(LockedVm::new(limit)),
        }
    })
}

/// `RLIMIT_MEMLOCK >> PAGE_SHIFT`.
fn limit_pages() -> u64 {
    sys::memlock_limit() / PAGE_SIZE
}

/// Follows a `setrlimit` since the last command.
pub fn refresh_limits() {
    let s = shared();
    let limit = limit_pages();
    s.user_locked.set_limit(limit);
    s.mm_locked.set_limit(limit);
}

/// False for the iommufd commands that never charge locked memory (they pin nothing; an
/// unmap or a destroy only uncharges), so that the limit need not be re-read for them: the
/// kernel reads `RLIMIT_MEMLOCK` only when it charges.
pub fn charges(cmd: u32) -> bool {
    use uiommu_uapi::iommufd::*;
    !matches!(
        cmd,
        IOMMU_DESTROY
            | IOMMU_OPTION
            | IOMMU_IOAS_IOVA_RANGES
            | IOMMU_IOAS_UNMAP
            | IOMMU_IOAS_ALLOW_IOVAS
            | IOMMU_GET_HW_INFO
            | IOMMU_HWPT_INVALIDATE
            | IOMMU_HWPT_GET_DIRTY_BITMAP
            | IOMMU_HWPT_SET_DIRTY_TRACKING
    )
}

/// The process as a context opened now sees it (capabilities are those in effect now).
pub fn current() -> Process {
    let s = shared();
    refresh_limits();
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
pub fn of_child(pid: u32) -> Result<Process, sys::Errno> {
    let s = shared();
    let caps = sys::effective_caps_of(pid as libc::c_int);
    Ok(Process {
        memory: Arc::new(MapsMemory::of_pid(pid)?),
        registry: Arc::new(PinRegistry::new()),
        user_locked: s.user_locked.clone(),
        mm_locked: Arc::new(LockedVm::new(limit_pages())),
        cap_ipc_lock: caps & (1 << CAP_IPC_LOCK) != 0,
        cap_sys_resource: caps & (1 << CAP_SYS_RESOURCE) != 0,
    })
}
