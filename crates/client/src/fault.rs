//! [`FaultQueue`]: `IOMMU_FAULT_QUEUE_ALLOC`, and the fd it returns: I/O page faults are
//! read from it as `struct iommu_hwpt_pgfault` and answered by writing
//! `struct iommu_hwpt_page_response`.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;

use uiommu_uapi::Errno;
use uiommu_uapi::iommufd::*;
use zerocopy::{FromBytes, IntoBytes};

use crate::error::{Error, Result};
use crate::ids::FaultQueueId;
use crate::iommufd::Iommufd;
use crate::object::Object;
use crate::pt::sealed;

/// A fault queue: its object (for [`HwptBuilder::fault`](crate::HwptBuilder::fault)) and its
/// fd.
///
/// Faults are read as [`IommuHwptPgfault`] records; the last of a group carries
/// [`IOMMU_PGFAULT_FLAGS_LAST_PAGE`] and is answered with a [`PageResponse`] naming its
/// `cookie`. A HWPT reports to the queue when built with
/// [`HwptBuilder::fault`](crate::HwptBuilder::fault).
///
/// ```no_run
/// use uiommu_client::uapi::iommufd::IOMMU_PGFAULT_FLAGS_LAST_PAGE;
/// use uiommu_client::{Iommufd, PageResponse};
///
/// let fd = Iommufd::open()?;
/// let queue = fd.alloc_fault_queue()?;
/// for fault in queue.read_faults(16)? {
///     if fault.flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE != 0 {
///         queue.respond(&[PageResponse::success(fault.cookie)])?;
///     }
/// }
/// # Ok::<(), uiommu_client::Error>(())
/// ```
#[derive(Debug)]
pub struct FaultQueue {
    // Dropped first: the open fd holds a reference the kernel's destroy would trip on.
    file: File,
    obj: Arc<Object>,
}

impl sealed::Sealed for FaultQueue {
    fn object(&self) -> &Arc<Object> {
        &self.obj
    }
}

/// What `poll(2)` reports for an event fd ([`FaultQueue::poll`], [`Veventq::poll`](crate::Veventq::poll)).
///
/// ```no_run
/// # fn f(queue: &uiommu_client::FaultQueue) -> uiommu_client::Result<()> {
/// use std::time::Duration;
/// let r = queue.poll(Some(Duration::from_millis(100)))?;
/// if r.readable {
///     let faults = queue.read_faults(16)?;
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Readiness {
    /// `POLLIN`: records are waiting to be read.
    pub readable: bool,
    /// `POLLOUT`: the fd accepts writes (page responses, for a fault queue).
    pub writable: bool,
}

/// `poll(2)` of `fd` for reading and writing; `None` waits forever.
pub(crate) fn poll_fd(
    op: &'static str,
    fd: BorrowedFd<'_>,
    timeout: Option<std::time::Duration>,
) -> Result<Readiness> {
    let ms = timeout.map_or(-1, |t| i32::try_from(t.as_millis()).unwrap_or(i32::MAX));
    let revents =
        crate::ioctl::poll(fd, libc::POLLIN | libc::POLLOUT, ms).map_err(|e| Error::os(op, e))?;
    Ok(Readiness {
        readable: revents & libc::POLLIN != 0,
        writable: revents & libc::POLLOUT != 0,
    })
}

/// A page response (`struct iommu_hwpt_page_response`): the answer to one fault group,
/// written to the queue with [`FaultQueue::respond`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageResponse {
    /// `cookie`: the [`IommuHwptPgfault::cookie`] of the group's faults.
    pub cookie: u32,
    /// `code`: `IOMMUFD_PAGE_RESP_SUCCESS` or `IOMMUFD_PAGE_RESP_INVALID` (any value may be
    /// written; the kernel judges it).
    pub code: u32,
}

impl PageResponse {
    /// [`IOMMUFD_PAGE_RESP_SUCCESS`] for the group `cookie`: the fault was handled, retry.
    pub const fn success(cookie: u32) -> Self {
        PageResponse {
            cookie,
            code: IOMMUFD_PAGE_RESP_SUCCESS,
        }
    }

