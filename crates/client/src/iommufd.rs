//! [`Iommufd`]: an open `/dev/iommu` context, and the commands that are not about one object:
//! `IOMMU_DESTROY`, `IOMMU_OPTION` on the context, `IOMMU_GET_HW_INFO`, `IOMMU_VFIO_IOAS`,
//! `IOMMU_IOAS_CHANGE_PROCESS`.

use std::fs::OpenOptions;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;

use uiommu_uapi::iommufd::*;
use zerocopy::{FromBytes, IntoBytes};

use crate::error::{Context, Error, Result};
use crate::hw_info::HwInfo;
use crate::ids::{DeviceId, IoasId, ObjectId};
use crate::ioas::Ioas;
use crate::ioctl;

/// An open iommufd context. Cheap to clone: clones share the file descriptor, which is
/// closed (destroying every object left in it) when the last clone and the last object
/// handle are gone.
///
/// ```no_run
/// use uiommu_client::{Iommufd, RlimitMode};
///
/// let fd = Iommufd::open()?;
/// fd.set_rlimit_mode(RlimitMode::User)?;
/// let ioas = fd.alloc_ioas()?;
/// println!("IOAS {}", ioas.id());
/// # Ok::<(), uiommu_client::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Iommufd {
    fd: Arc<OwnedFd>,
}

/// Values of `IOMMU_OPTION_RLIMIT_MODE`: whom pinned pages are charged to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RlimitMode {
    /// 0: the user's `RLIMIT_MEMLOCK` (`user->locked_vm`), the default.
    User,
    /// 1: the process's `mm->pinned_vm`.
    Process,
}

impl Iommufd {
    /// The iommufd character device.
    pub const PATH: &'static str = "/dev/iommu";

    /// Opens [`Self::PATH`] read-write with `O_CLOEXEC`.
    pub fn open() -> Result<Self> {
        Self::open_path(Self::PATH)
    }

