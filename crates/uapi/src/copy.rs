//! The kernel's rules for copying extensible structs across the user boundary.
//!
//! A uAPI struct may grow at its end. Callers built against older or newer headers pass their
//! own size and both sides agree on the common prefix (`include/linux/uaccess.h`,
//! `copy_struct_from_user`/`copy_struct_to_user`):
//! - an older, shorter caller struct is zero-extended to ours;
//! - a newer, longer caller struct is accepted only if every byte past ours is zero (`E2BIG`
//!   otherwise, `EFAULT` if unreadable); the trailing bytes are checked *before* the common part
//!   is copied, so an unreadable head with a non-zero tail is `E2BIG`.
//!
//! Driver data (`iommu_copy_struct_from_user` in `include/linux/iommu.h`) adds its own checks:
//! the type must match and the length must lie between the first version's size and ours.

use crate::errno::{Errno, Result};
use crate::user::{USER_PAGE_SIZE, UserMemory};
use zerocopy::{FromBytes, IntoBytes};

/// `check_zeroed_user`: whether `addr..addr + len` is all zero bytes.
///
/// Scans in address order and stops at the first non-zero byte (`Ok(false)`) or at the first
/// unreadable page (`EFAULT`), as the kernel's word-by-word scan does: words never straddle a
/// page, so going page by page reaches the same verdict.
pub fn check_zeroed_user(mem: &impl UserMemory, addr: u64, len: u64) -> Result<bool> {
    let end = addr.checked_add(len).ok_or(Errno::EFAULT)?;
    let mut chunk = [0u8; USER_PAGE_SIZE as usize];
    let mut at = addr;
    while at < end {
        let page_end = (at / USER_PAGE_SIZE + 1) * USER_PAGE_SIZE;
        let n = (page_end.min(end) - at) as usize;
        mem.read(at, &mut chunk[..n])?;
        if chunk[..n].iter().any(|&b| b != 0) {
            return Ok(false);
        }
        at += n as u64;
    }
    Ok(true)
}

/// `copy_struct_from_user(dst, sizeof(dst), src, usize)`: fills all of `dst` from a caller
/// struct of `usize` bytes at `src`.
pub fn copy_struct_from_user(
    mem: &impl UserMemory,
    dst: &mut [u8],
    src: u64,
    usize: u64,
) -> Result<()> {
    let ksize = dst.len() as u64;
    let common = ksize.min(usize) as usize;
    if usize < ksize {
        dst[common..].fill(0);
    } else if usize > ksize && !check_zeroed_user(mem, src.wrapping_add(ksize), usize - ksize)? {
        return Err(Errno::E2BIG);
    }
    mem.read(src, &mut dst[..common])
}

/// [`copy_struct_from_user`] into a typed struct.
pub fn read_struct<T: FromBytes + IntoBytes>(
    mem: &impl UserMemory,
    src: u64,
    usize: u64,
) -> Result<T> {
    let mut value = T::new_zeroed();
    copy_struct_from_user(mem, value.as_mut_bytes(), src, usize)?;
    Ok(value)
}

/// `copy_struct_to_user(dst, usize, src, sizeof(src))`: writes the common prefix of `src` to a
/// caller struct of `usize` bytes and zeroes the caller's bytes past ours.
pub fn copy_struct_to_user(mem: &impl UserMemory, dst: u64, usize: u64, src: &[u8]) -> Result<()> {
    let ksize = src.len() as u64;
    let common = ksize.min(usize) as usize;
    if usize > ksize {
        clear_user(mem, dst.wrapping_add(ksize), usize - ksize)?;
    }
    mem.write(dst, &src[..common])
}

/// `clear_user`: zeroes `addr..addr + len`.
pub fn clear_user(mem: &impl UserMemory, addr: u64, len: u64) -> Result<()> {
    const ZEROES: [u8; USER_PAGE_SIZE as usize] = [0; USER_PAGE_SIZE as usize];
    let end = addr.checked_add(len).ok_or(Errno::EFAULT)?;
    let mut at = addr;
    while at < end {
        let n = (end - at).min(USER_PAGE_SIZE) as usize;
        mem.write(at, &ZEROES[..n])?;
        at += n as u64;
    }
    Ok(())
}

/// A caller's driver-specific data blob (the kernel's `struct iommu_user_data`): what
/// `iommu_hwpt_alloc.data_type/data_len/data_uptr` and similar triples describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserData {
    /// The `enum iommu_hwpt_data_type` (or similar) value the caller declared.
    pub data_type: u32,
    /// User address of the blob.
    pub uptr: u64,
    /// Its length in bytes.
    pub len: u32,
}

