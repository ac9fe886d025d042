//! The group's container: `VFIO_GROUP_GET_STATUS`, `VFIO_GROUP_SET_CONTAINER` and
//! `VFIO_GROUP_UNSET_CONTAINER` (`vfio_group_ioctl_get_status`, `_set_container`,
//! `_unset_container`) with an iommufd context as the container.

use super::{Container, VfioGroup};
use crate::Caller;
use std::sync::PoisonError;
use uiommu_uapi::errno::Result;
use uiommu_uapi::vfio::{VFIO_GROUP_FLAGS_CONTAINER_SET, VFIO_GROUP_FLAGS_VIABLE, VfioGroupStatus};
use uiommu_uapi::{Errno, offset_of_end};
use zerocopy::{FromZeros, IntoBytes};

/// `VFIO_GROUP_GET_STATUS`: `EFAULT` reading the first 8 bytes, `EINVAL` for a short `argsz`;
/// with a container both flags; without one `VIABLE` unless a member's DMA is owned (it is
/// bound through its cdev); `EFAULT` writing them back.
pub(super) fn get_status(group: &VfioGroup, caller: &Caller<'_>, arg: u64) -> Result<()> {
    let minsz = offset_of_end!(VfioGroupStatus, flags);
    let mut status = VfioGroupStatus::new_zeroed();
    caller.mem.read(arg, &mut status.as_mut_bytes()[..minsz])?;
    if (status.argsz as usize) < minsz {
        return Err(Errno::EINVAL);
    }
    status.flags = if group.lock().container.is_some() {
        VFIO_GROUP_FLAGS_CONTAINER_SET | VFIO_GROUP_FLAGS_VIABLE
    } else if dma_owned(group) {
        0
    } else {
        VFIO_GROUP_FLAGS_VIABLE
    };
    caller.mem.write(arg, &status.as_bytes()[..minsz])
}

/// `iommu_group_dma_owner_claimed`: a member is bound to some context.
fn dma_owned(group: &VfioGroup) -> bool {
    group.members.iter().any(|m| {
        let mut f = m.function.lock().unwrap_or_else(PoisonError::into_inner);
        f.dma().device().is_some()
    })
}

/// `VFIO_GROUP_SET_CONTAINER`: `EFAULT` reading the fd, `EBADF` if it is not open, `EINVAL`
/// if the group has a container. A legacy container takes the group
/// (`vfio_container_attach_group`; `EBUSY` while a member is bound to an iommufd); otherwise `EBADFD` if the fd is no iommufd context, and
/// the context's compatibility IOAS is made (`iommufd_vfio_compat_ioas_create`, its errors).
pub(super) fn set_container(group: &VfioGroup, caller: &Caller<'_>, arg: u64) -> Result<()> {
    let mut word = [0u8; 4];
    caller.mem.read(arg, &mut word)?;
    let fd = i32::from_ne_bytes(word);
    if !caller.fds.is_open(fd) {
        return Err(Errno::EBADF);
    }
    let mut state = group.lock();
    if state.container.is_some() {
        return Err(Errno::EINVAL);
    }
    if let Some(c) = caller.fds.vfio_container(fd) {
        // `iommu_group_claim_dma_owner`: a member still bound to an iommufd context (a device
        // file kept from an earlier container) owns the group's DMA.
        if dma_owned(group) {
            return Err(Errno::EBUSY);
        }
        c.attach_group(group.id());
        state.container = Some(Container::Type1(c));
        return Ok(());
    }
    let ctx = caller.fds.iommufd(fd).map_err(|_| Errno::EBADFD)?;
    crate::vfio::compat_ioas_create(&ctx)?;
    state.container = Some(Container::Iommufd(ctx));
    Ok(())
}

/// `VFIO_GROUP_UNSET_CONTAINER`: `EINVAL` without a container. A legacy container is left
/// only while no device file of the group is open (`EBUSY`, `container_users != 1`); the
/// last group to leave releases its backend. With an iommufd as the container nothing else
/// is checked: device files already open stay bound to it.
pub(super) fn unset_container(group: &VfioGroup) -> Result<()> {
    let mut state = group.lock();
    match &state.container {
        None => return Err(Errno::EINVAL),
        Some(Container::Type1(c)) => {
            if state.open.iter().any(Option::is_some) {
                return Err(Errno::EBUSY);
            }
            c.detach_group(group.id());
        }
        Some(Container::Iommufd(_)) => {}
    }
    state.container = None;
    Ok(())
}
