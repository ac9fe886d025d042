//! One AMD-Vi unit: its feature registers, its IOTLB (tagged by DomainID and PASID, AMD IOMMU
//! spec §2.2.7 "I/O TLB"; invalidated by INVALIDATE_IOMMU_PAGES, §2.4.3) and its event log
//! of IO_PAGE_FAULT events (§2.5.2 "Event Log", Table "IO_PAGE_FAULT Event Types").

use super::regs::AmdConfig;
use crate::iommu::translate::{DmaFault, FaultReason};
use crate::iotlb::Iotlb;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Entries the event log holds before it overflows (a 4 KiB log of 16-byte entries).
pub const EVENT_LOG_ENTRIES: usize = 256;

/// An IO_PAGE_FAULT event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageFaultEvent {
    /// DeviceID of the requester.
    pub device_id: u16,
    /// PASID of the request (the `PASID` field with GN set), if it had one.
    pub pasid: Option<u32>,
    /// DomainID the request translated under, if the DTE held one.
    pub domain_id: Option<u16>,
    /// The faulting address.
    pub addr: u64,
    /// RW: a write request.
    pub write: bool,
    /// Why it faulted.
    pub reason: FaultReason,
}

#[derive(Debug, Default)]
struct EventLog {
    events: VecDeque<PageFaultEvent>,
    /// EventOverflow (MMIO Status Register bit 0).
    overflow: bool,
}

/// An AMD-Vi unit.
#[derive(Debug)]
pub struct Unit {
    /// Its feature registers.
    pub config: AmdConfig,
    /// Its IOTLB.
    pub iotlb: Arc<Iotlb>,
    log: Mutex<EventLog>,
    next_device: AtomicU32,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Unit {
    pub(crate) fn new(config: AmdConfig) -> Self {
        Unit {
            config,
            iotlb: Arc::new(Iotlb::new()),
            log: Mutex::default(),
            next_device: AtomicU32::new(0x0100),
        }
    }

    /// A DeviceID for a new device: bus 1 onwards, one function per device.
    pub(crate) fn next_device_id(&self) -> u16 {
        self.next_device.fetch_add(1, Ordering::Relaxed) as u16
    }

    /// Logs an IO_PAGE_FAULT of the device at `device_id`; a full log drops it and sets
    /// overflow.
    pub(crate) fn log_fault(&self, device_id: u16, domain_id: Option<u16>, fault: &DmaFault) {
        let mut log = lock(&self.log);
        if log.events.len() >= EVENT_LOG_ENTRIES {
            log.overflow = true;
            return;
        }
        log.events.push_back(PageFaultEvent {
            device_id,
            pasid: (fault.pasid != crate::iommu::NO_PASID).then_some(fault.pasid),
            domain_id,
            addr: fault.iova,
            write: fault.access == uiommu_pt::Access::Write,
            reason: fault.reason,
        });
    }

    /// Software consumes the event log: the events, oldest first, and whether any were lost.
    pub fn take_events(&self) -> (Vec<PageFaultEvent>, bool) {
        let mut log = lock(&self.log);
        let overflow = std::mem::take(&mut log.overflow);
        (log.events.drain(..).collect(), overflow)
    }
}
