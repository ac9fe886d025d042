//! The legacy VFIO container with the type1 IOMMU backend, as a kernel built with
//! `CONFIG_VFIO_CONTAINER` has it (`drivers/vfio/container.c`, `drivers/vfio/vfio_iommu_type1.c`)
//! instead of iommufd's compatibility container ([`super`]'s table, `vfio_compat.c`).
//!
//! The container ([`Type1Container`]) is `container.c`: groups join it with
//! `VFIO_GROUP_SET_CONTAINER`, `VFIO_SET_IOMMU` opens the backend once a group is in, and the
//! last group to leave releases it. The backend ([`dma::Type1Iommu`]) is `vfio_iommu_type1.c`:
//! it keeps its own list of mappings (`struct vfio_dma`, one per `VFIO_IOMMU_MAP_DMA`) with
//! type1's rules — the entry limit reported as `dma_avail`, v1 and v2 unmap granularity,
//! `VFIO_DMA_MAP_FLAG_VADDR` updates, dirty logging — and maps them in an IOAS of a context
//! of its own, which no fd names. The groups' devices are bound to that context and attached
//! to that IOAS when their files open, so their DMA goes through the model's page tables as
//! with the compatibility container.
//!
//! A device BAR mapped by the caller (`VM_PFNMAP`) can be mapped for DMA, as type1 does with
//! `follow_fault_pfn`: that part of the range becomes an area over the BAR's addresses, with no
//! pages to pin (iommufd refuses it); one entry may run from memory into a BAR.
//!
//! Where this differs from the kernel:
//! - type1 attaches a group's devices to its domain at `VFIO_SET_IOMMU`; here each device is
//!   attached when its file first opens (no DMA can happen before), so until then the page
//!   sizes and usable IOVA ranges are those of no domain;
//! - a device's DMA to a BAR (peer to peer) reaches no other device: the BAR's pages are not
//!   memory here, so such a request fails as one to memory that is not there;
//! - the container stays with the process that opened it: a forked child's calls on it are
//!   `EBADF`, and after `execve` the new image finds a fresh, empty container on the fd.

mod dirty;
mod dma;
mod info;
mod pin;

use crate::Caller;
use crate::cmd_table::CmdTable;
use dma::Type1Iommu;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use uiommu_core::context::{Context, Process};
use uiommu_core::iommu::IommuDriver;
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;
use uiommu_uapi::ioctl::ioc_nr;
use uiommu_uapi::vfio::{
    VFIO_API_VERSION, VFIO_BASE, VFIO_CHECK_EXTENSION, VFIO_DMA_CC_IOMMU, VFIO_GET_API_VERSION,
    VFIO_IOMMU_DIRTY_PAGES, VFIO_IOMMU_GET_INFO, VFIO_IOMMU_MAP_DMA, VFIO_IOMMU_UNMAP_DMA,
    VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU, VFIO_UNMAP_ALL, VFIO_UPDATE_VADDR,
};

/// A backend command (`vfio_iommu_type1_ioctl`).
type Handler = fn(&mut Type1Iommu, &Caller<'_>, u64) -> Result<()>;

/// The backend's commands, by number; `VFIO_CHECK_EXTENSION` is the container's.
#[rustfmt::skip]
static OPS: CmdTable<Handler, { (ioc_nr(VFIO_IOMMU_DIRTY_PAGES) - VFIO_BASE) as usize + 1 }> =
    CmdTable::new(VFIO_BASE, &[
        (VFIO_IOMMU_GET_INFO, |b, c, arg| b.get_info(c.mem, arg)),
        (VFIO_IOMMU_MAP_DMA, |b, c, arg| b.map_dma(c, arg)),
        (VFIO_IOMMU_UNMAP_DMA, |b, c, arg| b.unmap_dma(c.mem, arg)),
        (VFIO_IOMMU_DIRTY_PAGES, |b, c, arg| b.dirty_pages(c.mem, arg)),
    ]);

/// A group as the container holds it: its identity only (the group keeps the container).
type GroupId = usize;

#[derive(Default)]
struct State {
    /// `group_list`: the groups in the container, first set first.
    groups: Vec<GroupId>,
    /// The backend, once `VFIO_SET_IOMMU` opened it.
    backend: Option<Type1Iommu>,
}

/// A legacy VFIO container (`struct vfio_container`) whose only registered backend is type1.
pub struct Type1Container {
    state: Mutex<State>,
    process: Process,
    iommu: Arc<dyn IommuDriver>,
}

impl std::fmt::Debug for Type1Container {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.lock();
        f.debug_struct("Type1Container")
            .field("groups", &s.groups.len())
            .field("backend", &s.backend.is_some())
            .finish_non_exhaustive()
    }
}

