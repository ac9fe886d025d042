//! What every iommufd object handle shares: its context, its ID, and what it keeps alive.
//!
//! A handle owns an `Arc<Object>`; objects built on others (a HWPT on its IOAS, a vDEVICE on
//! its vIOMMU) hold their parent's `Arc`, so that the kernel object is destroyed only after
//! everything that uses it: the kernel refuses to destroy an object in use (`EBUSY`).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::buffer::MappedBuffer;
use crate::error::Result;
use crate::iommufd::Iommufd;
use std::sync::Arc;

/// Something an object must outlive.
#[derive(Debug)]
pub(crate) enum Keep {
    /// Another object it references.
    Object(#[allow(dead_code)] Arc<Object>),
    /// Memory one of its mappings points at.
    Buffer(#[allow(dead_code)] MappedBuffer),
}

/// One kernel object (crate-internal; public only to seal [`crate::PageTable`]), destroyed with `IOMMU_DESTROY` when the last handle goes.
#[derive(Debug)]
pub struct Object {
    pub(crate) ctx: Iommufd,
    pub(crate) id: u32,
    destroyed: AtomicBool,
    keep: Mutex<Vec<Keep>>,
}

impl Object {
    pub(crate) fn new(ctx: &Iommufd, id: u32, keep: Vec<Keep>) -> Arc<Self> {
        Arc::new(Object {
            ctx: ctx.clone(),
            id,
            destroyed: AtomicBool::new(false),
            keep: Mutex::new(keep),
        })
    }

    /// Keeps `k` alive as long as this object.
    pub(crate) fn keep(&self, k: Keep) {
        self.keep.lock().unwrap_or_else(|e| e.into_inner()).push(k);
    }

    /// A clone of every buffer this object keeps (for `IOMMU_IOAS_COPY`).
    pub(crate) fn buffers(&self) -> Vec<MappedBuffer> {
        self.keep
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter_map(|k| match k {
                Keep::Buffer(b) => Some(b.clone()),
                Keep::Object(_) => None,
            })
            .collect()
    }

    /// `IOMMU_DESTROY` now; on success the drop does nothing more.
    pub(crate) fn destroy(&self) -> Result<()> {
        self.ctx.destroy(self.id)?;
        self.destroyed.store(true, Ordering::Release);
        Ok(())
    }
}

impl Drop for Object {
    fn drop(&mut self) {
        if !self.destroyed.load(Ordering::Acquire) {
            // Everything that referenced this object through the client is gone (they hold
            // this Arc), so the kernel can only refuse if the caller attached it by raw ID
            // elsewhere; then the object lives until the iommufd is closed, as in the kernel.
            let _ = self.ctx.destroy(self.id);
        }
    }
}
