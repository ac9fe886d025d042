//! [`Access`]: an emulated-device access on an IOAS (`IOMMU_TEST_OP_CREATE_ACCESS`).

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::sync::Arc;

use uiommu_uapi::selftest::*;

use super::IommufdTest;
use crate::buffer::MappedBuffer;
use crate::error::Result;
use crate::ids::ObjectId;
use crate::ioas::Ioas;
use crate::object::Object;
use crate::pt::sealed;

/// An emulated-device access on an IOAS (the fd `IOMMU_TEST_OP_CREATE_ACCESS` returns);
/// closing it destroys the access.
///
/// ```no_run
/// use uiommu_client::{Iommufd, Iova, MapFlags, MappedBuffer};
///
/// let fd = Iommufd::open()?;
/// let ioas = fd.alloc_ioas()?;
/// let buf = MappedBuffer::new(4096)?;
/// let iova = ioas.map(&buf, Iova::Auto, MapFlags::RW)?;
/// let access = fd.test().create_access(&ioas, 0)?;
/// access.write(iova, b"dma")?;
/// assert_eq!(&buf.to_vec()[..3], b"dma");
/// # Ok::<(), uiommu_client::Error>(())
/// ```
#[derive(Debug)]
pub struct Access {
    // Dropped first: closing the fd destroys the access before its IOAS may go.
    file: File,
    test: IommufdTest,
    // The IOAS the access is on now.
    ioas: Arc<Object>,
}

impl Access {
    pub(super) fn new(file: File, test: IommufdTest, ioas: Arc<Object>) -> Self {
        Access { file, test, ioas }
    }

    /// The access's `id` in selftest commands: its fd number.
    fn id(&self) -> ObjectId {
        ObjectId::from_raw(self.file.as_raw_fd() as u32)
    }

    /// `IOMMU_TEST_OP_ACCESS_PAGES`: pin `iova..iova + len`, checking the pages are
    /// `buf[offset..]`. Returns the ID to unpin with.
    pub fn pin_pages(
        &self,
        iova: u64,
        buf: &MappedBuffer,
        offset: u64,
        len: u64,
        flags: u32,
    ) -> Result<u32> {
        buf.check_range("IOMMU_TEST_OP_ACCESS_PAGES", offset, len)?;
        let m = self.test.cmd(
            self.id(),
            TestAccessPages {
                flags,
                iova,
                length: len,
                uptr: buf.addr() + offset,
                ..Default::default()
            },
        )?;
        Ok(m.out_access_pages_id)
    }

    /// `IOMMU_TEST_OP_DESTROY_ACCESS_PAGES`.
    pub fn unpin_pages(&self, access_pages_id: u32) -> Result<()> {
        self.test
            .cmd(self.id(), TestDestroyAccessPages { access_pages_id })
            .map(|_| ())
    }

    /// `IOMMU_TEST_OP_ACCESS_RW` reading `out.len()` bytes of IOVA memory at `iova`.
    pub fn read(&self, iova: u64, out: &mut [u8]) -> Result<()> {
        self.rw(iova, out.as_mut_ptr() as u64, out.len(), 0)
    }

    /// `IOMMU_TEST_OP_ACCESS_RW` writing `data` to IOVA memory at `iova`.
    pub fn write(&self, iova: u64, data: &[u8]) -> Result<()> {
        self.rw(iova, data.as_ptr() as u64, data.len(), MOCK_ACCESS_RW_WRITE)
    }

    /// `IOMMU_TEST_OP_ACCESS_RW` with extra flags (`MOCK_ACCESS_RW_SLOW_PATH`), reading.
    pub fn read_flags(&self, iova: u64, out: &mut [u8], flags: u32) -> Result<()> {
        self.rw(
            iova,
            out.as_mut_ptr() as u64,
            out.len(),
            flags & !MOCK_ACCESS_RW_WRITE,
        )
    }

    fn rw(&self, iova: u64, uptr: u64, len: usize, flags: u32) -> Result<()> {
        self.test
            .cmd_unchecked(
                self.id(),
                TestAccessRw {
                    iova,
                    length: len as u64,
                    uptr,
                    flags,
                    ..Default::default()
                },
            )
            .map(|_| ())
    }

    /// `IOMMU_TEST_OP_ACCESS_REPLACE_IOAS`: move the access to `ioas`; the previous IOAS
    /// is no longer held.
    pub fn replace_ioas(&mut self, ioas: &Ioas) -> Result<()> {
        self.test.cmd(
            self.id(),
            TestAccessReplaceIoas {
                ioas_id: ioas.id().raw(),
            },
        )?;
        self.ioas = sealed::Sealed::object(ioas).clone();
        Ok(())
    }
}

impl AsFd for Access {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}
