//! A dirty bitmap in the caller's memory (`drivers/iommu/iommufd/iova_bitmap.c`): bit `i` of
//! byte `i / 8` covers `iova + i * page_size`. Bits are only ever set; a bitmap that cannot be
//! read or written stops further reporting, as a failed pin does in the kernel.

use uiommu_core::iommu::domain::DirtyRecorder;
use uiommu_uapi::UserMemory;

/// The caller's bitmap for one `IOMMU_HWPT_GET_DIRTY_BITMAP`.
pub(crate) struct UserBitmap<'a> {
    mem: &'a dyn UserMemory,
    data: u64,
    iova: u64,
    /// Bits in the bitmap (`mapped_total_index` in bits).
    nbits: u64,
    pgshift: u32,
    failed: bool,
}

impl<'a> UserBitmap<'a> {
    /// A bitmap at `data` for `iova..iova + length` in `page_size` units (already checked:
    /// non-zero, aligned, a power of two as the alignment checks imply).
    pub(crate) fn new(
        mem: &'a dyn UserMemory,
        data: u64,
        iova: u64,
        length: u64,
        page_size: u64,
    ) -> Self {
        let pgshift = page_size.trailing_zeros();
        UserBitmap {
            mem,
            data,
            iova,
            nbits: ((length - 1) >> pgshift) + 1,
            pgshift,
            failed: false,
        }
    }

    fn set_bits(&mut self, first: u64, last: u64) -> Result<(), uiommu_uapi::Errno> {
        let (b0, b1) = (first / 8, last / 8);
        let mut bytes = vec![0u8; (b1 - b0 + 1) as usize];
        let at = self.data.wrapping_add(b0);
        self.mem.read(at, &mut bytes)?;
        for bit in first..=last {
            bytes[(bit / 8 - b0) as usize] |= 1 << (bit % 8);
        }
        self.mem.write(at, &bytes)
    }
}

impl DirtyRecorder for UserBitmap<'_> {
    fn record(&mut self, iova: u64, len: u64) {
        if self.failed || len == 0 {
            return;
        }
        let end = iova.saturating_add(len - 1);
        if end < self.iova {
            return;
        }
        let first = (iova.max(self.iova) - self.iova) >> self.pgshift;
        let last = ((end - self.iova) >> self.pgshift).min(self.nbits - 1);
        if first > last {
            return;
        }
        if self.set_bits(first, last).is_err() {
            self.failed = true;
        }
    }
}
