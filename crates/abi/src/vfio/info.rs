//! `VFIO_IOMMU_GET_INFO` (`vfio_compat.c`: `iommufd_vfio_iommu_get_info`,
//! `iommufd_get_pagesizes`, `iommufd_fill_cap_dma_avail`, `iommufd_fill_cap_iova`).
//!
//! The capability chain is always the DMA-avail capability, then the IOVA range capability,
//! from the end of the fixed struct, each at a multiple of 8 bytes; the padding after the
//! 12-byte DMA-avail capability is never written. The kernel writes each
//! piece into the caller's buffer as soon as it fits within `argsz`, so a buffer too small for
//! the whole chain still receives the capabilities (and IOVA range entries) that fit, while
//! `cap_offset` stays 0. `argsz` is always set to the size of the full chain, larger or
//! smaller than what the caller gave. Nothing is written at or past the caller's `argsz`.

use super::compat_ioas;
use uiommu_core::context::Context;
use uiommu_core::ioas::{IoPagetable, PAGE_SIZE};
use uiommu_uapi::copy::read_vfio;
use uiommu_uapi::errno::Result;
use uiommu_uapi::vfio::{
    CAP_ALIGN, InfoCap, VFIO_IOMMU_INFO_CAPS, VFIO_IOMMU_INFO_PGSIZES, VfioInfoCapHeader,
    VfioIommuType1Info, VfioIommuType1InfoCapIovaRange, VfioIommuType1InfoDmaAvail, VfioIovaRange,
};
use uiommu_uapi::{Errno, UserMemory};
use zerocopy::{Immutable, IntoBytes};

/// `offsetofend(struct vfio_iommu_type1_info, iova_pgsizes)`: callers from before capability
/// chains pass this much.
const MINSZ: usize = 16;
/// `sizeof(struct vfio_iommu_type1_info)`: where the first capability goes.
const INFO_SIZE: u64 = size_of::<VfioIommuType1Info>() as u64;

/// One capability as the kernel fills it: its fixed struct, then the entries of its flexible
/// array.
struct Cap {
    head: Vec<u8>,
    entries: Vec<VfioIovaRange>,
}

impl Cap {
    fn new<T: InfoCap>(cap: &T, entries: Vec<VfioIovaRange>) -> Self {
        Self {
            head: cap.as_bytes().to_vec(),
            entries,
        }
    }

    /// `struct_size(cap, entries, n)`.
    fn size_with(&self, n: usize) -> u64 {
        (self.head.len() + n * size_of::<VfioIovaRange>()) as u64
    }

    /// The fill functions' rule: with `avail` bytes at `at`, every entry is written if the
    /// capability up to and including it fits, and the fixed struct (whose `next` is 0) only if
    /// the whole capability fits. Returns the capability's size.
    fn fill(&self, mem: &dyn UserMemory, at: u64, avail: u64) -> Result<u64> {
        for (i, e) in self.entries.iter().enumerate() {
            if avail >= self.size_with(i + 1) {
                let off = self.size_with(i);
                write(mem, at.wrapping_add(off), e)?;
            }
        }
        let size = self.size_with(self.entries.len());
        if avail >= size {
            mem.write(at, &self.head)?;
        }
        Ok(size)
    }
}

fn write<T: IntoBytes + Immutable>(mem: &dyn UserMemory, at: u64, value: &T) -> Result<()> {
    mem.write(at, value.as_bytes())
}

/// The capabilities of the compatibility IOAS, in the kernel's order.
fn caps(iopt: &IoPagetable) -> [Cap; 2] {
    let header = |id, version| VfioInfoCapHeader {
        id,
        version,
        next: 0,
    };
    // iommufd's mapping limit is the memory cgroup's, not a count: report the largest value
    // (VFIO's default would be U16_MAX, too small for s390 userspace).
    let dma_avail = VfioIommuType1InfoDmaAvail {
        header: header(
            VfioIommuType1InfoDmaAvail::ID,
            VfioIommuType1InfoDmaAvail::VERSION,
        ),
        avail: u32::MAX,
    };
    // The usable IOVA: the holes between reserved ranges over the whole address space.
    let ranges: Vec<VfioIovaRange> = iopt
        .iova_ranges()
        .into_iter()
        .map(|(start, end)| VfioIovaRange { start, end })
        .collect();
    let iova = VfioIommuType1InfoCapIovaRange {
        header: header(
            VfioIommuType1InfoCapIovaRange::ID,
            VfioIommuType1InfoCapIovaRange::VERSION,
        ),
        nr_iovas: u32::try_from(ranges.len()).unwrap_or(u32::MAX),
        reserved: 0,
    };
    [Cap::new(&dma_avail, Vec::new()), Cap::new(&iova, ranges)]
}

