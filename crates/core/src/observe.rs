//! What the models raise, for an observer (a trace): each page request queued to a fault
//! queue, each DMA fault an IOMMU model raises, each event reported to a vEVENTQ. The models'
//! own records (fault logs, event queues) are kept as before; an observer only sees them.
//!
//! One observer per process, set once. Without one a report is one atomic load and builds
//! nothing ([`report`] takes a closure). The observer runs on the thread that raised the
//! event, with the model's locks held; it must take none of its own that the model could hold.

use std::fmt::Debug;
use std::sync::OnceLock;
use uiommu_uapi::iommufd::IommuHwptPgfault;

/// An event a model raised.
#[derive(Debug)]
pub enum Event<'a> {
    /// A page request queued to a fault queue (`iommufd_fault_iopf_handler`), as the reader
    /// will get it (but for its cookie, given when it is read).
    PageRequest(IommuHwptPgfault),
    /// A DMA fault the model raised: recorded where it keeps a record (VT-d's fault record, an
    /// SMMUv3 event, AMD-Vi's `IO_PAGE_FAULT`), the refusal alone for a domain without a
    /// hardware model (the mock's).
    Fault {
        /// The model's name (`IommuDriver::name`).
        iommu: &'static str,
        /// The iommufd device object ID.
        dev_id: u32,
        /// PASID of the request, `NO_PASID` for none.
        pasid: u32,
        /// The faulting address.
        iova: u64,
        /// A write; `false`: a read.
        write: bool,
        /// Why, as the model found it.
        reason: &'a dyn Debug,
    },
    /// An event reported to the vEVENTQ of `veventq_type` (`iommufd_viommu_report_event`).
    Vevent {
        /// `IOMMU_VEVENTQ_TYPE_*`.
        veventq_type: u32,
        /// The event's data.
        data: &'a [u8],
    },
}

/// Told of each event.
pub type Observer = fn(&Event<'_>);

static OBSERVER: OnceLock<Observer> = OnceLock::new();

/// Makes `observer` the process's; `false` if one was set already.
pub fn set(observer: Observer) -> bool {
    OBSERVER.set(observer).is_ok()
}

/// Tells the observer, if there is one, of the event `event` builds.
#[inline]
pub fn report<'a>(event: impl FnOnce() -> Event<'a>) {
    if let Some(o) = OBSERVER.get() {
        o(&event());
    }
}
