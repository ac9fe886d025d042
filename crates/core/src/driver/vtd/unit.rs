//! One VT-d remapping unit (a DRHD): its registers, its IOTLB, its fault recording registers
//! (VT-d spec §7.2 "Non-Recoverable Fault Reporting", §11.4.14 fault recording registers) and
//! the page group responses it has sent to devices (§7.7 "Page Group Response").

use super::regs::VtdConfig;
use crate::fault::{FaultGroup, ResponseSink};
use crate::iommu::translate::{DmaFault, FaultReason};
use crate::iotlb::Iotlb;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// A recorded non-recoverable fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultRecord {
    /// Source ID of the requester (bus/device/function).
    pub source_id: u16,
    /// PASID of the request, if it had one.
    pub pasid: Option<u32>,
    /// The faulting address.
    pub addr: u64,
    /// A write request.
    pub write: bool,
    /// Why it faulted.
    pub reason: FaultReason,
}

/// A page group response the unit sent to a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageResponse {
    /// The iommufd device the group came through.
    pub dev_id: u32,
    /// The PASID of the group (`NO_PASID` for none).
    pub pasid: u32,
    /// Page Request Group Index.
    pub grpid: u32,
    /// `IOMMUFD_PAGE_RESP_*`.
    pub code: u32,
}

#[derive(Debug, Default)]
struct FaultLog {
    records: VecDeque<FaultRecord>,
    /// Primary Fault Overflow (FSTS_REG.PFO): a fault found every recording register full.
    overflow: bool,
}

/// A VT-d unit.
#[derive(Debug)]
pub struct Unit {
    /// Its registers.
    pub config: VtdConfig,
    /// Its IOTLB.
    pub iotlb: Arc<Iotlb>,
    faults: Mutex<FaultLog>,
    responses: Mutex<Vec<PageResponse>>,
    next_source: AtomicU32,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Unit {
    pub(crate) fn new(config: VtdConfig) -> Self {
        Unit {
            config,
            iotlb: Arc::new(Iotlb::new()),
            faults: Mutex::default(),
            responses: Mutex::default(),
            next_source: AtomicU32::new(0x0100),
        }
    }

    /// A source ID for a new device: bus 1 onwards, one function per device.
    pub(crate) fn next_source_id(&self) -> u16 {
        self.next_source.fetch_add(1, Ordering::Relaxed) as u16
    }

    /// Records `fault` of the device at `source_id` in the next free recording register; with
    /// none free the fault is lost and overflow is set.
    pub(crate) fn record(&self, source_id: u16, fault: &DmaFault) {
        let mut log = lock(&self.faults);
        if log.records.len() >= self.config.fault_regs() {
            log.overflow = true;
            return;
        }
        log.records.push_back(FaultRecord {
            source_id,
            pasid: (fault.pasid != crate::iommu::NO_PASID).then_some(fault.pasid),
            addr: fault.iova,
            write: fault.access == uiommu_pt::Access::Write,
            reason: fault.reason,
        });
    }

    /// Software reads and clears the fault recording registers: the records, oldest first,
    /// and whether faults were lost since the last read.
    pub fn take_faults(&self) -> (Vec<FaultRecord>, bool) {
        let mut log = lock(&self.faults);
        let overflow = std::mem::take(&mut log.overflow);
        (log.records.drain(..).collect(), overflow)
    }

    /// Sends the response to a page request group (the driver's `page_response`).
    pub fn page_response(&self, group: &FaultGroup, code: u32) {
        let mut r = lock(&self.responses);
        for f in group
            .faults
            .iter()
            .filter(|f| f.flags & uiommu_uapi::iommufd::IOMMU_PGFAULT_FLAGS_LAST_PAGE != 0)
        {
            r.push(PageResponse {
                dev_id: group.source.dev_id,
                pasid: f.pasid,
                grpid: f.grpid,
                code,
            });
        }
    }

    /// What a fault queue calls when a group is answered: routes the answer to this unit.
    pub fn response_sink(self: &Arc<Self>) -> ResponseSink {
        let unit = Arc::clone(self);
        Arc::new(move |g: &FaultGroup, code| unit.page_response(g, code))
    }

    /// The page group responses sent so far, oldest first (what the devices received).
    pub fn take_page_responses(&self) -> Vec<PageResponse> {
        std::mem::take(&mut *lock(&self.responses))
    }
}
