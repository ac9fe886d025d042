//! Binding the device file to an iommufd and attaching it (`drivers/vfio/device_cdev.c`:
//! `vfio_df_ioctl_bind_iommufd`, `vfio_df_ioctl_attach_pt`, `vfio_df_ioctl_detach_pt`,
//! `vfio_df_unbind_iommufd`; `drivers/vfio/iommufd.c`: the `vfio_iommufd_physical_*` ops).

use super::config::read_word;
use super::{State, VfioDeviceFile};
use crate::Caller;
use crate::sriov::token;
use crate::vfio::group::Block;
use std::collections::BTreeSet;
use std::sync::Arc;
use uiommu_core::context::{Context, Handle};
use uiommu_core::device::{self, Device};
use uiommu_core::iommu::NO_PASID;
use uiommu_devices::PciFunction;
use uiommu_devices::config::spec::{COMMAND, COMMAND_IO, COMMAND_MEMORY};
use uiommu_devices::describe::BarKind;
use uiommu_uapi::copy::{copy_struct_from_user, read_vfio};
use uiommu_uapi::errno::Result;
use uiommu_uapi::vfio::*;
use uiommu_uapi::{Errno, offset_of_end};
use zerocopy::{FromZeros, IntoBytes};

/// The file's binding: the context, the device object, and what is attached
/// (`vdev->iommufd_attached`, `vdev->pasids`).
#[derive(Debug)]
pub(super) struct Binding {
    pub ctx: Arc<Context>,
    pub dev: Handle<Device>,
    rid_attached: bool,
    pasids: BTreeSet<u32>,
}

/// `VFIO_DEVICE_BIND_IOMMUFD` (`vfio_df_ioctl_bind_iommufd`): `EFAULT` reading `argsz`,
/// `EINVAL` below `out_devid`'s end, the extensible copy (`E2BIG`, `EFAULT`), `EINVAL` for a
/// negative fd or an unknown flag, `EINVAL` for a file a group opened, `EBUSY` while the
/// device's group is open, `EINVAL` if already bound; with
/// `VFIO_DEVICE_BIND_FLAG_TOKEN`, `EFAULT` reading the UUID; then the VF token's check with
/// or without it (`vfio_pci_core_match_token_uuid`: [`token::check`]); then the fd (`EBADF`, `EBADFD`),
/// `EINVAL` if the device is open through another file, the bind of the device to the context,
/// and `EFAULT` writing `out_devid` (undone).
pub(super) fn bind_iommufd(
    file: &VfioDeviceFile,
    state: &mut State,
    caller: &Caller<'_>,
    arg: u64,
) -> Result<i64> {
    let minsz = offset_of_end!(VfioDeviceBindIommufd, out_devid);
    let mut size = [0u8; 4];
    caller.mem.read(arg, &mut size)?;
    let user_size = u32::from_ne_bytes(size);
    if (user_size as usize) < minsz {
        return Err(Errno::EINVAL);
    }
    let mut bind = VfioDeviceBindIommufd::new_zeroed();
    copy_struct_from_user(&caller.mem, bind.as_mut_bytes(), arg, user_size.into())?;
    if bind.iommufd < 0 || bind.flags & !VFIO_DEVICE_BIND_FLAG_TOKEN != 0 {
        return Err(Errno::EINVAL);
    }
    // Only a cdev's file binds; a group's came bound.
    if file.group {
        return Err(Errno::EINVAL);
    }
    // `vfio_device_block_group`: `EBUSY` while the group is open; kept while bound.
    let block = Block::new(file.cdev_group.as_deref())?;
    if state.bound.is_some() {
        return Err(Errno::EINVAL);
    }
    // `vfio_df_check_token`: the UUID read if the flag says so, then vfio-pci's match.
    let uuid = if bind.flags & VFIO_DEVICE_BIND_FLAG_TOKEN != 0 {
        let mut uuid = [0u8; 16];
        caller.mem.read(bind.token_uuid_ptr, &mut uuid)?;
        Some(uuid)
    } else {
        None
    };
    token::check(file.sriov.as_ref(), uuid.as_ref())?;
    let ctx = caller.fds.iommufd(bind.iommufd)?;
    // `vfio_df_open`: a device open already (through another file) is not opened by a cdev.
    if file.function_mut().dma().device().is_some() {
        return Err(Errno::EINVAL);
    }
    let dev = bind_device(file, &ctx)?;
    let out = arg.wrapping_add(std::mem::offset_of!(VfioDeviceBindIommufd, out_devid) as u64);
    if let Err(e) = caller.mem.write(out, dev.id().as_bytes()) {
        device::unbind(&ctx, dev.into_object());
        return Err(e);
    }
    state.bound = Some(connect(file, ctx, dev)?);
    block.keep();
    Ok(0)
}

