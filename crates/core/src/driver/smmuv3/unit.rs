//! One SMMU: its ID registers, its TLB, its event queue (Arm IHI 0070 §7.2 "Event queue"),
//! and the identifiers it hands out: TLB tags of domains, VMIDs (per SMMU,
//! `arm_smmu_domain_finalise_s2`) and ASIDs (one space for every SMMU,
//! `arm_smmu_domain_finalise_s1`'s `arm_smmu_asid_xa`).

use super::regs::SmmuConfig;
use crate::iotlb::Iotlb;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;

/// Event records the host event queue keeps before it overflows (a queue of 2^10 entries).
const EVTQ_ENTRIES: usize = 1 << 10;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Lowest-free allocation of IDs in `first..limit` (`ida_alloc_range`, `xa_alloc`).
#[derive(Debug)]
pub(crate) struct IdPool {
    first: u32,
    limit: u32,
    next: u32,
    free: Vec<u32>,
}

impl IdPool {
    pub(crate) const fn new(first: u32, limit: u32) -> Self {
        IdPool {
            first,
            limit,
            next: first,
            free: Vec::new(),
        }
    }

    /// The lowest free ID below `limit` (which may be below the pool's own); `ENOSPC` if
    /// none is.
    pub(crate) fn alloc(&mut self, limit: u32) -> Result<u32> {
        let limit = limit.min(self.limit);
        if let Some(i) = (0..self.free.len())
            .filter(|&i| self.free[i] < limit)
            .min_by_key(|&i| self.free[i])
        {
            return Ok(self.free.swap_remove(i));
        }
        if self.next < limit && self.next >= self.first {
            self.next += 1;
            return Ok(self.next - 1);
        }
        Err(Errno::ENOSPC)
    }

    pub(crate) fn release(&mut self, id: u32) {
        self.free.push(id);
    }
}

/// ASIDs of stage-1 domains, shared by every SMMU (`arm_smmu_asid_xa`, from 1).
pub(crate) static ASIDS: Mutex<IdPool> = Mutex::new(IdPool::new(1, 1 << 16));

/// A recorded event the host handles itself (not forwarded to a vEVENTQ).
pub type EventRecord = [u64; 4];

#[derive(Debug, Default)]
struct EventLog {
    records: VecDeque<EventRecord>,
    overflow: bool,
}

/// An SMMU.
#[derive(Debug)]
pub struct Unit {
    /// Its ID registers.
    pub config: SmmuConfig,
    /// Its TLB: entries are tagged with the domain's tag and the substream ID.
    pub iotlb: Arc<Iotlb>,
    tags: Mutex<IdPool>,
    vmids: Mutex<IdPool>,
    events: Mutex<EventLog>,
    next_sid: AtomicU32,
}

impl Unit {
    pub(crate) fn new(config: SmmuConfig) -> Self {
        Unit {
            config,
            iotlb: Arc::new(Iotlb::new()),
            tags: Mutex::new(IdPool::new(1, 1 << 16)),
            // VMID 0 is kept for bypass STEs.
            vmids: Mutex::new(IdPool::new(1, 1 << config.vmid_bits())),
            events: Mutex::default(),
            next_sid: AtomicU32::new(0x100),
        }
    }

    /// A stream ID for a new device: one per device, from bus 1 on.
    pub(crate) fn next_sid(&self) -> u32 {
        self.next_sid.fetch_add(1, Ordering::Relaxed)
    }

    /// A tag for a new domain's TLB entries.
    pub(crate) fn alloc_tag(self: &Arc<Self>) -> Result<Arc<DomainTag>> {
        let did = lock(&self.tags).alloc(u32::MAX)? as u16;
        Ok(Arc::new(DomainTag {
            unit: Arc::clone(self),
            did,
        }))
    }

    /// A VMID for a stage-2 domain (`ida_alloc_range(1, 2^vmid_bits - 1)`).
    pub(crate) fn alloc_vmid(&self) -> Result<u16> {
        Ok(lock(&self.vmids).alloc(u32::MAX)? as u16)
    }

    pub(crate) fn free_vmid(&self, vmid: u16) {
        lock(&self.vmids).release(u32::from(vmid));
    }

    /// Writes an event record to the event queue; with the queue full, the record is lost
    /// and the overflow flag set (§7.4 "Event queue overflow").
    pub(crate) fn record_event(&self, evt: EventRecord) {
        let mut log = lock(&self.events);
        if log.records.len() >= EVTQ_ENTRIES {
            log.overflow = true;
        } else {
            log.records.push_back(evt);
        }
    }

    /// Software consumes the event queue: the records, oldest first, and whether any were
    /// lost since the last read.
    pub fn take_events(&self) -> (Vec<EventRecord>, bool) {
        let mut log = lock(&self.events);
        let overflow = std::mem::take(&mut log.overflow);
        (log.records.drain(..).collect(), overflow)
    }
}

/// The TLB tag of one domain on one SMMU; TLB entries under it go when it does.
#[derive(Debug)]
pub struct DomainTag {
    pub(crate) unit: Arc<Unit>,
    /// The tag.
    pub did: u16,
}

impl DomainTag {
    /// Everything cached under the tag.
    pub(crate) fn flush_all(&self) {
        self.unit.iotlb.invalidate_domain(self.did);
    }
}

impl Drop for DomainTag {
    fn drop(&mut self) {
        self.flush_all();
        lock(&self.unit.tags).release(u32::from(self.did));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_hand_out_the_lowest_free_id_within_the_limit() {
        let mut p = IdPool::new(1, 4);
        assert_eq!(p.alloc(u32::MAX), Ok(1));
        assert_eq!(p.alloc(u32::MAX), Ok(2));
        assert_eq!(p.alloc(3), Err(Errno::ENOSPC));
        assert_eq!(p.alloc(u32::MAX), Ok(3));
        assert_eq!(p.alloc(u32::MAX), Err(Errno::ENOSPC));
        p.release(2);
        p.release(1);
        assert_eq!(p.alloc(u32::MAX), Ok(1));
        assert_eq!(p.alloc(u32::MAX), Ok(2));
    }

    #[test]
    fn the_event_queue_overflows_and_says_so() {
        let u = Unit::new(SmmuConfig::default());
        for i in 0..=EVTQ_ENTRIES as u64 {
            u.record_event([i, 0, 0, 0]);
        }
        let (ev, overflow) = u.take_events();
        assert_eq!(ev.len(), EVTQ_ENTRIES);
        assert!(overflow);
        assert_eq!(u.take_events(), (Vec::new(), false));
    }
}
