//! `VFIO_IOMMU_GET_INFO` of the type1 backend (`vfio_iommu_type1_get_info`,
//! `vfio_iommu_migration_build_caps`, `vfio_iommu_dma_avail_build_caps`,
//! `vfio_iommu_iova_build_caps`, `vfio_info_cap_add`).
//!
//! Unlike iommufd's compatibility container, the chain is all or nothing: the migration
//! capability, the DMA-avail capability with the entries left, then the IOVA ranges, each
//! padded to 8 bytes with zeros, written after the fixed struct only if `argsz` holds them
//! all; otherwise `argsz` is raised to what they need and `cap_offset` stays 0. `argsz` is
//! never lowered.

use super::dirty::BITMAP_SIZE_MAX;
use super::dma::Type1Iommu;
use uiommu_uapi::copy::read_vfio;
use uiommu_uapi::errno::Result;
use uiommu_uapi::vfio::{
    CAP_ALIGN, InfoCap, VFIO_IOMMU_INFO_CAPS, VFIO_IOMMU_INFO_PGSIZES, VfioInfoCapHeader,
    VfioIommuType1Info, VfioIommuType1InfoCapIovaRange, VfioIommuType1InfoCapMigration,
    VfioIommuType1InfoDmaAvail, VfioIovaRange,
};
use uiommu_uapi::{Errno, UserMemory};
use zerocopy::IntoBytes;

/// `offsetofend(struct vfio_iommu_type1_info, iova_pgsizes)`.
const MINSZ: usize = 16;
/// `sizeof(struct vfio_iommu_type1_info)`.
const INFO_SIZE: usize = size_of::<VfioIommuType1Info>();

fn header<T: InfoCap>() -> VfioInfoCapHeader {
    VfioInfoCapHeader {
        id: T::ID,
        version: T::VERSION,
        next: 0,
    }
}

/// Appends one capability's bytes to `chain` (`vfio_info_cap_add`): zero padded to 8 bytes,
/// linked from the previous one by its offset in the chain.
fn push(chain: &mut Vec<u8>, last: &mut Option<usize>, bytes: &[u8]) {
    let at = chain.len();
    if let Some(prev) = *last {
        let next = u32::try_from(at).unwrap_or(u32::MAX);
        chain[prev + 4..prev + 8].copy_from_slice(&next.to_ne_bytes());
    }
    chain.extend_from_slice(bytes);
    chain.resize(at + bytes.len().next_multiple_of(CAP_ALIGN), 0);
    *last = Some(at);
}

impl Type1Iommu {
    /// The capability chain, as built before it is placed after the fixed struct.
    fn caps(&self) -> Vec<u8> {
        let mut chain = Vec::new();
        let mut last = None;
        let migration = VfioIommuType1InfoCapMigration {
            header: header::<VfioIommuType1InfoCapMigration>(),
            flags: 0,
            pgsize_bitmap: self.min_pgsize(),
            max_dirty_bitmap_size: BITMAP_SIZE_MAX,
            ..zerocopy::FromZeros::new_zeroed()
        };
        push(&mut chain, &mut last, migration.as_bytes());
        let avail = VfioIommuType1InfoDmaAvail {
            header: header::<VfioIommuType1InfoDmaAvail>(),
            avail: self.dma_avail,
        };
        push(&mut chain, &mut last, avail.as_bytes());
        let ranges: Vec<VfioIovaRange> = self
            .ioas
            .iopt
            .iova_ranges()
            .into_iter()
            .map(|(start, end)| VfioIovaRange { start, end })
            .collect();
        if !ranges.is_empty() {
            let cap = VfioIommuType1InfoCapIovaRange {
                header: header::<VfioIommuType1InfoCapIovaRange>(),
                nr_iovas: u32::try_from(ranges.len()).unwrap_or(u32::MAX),
                reserved: 0,
            };
            let mut bytes = cap.as_bytes().to_vec();
            bytes.extend_from_slice(ranges.as_bytes());
            push(&mut chain, &mut last, &bytes);
        }
        chain
    }

    /// `VFIO_IOMMU_GET_INFO`: `EFAULT` reading the first 16 bytes, `EINVAL` if `argsz` is
    /// below 16. Reports `PGSIZES | CAPS` and the page sizes; the chain as the module says
    /// (`EFAULT` writing it); then `min(argsz, sizeof)` bytes of the fixed struct (`EFAULT`).
    pub(super) fn get_info(&self, mem: &dyn UserMemory, arg: u64) -> Result<()> {
        let mut info: VfioIommuType1Info = read_vfio(&mem, arg, MINSZ, u32::MAX)?;
        let write_len = (info.argsz as usize).min(INFO_SIZE);
        info.flags = VFIO_IOMMU_INFO_PGSIZES;
        info.iova_pgsizes = self.pgsize_bitmap();
        info.cap_offset = 0;
        let mut chain = self.caps();
        if !chain.is_empty() {
            info.flags |= VFIO_IOMMU_INFO_CAPS;
            let need = INFO_SIZE + chain.len();
            if (info.argsz as usize) < need {
                info.argsz = u32::try_from(need).map_err(|_| Errno::EOVERFLOW)?;
            } else {
                shift(&mut chain, INFO_SIZE);
                mem.write(arg.wrapping_add(INFO_SIZE as u64), &chain)?;
                info.cap_offset = INFO_SIZE as u32;
            }
        }
        mem.write(arg, &info.as_bytes()[..write_len])
    }
}

/// `vfio_info_cap_shift`: every `next` link but the last's (0) moved by `offset`.
fn shift(chain: &mut [u8], offset: usize) {
    let mut at = 0usize;
    loop {
        let next = u32::from_ne_bytes(chain[at + 4..at + 8].try_into().unwrap_or([0; 4]));
        if next == 0 {
            break;
        }
        let moved = next as usize + offset;
        chain[at + 4..at + 8].copy_from_slice(&u32::try_from(moved).unwrap_or(0).to_ne_bytes());
        at = next as usize;
    }
}
