//! `VFIO_GROUP_GET_DEVICE_FD` (`vfio_group_ioctl_get_device_fd`, `vfio_device_open_file`,
//! `vfio_df_group_open`) and the device files it hands out.

use super::{Container, GroupFile, VfioGroup, name};
use crate::Caller;
use crate::vfio::device::VfioDeviceFile;
use std::sync::Arc;
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;

/// A device file a group handed out: the member's [`VfioDeviceFile`], shared by every file
/// the group opened of it while any is open (vfio-pci's device state is per device).
/// Dropping it is the file's release (`vfio_df_group_close`): the last one releases the
/// device file (interrupts off, reset, unbound), and the group file if it was closed first
/// in a legacy container.
pub struct GroupDevice {
    group: Arc<VfioGroup>,
    member: usize,
    file: Arc<VfioDeviceFile>,
}

impl std::fmt::Debug for GroupDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupDevice")
            .field("member", &self.member)
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

impl GroupDevice {
    /// The device file it serves.
    pub fn file(&self) -> &VfioDeviceFile {
        &self.file
    }
}

impl Drop for GroupDevice {
    fn drop(&mut self) {
        let mut state = self.group.lock();
        let slot = &mut state.open[self.member];
        if let Some((file, count)) = slot {
            *count -= 1;
            if *count == 0 {
                file.release();
                *slot = None;
            }
        }
        // The last device file of a closed group file: the group file's release.
        if state.release_deferred && state.open.iter().all(Option::is_none) {
            self.group.release(&mut state);
        }
    }
}

/// `VFIO_GROUP_GET_DEVICE_FD`: the name read (`EFAULT`; `EINVAL` past a page without its
/// NUL), the member it names (`ENODEV` for none, `EINVAL` for a bad option), `EINVAL`
/// without a container (or a legacy container without a backend); the first open binds the
/// device to the container's context (a legacy container's: its backend's) and attaches it
/// to the compatibility IOAS (those errors, `ENODEV` without one); the new fd
/// (the front end's errors; the file is released).
pub(super) fn get_device_fd(group: &GroupFile, caller: &Caller<'_>, arg: u64) -> Result<i64> {
    let wanted = name::read(caller.mem, arg)?;
    let member = name::find(&group.group.members, &wanted)?;
    let device = open(group, member)?;
    caller.fds.install_device(device).map(i64::from)
}

/// `vfio_df_group_open` of `member`.
fn open(group: &GroupFile, member: usize) -> Result<GroupDevice> {
    let g = &group.group;
    let mut state = g.lock();
    let ctx = match &state.container {
        Some(Container::Iommufd(ctx)) => Arc::clone(ctx),
        // `vfio_group_use_container`: `EINVAL` before `VFIO_SET_IOMMU`.
        Some(Container::Type1(c)) => c.use_container()?,
        None => return Err(Errno::EINVAL),
    };
    let file = match &mut state.open[member] {
        Some((file, count)) => {
            *count += 1;
            Arc::clone(file)
        }
        slot @ None => {
            let m = &g.members[member];
            let file = Arc::new(VfioDeviceFile::open_bound_to(
                m.function.clone(),
                Arc::clone(&group.memory),
                m.address,
                ctx,
                m.sriov.clone(),
            )?);
            *slot = Some((Arc::clone(&file), 1));
            file
        }
    };
    Ok(GroupDevice {
        group: Arc::clone(g),
        member,
        file,
    })
}
