//! VFIO capability chains (`include/uapi/linux/vfio.h`, `struct vfio_info_cap_header`).
//!
//! An INFO ioctl (`VFIO_IOMMU_GET_INFO`, `VFIO_DEVICE_GET_INFO`,
//! `VFIO_DEVICE_GET_REGION_INFO`) can return capabilities after its fixed struct. Each starts
//! with a [`VfioInfoCapHeader`]; the fixed struct's `cap_offset` gives the offset of the first
//! one and each header's `next` the offset of the following one, both counted from the start
//! of the fixed struct; `next == 0` ends the chain. IDs are per INFO ioctl; the version is per
//! ID. The kernel (`drivers/vfio/vfio_main.c`) places the capabilities right after the fixed
//! struct in the order they were added, each zero-padded to a multiple of 8 bytes.
//!
//! When the caller's `argsz` cannot hold the fixed struct and every capability, the ioctl still
//! succeeds: it sets the CAPS flag, raises `argsz` to the size needed, leaves `cap_offset` 0
//! and copies no capability. [`CapChainBuilder::place`] computes that outcome.
//!
//! - [`CapChainBuilder`] lays a chain out the way the kernel does.
//! - [`CapChain`] walks a chain from a buffer, rejecting loops, offsets out of bounds,
//!   misaligned offsets and offsets into the fixed struct, without panicking.

use std::collections::BTreeSet;

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

crate::uapi_structs! {
    /// `struct vfio_info_cap_header` — the header every capability starts with.
    pub struct VfioInfoCapHeader = "vfio_info_cap_header" {
        /// Capability ID; its meaning depends on the INFO ioctl.
        pub id: u16,
        /// Version of this capability's layout.
        pub version: u16,
        /// Offset of the next capability from the start of the INFO struct; 0 ends the chain.
        pub next: u32,
    }
}

/// Capabilities are placed at offsets that are multiples of this.
pub const CAP_ALIGN: usize = 8;

/// A capability struct: starts with a [`VfioInfoCapHeader`] and has a fixed ID and version.
pub trait InfoCap: FromBytes + IntoBytes + Immutable + KnownLayout + Sized {
    /// The capability ID (unique within its INFO ioctl).
    const ID: u16;
    /// The layout version this struct describes.
    const VERSION: u16;
}

/// Why a capability chain is rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CapChainError {
    /// An offset points into the fixed INFO struct.
    #[error("capability offset {offset} points into the {fixed}-byte info struct")]
    IntoFixed {
        /// The offending offset.
        offset: usize,
        /// Size of the fixed struct.
        fixed: usize,
    },
    /// A header does not fit in the buffer.
    #[error("capability header at offset {offset} exceeds the {len}-byte buffer")]
    OutOfBounds {
        /// The offending offset.
        offset: usize,
        /// Length of the buffer.
        len: usize,
    },
    /// An offset is not a multiple of [`CAP_ALIGN`].
    #[error("capability offset {offset} is not 8-byte aligned")]
    Misaligned {
        /// The offending offset.
        offset: usize,
    },
    /// The chain visits an offset twice.
    #[error("capability chain loops back to offset {offset}")]
    Loop {
        /// The offset visited again.
        offset: usize,
    },
    /// A capability is shorter than the struct it was read as.
    #[error(
        "capability {id} at offset {offset} is truncated: {needed} bytes needed, {available} present"
    )]
    Truncated {
        /// Capability ID.
        id: u16,
        /// Offset of the capability.
        offset: usize,
        /// Bytes the struct (and its trailing entries) needs.
        needed: usize,
        /// Bytes left in the buffer from the capability's start.
        available: usize,
    },
    /// A capability was read as a struct with a different ID.
    #[error("capability at offset {offset} has ID {id}, expected {expected}")]
    WrongId {
        /// Offset of the capability.
        offset: usize,
        /// Its ID.
        id: u16,
        /// The ID of the struct asked for.
        expected: u16,
    },
    /// The chain does not fit 32-bit offsets.
    #[error("capability chain does not fit 32-bit offsets")]
    TooLarge,
}

/// Builds a capability chain as the kernel lays it out: capabilities in the order added, each
/// zero-padded to a multiple of [`CAP_ALIGN`], linked in that order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapChainBuilder {
    /// The capabilities, back to back; `next` fields hold offsets relative to `buf`.
    buf: Vec<u8>,
    /// Offset in `buf` of each capability.
    offsets: Vec<usize>,
}

