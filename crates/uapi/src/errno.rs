//! Linux errno values (`include/uapi/asm-generic/errno-base.h`, `errno.h`).
//!
//! They are part of the ABI: every failure uiommu reports is one of these, exactly as the kernel
//! would report it. The values are the generic ones used by x86, arm64 and riscv.

use core::fmt;

/// A positive Linux errno value.
#[derive(Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("{} ({})", self.name(), self.0)]
pub struct Errno(pub i32);

impl Errno {
    /// The C library's message for the errno (`strerror`), e.g. `"No such file or
    /// directory"`.
    pub fn message(self) -> String {
        let text = std::io::Error::from_raw_os_error(self.0).to_string();
        match text.rfind(" (os error ") {
            Some(i) => text[..i].to_string(),
            None => text,
        }
    }

    /// The name and the message, as strace shows an errno: `ENOENT (No such file or
    /// directory)`.
    pub fn describe(self) -> String {
        format!("{} ({})", self.name(), self.message())
    }
}

macro_rules! errnos {
    ($($(#[$m:meta])* $name:ident = $v:expr,)*) => {
        impl Errno {
            $($(#[$m])* pub const $name: Errno = Errno($v);)*

            /// The symbolic name, e.g. `"EINVAL"`, or `"E?"` for a value not listed here.
            pub const fn name(self) -> &'static str {
                match self.0 {
                    $($v => stringify!($name),)*
                    _ => "E?",
                }
            }
        }
    };
}

errnos! {
    /// Operation not permitted.
    EPERM = 1,
    /// No such object.
    ENOENT = 2,
    /// No such process.
    ESRCH = 3,
    /// Interrupted.
    EINTR = 4,
    /// I/O error; also what the SMMUv3 driver reports for illegal STE fields.
    EIO = 5,
    /// No such device or address.
    ENXIO = 6,
    /// Argument list too long: non-zero bytes past the struct the kernel knows.
    E2BIG = 7,
    /// Bad file descriptor.
    EBADF = 9,
    /// Try again.
    EAGAIN = 11,
    /// Out of memory, or over the pinned-page limit.
    ENOMEM = 12,
    /// Permission denied.
    EACCES = 13,
    /// Bad address: user memory that cannot be read or written.
    EFAULT = 14,
    /// Object in use.
    EBUSY = 16,
    /// Object exists.
    EEXIST = 17,
    /// Cross-device link.
    EXDEV = 18,
    /// No such device.
    ENODEV = 19,
    /// Invalid argument.
    EINVAL = 22,
    /// Inappropriate ioctl for the device: an unknown command.
    ENOTTY = 25,
    /// No space left.
    ENOSPC = 28,
    /// Illegal seek.
    ESPIPE = 29,
    /// Result out of range.
    ERANGE = 34,
    /// Invalid exchange: pinned pages that are not the caller's (`IOMMU_TEST_OP_ACCESS_PAGES`).
    EBADE = 52,
    /// Deadlock would occur.
    EDEADLK = 35,
    /// Function not implemented.
    ENOSYS = 38,
    /// Value too large for the data type.
    EOVERFLOW = 75,
    /// File descriptor in bad state: an fd that is not the kind of file a command needs.
    EBADFD = 77,
    /// Message too long: an output array that does not fit (e.g. IOMMU_IOAS_IOVA_RANGES).
    EMSGSIZE = 90,
    /// Operation not supported.
    EOPNOTSUPP = 95,
    /// Address already in use: an IOVA range that overlaps an existing mapping.
    EADDRINUSE = 98,
    /// Connection timed out.
    ETIMEDOUT = 110,
    /// Operation already in progress.
    EALREADY = 114,
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())
    }
}

/// `Result` with an [`Errno`] error, the shape of every uAPI operation.
pub type Result<T> = core::result::Result<T, Errno>;

#[cfg(test)]
mod tests {
    use super::Errno;

    #[test]
    fn names_and_values() {
        assert_eq!(Errno::EINVAL.0, 22);
        assert_eq!(Errno::E2BIG.name(), "E2BIG");
        assert_eq!(format!("{}", Errno::EFAULT), "EFAULT (14)");
        assert_eq!(Errno(4095).name(), "E?");
        assert_eq!(
            Errno::ENOENT.describe(),
            "ENOENT (No such file or directory)"
        );
    }
}
