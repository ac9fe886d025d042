//! The client's error type: which operation failed and the errno the kernel (or uiommu)
//! returned for it.

use std::path::PathBuf;

use uiommu_uapi::Errno;
use uiommu_uapi::vfio::CapChainError;

use crate::sysfs::SysfsError;

/// A failed operation. Its `Display` names the operation, the errno and the errno's meaning.
///
/// ```
/// use uiommu_client::Error;
/// use uiommu_client::uapi::Errno;
///
/// let e = Error::os("IOMMU_IOAS_MAP", Errno::EEXIST);
/// assert_eq!(e.to_string(), "IOMMU_IOAS_MAP: EEXIST (File exists)");
/// assert_eq!(e.errno(), Some(Errno::EEXIST));
///
/// // Into std::io::Error, keeping the message and the kind.
/// let io: std::io::Error = e.into();
/// assert_eq!(io.kind(), std::io::ErrorKind::AlreadyExists);
/// assert!(io.to_string().starts_with("IOMMU_IOAS_MAP: EEXIST"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A system call failed: `op` names the ioctl (`"IOMMU_IOAS_MAP"`), the selftest
    /// operation (`"IOMMU_TEST_OP_ACCESS_RW"`) or the call (`"read fault queue"`).
    #[error("{op}: {}", errno.describe())]
    Os {
        /// The operation.
        op: &'static str,
        /// The errno it returned.
        errno: Errno,
    },
    /// Opening a device node failed (`open /dev/iommu: ENOENT (No such file or directory)`).
    #[error("open {}: {}", path.display(), errno.describe())]
    Open {
        /// The path opened.
        path: PathBuf,
        /// The errno `open(2)` returned.
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
        offset: u64,
        /// Length of the range.
        len: u64,
        /// Size of the buffer.
        size: u64,
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

    /// An [`Error::Open`] from what `std::fs` returned for `path`.
    pub(crate) fn open(path: &std::path::Path, e: &std::io::Error) -> Self {
        Error::Open {
            path: path.to_path_buf(),
            errno: Errno(e.raw_os_error().unwrap_or(libc::EIO)),
        }
    }

    /// The errno, for errors that came from a system call.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::Os { errno, .. }
            | Error::Open { errno, .. }
            | Error::Sysfs {
                what: SysfsError::Io(errno),
                ..
            } => Some(*errno),
            _ => None,
        }
    }

    /// The operation that failed (`"open"` for [`Error::Open`], `"sysfs"` for
    /// [`Error::Sysfs`]; their `Display` adds the path).
    pub fn op(&self) -> &'static str {
        match self {
            Error::Os { op, .. }
            | Error::CapChain { op, .. }
            | Error::Protocol { op, .. }
            | Error::OutOfBounds { op, .. } => op,
            Error::Open { .. } => "open",
            Error::Sysfs { .. } => "sysfs",
        }
    }
}

/// Keeps the message (operation, errno, meaning) and maps the errno to its
/// [`ErrorKind`](std::io::ErrorKind); errors without an errno are
/// [`InvalidInput`](std::io::ErrorKind::InvalidInput) (a range outside its buffer) or
/// [`InvalidData`](std::io::ErrorKind::InvalidData) (a malformed reply). The [`Error`] itself
/// is the `io::Error`'s inner error (`get_ref()` and `downcast`), so the errno stays
/// reachable; `raw_os_error()` is `None`, as for every `io::Error` made with a message.
impl From<Error> for std::io::Error {
    fn from(e: Error) -> std::io::Error {
        let kind = match (&e, e.errno()) {
            (_, Some(errno)) => std::io::Error::from_raw_os_error(errno.0).kind(),
            (Error::OutOfBounds { .. }, None) => std::io::ErrorKind::InvalidInput,
            _ => std::io::ErrorKind::InvalidData,
        };
        std::io::Error::new(kind, e)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_errno_and_meaning() {
        let e = Error::Open {
            path: "/dev/iommu".into(),
            errno: Errno::ENOENT,
        };
        assert_eq!(
            e.to_string(),
            "open /dev/iommu: ENOENT (No such file or directory)"
        );
        let io = std::io::Error::from(e.clone());
        assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
        let inner = io.get_ref().and_then(|i| i.downcast_ref::<Error>());
        assert_eq!(inner, Some(&e));
    }
}
