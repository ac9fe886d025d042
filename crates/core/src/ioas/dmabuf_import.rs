//! A dma-buf as its importer sees it, and the import record that pages over one keep
//! (`iopt_pages::dmabuf`, made by `iopt_alloc_dmabuf_pages`).
//!
//! The importer maps the buffer as one physical range. The record holds the buffer, where
//! the pages start in it, the host address it is mapped at, whether the exporter revoked it,
//! and which IOASes map it, so that a revoke reaches their areas.

use super::Inner;
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
    pub(crate) fn track(&self, ioas: &Arc<RwLock<Inner>>) {
        let mut list = self.ioases.lock().unwrap_or_else(PoisonError::into_inner);
        list.retain(|w| w.strong_count() != 0);
        if !list
            .iter()
            .any(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(ioas)))
        {
            list.push(Arc::downgrade(ioas));
        }
    }

    /// Revokes the import, for good (`phys.len = 0` in `iopt_revoke_notify`): the IOASes
    /// that map it, the first time; `None` if it was revoked already.
    pub(crate) fn revoke(&self) -> Option<Vec<Weak<RwLock<Inner>>>> {
        if self.revoked.swap(true, Ordering::SeqCst) {
            return None;
        }
        Some(
            self.ioases
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }
}
