//! The selftest's dma-buf exporter (`selftest.c`: `iommufd_test_dmabuf_get`,
//! `iommufd_test_dmabuf_revoke`, `iommufd_test_dma_buf_iommufd_map`): zeroed memory that
//! iommufd can import with `IOMMU_IOAS_MAP_FILE`, and that a test can revoke.

use crate::ioas::{DmaBuf, DmaBufImporter, PAGE_SIZE};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError, Weak};
use uiommu_uapi::{Errno, errno::Result};

/// The largest buffer `IOMMU_TEST_OP_DMABUF_GET` creates, in pages.
pub const MAX_PAGES: u64 = 512;

/// One page of the buffer: page aligned, as the kernel's allocation of whole pages is, and
/// atomic so that device writes through its address never alias a Rust reference.
#[repr(C, align(4096))]
struct Page([AtomicU64; PAGE_SIZE as usize / 8]);

/// A test dma-buf.
pub struct TestDmaBuf {
    memory: Box<[Page]>,
    revoked: AtomicBool,
    /// Dynamic attachments, told of every revoke (`dma_buf_invalidate_mappings`).
    importers: Mutex<Vec<Weak<dyn DmaBufImporter>>>,
}

impl std::fmt::Debug for TestDmaBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDmaBuf")
            .field("size", &self.size())
            .field("revoked", &self.revoked.load(Ordering::SeqCst))
            .finish()
    }
}

impl TestDmaBuf {
    /// `iommufd_test_dmabuf_get`: `length` rounded up to pages; `EINVAL` for zero or more
    /// than [`MAX_PAGES`] pages.
    pub fn new(length: u64) -> Result<Self> {
        let pages = length.div_ceil(PAGE_SIZE);
        if pages == 0 || pages > MAX_PAGES {
            return Err(Errno::EINVAL);
        }
        let memory = (0..pages)
            .map(|_| Page(std::array::from_fn(|_| AtomicU64::new(0))))
            .collect();
        Ok(Self {
            memory,
            revoked: AtomicBool::new(false),
            importers: Mutex::new(Vec::new()),
        })
    }

    /// `iommufd_test_dmabuf_revoke`: sets whether the buffer is revoked, then invalidates every
    /// attachment whichever the new state (iommufd drops its mappings for good either way).
    pub fn set_revoked(&self, revoked: bool) {
        self.revoked.store(revoked, Ordering::SeqCst);
        let importers: Vec<_> = self.importers().iter().filter_map(Weak::upgrade).collect();
        for importer in importers {
            importer.invalidate_mappings();
        }
    }

    /// Host address of the buffer's first byte.
    pub fn addr(&self) -> u64 {
        self.memory.as_ptr() as u64
    }

    fn importers(&self) -> std::sync::MutexGuard<'_, Vec<Weak<dyn DmaBufImporter>>> {
        self.importers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl DmaBuf for TestDmaBuf {
    fn size(&self) -> u64 {
        self.memory.len() as u64 * PAGE_SIZE
    }

    /// `iommufd_test_dma_buf_iommufd_map`: `ENODEV` while revoked.
    fn attach(&self, importer: Weak<dyn DmaBufImporter>) -> Result<u64> {
        let mut importers = self.importers();
        if self.revoked.load(Ordering::SeqCst) {
            return Err(Errno::ENODEV);
        }
        importers.retain(|w| w.strong_count() != 0);
        importers.push(importer);
        Ok(self.addr())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_rounds_up_and_is_bounded() {
        assert_eq!(TestDmaBuf::new(1).unwrap().size(), PAGE_SIZE);
        assert_eq!(
            TestDmaBuf::new(MAX_PAGES * PAGE_SIZE).unwrap().size(),
            2 << 20
        );
        assert_eq!(TestDmaBuf::new(0).unwrap_err(), Errno::EINVAL);
        assert_eq!(
            TestDmaBuf::new(MAX_PAGES * PAGE_SIZE + 1).unwrap_err(),
            Errno::EINVAL
        );
        assert_eq!(
            TestDmaBuf::new(4 * PAGE_SIZE).unwrap().addr() % PAGE_SIZE,
            0
        );
    }
}
