//! vIOMMU commands (`drivers/iommu/iommufd/viommu.c`, `eventq.c`): IOMMU_VIOMMU_ALLOC,
//! IOMMU_VDEVICE_ALLOC, IOMMU_VEVENTQ_ALLOC and IOMMU_HW_QUEUE_ALLOC.

use super::Cmd;
use crate::files::{File, VeventqFile};
use std::sync::Arc;
use uiommu_core::context::Handle;
use uiommu_core::iommu::DriverData;
use uiommu_core::{hw_queue, vdevice, veventq, viommu};
use uiommu_uapi::Errno;
use uiommu_uapi::copy::UserData;
use uiommu_uapi::errno::Result;
use uiommu_uapi::iommufd::{
    IOMMU_HW_QUEUE_TYPE_DEFAULT, IOMMU_VEVENTQ_TYPE_DEFAULT, IOMMU_VIOMMU_TYPE_DEFAULT,
    IommuHwQueueAlloc, IommuVdeviceAlloc, IommuVeventqAlloc, IommuViommuAlloc,
};

/// Largest `veventq_depth` (`VEVENTQ_MAX_DEPTH`).
const VEVENTQ_MAX_DEPTH: u32 = 1 << 19;

/// IOMMU_VIOMMU_ALLOC (`iommufd_viommu_alloc_ioctl`): `EOPNOTSUPP` for flags or the DEFAULT
/// type, before the device is looked up.
pub(super) fn viommu_alloc(c: &Cmd) -> Result<()> {
    let mut cmd: IommuViommuAlloc = c.get();
    if cmd.flags != 0 || cmd.type_ == IOMMU_VIOMMU_TYPE_DEFAULT {
        return Err(Errno::EOPNOTSUPP);
    }
    let data = DriverData {
        data: UserData {
            data_type: cmd.type_,
            uptr: cmd.data_uptr,
            len: cmd.data_len,
        },
        mem: c.mem,
    };
    viommu::alloc(c.ctx, cmd.type_, cmd.dev_id, cmd.hwpt_id, data, |id| {
        cmd.out_viommu_id = id;
        c.respond(&cmd)
    })
}

/// IOMMU_VDEVICE_ALLOC (`iommufd_vdevice_alloc_ioctl`). `virt_id` indexes the kernel's
/// xarray, so it must fit an `unsigned long`: always so on the 64-bit hosts uiommu serves.
pub(super) fn vdevice_alloc(c: &Cmd) -> Result<()> {
    let mut cmd: IommuVdeviceAlloc = c.get();
    vdevice::alloc(c.ctx, cmd.viommu_id, cmd.dev_id, cmd.virt_id, |id| {
        cmd.out_vdevice_id = id;
        c.respond(&cmd)
    })
}

/// IOMMU_VEVENTQ_ALLOC (`iommufd_veventq_alloc`): the queue and its fd. Before the vIOMMU is
/// looked up, `EOPNOTSUPP` for flags, `__reserved` or the DEFAULT type, then `EINVAL` for a
/// depth of 0 or above `VEVENTQ_MAX_DEPTH`. The fd holds a user of the queue, so it cannot be
/// destroyed while open.
pub(super) fn veventq_alloc(c: &Cmd) -> Result<()> {
    let mut cmd: IommuVeventqAlloc = c.get();
    if cmd.flags != 0 || cmd.__reserved != 0 || cmd.type_ == IOMMU_VEVENTQ_TYPE_DEFAULT {
        return Err(Errno::EOPNOTSUPP);
    }
    if cmd.veventq_depth == 0 || cmd.veventq_depth > VEVENTQ_MAX_DEPTH {
        return Err(Errno::EINVAL);
    }
    veventq::alloc(
        c.ctx,
        cmd.viommu_id,
        cmd.type_,
        cmd.veventq_depth,
        |prepared| {
            let queue = Handle::new(prepared.obj_ref()).expect("made a vEVENTQ");
            let file = File::Veventq(Arc::new(VeventqFile {
                ctx: c.ctx.arc(),
                queue,
            }));
            let fd = c.fds.install(file)?;
            cmd.out_veventq_id = prepared.id();
            cmd.out_veventq_fd = fd as u32;
            c.respond(&cmd).inspect_err(|_| c.fds.uninstall(fd))
        },
    )
}

/// IOMMU_HW_QUEUE_ALLOC (`iommufd_hw_queue_alloc_ioctl`): before the vIOMMU is looked up,
/// `EOPNOTSUPP` for flags or the DEFAULT type, `EINVAL` for a `length` of 0, `EOVERFLOW` if
/// the range wraps.
pub(super) fn hw_queue_alloc(c: &Cmd) -> Result<()> {
    let mut cmd: IommuHwQueueAlloc = c.get();
    if cmd.flags != 0 || cmd.type_ == IOMMU_HW_QUEUE_TYPE_DEFAULT {
        return Err(Errno::EOPNOTSUPP);
    }
    if cmd.length == 0 {
        return Err(Errno::EINVAL);
    }
    cmd.nesting_parent_iova
        .checked_add(cmd.length - 1)
        .ok_or(Errno::EOVERFLOW)?;
    hw_queue::alloc(
        c.ctx,
        cmd.viommu_id,
        cmd.type_,
        cmd.index,
        cmd.nesting_parent_iova,
        cmd.length,
        |id| {
            cmd.out_hw_queue_id = id;
            c.respond(&cmd)
        },
    )
}