/// `vfio_iommu_type1_check_extension`; `backend` is `None` when no backend is set (the
/// container polls the registered drivers with no data).
fn backend_check_extension(backend: Option<&Type1Iommu>, arg: u64) -> i64 {
    let Ok(ext) = u32::try_from(arg) else {
        return 0;
    };
    if [VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU, VFIO_UNMAP_ALL].contains(&ext) {
        1
    } else if ext == VFIO_UPDATE_VADDR {
        // No emulated (mdev) group ever joins: updating vaddrs is allowed with a backend.
        i64::from(backend.is_some())
    } else if ext == VFIO_DMA_CC_IOMMU {
        // Every domain must enforce cache coherency, and none of this build does (see the
        // compatibility container's): 1 only while the backend has no domain.
        backend.map_or(0, |b| i64::from(!b.iommu_mapped()))
    } else {
        0
    }
}

impl Type1Container {
    /// A container opened by `process` (`vfio_fops_open`); the backend's domains are
    /// `iommu`'s. Pins are charged to the process's `locked_vm`, as type1 does.
    pub fn new(process: Process, iommu: Arc<dyn IommuDriver>) -> Arc<Self> {
        Arc::new(Type1Container {
            state: Mutex::default(),
            process,
            iommu,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `ioctl(2)` on the container (`vfio_fops_unl_ioctl`): the container's own commands;
    /// any other goes to the backend, `EINVAL` before one is set, `ENOTTY` for a number the
    /// backend does not know.
    pub fn ioctl(&self, caller: &Caller<'_>, cmd: u32, arg: u64) -> Result<i64> {
        match cmd {
            VFIO_GET_API_VERSION => return Ok(i64::from(VFIO_API_VERSION)),
            VFIO_CHECK_EXTENSION => return Ok(self.check_extension(arg)),
            VFIO_SET_IOMMU => return self.set_iommu(arg).map(|()| 0),
            _ => {}
        }
        let mut s = self.lock();
        let backend = s.backend.as_mut().ok_or(Errno::EINVAL)?;
        let handler = OPS.get(cmd).ok_or(Errno::ENOTTY)?;
        handler(backend, caller, arg).map(|()| 0)
    }

    /// `vfio_container_ioctl_check_extension`: the backend's answer, or type1's without data
    /// before one is set.
    fn check_extension(&self, arg: u64) -> i64 {
        backend_check_extension(self.lock().backend.as_ref(), arg)
    }

    /// `vfio_ioctl_set_iommu`: `EINVAL` without a group or with a backend set; `ENODEV` for
    /// a number type1's `VFIO_CHECK_EXTENSION` does not answer positively (NOIOMMU and the
    /// SPAPR types included); then type1's open: v1 for `VFIO_TYPE1_IOMMU`, v2 for
    /// `VFIO_TYPE1v2_IOMMU`, `EINVAL` for the other extension it reports (`VFIO_UNMAP_ALL`).
    /// The backend takes every group.
    fn set_iommu(&self, arg: u64) -> Result<()> {
        let mut s = self.lock();
        if s.groups.is_empty() || s.backend.is_some() {
            return Err(Errno::EINVAL);
        }
        if backend_check_extension(None, arg) <= 0 {
            return Err(Errno::ENODEV);
        }
        let v2 = if arg == u64::from(VFIO_TYPE1_IOMMU) {
            false
        } else if arg == u64::from(VFIO_TYPE1v2_IOMMU) {
            true
        } else {
            return Err(Errno::EINVAL);
        };
        let ctx = Context::new(
            self.process.clone(),
            uiommu_core::context::Node::VfioContainer,
            Arc::clone(&self.iommu),
        );
        s.backend = Some(Type1Iommu::open(ctx, v2)?);
        Ok(())
    }

    /// `vfio_container_attach_group` of the group `id` (`VFIO_GROUP_SET_CONTAINER`). Type1
    /// takes any group (the domain is made when a member's file opens), so nothing fails.
    pub(crate) fn attach_group(&self, id: GroupId) {
        self.lock().groups.push(id);
    }

    /// `vfio_group_detach_container`: the group leaves; the last one releases the backend
    /// (every mapping is unmapped and the entry limit restored), deprivileging the container.
    pub(crate) fn detach_group(&self, id: GroupId) {
        let mut s = self.lock();
        s.groups.retain(|&g| g != id);
        if s.groups.is_empty() {
            s.backend = None;
        }
    }

    /// `vfio_group_use_container`, for a device file opening: the backend's context, which the
    /// device binds to and whose IOAS it attaches to; `EINVAL` before `VFIO_SET_IOMMU`.
    pub(crate) fn use_container(&self) -> Result<Arc<Context>> {
        let s = self.lock();
        let backend = s.backend.as_ref().ok_or(Errno::EINVAL)?;
        Ok(backend.context())
    }
}
