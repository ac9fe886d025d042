//! Mapping a dma-buf with `IOMMU_IOAS_MAP_FILE` (`pages.c`: `iopt_alloc_dmabuf_pages`,
//! `iopt_map_dmabuf`, `iopt_revoke_notify`; the dma-buf branches of `io_pagetable.c`).
//!
//! The IOAS imports the buffer as one physical range and maps it into its domains; accesses
//! can neither pin nor copy it (`EINVAL`), and areas over it cannot be cut (`EOPNOTSUPP`).
//! When the exporter revokes the buffer (`invalidate_mappings`), every area over it is
//! unmapped from every domain, and stays so: the import is dead until the area is unmapped and
//! the buffer mapped anew. Which areas are unmapped is kept per area (`Area::revoked`) under
//! its IOAS lock, so fills and unfills that race a revoke agree with it. The import itself,
//! which the pages keep, is [`super::dmabuf_import`].

use super::area::Area;
use super::dmabuf_import::{DmaBuf, DmaBufImporter, Imported};
use super::map::{Iova, check_file_range};
use super::pages::{Pages, PinOwner};
use super::{Inner, IoPagetable};
use crate::iommu::Prot;
use std::sync::{Arc, PoisonError, Weak};
use uiommu_uapi::{Errno, errno::Result};

impl DmaBufImporter for Pages {
    /// `iopt_revoke_notify`: the first invalidation revokes the import; its areas leave every
    /// domain of every IOAS.
    fn invalidate_mappings(&self) {
        let Some(ioases) = self.dmabuf().and_then(Imported::revoke) else {
            return;
        };
        for ioas in ioases.iter().filter_map(Weak::upgrade) {
            let mut g = ioas.write().unwrap_or_else(PoisonError::into_inner);
            g.revoke_areas(self);
        }
    }
}

impl Inner {
    /// Unmaps from every domain each area over `pages` not unmapped yet.
    fn revoke_areas(&mut self, pages: &Pages) {
        let Inner { areas, domains, .. } = self;
        for area in areas.iter_mut() {
            if area.revoked || !std::ptr::eq(Arc::as_ptr(&area.pages), pages) {
                continue;
            }
            for d in domains.iter() {
                d.unmap(area.iova, area.len());
            }
            area.revoked = true;
        }
    }
}

/// `iopt_area_split` refuses to cut an area over a dma-buf.
pub(crate) fn check_cut(area: &Area) -> Result<()> {
    if area.pages.dmabuf().is_some() {
        return Err(Errno::EOPNOTSUPP);
    }
    Ok(())
}

/// `iopt_pages_rw_access` and `iopt_area_add_access` refuse a dma-buf.
pub(crate) fn check_access(area: &Area) -> Result<()> {
    if area.pages.dmabuf().is_some() {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

impl IoPagetable {
    /// `iopt_map_file_pages` for a dma-buf: `EINVAL` for a zero length, `EOVERFLOW` if
    /// `start + length - 1` wraps, `EINVAL` unless the range lies inside the buffer, `ENODEV`
    /// if it is revoked, then as [`Self::map_user`]. The automatic IOVA is aligned like the
    /// offset in the buffer.
    pub fn map_dmabuf(
        &self,
        iova: Iova,
        buf: Arc<dyn DmaBuf>,
        start: u64,
        length: u64,
        prot: Prot,
        owner: &PinOwner,
    ) -> Result<u64> {
        check_file_range(start, length)?;
        let writable = prot.contains(Prot::WRITE);
        let (pages, start_byte) = Pages::new_dmabuf(buf, start, length, writable, owner.clone())?;
        self.map_one(pages, start_byte, length, iova, prot)
    }
}
