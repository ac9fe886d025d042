//! What every iommufd object handle shares: its context, its ID, and what it keeps alive.
//!
//! A handle owns an `Arc<Object>`; objects built on others (a HWPT on its IOAS, a vDEVICE on
//! its vIOMMU) hold their parent's `Arc`, so that the kernel object is destroyed only after
//! everything that uses it: the kernel refuses to destroy an object in use (`EBUSY`).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::Result;
use crate::ids::ObjectId;
use crate::iommufd::Iommufd;
use crate::spans::Spans;
use std::sync::Arc;

/// Something an object must outlive.
#[derive(Debug)]
pub(crate) enum Keep {
    /// Another object it references.
    Object(#[allow(dead_code)] Arc<Object>),
}

/// One kernel object (crate-internal; public only to seal [`crate::PageTable`]), destroyed with `IOMMU_DESTROY` when the last handle goes.
#[derive(Debug)]
pub struct Object {
    pub(crate) ctx: Iommufd,
    pub(crate) id: u32,
    destroyed: AtomicBool,
    // Never read: held so that what the object references outlives it.
    #[allow(dead_code)]
    keep: Vec<Keep>,
    /// For an IOAS: the buffers its IOVA ranges map. Dropped after `IOMMU_DESTROY` (fields
    /// drop after `Drop::drop`), so memory outlives the mappings that point at it.
    pub(crate) spans: Mutex<Spans>,
}

impl Object {
    pub(crate) fn new(ctx: &Iommufd, id: u32, keep: Vec<Keep>) -> Arc<Self> {
        Arc::new(Object {
            ctx: ctx.clone(),
            id,
            destroyed: AtomicBool::new(false),
            keep,
            spans: Mutex::new(Spans::default()),
        })
    }

    /// The object's ID, untyped.
    pub(crate) fn oid(&self) -> ObjectId {
        ObjectId::from_raw(self.id)
    }

    /// The spans of an IOAS, locked (a poisoned lock is still consistent: every update is a
    /// single map operation).
    pub(crate) fn spans(&self) -> std::sync::MutexGuard<'_, Spans> {
        self.spans.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `IOMMU_DESTROY` now; on success the drop does nothing more.
    pub(crate) fn destroy(&self) -> Result<()> {
        self.ctx.destroy(self.oid())?;
        self.destroyed.store(true, Ordering::Release);
        // A destroyed IOAS maps nothing any more: its buffers can go now.
        self.spans().clear();
        Ok(())
    }
}

impl Drop for Object {
    fn drop(&mut self) {
        if !self.destroyed.load(Ordering::Acquire) {
            // Everything that referenced this object through the client is gone (they hold
            // this Arc), so the kernel can only refuse if the caller attached it by raw ID
            // elsewhere; then the object lives until the iommufd is closed, as in the kernel.
            // Its mappings live on too, so the memory they point at must stay: it is leaked.
            if self.ctx.destroy(self.oid()).is_err() {
                let spans = std::mem::take(&mut *self.spans());
                std::mem::forget(spans);
            }
        }
    }
}