    /// [`IOMMUFD_PAGE_RESP_INVALID`] for the group `cookie`: the access fails.
    pub const fn invalid(cookie: u32) -> Self {
        PageResponse {
            cookie,
            code: IOMMUFD_PAGE_RESP_INVALID,
        }
    }

    /// The uAPI struct.
    pub const fn raw(self) -> IommuHwptPageResponse {
        IommuHwptPageResponse {
            cookie: self.cookie,
            code: self.code,
        }
    }
}

impl From<IommuHwptPageResponse> for PageResponse {
    fn from(r: IommuHwptPageResponse) -> Self {
        PageResponse {
            cookie: r.cookie,
            code: r.code,
        }
    }
}

fn io_errno(e: std::io::Error) -> Errno {
    Errno(e.raw_os_error().unwrap_or(libc::EIO))
}

impl Iommufd {
    /// ioctl(IOMMU_FAULT_QUEUE_ALLOC).
    pub fn alloc_fault_queue(&self) -> Result<FaultQueue> {
        let mut cmd = IommuFaultAlloc {
            size: size_of::<IommuFaultAlloc>() as u32,
            ..Default::default()
        };
        self.ioctl("IOMMU_FAULT_QUEUE_ALLOC", IOMMU_FAULT_QUEUE_ALLOC, &mut cmd)?;
        let file = owned_file(cmd.out_fault_fd);
        Ok(FaultQueue {
            file,
            obj: Object::new(self, cmd.out_fault_id, Vec::new()),
        })
    }
}

/// Takes ownership of an fd number the kernel just returned in an ioctl's output.
pub(crate) fn owned_file(fd: u32) -> File {
    File::from(crate::ioctl::own_fd(fd as i32))
}

impl FaultQueue {
    /// The fault queue's object ID (`out_fault_id`).
    pub fn id(&self) -> FaultQueueId {
        FaultQueueId::from_raw(self.obj.id)
    }

    /// Reads up to `max` fault messages (whole groups only); empty if none is pending.
    pub fn read_faults(&self, max: usize) -> Result<Vec<IommuHwptPgfault>> {
        let mut buf = vec![0u8; max * size_of::<IommuHwptPgfault>()];
        let n = self.read_raw(&mut buf)?;
        buf[..n]
            .chunks_exact(size_of::<IommuHwptPgfault>())
            .map(|c| {
                IommuHwptPgfault::read_from_bytes(c).map_err(|_| Error::Protocol {
                    op: "read fault queue",
                    what: "short record".into(),
                })
            })
            .collect()
    }

    /// `read(2)` of the fd into `buf` as is: for testing the kernel's size rules.
    pub fn read_raw(&self, buf: &mut [u8]) -> Result<usize> {
        (&self.file)
            .read(buf)
            .map_err(|e| Error::os("read fault queue", io_errno(e)))
    }

    /// `pread(2)` of the fd at `offset`: the queue is a stream, so any offset but 0 is
    /// `ESPIPE`.
    pub fn read_raw_at(&self, buf: &mut [u8], offset: i64) -> Result<usize> {
        crate::ioctl::pread(self.file.as_fd(), buf, offset)
            .map_err(|e| Error::os("read fault queue", e))
    }

    /// `poll(2)`: whether faults are pending (`readable`); a fault queue is always
    /// `writable`. `None` waits until something is readable or writable.
    pub fn poll(&self, timeout: Option<std::time::Duration>) -> Result<Readiness> {
        poll_fd("poll fault queue", self.file.as_fd(), timeout)
    }

    /// Writes page responses, one `struct iommu_hwpt_page_response` each. Returns the bytes
    /// written.
    pub fn respond(&self, responses: &[PageResponse]) -> Result<usize> {
        let raw: Vec<IommuHwptPageResponse> = responses.iter().map(|r| r.raw()).collect();
        self.write_raw(raw.as_bytes())
    }

    /// `write(2)` of raw bytes to the fd.
    pub fn write_raw(&self, bytes: &[u8]) -> Result<usize> {
        (&self.file)
            .write(bytes)
            .map_err(|e| Error::os("write fault queue", io_errno(e)))
    }
}

impl AsFd for FaultQueue {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}
