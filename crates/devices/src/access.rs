//! What an access to a function's config space or BAR may look like.

use thiserror::Error;

/// Why a config space or BAR access was refused (the ABI turns each into an errno).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum AccessError {
    /// Not one of the sizes the space takes (config: 1, 2, 4; BAR: 1, 2, 4, 8).
    #[error("access size {0} not supported")]
    Size(usize),
    /// The access reaches past the end of the space.
    #[error("access at {offset:#x} of {len} bytes is outside the space")]
    OutOfRange {
        /// Offset of the access.
        offset: u64,
        /// Its length.
        len: usize,
    },
    /// No such BAR, or the BAR is not implemented.
    #[error("no BAR {0}")]
    NoBar(u8),
}

/// Checks an access of `len` bytes at `offset` into a space of `size` bytes that takes the
/// lengths in `sizes`.
pub(crate) fn check(
    offset: u64,
    len: usize,
    size: u64,
    sizes: &[usize],
) -> Result<(), AccessError> {
    if !sizes.contains(&len) {
        return Err(AccessError::Size(len));
    }
    match offset.checked_add(len as u64) {
        Some(end) if end <= size => Ok(()),
        _ => Err(AccessError::OutOfRange { offset, len }),
    }
}

/// The little-endian value of up to 8 bytes.
pub fn le_value(data: &[u8]) -> u64 {
    data.iter().rev().fold(0, |v, &b| (v << 8) | u64::from(b))
}

/// Stores the low `data.len()` bytes of `value`, little-endian.
pub fn put_le(data: &mut [u8], value: u64) {
    for (i, b) in data.iter_mut().enumerate() {
        *b = (value >> (8 * i)) as u8;
    }
}
