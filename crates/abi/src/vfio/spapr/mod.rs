//! The legacy VFIO container of a POWER platform (`drivers/vfio/container.c` with the SPAPR
//! TCE backend, `drivers/vfio/vfio_iommu_spapr_tce.c`).
//!
//! uiommu's `/dev/vfio/vfio` is otherwise iommufd's compatibility container, type1 only, as
//! on a 7.3 kernel built with `CONFIG_IOMMUFD_VFIO_CONTAINER` (or, when asked,
//! [`super::type1`]'s legacy container with only the type1 backend): there `VFIO_CHECK_EXTENSION`
//! reports no SPAPR type and `VFIO_SET_IOMMU` refuses them. On a POWER platform model the
//! front end opens a [`SpaprContainer`] for `/dev/vfio/vfio` instead: the container of
//! `container.c`, whose only registered backend is the SPAPR TCE one
//! ([`uiommu_core::driver::tce`]). PEs join it with [`SpaprContainer::set_group`], what
//! `VFIO_GROUP_SET_CONTAINER` on the PE's group fd does.
//!
//! One table holds the node's commands: the container's own, and the backend's ([`tce`]).
//!
//! - `VFIO_GET_API_VERSION`; `VFIO_CHECK_EXTENSION` asks the backend (SPAPR v1 and v2; EEH
//!   is not modelled, 0).
//! - `VFIO_SET_IOMMU`: `EINVAL` without a group or once set, `ENODEV` for a type no backend
//!   offers; the backend then takes every group (its errno if one is refused).
//! - Any other ioctl goes to the backend, `EINVAL` before one is set. The backend answers
//!   ioctls from another process than the one it is bound to with `EPERM`, and unknown ones
//!   with `ENOTTY`.

mod tce;

use crate::cmd_table::CmdTable;
use crate::files::Caller;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use uiommu_core::context::Process;
use uiommu_core::driver::tce::container::check_extension;
use uiommu_core::driver::tce::{TableGroup, TceContainer, TceMm};
use uiommu_core::ioas::{NoAccount, PinAccount};
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;
use uiommu_uapi::ioctl::ioc_nr;
use uiommu_uapi::vfio::*;

/// A command of the container node.
#[derive(Debug, Clone, Copy)]
enum Op {
    /// The container's own (`vfio_fops_unl_ioctl`), with its value argument.
    Container(fn(&SpaprContainer, u64) -> Result<i64>),
    /// The backend's (`tce_iommu_ioctl`): `EINVAL` before one is set, then its address-space
    /// check (`EPERM`).
    Backend(tce::Ioctl),
}

/// The node's commands, by number.
#[rustfmt::skip]
static OPS: CmdTable<Op, { (ioc_nr(VFIO_EEH_PE_OP) - VFIO_BASE) as usize + 1 }> = CmdTable::new(
    VFIO_BASE,
    &[
        (VFIO_GET_API_VERSION, Op::Container(|_, _| Ok(i64::from(VFIO_API_VERSION)))),
        (VFIO_CHECK_EXTENSION, Op::Container(|c, arg| Ok(c.check_extension(arg)))),
        (VFIO_SET_IOMMU, Op::Container(|c, arg| c.set_iommu(arg).map(|()| 0))),
        (VFIO_IOMMU_SPAPR_TCE_GET_INFO, Op::Backend(tce::get_info)),
        (VFIO_IOMMU_MAP_DMA, Op::Backend(tce::map_dma)),
        (VFIO_IOMMU_UNMAP_DMA, Op::Backend(tce::unmap_dma)),
        (VFIO_IOMMU_ENABLE, Op::Backend(|b, mm, _, _| b.enable_ioctl(mm))),
        (VFIO_IOMMU_DISABLE, Op::Backend(|b, mm, _, _| b.disable_ioctl(mm))),
        (VFIO_IOMMU_SPAPR_REGISTER_MEMORY,
            Op::Backend(|b, mm, mem, arg| b.register_memory(mm, || tce::mem_range(mem, arg)))),
        (VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY,
            Op::Backend(|b, mm, mem, arg| b.unregister_memory(mm, || tce::mem_range(mem, arg)))),
        (VFIO_IOMMU_SPAPR_TCE_CREATE, Op::Backend(tce::create)),
        (VFIO_IOMMU_SPAPR_TCE_REMOVE, Op::Backend(tce::remove)),
        (VFIO_EEH_PE_OP, Op::Backend(|b, _, _, _| b.eeh_pe_op())),
    ],
);

