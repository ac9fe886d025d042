//! The legacy VFIO container of a POWER platform (`drivers/vfio/container.c` with the SPAPR
//! TCE backend, `drivers/vfio/vfio_iommu_spapr_tce.c`).
//!
//! uiommu's `/dev/vfio/vfio` is otherwise iommufd's compatibility container, type1 only, as
//! on a 7.3 kernel built with `CONFIG_IOMMUFD_VFIO_CONTAINER`: there `VFIO_CHECK_EXTENSION`
//! reports no SPAPR type and `VFIO_SET_IOMMU` refuses them. On a POWER platform model the
//! front end opens a [`SpaprContainer`] for `/dev/vfio/vfio` instead: the container of
//! `container.c`, whose only registered backend is the SPAPR TCE one
//! ([`uiommu_core::driver::tce`]). PEs join it with [`SpaprContainer::set_group`], what
//! `VFIO_GROUP_SET_CONTAINER` on the PE's group fd does.
//!
//! - `VFIO_GET_API_VERSION`; `VFIO_CHECK_EXTENSION` asks the backend (SPAPR v1 and v2; EEH
//!   is not modelled, 0).
//! - `VFIO_SET_IOMMU`: `EINVAL` without a group or once set, `ENODEV` for a type no backend
//!   offers; the backend then takes every group (its errno if one is refused).
//! - Any other ioctl goes to the backend, `EINVAL` before one is set. The backend answers
//!   ioctls from another process than the one it is bound to with `EPERM`, and unknown ones
//!   with `ENOTTY`.

use crate::files::Caller;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use uiommu_core::context::Process;
use uiommu_core::driver::tce::container::check_extension;
use uiommu_core::driver::tce::dma::{MAP_MINSZ, UNMAP_MINSZ};
use uiommu_core::driver::tce::ops::{CREATE_MINSZ, REGISTER_MINSZ, REMOVE_MINSZ};
use uiommu_core::driver::tce::{TableGroup, TceContainer, TceMm};
use uiommu_core::ioas::{NoAccount, PinAccount};
use uiommu_uapi::copy::read_vfio;
use uiommu_uapi::errno::Result;
use uiommu_uapi::vfio::*;
use uiommu_uapi::{Errno, UserMemory};
use zerocopy::{FromBytes, IntoBytes};

/// `offsetofend(struct vfio_iommu_spapr_tce_info, dma32_window_size)`.
const INFO_MINSZ: usize = 16;

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

/// `copy_from_user` of the first `minsz` bytes, then the `argsz` check (`EINVAL`); flags are
/// the backend's to check.
fn read<T: FromBytes + IntoBytes>(mem: &dyn UserMemory, arg: u64, minsz: u32) -> Result<T> {
    read_vfio(&mem, arg, minsz as usize, u32::MAX)
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

    /// `ioctl(2)` on the container.
    pub fn dispatch(&self, caller: &Caller<'_>, cmd: u32, arg: u64) -> Result<i64> {
        match cmd {
            VFIO_GET_API_VERSION => return Ok(i64::from(VFIO_API_VERSION)),
            VFIO_CHECK_EXTENSION => {
                let s = self.lock();
                return Ok(match &s.backend {
                    Some(b) => b.check_extension(arg),
                    None => check_extension(arg),
                });
            }
            VFIO_SET_IOMMU => return self.set_iommu(arg).map(|()| 0),
            _ => {}
        }
        let mut s = self.lock();
        let b = s.backend.as_mut().ok_or(Errno::EINVAL)?;
        let mm = caller_mm(caller);
        b.check_mm(mm)?;
        let mem = caller.mem;
        match cmd {
            VFIO_IOMMU_SPAPR_TCE_GET_INFO => {
                let (info, len) = b.get_info(|| read(mem, arg, INFO_MINSZ as u32))?;
                mem.write(arg, &info.as_bytes()[..len])?;
            }
            VFIO_IOMMU_MAP_DMA => b.map_dma(mm, || read(mem, arg, MAP_MINSZ))?,
            VFIO_IOMMU_UNMAP_DMA => b.unmap_dma(mm, || read(mem, arg, UNMAP_MINSZ))?,
            VFIO_IOMMU_SPAPR_REGISTER_MEMORY => {
                b.register_memory(mm, || read(mem, arg, REGISTER_MINSZ))?;
            }
            VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY => {
                b.unregister_memory(mm, || read(mem, arg, REGISTER_MINSZ))?;
            }
            VFIO_IOMMU_ENABLE => b.enable_ioctl(mm)?,
            VFIO_IOMMU_DISABLE => b.disable_ioctl(mm)?,
            VFIO_EEH_PE_OP => b.eeh_pe_op()?,
            VFIO_IOMMU_SPAPR_TCE_CREATE => {
                let c: VfioIommuSpaprTceCreate =
                    b.tce_create(mm, || read(mem, arg, CREATE_MINSZ))?;
                mem.write(arg, &c.as_bytes()[..CREATE_MINSZ as usize])?;
            }
            VFIO_IOMMU_SPAPR_TCE_REMOVE => b.tce_remove(mm, || read(mem, arg, REMOVE_MINSZ))?,
            _ => return Err(Errno::ENOTTY),
        }
        Ok(0)
    }
}
