//! Dirty page logging of the type1 backend (`vfio_iommu_type1.c`:
//! `vfio_iommu_type1_dirty_pages`, `vfio_iova_dirty_bitmap`, `update_user_bitmap`,
//! `verify_bitmap_size`).
//!
//! The emulated devices cannot report what they wrote, so while logging is on every page of
//! an entry mapped in a domain is reported dirty, each time it is asked for (what type1 does
//! for a group that does not pin pages itself). Entries not mapped in a domain report no page.

use super::dma::Type1Iommu;
use uiommu_uapi::copy::read_vfio;
use uiommu_uapi::errno::Result;
use uiommu_uapi::vfio::{
    VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP, VFIO_IOMMU_DIRTY_PAGES_FLAG_START,
    VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP, VfioBitmap, VfioIommuType1DirtyBitmap,
    VfioIommuType1DirtyBitmapGet,
};
use uiommu_uapi::{Errno, UserMemory};
use zerocopy::{FromZeros, IntoBytes};

/// `DIRTY_BITMAP_PAGES_MAX`: `INT_MAX` pages per bitmap.
const PAGES_MAX: u64 = i32::MAX as u64;
/// `TASK_SIZE_MAX` of x86-64 with 4-level tables: what `access_ok` lets through.
const TASK_SIZE_MAX: u64 = (1 << 47) - 4096;

/// `DIRTY_BITMAP_BYTES(n)`: bytes of a bitmap of `n` bits in whole `u64`s.
fn bitmap_bytes(bits: u64) -> u64 {
    bits.div_ceil(64) * 8
}

/// `DIRTY_BITMAP_SIZE_MAX`: the largest bitmap, reported in the migration capability.
pub(super) const BITMAP_SIZE_MAX: u64 = PAGES_MAX.div_ceil(64) * 8;

/// `__ffs(x)` as a shift that cannot overflow (`x == 0` is undefined in the kernel).
fn ffs(x: u64) -> u32 {
    x.trailing_zeros().min(63)
}

/// `access_ok(addr, size)`.
fn access_ok(addr: u64, size: u64) -> bool {
    size <= TASK_SIZE_MAX && addr <= TASK_SIZE_MAX - size
}