/// `iommufd_get_pagesizes`: the page sizes every attached domain supports, with sizes below
/// `PAGE_SIZE` folded into `PAGE_SIZE` (as `vfio_update_pgsize_bitmap`), and never below the
/// IOAS alignment. `domains` is the AND of the domains' bitmaps, all ones with no domain.
fn pagesizes(domains: u64, iova_alignment: u64) -> u64 {
    let mut bitmap = domains;
    if bitmap & (PAGE_SIZE - 1) != 0 {
        bitmap &= !(PAGE_SIZE - 1);
        bitmap |= PAGE_SIZE;
    }
    bitmap.max(iova_alignment)
}

/// `VFIO_IOMMU_GET_INFO` (`iommufd_vfio_iommu_get_info`): `EFAULT` reading the first 16
/// bytes, `EINVAL` if `argsz` is below 16 (input flags are ignored), then `ENODEV` without a
/// compatibility IOAS. Reports `PGSIZES | CAPS`, the page sizes, and the chain as described
/// in the module documentation; writes back `min(argsz, sizeof)` bytes of the fixed struct
/// last. A fault on any write is `EFAULT`, with the earlier writes kept.
pub(super) fn get_info(ctx: &Context, mem: &dyn UserMemory, arg: u64) -> Result<()> {
    let mut info: VfioIommuType1Info = read_vfio(&mem, arg, MINSZ, u32::MAX)?;
    let write_len = (info.argsz as usize).min(INFO_SIZE as usize);
    let ioas = compat_ioas(ctx)?;
    let iopt = &ioas.iopt;
    info.flags = VFIO_IOMMU_INFO_PGSIZES;
    let domains = ioas
        .paging_hwpts()
        .iter()
        .fold(u64::MAX, |acc, h| acc & h.domain.pgsize_bitmap());
    info.iova_pgsizes = pagesizes(domains, iopt.iova_alignment());
    info.cap_offset = 0;

    let argsz = u64::from(info.argsz);
    let mut total = INFO_SIZE;
    let mut last_cap: Option<u64> = None;
    for cap in caps(iopt) {
        let size = if argsz > total {
            cap.fill(mem, arg.wrapping_add(total), argsz - total)?
        } else {
            // Nothing of it can fit: only its size is wanted.
            cap.size_with(cap.entries.len())
        };
        let size = size.next_multiple_of(CAP_ALIGN as u64);
        // The previous capability links to this one once its own bytes are all in the buffer,
        // whether or not this one fits.
        if let Some(prev) = last_cap
            && argsz >= total
        {
            let next = u32::try_from(total).map_err(|_| Errno::EOVERFLOW)?;
            write(mem, arg.wrapping_add(prev + 4), &next)?;
        }
        last_cap = Some(total);
        total += size;
    }

    if argsz >= total {
        info.cap_offset = INFO_SIZE as u32;
    }
    // Raised or lowered to the size of the whole chain.
    info.argsz = u32::try_from(total).map_err(|_| Errno::EOVERFLOW)?;
    info.flags |= VFIO_IOMMU_INFO_CAPS;
    mem.write(arg, &info.as_bytes()[..write_len])
}

#[cfg(test)]
mod tests {
    use super::pagesizes;

    #[test]
    fn pagesizes_fold_small_pages_into_page_size() {
        // No domain: every size from PAGE_SIZE up.
        assert_eq!(pagesizes(u64::MAX, 1), !0xfff);
        // The mock's 2 KiB granule becomes 4 KiB.
        assert_eq!(pagesizes(0x800 | (1 << 20), 0x800), 0x1000 | (1 << 20));
        // Already page sized: unchanged.
        assert_eq!(pagesizes(0x1000 | 0x20_0000, 0x1000), 0x1000 | 0x20_0000);
        // A bitmap below the alignment yields the alignment.
        assert_eq!(pagesizes(0, 0x1000), 0x1000);
    }
}
