//! [`Veventq`]: a vIOMMU's event queue and the [`Vevent`]s read from its fd.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;

use uiommu_uapi::Errno;
use uiommu_uapi::iommufd::*;
use uiommu_uapi::selftest::{IOMMU_VEVENTQ_TYPE_SELFTEST, IommuViommuEventSelftest};
use zerocopy::FromBytes;

use crate::error::{Error, Result};
use crate::fault::{Readiness, poll_fd};
use crate::ids::VeventqId;
use crate::object::Object;

/// One record read from a vEVENTQ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vevent {
    /// `struct iommufd_vevent_header`.
    pub header: IommufdVeventHeader,
    /// The event data (empty for a `LOST_EVENTS` header).
    pub data: Vec<u8>,
}

impl Vevent {
    /// Whether the header reports lost events (`IOMMU_VEVENTQ_FLAG_LOST_EVENTS`).
    pub fn lost_events(&self) -> bool {
        self.header.flags & IOMMU_VEVENTQ_FLAG_LOST_EVENTS != 0
    }
    /// The data as a mock event.
    pub fn selftest(&self) -> Option<IommuViommuEventSelftest> {
        IommuViommuEventSelftest::read_from_bytes(&self.data).ok()
    }
    /// The data as an SMMUv3 event record.
    pub fn arm_smmuv3(&self) -> Option<IommuVeventArmSmmuv3> {
        IommuVeventArmSmmuv3::read_from_bytes(&self.data).ok()
    }
}

/// A vEVENT queue: its object and the fd events are read from.
///
/// ```no_run
/// # fn f(viommu: &uiommu_client::Viommu) -> uiommu_client::Result<()> {
/// use uiommu_client::uapi::iommufd::IOMMU_VEVENTQ_TYPE_ARM_SMMUV3;
/// let q = viommu.alloc_veventq(IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, 64)?;
/// for ev in q.read_events(4096)? {
///     println!("seq {} lost {}", ev.header.sequence, ev.lost_events());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Veventq {
    // Dropped first: the open fd holds a reference the kernel's destroy would trip on.
    pub(super) file: File,
    pub(super) obj: Arc<Object>,
    pub(super) veventq_type: u32,
}

impl Veventq {
    /// The vEVENTQ ID (`out_veventq_id`).
    pub fn id(&self) -> VeventqId {
        VeventqId::from_raw(self.obj.id)
    }

    /// Bytes of data per event of this queue's type, when the client knows it.
    pub fn event_len(&self) -> Option<usize> {
        match self.veventq_type {
            IOMMU_VEVENTQ_TYPE_ARM_SMMUV3 => Some(size_of::<IommuVeventArmSmmuv3>()),
            IOMMU_VEVENTQ_TYPE_TEGRA241_CMDQV => Some(size_of::<IommuVeventTegra241Cmdqv>()),
            IOMMU_VEVENTQ_TYPE_SELFTEST => Some(size_of::<IommuViommuEventSelftest>()),
            _ => None,
        }
    }

    /// `read(2)` of the fd into `buf` as is.
    pub fn read_raw(&self, buf: &mut [u8]) -> Result<usize> {
        (&self.file)
            .read(buf)
            .map_err(|e| Error::os("read vEVENTQ", Errno(e.raw_os_error().unwrap_or(libc::EIO))))
    }

    /// `poll(2)`: whether events (or a lost-events header) are pending. `None` waits.
    pub fn poll(&self, timeout: Option<std::time::Duration>) -> Result<Readiness> {
        poll_fd("poll vEVENTQ", self.file.as_fd(), timeout)
    }

    /// Reads what is pending, up to `max_bytes`, split into events.
    pub fn read_events(&self, max_bytes: usize) -> Result<Vec<Vevent>> {
        let op = "read vEVENTQ";
        let mut buf = vec![0u8; max_bytes];
        let n = self.read_raw(&mut buf)?;
        let mut rest = &buf[..n];
        let mut out = Vec::new();
        while !rest.is_empty() {
            let (header, tail) =
                IommufdVeventHeader::read_from_prefix(rest).map_err(|_| Error::Protocol {
                    op,
                    what: "truncated header".into(),
                })?;
            let len = if header.flags & IOMMU_VEVENTQ_FLAG_LOST_EVENTS != 0 {
                0
            } else {
                self.event_len().unwrap_or(tail.len())
            };
            let data = tail.get(..len).ok_or_else(|| Error::Protocol {
                op,
                what: "truncated event".into(),
            })?;
            out.push(Vevent {
                header,
                data: data.to_vec(),
            });
            rest = &tail[len..];
        }
        Ok(out)
    }
}

impl AsFd for Veventq {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}