/// Where an INFO ioctl's capabilities go, given the caller's `argsz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CapPlacement {
    /// There are no capabilities: the CAPS flag stays clear and nothing else changes.
    None,
    /// The caller's buffer is too small: set the CAPS flag and write `argsz` back; leave
    /// `cap_offset` 0 and copy no capability. The ioctl succeeds.
    TooSmall {
        /// The size needed: the fixed struct plus every capability.
        argsz: u32,
    },
    /// The capabilities fit: set the CAPS flag, copy `bytes` to offset `cap_offset` of the
    /// caller's buffer and set `cap_offset`. `argsz` is left as the caller gave it.
    Fits {
        /// Offset of the first capability: the size of the fixed struct.
        cap_offset: u32,
        /// The chain, with `next` offsets counted from the start of the fixed struct.
        bytes: Vec<u8>,
    },
}

impl CapChainBuilder {
    /// An empty chain.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a capability with the given header fields and the bytes that follow its
    /// header; pads it with zeros to a multiple of [`CAP_ALIGN`].
    pub fn push_raw(&mut self, id: u16, version: u16, body: &[u8]) -> &mut Self {
        let offset = self.buf.len();
        if let Some(&last) = self.offsets.last() {
            // The previous capability's header links to this one.
            let next = &mut self.buf[last + 4..last + 8];
            next.copy_from_slice(&(offset as u32).to_le_bytes());
        }
        let header = VfioInfoCapHeader {
            id,
            version,
            next: 0,
        };
        self.buf.extend_from_slice(header.as_bytes());
        self.buf.extend_from_slice(body);
        self.buf
            .resize(self.buf.len().next_multiple_of(CAP_ALIGN), 0);
        self.offsets.push(offset);
        self
    }

    /// Appends a capability struct; its header is set from [`InfoCap::ID`] and
    /// [`InfoCap::VERSION`] (whatever `cap.header` holds is ignored).
    pub fn push<T: InfoCap>(&mut self, cap: &T) -> &mut Self {
        self.push_with::<T, u8>(cap, &[])
    }

    /// Appends a capability struct followed by the entries of its flexible array (e.g. the
    /// IOVA ranges of `vfio_iommu_type1_info_cap_iova_range`).
    pub fn push_with<T: InfoCap, E: IntoBytes + Immutable>(
        &mut self,
        cap: &T,
        trailing: &[E],
    ) -> &mut Self {
        let header = size_of::<VfioInfoCapHeader>();
        let mut body = cap.as_bytes().get(header..).unwrap_or_default().to_vec();
        body.extend_from_slice(trailing.as_bytes());
        self.push_raw(T::ID, T::VERSION, &body)
    }

    /// Total bytes of the chain, padding included (the kernel's `caps.size`).
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether no capability was added.
    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// Number of capabilities.
    pub fn count(&self) -> usize {
        self.offsets.len()
    }

    /// The chain as it appears in the caller's buffer when placed at offset `base` (the size of
    /// the fixed INFO struct, a multiple of 8): every non-zero `next` is shifted by `base`.
    pub fn to_bytes(&self, base: usize) -> Result<Vec<u8>, CapChainError> {
        u32::try_from(base + self.buf.len()).map_err(|_| CapChainError::TooLarge)?;
        let mut out = self.buf.clone();
        for &off in &self.offsets {
            let field = &mut out[off + 4..off + 8];
            let next = u32::from_le_bytes([field[0], field[1], field[2], field[3]]);
            if next != 0 {
                // Cannot overflow: checked against the total size above.
                field.copy_from_slice(&(next + base as u32).to_le_bytes());
            }
        }
        Ok(out)
    }

    /// What an INFO ioctl does with these capabilities when the caller passed `argsz` and the
    /// fixed struct is `info_size` bytes.
    pub fn place(&self, argsz: u32, info_size: usize) -> Result<CapPlacement, CapChainError> {
        if self.is_empty() {
            return Ok(CapPlacement::None);
        }
        let needed =
            u32::try_from(info_size + self.buf.len()).map_err(|_| CapChainError::TooLarge)?;
        if argsz < needed {
            return Ok(CapPlacement::TooSmall { argsz: needed });
        }
        Ok(CapPlacement::Fits {
            cap_offset: info_size as u32,
            bytes: self.to_bytes(info_size)?,
        })
    }
}

/// A capability chain in an INFO buffer, to be walked with [`CapChain::iter`].
#[derive(Debug, Clone, Copy)]
pub struct CapChain<'a> {
    buf: &'a [u8],
    first: u32,
    fixed: usize,
}

/// One capability of a [`CapChain`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cap<'a> {
    /// Offset of the capability from the start of the INFO buffer.
    pub offset: usize,
    /// Its header.
    pub header: VfioInfoCapHeader,
    /// The buffer from the capability's header to the end of the buffer: a header does not
    /// record its capability's length.
    pub bytes: &'a [u8],
}

/// Iterator over a [`CapChain`]; yields an error at most once, then stops.
#[derive(Debug, Clone)]
pub struct CapIter<'a> {
    buf: &'a [u8],
    fixed: usize,
    next: usize,
    seen: BTreeSet<usize>,
}

