//! The iommufd ioctl table and the first steps of every iommufd ioctl
//! (`drivers/iommu/iommufd/main.c`, `iommufd_fops_ioctl`).
//!
//! Each command has the size of its struct and a minimum size: the end of the last field the
//! first version of the struct had. A caller's `size` below the minimum is `EINVAL`; anything
//! from the minimum up is accepted under the extensible-struct rules of [`crate::copy`].

use super::*;
use crate::copy::copy_struct_from_user;
use crate::errno::{Errno, Result};
use crate::ioctl::ioc_nr;
use crate::selftest::IOMMU_TEST_CMD;
use crate::user::UserMemory;

/// One entry of the ioctl table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IoctlOp {
    /// The ioctl macro's name, e.g. `"IOMMU_IOAS_MAP"`.
    pub name: &'static str,
    /// The full ioctl number.
    pub cmd: u32,
    /// `sizeof` the command struct.
    pub size: usize,
    /// `offsetofend` of its last mandatory field.
    pub min_size: usize,
}

macro_rules! ioctl_op {
    ($cmd:ident, $ty:ty, $last:ident) => {
        IoctlOp {
            name: stringify!($cmd),
            cmd: $cmd,
            size: size_of::<$ty>(),
            min_size: crate::offset_of_end!($ty, $last),
        }
    };
}

/// Every iommufd command with its struct size and minimum size, ordered by command number.
pub const IOCTL_OPS: &[IoctlOp] = &[
    ioctl_op!(IOMMU_DESTROY, IommuDestroy, id),
    ioctl_op!(IOMMU_IOAS_ALLOC, IommuIoasAlloc, out_ioas_id),
    ioctl_op!(IOMMU_IOAS_ALLOW_IOVAS, IommuIoasAllowIovas, allowed_iovas),
    ioctl_op!(IOMMU_IOAS_COPY, IommuIoasCopy, src_iova),
    ioctl_op!(
        IOMMU_IOAS_IOVA_RANGES,
        IommuIoasIovaRanges,
        out_iova_alignment
    ),
    ioctl_op!(IOMMU_IOAS_MAP, IommuIoasMap, iova),
    ioctl_op!(IOMMU_IOAS_UNMAP, IommuIoasUnmap, length),
    ioctl_op!(IOMMU_OPTION, IommuOption, val64),
    ioctl_op!(IOMMU_VFIO_IOAS, IommuVfioIoas, __reserved),
    ioctl_op!(IOMMU_HWPT_ALLOC, IommuHwptAlloc, __reserved),
    ioctl_op!(IOMMU_GET_HW_INFO, IommuHwInfo, __reserved),
    ioctl_op!(
        IOMMU_HWPT_SET_DIRTY_TRACKING,
        IommuHwptSetDirtyTracking,
        __reserved
    ),
    ioctl_op!(IOMMU_HWPT_GET_DIRTY_BITMAP, IommuHwptGetDirtyBitmap, data),
    ioctl_op!(IOMMU_HWPT_INVALIDATE, IommuHwptInvalidate, __reserved),
    ioctl_op!(IOMMU_FAULT_QUEUE_ALLOC, IommuFaultAlloc, out_fault_fd),
    ioctl_op!(IOMMU_IOAS_MAP_FILE, IommuIoasMapFile, iova),
    ioctl_op!(IOMMU_VIOMMU_ALLOC, IommuViommuAlloc, out_viommu_id),
    ioctl_op!(IOMMU_VDEVICE_ALLOC, IommuVdeviceAlloc, virt_id),
    ioctl_op!(
        IOMMU_IOAS_CHANGE_PROCESS,
        IommuIoasChangeProcess,
        __reserved
    ),
    ioctl_op!(IOMMU_VEVENTQ_ALLOC, IommuVeventqAlloc, out_veventq_fd),
    ioctl_op!(IOMMU_HW_QUEUE_ALLOC, IommuHwQueueAlloc, length),
    ioctl_op!(IOMMU_IOAS_NOIOMMU_GET_PA, IommuIoasNoiommuGetPa, out_phys),
    ioctl_op!(IOMMU_TEST_CMD, crate::selftest::IommuTestCmd, last),
];