#[derive(Debug, Default)]
struct State {
    /// The groups in the container, first set first.
    groups: Vec<Arc<TableGroup>>,
    /// The backend, once `VFIO_SET_IOMMU` chose it.
    backend: Option<TceContainer>,
}

/// A legacy VFIO container with the SPAPR TCE backend.
#[derive(Debug)]
pub struct SpaprContainer {
    state: Mutex<State>,
    host: TceMm,
}

/// The address space of the caller, as the backend compares them (`current->mm`): the
/// opener's is 0, another process's is its description's address.
fn caller_mm(caller: &Caller<'_>) -> u64 {
    caller
        .process
        .map_or(0, |p| std::ptr::from_ref::<Process>(p) as usize as u64)
}

impl SpaprContainer {
    /// A container opened by `process` (`vfio_fops_open`): pages are pinned in its memory and
    /// charged to its `locked_vm` (not at all with `CAP_IPC_LOCK`).
    pub fn new(process: &Process) -> Self {
        let account: Arc<dyn PinAccount> = if process.cap_ipc_lock {
            Arc::new(NoAccount)
        } else {
            process.mm_locked.clone()
        };
        SpaprContainer {
            state: Mutex::default(),
            host: TceMm {
                memory: process.memory.clone(),
                account,
            },
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `VFIO_GROUP_SET_CONTAINER` of `group`'s fd with this container
    /// (`vfio_container_attach_group`): `EINVAL` if it is in already; with a backend set,
    /// the backend must take it (its errno otherwise, e.g. `EBUSY` for a second group of a
    /// v1 container).
    pub fn set_group(&self, group: &Arc<TableGroup>) -> Result<()> {
        let mut s = self.lock();
        if s.groups.iter().any(|g| Arc::ptr_eq(g, group)) {
            return Err(Errno::EINVAL);
        }
        if let Some(b) = s.backend.as_mut() {
            b.attach_group(group)?;
        }
        s.groups.push(Arc::clone(group));
        Ok(())
    }

    /// `VFIO_GROUP_UNSET_CONTAINER` (`vfio_group_detach_container`): `EINVAL` if the group is
    /// not in the container. The backend gives the group back; the last group takes the
    /// backend with it.
    pub fn unset_group(&self, group: &Arc<TableGroup>) -> Result<()> {
        let mut s = self.lock();
        let i = s
            .groups
            .iter()
            .position(|g| Arc::ptr_eq(g, group))
            .ok_or(Errno::EINVAL)?;
        if let Some(b) = s.backend.as_mut() {
            b.detach_group(group);
        }
        s.groups.remove(i);
        if s.groups.is_empty() {
            s.backend = None;
        }
        Ok(())
    }

    /// `vfio_ioctl_set_iommu`.
    fn set_iommu(&self, arg: u64) -> Result<()> {
        let mut s = self.lock();
        if s.groups.is_empty() || s.backend.is_some() {
            return Err(Errno::EINVAL);
        }
        if check_extension(arg) <= 0 {
            return Err(Errno::ENODEV);
        }
        let mut backend = TceContainer::open(arg, self.host.clone())?;
        for g in &s.groups {
            // A refused group: the backend is released, which gives back those it took.
            backend.attach_group(g)?;
        }
        s.backend = Some(backend);
        Ok(())
    }

    /// `VFIO_CHECK_EXTENSION`: the backend's answer, or what a SPAPR backend would answer
    /// before one is set.
    fn check_extension(&self, arg: u64) -> i64 {
        match &self.lock().backend {
            Some(b) => b.check_extension(arg),
            None => check_extension(arg),
        }
    }

    /// `ioctl(2)` on the container: the container's own commands, or the backend's once one
    /// is set (`EINVAL` before) and the caller's address space passed (`EPERM`); a number
    /// without a row is the backend's `ENOTTY`.
    pub fn dispatch(&self, caller: &Caller<'_>, cmd: u32, arg: u64) -> Result<i64> {
        let op = OPS.get(cmd);
        if let Some(Op::Container(f)) = op {
            return f(self, arg);
        }
        let mut s = self.lock();
        let b = s.backend.as_mut().ok_or(Errno::EINVAL)?;
        let mm = caller_mm(caller);
        b.check_mm(mm)?;
        match op {
            Some(Op::Backend(f)) => f(b, mm, caller.mem, arg).map(|()| 0),
            _ => Err(Errno::ENOTTY),
        }
    }
}
