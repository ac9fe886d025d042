//! The iommufd ioctl table (`drivers/iommu/iommufd/main.c`, `iommufd_ioctl_ops[]`): one row per
//! command with its struct's size, its minimum size — the end of the last field the struct's
//! first version had — and its handler, at `_IOC_NR(cmd) - IOMMUFD_CMD_BASE`.

use super::{Cmd, fault, hwpt, ioas, option, selftest, viommu};
use crate::cmd_table::CmdTable;
use uiommu_uapi::errno::Result;
use uiommu_uapi::ioctl::ioc_nr;
use uiommu_uapi::iommufd::*;
use uiommu_uapi::offset_of_end;
use uiommu_uapi::selftest::{IOMMU_TEST_CMD, IommuTestCmd};

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct IoctlOp {
    /// The ioctl macro's name, e.g. `"IOMMU_IOAS_MAP"`.
    pub name: &'static str,
    /// `sizeof` the command struct.
    pub size: usize,
    /// `offsetofend` of its last mandatory field: a smaller `size` is `EINVAL`.
    pub min_size: usize,
    /// What the command does once its struct is copied in (`execute`).
    pub(crate) handler: fn(&Cmd) -> Result<()>,
}

macro_rules! op {
    ($cmd:ident, $ty:ty, $last:ident, $handler:path) => {
        (
            $cmd,
            IoctlOp {
                name: stringify!($cmd),
                size: size_of::<$ty>(),
                min_size: offset_of_end!($ty, $last),
                handler: $handler,
            },
        )
    };
}

/// Numbers from `IOMMUFD_CMD_BASE` up to `IOMMU_TEST_CMD`: the selftest mock is always built in.
const LEN: usize = (ioc_nr(IOMMU_TEST_CMD) - IOMMUFD_CMD_BASE) as usize + 1;

/// Every iommufd command with its full ioctl number, by number.
#[rustfmt::skip]
pub(super) const ROWS: &[(u32, IoctlOp)] = &[
    op!(IOMMU_DESTROY, IommuDestroy, id, ioas::destroy),
    op!(IOMMU_IOAS_ALLOC, IommuIoasAlloc, out_ioas_id, ioas::alloc),
    op!(IOMMU_IOAS_ALLOW_IOVAS, IommuIoasAllowIovas, allowed_iovas, ioas::allow_iovas),
    op!(IOMMU_IOAS_COPY, IommuIoasCopy, src_iova, ioas::copy),
    op!(IOMMU_IOAS_IOVA_RANGES, IommuIoasIovaRanges, out_iova_alignment, ioas::iova_ranges),
    op!(IOMMU_IOAS_MAP, IommuIoasMap, iova, ioas::map),
    op!(IOMMU_IOAS_UNMAP, IommuIoasUnmap, length, ioas::unmap),
    op!(IOMMU_OPTION, IommuOption, val64, option::option),
    op!(IOMMU_VFIO_IOAS, IommuVfioIoas, __reserved, option::vfio_ioas),
    op!(IOMMU_HWPT_ALLOC, IommuHwptAlloc, __reserved, hwpt::alloc),
    op!(IOMMU_GET_HW_INFO, IommuHwInfo, __reserved, hwpt::get_hw_info),
    op!(IOMMU_HWPT_SET_DIRTY_TRACKING, IommuHwptSetDirtyTracking, __reserved,
        hwpt::set_dirty_tracking),
    op!(IOMMU_HWPT_GET_DIRTY_BITMAP, IommuHwptGetDirtyBitmap, data, hwpt::get_dirty_bitmap),
    op!(IOMMU_HWPT_INVALIDATE, IommuHwptInvalidate, __reserved, hwpt::invalidate),
    op!(IOMMU_FAULT_QUEUE_ALLOC, IommuFaultAlloc, out_fault_fd, fault::alloc),
    op!(IOMMU_IOAS_MAP_FILE, IommuIoasMapFile, iova, ioas::map_file),
    op!(IOMMU_VIOMMU_ALLOC, IommuViommuAlloc, out_viommu_id, viommu::viommu_alloc),
    op!(IOMMU_VDEVICE_ALLOC, IommuVdeviceAlloc, virt_id, viommu::vdevice_alloc),
    op!(IOMMU_IOAS_CHANGE_PROCESS, IommuIoasChangeProcess, __reserved, ioas::change_process),
    op!(IOMMU_VEVENTQ_ALLOC, IommuVeventqAlloc, out_veventq_fd, viommu::veventq_alloc),
    op!(IOMMU_HW_QUEUE_ALLOC, IommuHwQueueAlloc, length, viommu::hw_queue_alloc),
    op!(IOMMU_IOAS_NOIOMMU_GET_PA, IommuIoasNoiommuGetPa, out_phys, ioas::noiommu_get_pa),
    op!(IOMMU_TEST_CMD, IommuTestCmd, last, selftest::run),
];

/// The rows, indexed by number.
pub(super) static OPS: CmdTable<IoctlOp, LEN> = CmdTable::new(IOMMUFD_CMD_BASE, ROWS);

/// Every iommufd command with its full ioctl number, by number.
pub fn iommufd_ioctls() -> impl Iterator<Item = (u32, &'static IoctlOp)> {
    OPS.rows()
}

#[cfg(test)]
mod tests;