    /// Opens an iommufd device at `path`.
    pub fn open_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| Error::open(path, &e))?;
        Ok(Self::from_fd(file.into()))
    }

    /// Wraps an already open iommufd (e.g. one received over a socket).
    pub fn from_fd(fd: OwnedFd) -> Self {
        Iommufd { fd: Arc::new(fd) }
    }

    /// The shared fd, for the VFIO compatibility container.
    pub(crate) fn shared_fd(&self) -> Arc<OwnedFd> {
        self.fd.clone()
    }

    /// Runs an iommufd command whose struct is `arg`.
    pub(crate) fn ioctl<T: IntoBytes + FromBytes>(
        &self,
        op: &'static str,
        cmd: u32,
        arg: &mut T,
    ) -> Result<i32> {
        ioctl::ioctl(self.as_fd(), cmd, arg).op(op)
    }

    /// ioctl(IOMMU_DESTROY): destroys the object `id` (`iommu_destroy.id`), whatever its kind.
    /// Handles destroy their objects on drop; this is for IDs the client does not own and for
    /// testing the kernel's rules (`ENOENT`, `EBUSY`). Destroying by ID an object a handle
    /// owns leaves that handle unable to destroy it later; an IOAS handle then keeps the
    /// buffers it held (use [`Ioas::destroy`], which releases them).
    pub fn destroy(&self, id: impl Into<ObjectId>) -> Result<()> {
        let mut cmd = IommuDestroy {
            size: size_of::<IommuDestroy>() as u32,
            id: id.into().raw(),
        };
        self.ioctl("IOMMU_DESTROY", IOMMU_DESTROY, &mut cmd)?;
        Ok(())
    }

    /// ioctl(IOMMU_OPTION, `IOMMU_OPTION_OP_GET`): the value of option `option_id` of object
    /// `object_id` (`ObjectId::from_raw(0)` or `0u32`: the context).
    pub fn get_option(&self, option_id: u32, object_id: impl Into<ObjectId>) -> Result<u64> {
        let mut cmd = IommuOption {
            size: size_of::<IommuOption>() as u32,
            option_id,
            op: IOMMU_OPTION_OP_GET,
            object_id: object_id.into().raw(),
            ..Default::default()
        };
        self.ioctl("IOMMU_OPTION", IOMMU_OPTION, &mut cmd)?;
        Ok(cmd.val64)
    }

    /// ioctl(IOMMU_OPTION, `IOMMU_OPTION_OP_SET`): sets option `option_id` of object
    /// `object_id` (0: the context) to `val64`.
    pub fn set_option(
        &self,
        option_id: u32,
        object_id: impl Into<ObjectId>,
        val64: u64,
    ) -> Result<()> {
        let mut cmd = IommuOption {
            size: size_of::<IommuOption>() as u32,
            option_id,
            op: IOMMU_OPTION_OP_SET,
            object_id: object_id.into().raw(),
            val64,
            ..Default::default()
        };
        self.ioctl("IOMMU_OPTION", IOMMU_OPTION, &mut cmd)?;
        Ok(())
    }

    /// `IOMMU_OPTION_RLIMIT_MODE` of the context.
    pub fn rlimit_mode(&self) -> Result<RlimitMode> {
        match self.get_option(IOMMU_OPTION_RLIMIT_MODE, 0)? {
            0 => Ok(RlimitMode::User),
            1 => Ok(RlimitMode::Process),
            v => Err(Error::Protocol {
                op: "IOMMU_OPTION",
                what: format!("RLIMIT_MODE {v}"),
            }),
        }
    }

    /// Sets `IOMMU_OPTION_RLIMIT_MODE` (needs `CAP_SYS_RESOURCE`; `EPERM` otherwise, and
    /// `EBUSY` once anything is pinned).
    pub fn set_rlimit_mode(&self, mode: RlimitMode) -> Result<()> {
        let v = match mode {
            RlimitMode::User => 0,
            RlimitMode::Process => 1,
        };
        self.set_option(IOMMU_OPTION_RLIMIT_MODE, 0, v)
    }

    /// ioctl(IOMMU_IOAS_ALLOC): a new, empty IOAS.
    pub fn alloc_ioas(&self) -> Result<Ioas> {
        Ioas::alloc(self)
    }

    /// ioctl(IOMMU_GET_HW_INFO) for device `dev_id`, the driver's default data type, decoded.
    pub fn hw_info(&self, dev_id: DeviceId) -> Result<HwInfo> {
        HwInfo::query(self, dev_id.raw(), None, 256)
    }

    /// ioctl(IOMMU_GET_HW_INFO) with `IOMMU_HW_INFO_FLAG_INPUT_TYPE` asking for `data_type`
    /// (`in_data_type`) and a data buffer of `data_len` bytes.
    pub fn hw_info_of_type(
        &self,
        dev_id: DeviceId,
        data_type: u32,
        data_len: u32,
    ) -> Result<HwInfo> {
        HwInfo::query(self, dev_id.raw(), Some(data_type), data_len)
    }

    fn vfio_ioas(&self, op: u16, ioas_id: u32) -> Result<u32> {
        let mut cmd = IommuVfioIoas {
            size: size_of::<IommuVfioIoas>() as u32,
            ioas_id,
            op,
            __reserved: 0,
        };
        self.ioctl("IOMMU_VFIO_IOAS", IOMMU_VFIO_IOAS, &mut cmd)?;
        Ok(cmd.ioas_id)
    }

    /// ioctl(IOMMU_VFIO_IOAS, `IOMMU_VFIO_IOAS_GET`): the ID of the IOAS the VFIO
    /// compatibility ioctls use (`ENODEV` if none).
    pub fn vfio_ioas_get(&self) -> Result<IoasId> {
        self.vfio_ioas(IOMMU_VFIO_IOAS_GET, 0).map(IoasId::from_raw)
    }

    /// ioctl(IOMMU_VFIO_IOAS, `IOMMU_VFIO_IOAS_SET`): makes `ioas` the compatibility IOAS.
    pub fn vfio_ioas_set(&self, ioas: &Ioas) -> Result<()> {
        self.vfio_ioas_set_id(ioas.id())
    }

    /// `IOMMU_VFIO_IOAS_SET` with a raw IOAS ID.
    pub fn vfio_ioas_set_id(&self, ioas_id: IoasId) -> Result<()> {
        self.vfio_ioas(IOMMU_VFIO_IOAS_SET, ioas_id.raw())
            .map(|_| ())
    }

    /// ioctl(IOMMU_VFIO_IOAS, `IOMMU_VFIO_IOAS_CLEAR`): no compatibility IOAS.
    pub fn vfio_ioas_clear(&self) -> Result<()> {
        self.vfio_ioas(IOMMU_VFIO_IOAS_CLEAR, 0).map(|_| ())
    }

    /// ioctl(IOMMU_VFIO_IOAS) with any `op`, for testing the kernel's checks.
    pub fn vfio_ioas_raw(&self, op: u16, ioas_id: u32) -> Result<u32> {
        self.vfio_ioas(op, ioas_id)
    }

    /// ioctl(IOMMU_IOAS_CHANGE_PROCESS): charges the pins of every file-backed mapping in
    /// this context to the calling process (`EINVAL` if any mapping is not file-backed).
    pub fn change_process(&self) -> Result<()> {
        let mut cmd = IommuIoasChangeProcess {
            size: size_of::<IommuIoasChangeProcess>() as u32,
            __reserved: 0,
        };
        self.ioctl(
            "IOMMU_IOAS_CHANGE_PROCESS",
            IOMMU_IOAS_CHANGE_PROCESS,
            &mut cmd,
        )?;
        Ok(())
    }

    /// Runs an iommufd command given as raw bytes, with `size` and every field as the caller
    /// wrote them: for testing the kernel's size and reserved-field rules. Returns the bytes
    /// as the kernel left them.
    /// The leading `size` word must not exceed `bytes.len()`: the kernel writes results back
    /// up to `size` bytes.
    pub fn raw_command(&self, op: &'static str, cmd: u32, bytes: &mut [u8]) -> Result<i32> {
        let size = bytes
            .get(..4)
            .map(|w| u32::from_ne_bytes([w[0], w[1], w[2], w[3]]) as usize);
        match size {
            Some(size) if size <= bytes.len() => {}
            _ => {
                return Err(Error::OutOfBounds {
                    op,
                    offset: 0,
                    len: size.unwrap_or(4) as u64,
                    size: bytes.len() as u64,
                });
            }
        }
        ioctl::ioctl_bytes(self.as_fd(), cmd, bytes).op(op)
    }

    /// The selftest interface (`IOMMU_TEST_CMD`); works only where the mock driver exists
    /// (a kernel built with `CONFIG_IOMMUFD_TEST`, or uiommu). Feature `selftest`.
    #[cfg(feature = "selftest")]
    pub fn test(&self) -> crate::selftest::IommufdTest {
        crate::selftest::IommufdTest::new(self)
    }
}

impl AsFd for Iommufd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