/// The group path's bind (`vfio_df_group_open`): the device bound to `ctx`
/// (`vfio_df_iommufd_bind`), then its RID attached to the compatibility IOAS
/// (`vfio_iommufd_compat_attach_ioas`: `ENODEV` without one, then the attach's errors), the
/// bind undone on failure.
pub(super) fn bind_compat(file: &VfioDeviceFile, ctx: Arc<Context>) -> Result<Binding> {
    let dev = bind_device(file, &ctx)?;
    let mut b = connect(file, ctx, dev)?;
    let attached = b
        .ctx
        .vfio_ioas()
        .and_then(|ioas| device::attach(&b.ctx, &b.dev, NO_PASID, ioas.id()));
    if let Err(e) = attached {
        let mut state = Some(b);
        unbind_binding(file, &mut state);
        return Err(e);
    }
    b.rid_attached = true;
    Ok(b)
}

/// `vfio_iommufd_physical_bind`: the function's device bound to `ctx`.
fn bind_device(file: &VfioDeviceFile, ctx: &Context) -> Result<Handle<Device>> {
    let phys = Arc::clone(file.function_mut().dma().phys());
    let obj = device::bind(ctx, phys)?;
    Handle::new(obj).ok_or(Errno::EINVAL)
}

/// The function's requests routed to the bound device `dev` (undone on failure): the
/// binding, nothing attached yet.
fn connect(file: &VfioDeviceFile, ctx: Arc<Context>, dev: Handle<Device>) -> Result<Binding> {
    let port = file
        .function_mut()
        .dma()
        .bind(dev.clone(), Arc::clone(&file.memory));
    if port.is_err() {
        device::unbind(&ctx, dev.into_object());
        return Err(Errno::EINVAL);
    }
    enable_device(&mut *file.function_mut());
    token::opened(file.sriov.as_ref());
    Ok(Binding {
        ctx,
        dev,
        rid_attached: false,
        pasids: BTreeSet::new(),
    })
}

/// `vfio_pci_core_enable`'s `pci_enable_device` (`pci_enable_resources`): the function
/// decodes its BARs from the open on, Memory Space for a memory BAR and I/O Space for an I/O
/// one, as a driver finds it (a driver may read a BAR before it writes Command: the selftest
/// IOAT driver's probe does). Closing resets the function, which turns them off again.
fn enable_device(f: &mut dyn PciFunction) {
    let mut cmd = read_word(f, COMMAND);
    for bar in f.description().bars.iter().flatten() {
        cmd |= match bar.kind {
            BarKind::Io => COMMAND_IO,
            _ => COMMAND_MEMORY,
        };
    }
    let _ = f.config_write(COMMAND, &cmd.to_le_bytes());
}

/// `vfio_df_unbind_iommufd` → `vfio_iommufd_physical_unbind`: every PASID detached, then the
/// RID, then the device unbound; the function's requests master-abort again.
pub(super) fn unbind(file: &VfioDeviceFile, state: &mut State) {
    unbind_binding(file, &mut state.bound);
    // `vfio_device_unblock_group`.
    if let Some(g) = &file.cdev_group {
        g.unblock();
    }
}

/// [`unbind`] of the binding in `bound`, if any.
fn unbind_binding(file: &VfioDeviceFile, bound: &mut Option<Binding>) {
    let Some(b) = bound.take() else { return };
    token::closed(file.sriov.as_ref());
    file.function_mut().dma().unbind();
    for &pasid in &b.pasids {
        device::detach(&b.ctx, &b.dev, pasid);
    }
    if b.rid_attached {
        device::detach(&b.ctx, &b.dev, NO_PASID);
    }
    device::unbind(&b.ctx, b.dev.into_object());
}