impl<'a> CapChain<'a> {
    /// The chain in `buf` (the whole INFO buffer, fixed struct at offset 0) whose first
    /// capability is at `cap_offset` (0: no chain); `fixed_size` is `sizeof` the fixed struct,
    /// into which no offset may point.
    pub fn new(buf: &'a [u8], cap_offset: u32, fixed_size: usize) -> Self {
        Self {
            buf,
            first: cap_offset,
            fixed: fixed_size,
        }
    }

    /// Walks the chain.
    pub fn iter(&self) -> CapIter<'a> {
        CapIter {
            buf: self.buf,
            fixed: self.fixed,
            next: self.first as usize,
            seen: BTreeSet::new(),
        }
    }

    /// Every capability, or the first error.
    pub fn to_vec(&self) -> Result<Vec<Cap<'a>>, CapChainError> {
        self.iter().collect()
    }

    /// The first capability with ID `id`. The chain up to it must be well-formed.
    pub fn find(&self, id: u16) -> Result<Option<Cap<'a>>, CapChainError> {
        for cap in self.iter() {
            let cap = cap?;
            if cap.header.id == id {
                return Ok(Some(cap));
            }
        }
        Ok(None)
    }

    /// The first capability of type `T`, read as `T`.
    pub fn find_as<T: InfoCap>(&self) -> Result<Option<T>, CapChainError> {
        self.find(T::ID)?.map(|c| c.read::<T>()).transpose()
    }
}

impl<'a> IntoIterator for &CapChain<'a> {
    type Item = Result<Cap<'a>, CapChainError>;
    type IntoIter = CapIter<'a>;

    fn into_iter(self) -> CapIter<'a> {
        self.iter()
    }
}

impl<'a> Iterator for CapIter<'a> {
    type Item = Result<Cap<'a>, CapChainError>;

    fn next(&mut self) -> Option<Self::Item> {
        let offset = self.next;
        if offset == 0 {
            return None;
        }
        // After an error the walk is over.
        self.next = 0;
        let len = self.buf.len();
        if offset < self.fixed {
            return Some(Err(CapChainError::IntoFixed {
                offset,
                fixed: self.fixed,
            }));
        }
        if offset % CAP_ALIGN != 0 {
            return Some(Err(CapChainError::Misaligned { offset }));
        }
        let Some(bytes) = self.buf.get(offset..) else {
            return Some(Err(CapChainError::OutOfBounds { offset, len }));
        };
        let Ok((header, _)) = VfioInfoCapHeader::read_from_prefix(bytes) else {
            return Some(Err(CapChainError::OutOfBounds { offset, len }));
        };
        if !self.seen.insert(offset) {
            return Some(Err(CapChainError::Loop { offset }));
        }
        self.next = header.next as usize;
        Some(Ok(Cap {
            offset,
            header,
            bytes,
        }))
    }
}

impl Cap<'_> {
    /// Reads the capability as `T`; its ID must be `T::ID`. A newer version may be longer;
    /// only `size_of::<T>()` bytes are read.
    pub fn read<T: InfoCap>(&self) -> Result<T, CapChainError> {
        self.check::<T>(size_of::<T>())?;
        T::read_from_prefix(self.bytes)
            .map(|(v, _)| v)
            .map_err(|_| self.truncated(size_of::<T>()))
    }

    /// Reads the `count` entries of the flexible array that follows a `T` (e.g. `count =
    /// nr_iovas` [`super::VfioIovaRange`]s after a `vfio_iommu_type1_info_cap_iova_range`).
    pub fn trailing<T: InfoCap, E: FromBytes>(
        &self,
        count: usize,
    ) -> Result<Vec<E>, CapChainError> {
        let needed = count
            .checked_mul(size_of::<E>())
            .and_then(|n| n.checked_add(size_of::<T>()))
            .ok_or(self.truncated(usize::MAX))?;
        self.check::<T>(needed)?;
        self.bytes[size_of::<T>()..needed]
            .chunks_exact(size_of::<E>().max(1))
            .take(count)
            .map(|c| E::read_from_bytes(c).map_err(|_| self.truncated(needed)))
            .collect()
    }

    fn check<T: InfoCap>(&self, needed: usize) -> Result<(), CapChainError> {
        if self.header.id != T::ID {
            return Err(CapChainError::WrongId {
                offset: self.offset,
                id: self.header.id,
                expected: T::ID,
            });
        }
        if self.bytes.len() < needed {
            return Err(self.truncated(needed));
        }
        Ok(())
    }

    fn truncated(&self, needed: usize) -> CapChainError {
        CapChainError::Truncated {
            id: self.header.id,
            offset: self.offset,
            needed,
            available: self.bytes.len(),
        }
    }
}

#[cfg(test)]
mod tests;
