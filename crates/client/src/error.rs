//! The client's error type: which operation failed and the errno the kernel (or uiommu)
//! returned for it.

use std::path::PathBuf;

use uiommu_uapi::Errno;
use uiommu_uapi::vfio::CapChainError;

use crate::sysfs::SysfsError;

/// A failed operation.
///
/// ```
/// use uiommu_client::Error;
/// use uiommu_uapi::Errno;
///
/// let e = Error::os("IOMMU_IOAS_MAP", Errno::EEXIST);
/// assert_eq!(e.to_string(), "IOMMU_IOAS_MAP: EEXIST");
/// assert_eq!(e.errno(), Some(Errno::EEXIST));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A system call failed: `op` names the ioctl (`"IOMMU_IOAS_MAP"`) or call (`"open
    /// /dev/iommu"`, `"read fault queue"`).
    #[error("{op}: {}", errno.name())]
    Os {
        /// The operation.
        op: &'static str,
        /// The errno it returned.
        errno: Errno,
    },
    /// A capability chain returned by an INFO ioctl is malformed.
    #[error("{op}: malformed capability chain: {source}")]
    CapChain {
        /// The INFO ioctl.
        op: &'static str,
        /// What is wrong with the chain.
        source: CapChainError,
    },
    /// The kernel returned something the uAPI does not allow (a short read, a count larger
    /// than the buffer).
    #[error("{op}: unexpected reply: {what}")]
    Protocol {
        /// The operation.
        op: &'static str,
        /// What was unexpected.
        what: String,
    },
    /// A range is outside the buffer it refers to; nothing was sent to the kernel.
    #[error("{op}: range {offset:#x}+{len:#x} outside a buffer of {size:#x} bytes")]
    OutOfBounds {
        /// The operation.
        op: &'static str,
        /// Start of the range.
        offset: usize,
        /// Length of the range.
        len: usize,
        /// Size of the buffer.
        size: usize,
    },
    /// A sysfs file, link or directory of device discovery ([`crate::PciDevices`]) is
    /// missing, unreadable or malformed.
    #[error("{}: {what}", path.display())]
    Sysfs {
        /// The sysfs path.
        path: PathBuf,
        /// What is wrong with it.
        what: SysfsError,
    },
}

impl Error {
    /// An [`Error::Os`].
    pub fn os(op: &'static str, errno: Errno) -> Self {
        Error::Os { op, errno }
    }

    /// The errno, for errors that came from a system call.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::Os { errno, .. }
            | Error::Sysfs {
                what: SysfsError::Io(errno),
                ..
            } => Some(*errno),
            _ => None,
        }
    }

    /// The operation that failed.
    pub fn op(&self) -> &'static str {
        match self {
            Error::Os { op, .. }
            | Error::CapChain { op, .. }
            | Error::Protocol { op, .. }
            | Error::OutOfBounds { op, .. } => op,
            Error::Sysfs { .. } => "sysfs",
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Names the operation of an `Errno` result.
pub(crate) trait Context<T> {
    fn op(self, op: &'static str) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, Errno> {
    fn op(self, op: &'static str) -> Result<T> {
        self.map_err(|errno| Error::Os { op, errno })
    }
}