/// `VFIO_DEVICE_ATTACH_IOMMUFD_PT` (`vfio_df_ioctl_attach_pt`): `EFAULT` on the first 12
/// bytes, `EINVAL` for a short `argsz` or an unknown flag, with `VFIO_DEVICE_ATTACH_PASID`
/// `EINVAL` below `pasid`'s end and `EFAULT` reading it; then attach, or replace when
/// already attached (`vfio_iommufd_physical_attach_ioas`, `..._pasid_attach_ioas`) with
/// core's errors; the HWPT ID written back to `pt_id` (`EFAULT`: the RID is detached again).
pub(super) fn attach_pt(
    _file: &VfioDeviceFile,
    state: &mut State,
    caller: &Caller<'_>,
    arg: u64,
) -> Result<i64> {
    let minsz = offset_of_end!(VfioDeviceAttachIommufdPt, pt_id);
    let mut attach: VfioDeviceAttachIommufdPt =
        read_vfio(&caller.mem, arg, minsz, VFIO_DEVICE_ATTACH_PASID)?;
    let with_pasid = attach.flags & VFIO_DEVICE_ATTACH_PASID != 0;
    if with_pasid {
        attach.pasid = read_tail(caller, arg, attach.argsz, minsz)?;
    }
    let b = state.bound.as_mut().ok_or(Errno::EINVAL)?;
    let pt_id = if with_pasid {
        let pasid = attach.pasid;
        if b.pasids.contains(&pasid) {
            device::replace(&b.ctx, &b.dev, pasid, attach.pt_id)?
        } else {
            let id = device::attach(&b.ctx, &b.dev, pasid, attach.pt_id)?;
            b.pasids.insert(pasid);
            id
        }
    } else {
        let id = if b.rid_attached {
            device::replace(&b.ctx, &b.dev, NO_PASID, attach.pt_id)?
        } else {
            device::attach(&b.ctx, &b.dev, NO_PASID, attach.pt_id)?
        };
        b.rid_attached = true;
        id
    };
    let out = arg.wrapping_add(std::mem::offset_of!(VfioDeviceAttachIommufdPt, pt_id) as u64);
    if let Err(e) = caller.mem.write(out, pt_id.as_bytes()) {
        // `out_detach` calls `detach_ioas`: the RID, whichever was attached.
        if b.rid_attached {
            device::detach(&b.ctx, &b.dev, NO_PASID);
            b.rid_attached = false;
        }
        return Err(e);
    }
    Ok(0)
}

/// `VFIO_DEVICE_DETACH_IOMMUFD_PT` (`vfio_df_ioctl_detach_pt`): `EFAULT` on the first 8
/// bytes, `EINVAL` for a short `argsz` or an unknown flag, with `VFIO_DEVICE_DETACH_PASID`
/// `EINVAL` below `pasid`'s end and `EFAULT` reading it. Detaching what is not attached
/// succeeds and does nothing.
pub(super) fn detach_pt(
    _file: &VfioDeviceFile,
    state: &mut State,
    caller: &Caller<'_>,
    arg: u64,
) -> Result<i64> {
    let minsz = offset_of_end!(VfioDeviceDetachIommufdPt, flags);
    let detach: VfioDeviceDetachIommufdPt =
        read_vfio(&caller.mem, arg, minsz, VFIO_DEVICE_DETACH_PASID)?;
    let pasid = if detach.flags & VFIO_DEVICE_DETACH_PASID != 0 {
        Some(read_tail(caller, arg, detach.argsz, minsz)?)
    } else {
        None
    };
    let b = state.bound.as_mut().ok_or(Errno::EINVAL)?;
    match pasid {
        Some(pasid) if b.pasids.remove(&pasid) => device::detach(&b.ctx, &b.dev, pasid),
        Some(_) => {}
        None if b.rid_attached => {
            device::detach(&b.ctx, &b.dev, NO_PASID);
            b.rid_attached = false;
        }
        None => {}
    }
    Ok(0)
}

/// The `pasid` word right after the first `minsz` bytes: `EINVAL` if `argsz` does not
/// cover it, `EFAULT` if unreadable.
fn read_tail(caller: &Caller<'_>, arg: u64, argsz: u32, minsz: usize) -> Result<u32> {
    if (argsz as usize) < minsz + 4 {
        return Err(Errno::EINVAL);
    }
    let mut word = [0u8; 4];
    caller.mem.read(arg.wrapping_add(minsz as u64), &mut word)?;
    Ok(u32::from_ne_bytes(word))
}
