//! Memory to map into an IOAS: [`MappedBuffer`] owns process memory whose address the IOAS
//! records, and [`MemFile`] is a memfd for `IOMMU_IOAS_MAP_FILE`.

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;

use crate::error::{Context, Error, Result};
use crate::ioctl::{self, Region};

/// Process memory for DMA: an `mmap` the client owns. Cloning shares the memory.
///
/// A device (or uiommu, whose "physical" addresses are user addresses) may read and write it
/// while it is mapped, so the buffer hands out copies ([`read`](Self::read),
/// [`write`](Self::write)), never references. An [`Ioas`](crate::Ioas) that maps a buffer
/// holds it while some IOVA range maps it (until the range is unmapped or the IOAS
/// destroyed), so the memory always outlives its mappings and is returned once the last
/// mapping and the last clone are gone.
///
/// ```
/// use uiommu_client::MappedBuffer;
///
/// let buf = MappedBuffer::new(8192)?;
/// buf.write(0, b"hello");
/// assert!(buf.try_write(8190, b"too long").is_err());
/// assert_eq!(&buf.to_vec()[..5], b"hello");
/// assert_eq!(buf.addr() % 4096, 0);
/// # Ok::<(), uiommu_client::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct MappedBuffer {
    region: Arc<Region>,
    accessible: bool,
}

impl MappedBuffer {
    /// `len` bytes of zeroed, readable and writable anonymous memory, page-aligned and
    /// populated (each page its own, not the shared zero page, so pin counts are exact).
    pub fn new(len: usize) -> Result<Self> {
        let region = Region::map(
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
            None,
            0,
        )
        .op("mmap")?;
        Ok(MappedBuffer {
            region: Arc::new(region),
            accessible: true,
        })
    }

    /// `len` bytes of address space with no access (`PROT_NONE`): mapping it into an IOAS
    /// fails with `EFAULT`, which is what it is for.
    pub fn inaccessible(len: usize) -> Result<Self> {
        let region = Region::map(
            len,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            None,
            0,
        )
        .op("mmap")?;
        Ok(MappedBuffer {
            region: Arc::new(region),
            accessible: false,
        })
    }

    /// `len` bytes of `file` from `offset`, shared (`MAP_SHARED`): the same pages an
    /// `IOMMU_IOAS_MAP_FILE` of that file range pins.
    pub fn from_file(file: &MemFile, offset: u64, len: usize) -> Result<Self> {
        let region = Region::map(
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            Some(file.as_fd()),
            offset,
        )
        .op("mmap")?;
        Ok(MappedBuffer {
            region: Arc::new(region),
            accessible: true,
        })
    }

    /// The user virtual address of the first byte (what `user_va`/`vaddr` carry).
    pub fn addr(&self) -> u64 {
        self.region.addr()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.region.len()
    }

    /// Whether the buffer is empty (never: `mmap` refuses length 0).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The length as the uAPI carries it (`length` of a map), for the `u64` IOVA side.
    pub fn size(&self) -> u64 {
        self.len() as u64
    }

    /// How many holders share this memory: this handle, its clones, and one per IOVA range
    /// an IOAS or VFIO container maps it at. The memory is unmapped when the count reaches
    /// zero, so a buffer whose count is 1 is no longer held by any mapping.
    pub fn holders(&self) -> usize {
        Arc::strong_count(&self.region)
    }

    /// Copies bytes at `offset` into `out`: [`Error::OutOfBounds`] if the range is not in
    /// the buffer, `EFAULT` if the buffer is [`inaccessible`](Self::inaccessible).
    pub fn try_read(&self, offset: usize, out: &mut [u8]) -> Result<()> {
        self.check_cpu("read", offset, out.len())?;
        self.region.read(offset, out);
        Ok(())
    }

    /// Copies `data` to `offset`: [`Error::OutOfBounds`] if the range is not in the buffer,
    /// `EFAULT` if the buffer is [`inaccessible`](Self::inaccessible).
    pub fn try_write(&self, offset: usize, data: &[u8]) -> Result<()> {
        self.check_cpu("write", offset, data.len())?;
        self.region.write(offset, data);
        Ok(())
    }

    /// Copies bytes at `offset` into `out`.
    ///
    /// # Panics
    ///
    /// If the range is outside the buffer or the buffer is inaccessible, with the message of
    /// [`try_read`](Self::try_read)'s error.
    pub fn read(&self, offset: usize, out: &mut [u8]) {
        if let Err(e) = self.try_read(offset, out) {
            panic!("MappedBuffer::read: {e}");
        }
    }

    /// Copies `data` to `offset`.
    ///
    /// # Panics
    ///
    /// If the range is outside the buffer or the buffer is inaccessible, with the message of
    /// [`try_write`](Self::try_write)'s error.
    pub fn write(&self, offset: usize, data: &[u8]) {
        if let Err(e) = self.try_write(offset, data) {
            panic!("MappedBuffer::write: {e}");
        }
    }

    /// Fills the whole buffer with `byte`.
    pub fn fill(&self, byte: u8) {
        self.write(0, &vec![byte; self.len()]);
    }

    /// A copy of the whole buffer.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = vec![0; self.len()];
        self.read(0, &mut v);
        v
    }

    fn check_cpu(&self, op: &'static str, offset: usize, len: usize) -> Result<()> {
        self.check_range(op, offset as u64, len as u64)?;
        if !self.accessible {
            return Err(Error::os(op, uiommu_uapi::Errno::EFAULT));
        }
        Ok(())
    }

    /// Checks that `offset..offset + len` lies in the buffer, for operation `op`.
    pub(crate) fn check_range(&self, op: &'static str, offset: u64, len: u64) -> Result<()> {
        match offset.checked_add(len) {
            Some(end) if end <= self.size() => Ok(()),
            _ => Err(Error::OutOfBounds {
                op,
                offset,
                len,
                size: self.size(),
            }),
        }
    }
}

/// The system page size, in bytes.
pub fn page_size() -> usize {
    ioctl::page_size()
}

/// A memfd: file-backed memory for `IOMMU_IOAS_MAP_FILE`.
///
/// ```
/// use uiommu_client::MemFile;
///
/// let f = MemFile::new("dma", 1 << 20)?;
/// assert_eq!(f.len(), 1 << 20);
/// # Ok::<(), uiommu_client::Error>(())
/// ```
#[derive(Debug)]
pub struct MemFile {
    file: File,
    len: u64,
}

impl MemFile {
    /// A new memfd named `name`, `len` bytes long.
    pub fn new(name: &str, len: u64) -> Result<Self> {
        let cname = std::ffi::CString::new(name).map_err(|_| Error::Protocol {
            op: "memfd_create",
            what: "name contains NUL".into(),
        })?;
        let file = File::from(ioctl::memfd_create(&cname).op("memfd_create")?);
        file.set_len(len).map_err(|e| {
            Error::os(
                "ftruncate",
                uiommu_uapi::Errno(e.raw_os_error().unwrap_or(libc::EIO)),
            )
        })?;
        Ok(MemFile { file, len })
    }

    /// Length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl AsFd for MemFile {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}