/// Room for the largest command struct, aligned for any of them.
#[repr(C, align(8))]
#[derive(Debug, Clone)]
pub struct CmdBuffer(pub [u8; CMD_BUFFER_SIZE]);

/// Size of [`CmdBuffer`].
pub const CMD_BUFFER_SIZE: usize = 128;

const _: () = {
    let mut i = 0;
    while i < IOCTL_OPS.len() {
        assert!(IOCTL_OPS[i].size <= CMD_BUFFER_SIZE);
        assert!(IOCTL_OPS[i].min_size <= IOCTL_OPS[i].size);
        i += 1;
    }
};

impl Default for CmdBuffer {
    fn default() -> Self {
        CmdBuffer([0; CMD_BUFFER_SIZE])
    }
}

/// Where an ioctl on an iommufd fd is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Its number falls in the iommufd range; the table decides (possibly `ENOTTY`).
    Iommufd,
    /// Any other number goes to the VFIO compatibility layer (`iommufd_vfio_ioctl`).
    Vfio,
}

/// Routes by `_IOC_NR(cmd)` only, as the kernel does: the number field decides whether the
/// iommufd table or the VFIO compatibility layer sees the command.
pub fn route(cmd: u32) -> Route {
    let nr = ioc_nr(cmd);
    // The table reaches IOMMU_TEST_CMD: the selftest mock is always built in.
    let last = ioc_nr(IOMMU_TEST_CMD);
    if (IOMMUFD_CMD_BASE..=last).contains(&nr) {
        Route::Iommufd
    } else {
        Route::Vfio
    }
}

/// The table entry whose full ioctl number is `cmd`.
pub fn ioctl_op(cmd: u32) -> Option<&'static IoctlOp> {
    IOCTL_OPS.iter().find(|op| op.cmd == cmd)
}

/// A command struct copied in from the caller.
#[derive(Debug, Clone)]
pub struct UserCmd {
    /// The table entry of the command.
    pub op: &'static IoctlOp,
    /// The caller's `size`.
    pub user_size: u32,
    /// User address of the struct.
    pub arg: u64,
    /// The struct, `op.size` bytes, zero-extended or tail-checked.
    pub buf: CmdBuffer,
}

impl UserCmd {
    /// Reads an iommufd command for a `cmd` that [`route`]s to [`Route::Iommufd`], in the
    /// kernel's order: the `size` word (`EFAULT`), the table (`ENOTTY` for a number with no
    /// entry or a different encoding), the minimum size (`EINVAL`), then the extensible copy
    /// (`E2BIG`, `EFAULT`).
    pub fn read(mem: &impl UserMemory, cmd: u32, arg: u64) -> Result<Self> {
        let mut size = [0u8; 4];
        mem.read(arg, &mut size)?;
        let user_size = u32::from_ne_bytes(size);
        let op = ioctl_op(cmd).ok_or(Errno::ENOTTY)?;
        if (user_size as usize) < op.min_size {
            return Err(Errno::EINVAL);
        }
        let mut buf = CmdBuffer::default();
        copy_struct_from_user(mem, &mut buf.0[..op.size], arg, user_size.into())?;
        Ok(UserCmd {
            op,
            user_size,
            arg,
            buf,
        })
    }

    /// The struct as `T`, which must be the command's struct.
    pub fn get<T: zerocopy::FromBytes>(&self) -> T {
        assert_eq!(
            size_of::<T>(),
            self.op.size,
            "wrong struct for {}",
            self.op.name
        );
        T::read_from_prefix(&self.buf.0)
            .expect("CmdBuffer holds every command struct")
            .0
    }

    /// `iommufd_ucmd_respond`: writes `value` back over the caller's struct, no more than the
    /// caller's `size` bytes (`EFAULT` if unwritable).
    pub fn respond<T: zerocopy::IntoBytes + zerocopy::Immutable>(
        &self,
        mem: &impl UserMemory,
        value: &T,
    ) -> Result<()> {
        let bytes = value.as_bytes();
        let n = bytes.len().min(self.user_size as usize);
        mem.write(self.arg, &bytes[..n])
    }
}

#[cfg(test)]
mod tests;
