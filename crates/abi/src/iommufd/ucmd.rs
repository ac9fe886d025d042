//! The first steps of every iommufd ioctl (`drivers/iommu/iommufd/main.c`,
//! `iommufd_fops_ioctl`, `iommufd_ucmd_respond`): the caller's `size`, the table row, the
//! minimum size, then the struct under the extensible-struct rules of
//! [`uiommu_uapi::copy::copy_struct_from_user`].

use super::table::{IoctlOp, OPS, ROWS};
use uiommu_uapi::copy::copy_struct_from_user;
use uiommu_uapi::errno::{Errno, Result};
use uiommu_uapi::user::UserMemory;

/// Room for the largest command struct, aligned for any of them (the kernel's `union ucmd_buffer`).
#[repr(C, align(8))]
#[derive(Debug, Clone)]
pub(crate) struct CmdBuffer(pub [u8; CMD_BUFFER_SIZE]);

/// Size of [`CmdBuffer`].
const CMD_BUFFER_SIZE: usize = 128;

const _: () = {
    let mut i = 0;
    while i < ROWS.len() {
        assert!(ROWS[i].1.size <= CMD_BUFFER_SIZE);
        assert!(ROWS[i].1.min_size <= ROWS[i].1.size);
        i += 1;
    }
};

impl Default for CmdBuffer {
    fn default() -> Self {
        CmdBuffer([0; CMD_BUFFER_SIZE])
    }
}

/// A command struct copied in from the caller.
#[derive(Debug, Clone)]
pub(crate) struct UserCmd {
    /// The table row of the command.
    pub op: &'static IoctlOp,
    /// The caller's `size`.
    pub user_size: u32,
    /// User address of the struct.
    pub arg: u64,
    /// The struct, `op.size` bytes, zero-extended or tail-checked.
    pub buf: CmdBuffer,
}

impl UserCmd {
    /// Reads an iommufd command for a `cmd` in the table's range, in the kernel's order: the
    /// `size` word (`EFAULT`), the row (`ENOTTY` for a number with no row or a different
    /// encoding), the minimum size (`EINVAL`), then the extensible copy (`E2BIG`, `EFAULT`).
    /// Inlined into the dispatcher, so that the struct is copied in where it stays.
    #[inline]
    pub fn read(mem: &impl UserMemory, cmd: u32, arg: u64) -> Result<Self> {
        let mut size = [0u8; 4];
        mem.read(arg, &mut size)?;
        let user_size = u32::from_ne_bytes(size);
        let op = OPS.get(cmd).ok_or(Errno::ENOTTY)?;
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
