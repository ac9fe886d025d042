//! The lines of what the models raise, in the shape strace gives a signal
//! (`--- IOMMU fault {…} ---`): each page request queued to a fault queue, each DMA fault an
//! IOMMU model raises, each event reported to a vEVENTQ ([`observe`], installed when
//! tracing starts), and each DMA of an emulated device the IOMMU refused ([`dma_log`]).
//!
//! # In a signal handler
//! A device's DMA can run inside the `SIGSEGV` handler that serves a BAR access
//! ([`crate::mmio`]): an edu transfer started by a store to its command register. Its lines
//! are then written from the handler, as the device model's own work is: the fd is read from
//! an atomic (no lock, no lazy initialization), the line goes out in one `write(2)`, which
//! is async-signal-safe; the line is formatted on the heap, which the handler's device code
//! does already (the interrupted code is the program's load or store to the BAR, never the
//! allocator; see [`crate::mmio::handler`]).

use super::emit;
use std::sync::atomic::{AtomicI32, Ordering};
use uiommu_abi::host::observe::{self, Event};
use uiommu_abi::host::{DmaError, DmaFault, FaultLog, NO_PASID};
use uiommu_uapi::catalog;
use uiommu_uapi::trace;
use zerocopy::IntoBytes;

/// The trace's fd once tracing started; -1 before.
static OUT: AtomicI32 = AtomicI32::new(-1);

/// Starts the lines of events on `fd`.
pub(super) fn install(fd: i32) {
    OUT.store(fd, Ordering::Release);
    observe::set(observed);
}

fn line(what: &str, fields: &str) {
    let fd = OUT.load(Ordering::Acquire);
    if fd >= 0 {
        let l = trace::event(Some(crate::process::pid()), what, fields);
        emit(fd, l.as_bytes());
    }
}

fn pasid(p: u32) -> String {
    match p {
        NO_PASID => "NO_PASID".into(),
        p => p.to_string(),
    }
}

fn access(write: bool) -> &'static str {
    match write {
        true => "write",
        false => "read",
    }
}

/// The observer of the models' events.
fn observed(e: &Event<'_>) {
    match e {
        Event::PageRequest(rec) => line(
            "IOMMU page request",
            &trace::record("iommu_hwpt_pgfault", rec.as_bytes()),
        ),
        Event::Fault {
            iommu,
            dev_id,
            pasid: p,
            iova,
            write,
            reason,
        } => line(
            "IOMMU fault",
            &format!(
                "{{iommu={iommu}, dev_id={dev_id}, access={}, iova={iova:#x}, pasid={}, \
                 reason={reason:?}}}",
                access(*write),
                pasid(*p)
            ),
        ),
        Event::Vevent { veventq_type, data } => {
            let shown = match catalog::vevent_struct(*veventq_type) {
                Some(s) => trace::record(s, data),
                None => trace::record("", data),
            };
            line(
                "IOMMU vevent",
                &format!("{{type={veventq_type:#x}, data={shown}}}"),
            );
        }
    }
}

/// The line of a DMA of the device at `device` (its PCI address) that the IOMMU refused.
fn dma(device: &str, e: &DmaError) {
    let (f, answer): (&DmaFault, _) = match e {
        DmaError::Fault(f) => (f, "fault"),
        DmaError::PageRequest(f) => (f, "page request"),
        DmaError::Access(_) => return,
    };
    line(
        "DMA fault",
        &format!(
            "{{device={device}, dev_id={}, access={}, iova={:#x}, pasid={}, answer={answer}}}",
            f.dev_id,
            format!("{:?}", f.access).to_lowercase(),
            f.iova,
            pasid(f.pasid)
        ),
    );
}

/// A log for the device at `device` that traces each DMA of it the IOMMU refuses, and passes
/// it on to `then` (the host's own log, if any); `then` unchanged if tracing is off.
pub fn dma_log(device: String, then: Option<FaultLog>) -> Option<FaultLog> {
    super::sink()?;
    Some(std::sync::Arc::new(move |e: &DmaError| {
        dma(&device, e);
        if let Some(t) = &then {
            t(e);
        }
    }))
}
