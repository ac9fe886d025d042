//! The VFIO group file (`/dev/vfio/N`, Linux 7.3 `drivers/vfio/group.c`): one [`VfioGroup`]
//! per IOMMU group of emulated functions, opened by one file at a time ([`GroupFile`]).
//!
//! The container a group joins is an iommufd context, `/dev/vfio/vfio` or `/dev/iommu`
//! (`CONFIG_IOMMUFD_VFIO_CONTAINER`), so a device fd the group hands out is bound to that
//! context and attached to its compatibility IOAS, where type1's `VFIO_IOMMU_MAP_DMA` maps;
//! or, where the front end serves `/dev/vfio/vfio` as the legacy container of
//! `drivers/vfio/container.c` (`CONFIG_VFIO_CONTAINER`), a [`Type1Container`], whose backend's
//! context the device is bound to instead.
//!
//! - [`container`]: `VFIO_GROUP_GET_STATUS`, `SET_CONTAINER`, `UNSET_CONTAINER`.
//! - [`device`]: `VFIO_GROUP_GET_DEVICE_FD` and the device files it opens ([`GroupDevice`]).
//! - [`name`]: the device name argument (`strndup_user`, `vfio_pci_core_match`).

mod container;
mod device;
mod name;

use super::device::{PciAddress, VfioDeviceFile};
use super::type1::Type1Container;
use crate::Caller;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use uiommu_core::context::Context;
use uiommu_devices::SharedFunction;
use uiommu_devices::dma::ProcessMemory;
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;
use uiommu_uapi::vfio::{
    VFIO_GROUP_GET_DEVICE_FD, VFIO_GROUP_GET_STATUS, VFIO_GROUP_SET_CONTAINER,
    VFIO_GROUP_UNSET_CONTAINER,
};

pub use device::GroupDevice;

/// A function of a group, as vfio-pci registered it.
pub struct GroupMember {
    /// Its PCI name, `DDDD:BB:DD.F` (`pci_name`), which `GET_DEVICE_FD` asks for.
    pub name: String,
    /// The function.
    pub function: SharedFunction,
    /// Where it sits.
    pub address: PciAddress,
    /// What it is to SR-IOV: a VF is a member while NumVFs covers it, and a PF's or VF's
    /// name may carry the VF token (`vfio_pci_core_match`).
    pub sriov: Option<crate::sriov::SriovRole>,
}

/// An IOMMU group's VFIO side (`struct vfio_group`): its functions and, under one lock
/// (`group_lock`), whether a file has it open, its container and its open devices.
pub struct VfioGroup {
    members: Vec<GroupMember>,
    state: Mutex<GroupState>,
}

impl std::fmt::Debug for VfioGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.members.iter().map(|m| m.name.as_str()).collect();
        f.debug_struct("VfioGroup")
            .field("members", &names)
            .finish_non_exhaustive()
    }
}

/// What a group's `VFIO_GROUP_SET_CONTAINER` joined.
#[derive(Clone)]
enum Container {
    /// An iommufd context (`group->iommufd`).
    Iommufd(Arc<Context>),
    /// A legacy container (`group->container`).
    Type1(Arc<Type1Container>),
}

#[derive(Default)]
struct GroupState {
    /// `group->opened_file` is set.
    opened: bool,
    /// The group's file was closed while device files it handed out from a legacy container
    /// are open: they hold the file (`vfio_group_use_container` takes a reference on it), so
    /// its release waits for the last of them.
    release_deferred: bool,
    /// `group->cdev_device_open_cnt`: cdev files of members bound.
    cdev_binds: usize,
    /// The container: `group->iommufd` or `group->container`.
    container: Option<Container>,
    /// Per member, its device file while any fd the group handed out holds it, and how
    /// many (`device->open_count`).
    open: Vec<Option<(Arc<VfioDeviceFile>, usize)>>,
}