/// A caller's array of driver-specific entries (the kernel's `struct iommu_user_data_array`),
/// as in `iommu_hwpt_invalidate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserDataArray {
    /// The entry type the caller declared.
    pub data_type: u32,
    /// User address of entry 0.
    pub uptr: u64,
    /// Bytes per entry as the caller laid them out.
    pub entry_len: u32,
    /// Number of entries.
    pub entry_num: u32,
}

/// `iommu_copy_struct_from_user`: reads driver data of type `data_type` whose first version
/// ended at `min_len` bytes. Type mismatch, a blob shorter than `min_len` or longer than `T`
/// are `EINVAL`; a shorter blob is zero-extended.
pub fn read_user_data<T: FromBytes + IntoBytes>(
    mem: &impl UserMemory,
    data: &UserData,
    data_type: u32,
    min_len: usize,
) -> Result<T> {
    if data.data_type != data_type {
        return Err(Errno::EINVAL);
    }
    let len = data.len as usize;
    if len < min_len || size_of::<T>() < len {
        return Err(Errno::EINVAL);
    }
    read_struct(mem, data.uptr, len as u64)
}

/// `iommu_copy_struct_to_user`: reports driver data of type `data_type` into the caller's
/// blob, with the same type and length checks as [`read_user_data`].
pub fn write_user_data<T: IntoBytes + zerocopy::Immutable>(
    mem: &impl UserMemory,
    data: &UserData,
    value: &T,
    data_type: u32,
    min_len: usize,
) -> Result<()> {
    if data.data_type != data_type {
        return Err(Errno::EINVAL);
    }
    let len = data.len as usize;
    if len < min_len || size_of::<T>() < len {
        return Err(Errno::EINVAL);
    }
    copy_struct_to_user(mem, data.uptr, len as u64, value.as_bytes())
}

impl UserDataArray {
    /// `iommu_copy_struct_from_user_array`: reads entry `index` as driver data.
    pub fn read_entry<T: FromBytes + IntoBytes>(
        &self,
        mem: &impl UserMemory,
        data_type: u32,
        index: u32,
        min_len: usize,
    ) -> Result<T> {
        if index >= self.entry_num {
            return Err(Errno::EINVAL);
        }
        let entry = UserData {
            data_type: self.data_type,
            uptr: self
                .uptr
                .wrapping_add(u64::from(self.entry_len) * u64::from(index)),
            len: self.entry_len,
        };
        read_user_data(mem, &entry, data_type, min_len)
    }

    /// `iommu_copy_struct_from_full_user_array`: reads every entry. Unlike the per-entry
    /// copy there is no minimum length: each entry is zero-extended or tail-checked as a plain
    /// extensible struct.
    pub fn read_all<T: FromBytes + IntoBytes>(
        &self,
        mem: &impl UserMemory,
        data_type: u32,
    ) -> Result<Vec<T>> {
        if self.data_type != data_type || self.entry_num == 0 {
            return Err(Errno::EINVAL);
        }
        (0..u64::from(self.entry_num))
            .map(|i| {
                let src = self.uptr.wrapping_add(u64::from(self.entry_len) * i);
                read_struct(mem, src, u64::from(self.entry_len))
            })
            .collect()
    }
}

/// The VFIO rule (`drivers/vfio/*`, e.g. `vfio_iommu_type1_map_dma`): every struct starts with
/// `argsz` and `flags`; exactly `minsz` bytes are copied in (`EFAULT`), the rest of `T` is zero,
/// and then `argsz < minsz` or a flag outside `valid_flags` is `EINVAL` (one check in the
/// kernel). Bytes past `minsz` that a command needs, it reads itself, within `argsz`.
pub fn read_vfio<T: FromBytes + IntoBytes>(
    mem: &impl UserMemory,
    arg: u64,
    minsz: usize,
    valid_flags: u32,
) -> Result<T> {
    debug_assert!((8..=size_of::<T>()).contains(&minsz));
    let mut value = T::new_zeroed();
    let bytes = value.as_mut_bytes();
    mem.read(arg, &mut bytes[..minsz])?;
    let argsz = u32::from_ne_bytes(bytes[0..4].try_into().expect("4 bytes"));
    let flags = u32::from_ne_bytes(bytes[4..8].try_into().expect("4 bytes"));
    if (argsz as usize) < minsz || flags & !valid_flags != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(value)
}

#[cfg(test)]
mod tests;