/// `verify_bitmap_size`: `EINVAL` for no page, an empty or too large bitmap, or one too small
/// for the pages.
fn verify_size(npages: u64, size: u64) -> Result<()> {
    if npages == 0 || size == 0 || size > BITMAP_SIZE_MAX || size < bitmap_bytes(npages) {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// `vfio_dma_bitmap_alloc`: an entry of `size` bytes can be logged at `pgsize` (`EINVAL` for
/// more than `DIRTY_BITMAP_PAGES_MAX` pages).
pub(super) fn check_loggable(size: u64, pgsize: u64) -> Result<()> {
    if size / pgsize.max(1) > PAGES_MAX {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// A caller's bitmap (`struct vfio_bitmap`), checked.
pub(super) struct Bitmap {
    pub(super) pgsize: u64,
    data: u64,
}

impl Bitmap {
    /// The `struct vfio_bitmap` after a `minsz`-byte struct at `arg` covering `size` bytes:
    /// `EINVAL` if `argsz` does not hold it, `EFAULT`, `EINVAL` for a bitmap outside user
    /// space or of the wrong size.
    pub(super) fn read_after(
        mem: &dyn UserMemory,
        arg: u64,
        argsz: u32,
        minsz: usize,
        size: u64,
    ) -> Result<Self> {
        if (argsz as usize) < minsz + size_of::<VfioBitmap>() {
            return Err(Errno::EINVAL);
        }
        let mut b = VfioBitmap::new_zeroed();
        mem.read(arg.wrapping_add(minsz as u64), b.as_mut_bytes())?;
        Self::check(&b, size)
    }

    fn check(b: &VfioBitmap, size: u64) -> Result<Self> {
        if !access_ok(b.data, b.size) {
            return Err(Errno::EINVAL);
        }
        verify_size(size >> ffs(b.pgsize), b.size)?;
        Ok(Bitmap {
            pgsize: b.pgsize,
            data: b.data,
        })
    }
}

/// `update_user_bitmap` for the entry at `iova` of `size` bytes, in a bitmap whose first bit
/// is `base`: its bits are set if `dirty`; the words written start with the entry's and keep
/// the bits before it in the first word, and bits past it in the last word are cleared.
pub(super) fn write_bits(
    mem: &dyn UserMemory,
    b: &Bitmap,
    base: u64,
    iova: u64,
    size: u64,
    dirty: bool,
) -> Result<()> {
    let shift_by = ffs(b.pgsize);
    let nbits = size >> shift_by;
    let bit_offset = (iova - base) >> shift_by;
    let at = b.data.wrapping_add(bit_offset / 64 * 8);
    let shift = bit_offset % 64;
    let words = usize::try_from(bitmap_bytes(nbits + shift) / 8).map_err(|_| Errno::ENOMEM)?;
    let mut out = vec![0u64; words];
    if shift != 0 {
        let mut leftover = [0u8; 8];
        mem.read(at, &mut leftover)?;
        out[0] = u64::from_ne_bytes(leftover) & ((1u64 << shift) - 1);
    }
    if dirty {
        for bit in shift..shift + nbits {
            out[(bit / 64) as usize] |= 1 << (bit % 64);
        }
    }
    mem.write(at, out.as_bytes())
}

impl Type1Iommu {
    /// `VFIO_IOMMU_DIRTY_PAGES` (`vfio_iommu_type1_dirty_pages`): `EACCES` for a v1 backend;
    /// `EFAULT`, then `EINVAL` for a short `argsz`, an unknown flag, or not exactly one flag.
    /// `START` and `STOP` turn logging on and off (`START` is `EINVAL` if an entry has too many
    /// pages for a bitmap). `GET_BITMAP` reads the request after the
    /// struct (`EINVAL` if `argsz` lacks it, `EFAULT`; `EINVAL` for a zero size, `EOVERFLOW`
    /// if the range wraps, `EINVAL` for a bad bitmap), then `EINVAL` unless the bitmap's
    /// page size is the smallest, the range is aligned to it, logging is on, and no entry
    /// sticks out of the range; the bits of each entry inside it are written.
    pub(super) fn dirty_pages(&mut self, mem: &dyn UserMemory, arg: u64) -> Result<()> {
        if !self.v2 {
            return Err(Errno::EACCES);
        }
        const MINSZ: usize = size_of::<VfioIommuType1DirtyBitmap>();
        let mask = VFIO_IOMMU_DIRTY_PAGES_FLAG_START
            | VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP
            | VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
        let dirty: VfioIommuType1DirtyBitmap = read_vfio(&mem, arg, MINSZ, mask)?;
        if dirty.flags.count_ones() != 1 {
            return Err(Errno::EINVAL);
        }
        if dirty.flags & VFIO_IOMMU_DIRTY_PAGES_FLAG_START != 0 {
            // `vfio_dma_bitmap_alloc_all`: every entry needs its bitmap.
            if !self.dirty_tracking {
                let pgsize = self.min_pgsize();
                for d in self.dmas.values() {
                    check_loggable(d.size, pgsize)?;
                }
            }
            self.dirty_tracking = true;
            return Ok(());
        }
        if dirty.flags & VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP != 0 {
            self.dirty_tracking = false;
            return Ok(());
        }
        let data_size = (dirty.argsz as usize).saturating_sub(MINSZ);
        if data_size < size_of::<VfioIommuType1DirtyBitmapGet>() {
            return Err(Errno::EINVAL);
        }
        let mut range = VfioIommuType1DirtyBitmapGet::new_zeroed();
        mem.read(arg.wrapping_add(MINSZ as u64), range.as_mut_bytes())?;
        let (iova, size) = (range.iova, range.size);
        if size == 0 {
            return Err(Errno::EINVAL);
        }
        let last = iova.checked_add(size - 1).ok_or(Errno::EOVERFLOW)?;
        let b = Bitmap::check(&range.bitmap, size)?;
        let pgsize = self.min_pgsize();
        if b.pgsize != pgsize || (iova | size) & pgsize.wrapping_sub(1) != 0 {
            return Err(Errno::EINVAL);
        }
        if !self.dirty_tracking {
            return Err(Errno::EINVAL);
        }
        self.check_not_bisected(iova, last)?;
        let mapped = self.iommu_mapped();
        for (&at, d) in self.dmas.range(iova..=last) {
            write_bits(mem, &b, iova, at, d.size, mapped)?;
        }
        Ok(())
    }
}
