//! Mapping an entry's pages (`vfio_iommu_type1.c`: `vfio_pin_map_dma`,
//! `vfio_pin_pages_remote`, `vaddr_get_pfns`, `follow_fault_pfn`): pinned user memory, and the
//! caller's BAR mappings (`VM_PFNMAP`), which have no pages to pin.

use super::dma::Type1Iommu;
use crate::Caller;
use std::sync::{Arc, Weak};
use uiommu_core::ioas::{DmaBuf, DmaBufImporter, Iova};
use uiommu_core::iommu::Prot;
use uiommu_uapi::errno::Result;

/// A BAR the caller mapped (`VM_PFNMAP`), as the IOAS imports it: one physical range at the
/// mapping's address.
struct PfnMap {
    start: u64,
    len: u64,
}

impl DmaBuf for PfnMap {
    fn size(&self) -> u64 {
        self.len
    }

    /// Nothing revokes the range: type1 keeps the PFNs mapped until they are unmapped.
    fn attach(&self, _importer: Weak<dyn DmaBufImporter>) -> Result<u64> {
        Ok(self.start)
    }
}

impl Type1Iommu {
    /// `vfio_pin_map_dma`: the range mapped piece by piece, as type1 pins and maps runs of
    /// pages: the parts that are BAR mappings (`VM_PFNMAP`, `follow_fault_pfn`) over the BAR's
    /// addresses with nothing pinned, the rest pinned user memory. On an error every piece
    /// mapped is unmapped again.
    pub(super) fn map_pieces(
        &self,
        caller: &Caller<'_>,
        iova: u64,
        vaddr: u64,
        size: u64,
        prot: Prot,
    ) -> Result<()> {
        let owner = caller.pin_owner(&self.ctx);
        let iopt = &self.ioas.iopt;
        // In u128: `vaddr + size` may be 2^64.
        let end = u128::from(vaddr) + u128::from(size);
        let mut pieces: Vec<(u64, u64, bool)> = Vec::new();
        let mut at = u128::from(vaddr);
        for (start, len) in caller.fds.pfnmaps(vaddr, size) {
            let (s, e) = (u128::from(start), u128::from(start) + u128::from(len));
            if s < at || e > end || len == 0 {
                continue;
            }
            if s > at {
                pieces.push((at as u64, (s - at) as u64, false));
            }
            pieces.push((start, len, true));
            at = e;
        }
        if at < end {
            pieces.push((at as u64, (end - at) as u64, false));
        }
        for &(start, len, bar) in &pieces {
            let at_iova = Iova::Fixed(iova + (start - vaddr));
            let r = if bar {
                let buf: Arc<dyn DmaBuf> = Arc::new(PfnMap { start, len });
                iopt.map_dmabuf(at_iova, buf, 0, len, prot, &owner)
            } else {
                iopt.map_user(at_iova, start, len, prot, &owner)
            };
            if let Err(e) = r {
                if start > vaddr {
                    let _ = iopt.unmap_iova(iova, start - vaddr);
                }
                return Err(e);
            }
        }
        Ok(())
    }
}
