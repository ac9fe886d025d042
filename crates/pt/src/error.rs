//! Errors of page-table operations, each carrying the errno the kernel returns.

/// Linux errno values used by this crate (asm-generic/errno-base.h, errno.h).
pub mod errno {
    /// No translation at this address.
    pub const ENOENT: i32 = 2;
    /// Address cannot be represented by the chosen page sizes.
    pub const ENXIO: i32 = 6;
    /// A compare-and-exchange lost a race.
    pub const EAGAIN: i32 = 11;
    /// Out of table memory.
    pub const ENOMEM: i32 = 12;
    /// A table entry could not be read (guest memory absent).
    pub const EFAULT: i32 = 14;
    /// The IOVA is already mapped.
    pub const EEXIST: i32 = 17;
    /// Invalid argument.
    pub const EINVAL: i32 = 22;
    /// Address outside what the table can translate.
    pub const ERANGE: i32 = 34;
    /// iova + len wraps.
    pub const EOVERFLOW: i32 = 75;
    /// Operation not supported by this format.
    pub const EOPNOTSUPP: i32 = 95;
    /// The range overlaps an existing translation.
    pub const EADDRINUSE: i32 = 98;
}

/// Why a page-table operation failed. [`PtError::errno`] gives the kernel's errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PtError {
    /// Bad argument: zero length, no permission requested, bad configuration.
    #[error("invalid argument")]
    Invalid,
    /// `iova + len - 1` overflows.
    #[error("iova range wraps")]
    Overflow,
    /// IOVA or output address beyond what the table can hold.
    #[error("address out of range")]
    OutOfRange,
    /// IOVA or output address not aligned to any supported page size.
    #[error("address not aligned to a supported page size")]
    Unaligned,
    /// Part of the range is already mapped.
    #[error("range already mapped")]
    InUse,
    /// No translation for the IOVA.
    #[error("no translation")]
    NotMapped,
    /// No table memory left.
    #[error("out of table memory")]
    NoMemory,
    /// A table entry could not be read or written at this table address.
    #[error("table memory fault at {0:#x}")]
    Fault(u64),
    /// A concurrent update changed the entry first.
    #[error("entry changed concurrently")]
    Again,
    /// The format has no such feature (e.g. dirty tracking).
    #[error("not supported by this format")]
    NotSupported,
}

impl PtError {
    /// The errno the kernel returns for this failure.
    pub fn errno(self) -> i32 {
        use errno::*;
        match self {
            PtError::Invalid => EINVAL,
            PtError::Overflow => EOVERFLOW,
            PtError::OutOfRange => ERANGE,
            PtError::Unaligned => ENXIO,
            PtError::InUse => EADDRINUSE,
            PtError::NotMapped => ENOENT,
            PtError::NoMemory => ENOMEM,
            PtError::Fault(_) => EFAULT,
            PtError::Again => EAGAIN,
            PtError::NotSupported => EOPNOTSUPP,
        }
    }
}
