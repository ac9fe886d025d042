//! edu's memory requests with the semantics of QEMU's `pci_dma_read`/`pci_dma_write`, whose
//! result `hw/misc/edu.c` (`edu_dma_timer`) ignores.
//!
//! In QEMU these are `dma_memory_rw` → `address_space_rw` (`include/system/dma.h`,
//! `system/physmem.c`). `flatview_read_continue`/`flatview_write_continue` walk the range a
//! translation at a time and go on after a failure, OR-ing the `MemTxResult`s: an address the
//! IOMMU refuses (`address_space_translate_iommu`: `goto unassigned`), or that nothing
//! decodes (Bus Master Enable clear disables the bus master alias), lands in
//! `io_mem_unassigned`. There `memory_region_dispatch_read` (`system/memory.c`) rejects the
//! access (`unassigned_mem_accepts` is false) and stores `unassigned_mem_read`'s value, 0,
//! into the destination buffer (`stn_he_p` in `flatview_read_continue_step`); a write is
//! dropped. So after a failed read the refused bytes read **zero**, the translated ones hold
//! memory; after a failed write the translated bytes are written and the refused ones are not.
//!
//! Here a transfer is split at 4 KiB IOVA pages (the smallest page of every IOMMU model, the
//! granule `uiommu_core::dma` translates at), each page one request through the function's
//! [`Bus`], so the IOMMU records a fault for each page it refuses, as before; the first
//! refusal is returned for the model to keep.

use crate::bus::Bus;
use crate::dma::DmaAbort;
use uiommu_core::iommu::NO_PASID;

/// The page requests are split at.
const PAGE: u64 = 4096;

/// The pieces of `iova..iova + len` that do not cross a 4 KiB page: (offset, IOVA, length).
fn pages(iova: u64, len: usize) -> impl Iterator<Item = (usize, u64, usize)> {
    let mut done = 0usize;
    std::iter::from_fn(move || {
        if done >= len {
            return None;
        }
        let at = iova.wrapping_add(done as u64);
        let n = ((PAGE - at % PAGE) as usize).min(len - done);
        let piece = (done, at, n);
        done += n;
        Some(piece)
    })
}

/// `pci_dma_read`: fills `buf` from `iova`; a refused page reads zeros. The first refusal.
pub(super) fn read(bus: &mut Bus, iova: u64, buf: &mut [u8]) -> Option<DmaAbort> {
    let mut first = None;
    for (off, at, n) in pages(iova, buf.len()) {
        let piece = &mut buf[off..off + n];
        if let Err(abort) = bus.dma_read(NO_PASID, at, piece) {
            piece.fill(0);
            first = first.or(Some(abort));
        }
    }
    first
}

/// `pci_dma_write`: writes `data` at `iova`; a refused page is dropped. The first refusal.
pub(super) fn write(bus: &mut Bus, iova: u64, data: &[u8]) -> Option<DmaAbort> {
    let mut first = None;
    for (off, at, n) in pages(iova, data.len()) {
        if let Err(abort) = bus.dma_write(NO_PASID, at, &data[off..off + n]) {
            first = first.or(Some(abort));
        }
    }
    first
}

#[cfg(test)]
mod tests {
    use super::pages;

    #[test]
    fn a_range_splits_at_4k_pages() {
        let v: Vec<_> = pages(0x1f00, 0x300).collect();
        assert_eq!(v, [(0, 0x1f00, 0x100), (0x100, 0x2000, 0x200)]);
        let v: Vec<_> = pages(0x3000, 0x1000).collect();
        assert_eq!(v, [(0, 0x3000, 0x1000)]);
        assert_eq!(pages(0x10, 0).count(), 0);
    }
}
