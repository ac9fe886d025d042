//! Mapping a dma-buf with `IOMMU_IOAS_MAP_FILE` (`pages.c`: `iopt_alloc_dmabuf_pages`,
//! `iopt_map_dmabuf`, `iopt_revoke_notify`; the dma-buf branches of `io_pagetable.c`).
//!
//! The IOAS imports the buffer as one physical range and maps it into its domains; accesses
//! can neither pin nor copy it (`EINVAL`), and areas over it cannot be cut (`EOPNOTSUPP`).
//! When the exporter revokes the buffer (`invalidate_mappings`), every area over it is
//! unmapped from every domain, and stays so: the import is dead until the area is unmapped and
//! the buffer mapped anew. Which areas are unmapped is kept per area (`Area::revoked`) under
//! its IOAS lock, so fills and unfills that race a revoke agree with it.

use super::area::Area;
use super::map::{Iova, Slice, check_file_range};
use super::pages::{Pages, PinOwner};
use super::{Inner, IoPagetable};
use crate::iommu::Prot;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};
use uiommu_uapi::{Errno, errno::Result};

/// An exported buffer as an importer sees it (`struct dma_buf` and its `phys_vec` mapping).
pub trait DmaBuf: Send + Sync {
    /// Size in bytes (`dmabuf->size`).
    fn size(&self) -> u64;

    /// Attaches `importer`, to be told of revocation, and maps the buffer: the host address of
    /// its first byte, the buffer being one contiguous range (`dma_buf_dynamic_attach`,
    /// `dma_buf_pin`, then the exporter's `iommufd_map`). `ENODEV` while revoked,
    /// `EOPNOTSUPP` for a buffer iommufd cannot map.
    fn attach(&self, importer: Weak<dyn DmaBufImporter>) -> Result<u64>;
}

/// What an exporter calls on its attachments (`dma_buf_attach_ops`).
pub trait DmaBufImporter: Send + Sync {
    /// `invalidate_mappings`: the buffer's memory must no longer be reached through this
    /// attachment.
    fn invalidate_mappings(&self);
}

/// The import state of dma-buf pages (`iopt_pages::dmabuf`).
pub(crate) struct Imported {
    /// Keeps the buffer (and its memory) alive while areas map it (`dma_buf_put` at release).
    buf: Arc<dyn DmaBuf>,
    /// Page-aligned offset of the pages object's first byte in the buffer.
    base: u64,
    /// Host address of the buffer's first byte, once attached.
    phys: AtomicU64,
    /// `phys.len == 0`: revoked, for good.
    revoked: AtomicBool,
    /// The IOASes that have areas over these pages (the kernel's `tracker` list, by IOAS).
    ioases: Mutex<Vec<Weak<RwLock<Inner>>>>,
}

impl Imported {
    pub(crate) fn new(buf: Arc<dyn DmaBuf>, base: u64) -> Self {
        Self {
            buf,
            base,
            phys: AtomicU64::new(0),
            revoked: AtomicBool::new(false),
            ioases: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn set_phys(&self, phys: u64) {
        self.phys.store(phys, Ordering::Release);
    }

    pub(crate) fn base(&self) -> u64 {
        self.base
    }

    /// `iopt_dmabuf_revoked`.
    pub(crate) fn revoked(&self) -> bool {
        self.revoked.load(Ordering::SeqCst)
    }

    /// Host address of byte `byte` of the pages object, inside the buffer for `len` bytes.
    pub(crate) fn host_addr(&self, byte: u64, len: u64) -> Result<u64> {
        let off = self.base.checked_add(byte).ok_or(Errno::EINVAL)?;
        if off.checked_add(len).is_none_or(|end| end > self.buf.size()) {
            return Err(Errno::EINVAL);
        }
        Ok(self.phys.load(Ordering::Acquire).wrapping_add(off))
    }

    /// Records that `ioas` maps these pages; before its areas are filled, so that a revoke
    /// that does not see them filled finds them afterwards.
    fn track(&self, ioas: &Arc<RwLock<Inner>>) {
        let mut list = self.ioases.lock().unwrap_or_else(PoisonError::into_inner);
        list.retain(|w| w.strong_count() != 0);
        if !list
            .iter()
            .any(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(ioas)))
        {
            list.push(Arc::downgrade(ioas));
        }
    }
}

impl DmaBufImporter for Pages {
    /// `iopt_revoke_notify`: the first invalidation revokes the import; its areas leave every
    /// domain of every IOAS.
    fn invalidate_mappings(&self) {
        let Some(imported) = self.dmabuf() else {
            return;
        };
        if imported.revoked.swap(true, Ordering::SeqCst) {
            return;
        }
        let ioases = imported
            .ioases
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
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

/// Whether a new area over `pages` starts out unmapped: the import is revoked already.
pub(crate) fn starts_revoked(pages: &Pages) -> bool {
    pages.dmabuf().is_some_and(Imported::revoked)
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

    /// Tracks every dma-buf among `slices` as mapped by this IOAS.
    pub(crate) fn track_dmabufs(&self, slices: &[Slice]) {
        for s in slices {
            if let Some(imported) = s.pages.dmabuf() {
                imported.track(&self.inner);
            }
        }
    }
}