impl VfioGroup {
    /// The group of `members`.
    pub fn new(members: Vec<GroupMember>) -> Arc<Self> {
        let open = members.iter().map(|_| None).collect();
        Arc::new(VfioGroup {
            members,
            state: Mutex::new(GroupState {
                open,
                ..GroupState::default()
            }),
        })
    }

    /// `vfio_group_fops_open`: a file of the group, `EBUSY` while a member's cdev file is
    /// bound or another file is open. `memory` is the opening process's, where its devices'
    /// DMA lands.
    pub fn open(self: &Arc<Self>, memory: ProcessMemory) -> Result<GroupFile> {
        let mut state = self.lock();
        if state.cdev_binds > 0 || state.opened {
            return Err(Errno::EBUSY);
        }
        state.opened = true;
        Ok(GroupFile {
            group: Arc::clone(self),
            memory,
        })
    }

    /// `vfio_device_unblock_group`: a member's cdev file is unbound.
    pub(crate) fn unblock(&self) {
        let mut state = self.lock();
        state.cdev_binds = state.cdev_binds.saturating_sub(1);
    }

    fn lock(&self) -> MutexGuard<'_, GroupState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The group as a legacy container knows it.
    fn id(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }
}

/// A member's cdev file binding (`vfio_device_block_group`): the group cannot be opened
/// until it is dropped, unless [`Block::keep`] leaves the group blocked until the file's
/// unbind.
pub(crate) struct Block<'a>(Option<&'a VfioGroup>);

impl<'a> Block<'a> {
    /// Blocks `group` (none: nothing to block); `EBUSY` while it is open.
    pub(crate) fn new(group: Option<&'a VfioGroup>) -> Result<Self> {
        if let Some(g) = group {
            let mut state = g.lock();
            if state.opened {
                return Err(Errno::EBUSY);
            }
            state.cdev_binds += 1;
        }
        Ok(Block(group))
    }

    /// The bind succeeded: the group stays blocked.
    pub(crate) fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for Block<'_> {
    fn drop(&mut self) {
        if let Some(g) = self.0 {
            g.unblock();
        }
    }
}

/// An open group file. Dropping it is its release (`vfio_group_fops_release`): the
/// container is left and the group can be opened again; device files it handed out stay
/// bound. In a legacy container the device files it handed out hold it: the release happens
/// when the last of them is closed.
pub struct GroupFile {
    group: Arc<VfioGroup>,
    memory: ProcessMemory,
}

impl std::fmt::Debug for GroupFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupFile")
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

impl GroupFile {
    /// `ioctl(fd, cmd, arg)` by `caller` (`vfio_group_fops_unl_ioctl`): the value the syscall
    /// returns (a new fd for `GET_DEVICE_FD`), or its errno; `ENOTTY` for other commands.
    pub fn ioctl(&self, caller: &Caller<'_>, cmd: u32, arg: u64) -> Result<i64> {
        match cmd {
            VFIO_GROUP_GET_DEVICE_FD => device::get_device_fd(self, caller, arg),
            VFIO_GROUP_GET_STATUS => container::get_status(&self.group, caller, arg).map(|()| 0),
            VFIO_GROUP_SET_CONTAINER => {
                container::set_container(&self.group, caller, arg).map(|()| 0)
            }
            VFIO_GROUP_UNSET_CONTAINER => container::unset_container(&self.group).map(|()| 0),
            _ => Err(Errno::ENOTTY),
        }
    }
}

impl Drop for GroupFile {
    fn drop(&mut self) {
        let mut state = self.group.lock();
        let legacy = matches!(state.container, Some(Container::Type1(_)));
        if legacy && state.open.iter().any(Option::is_some) {
            state.release_deferred = true;
            return;
        }
        self.group.release(&mut state);
    }
}

impl VfioGroup {
    /// `vfio_group_fops_release`: the group leaves its container and can be opened again.
    fn release(&self, state: &mut GroupState) {
        if let Some(Container::Type1(c)) = state.container.take() {
            c.detach_group(self.id());
        }
        state.opened = false;
        state.release_deferred = false;
    }
}
