//! vIOMMU commands (`drivers/iommu/iommufd/viommu.c`, `eventq.c`): IOMMU_VIOMMU_ALLOC,
//! IOMMU_VDEVICE_ALLOC, IOMMU_VEVENTQ_ALLOC and IOMMU_HW_QUEUE_ALLOC.

use super::Cmd;
use crate::files::{File, VeventqFile};
use std::sync::Arc;
use uiommu_core::context::Handle;
use uiommu_core::iommu::DriverData;
use uiommu_core::{hw_queue, vdevice, veventq, viommu};
use uiommu_uapi::copy::UserData;
use uiommu_uapi::errno::Result;
use uiommu_uapi::iommufd::{
    IommuHwQueueAlloc, IommuVdeviceAlloc, IommuVeventqAlloc, IommuViommuAlloc,
};

/// IOMMU_VIOMMU_ALLOC (`iommufd_viommu_alloc_ioctl`).
pub(super) fn viommu_alloc(c: &Cmd) -> Result<()> {
    let mut cmd: IommuViommuAlloc = c.get();
    let data = DriverData {
        data: UserData {
            data_type: cmd.type_,
            uptr: cmd.data_uptr,
            len: cmd.data_len,
        },
        mem: c.mem,
    };
    viommu::alloc(
        c.ctx,
        cmd.flags,
        cmd.type_,
        cmd.dev_id,
        cmd.hwpt_id,
        data,
        |id| {
            cmd.out_viommu_id = id;
            c.respond(&cmd)
        },
    )
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

/// IOMMU_VEVENTQ_ALLOC (`iommufd_veventq_alloc`): the queue and its fd. The fd holds a user
/// of the queue, so it cannot be destroyed while open.
pub(super) fn veventq_alloc(c: &Cmd) -> Result<()> {
    let mut cmd: IommuVeventqAlloc = c.get();
    if cmd.__reserved != 0 {
        return Err(uiommu_uapi::Errno::EOPNOTSUPP);
    }
    veventq::alloc(
        c.ctx,
        cmd.flags,
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

/// IOMMU_HW_QUEUE_ALLOC (`iommufd_hw_queue_alloc_ioctl`).
pub(super) fn hw_queue_alloc(c: &Cmd) -> Result<()> {
    let mut cmd: IommuHwQueueAlloc = c.get();
    hw_queue::alloc(
        c.ctx,
        cmd.flags,
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
