//! What every VT-d domain has in the hardware: a domain ID, and the (unit, PASID) pairs whose
//! PASID entries point at it — the kernel's `cache_tag` list (`drivers/iommu/intel/cache.c`),
//! which decides where an invalidation goes.

use super::unit::Unit;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;

/// First DID handed out: 0 is reserved (caching mode) and 1 is the kernel's `FLPT_DEFAULT_DID`.
const FIRST_DID: u32 = 2;
/// DIDs are 16 bits (CAP_REG.ND at most 2^16 domains).
const DID_LIMIT: u32 = 1 << 16;

#[derive(Debug)]
struct DidAlloc {
    next: u32,
    free: Vec<u16>,
}

static DIDS: Mutex<DidAlloc> = Mutex::new(DidAlloc {
    next: FIRST_DID,
    free: Vec::new(),
});

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One PASID entry's use of the domain.
#[derive(Debug)]
struct Use {
    unit: Arc<Unit>,
    pasid: u32,
    count: usize,
}

/// A domain's hardware identity and where it is in use.
///
/// DIDs come from one namespace shared by every unit: each unit could number its domains on
/// its own (the kernel's `domain_attach_iommu`), and one number everywhere is one valid way to.
#[derive(Debug)]
pub struct DomainTag {
    /// The domain ID.
    pub did: u16,
    uses: Mutex<Vec<Use>>,
    /// Units the domain was ever used on: flushed before the DID is reused.
    seen: Mutex<Vec<Weak<Unit>>>,
}

impl DomainTag {
    /// A tag with a fresh DID; `ENOSPC` when all are taken (`ida_alloc_range`).
    pub(crate) fn new() -> Result<Arc<Self>> {
        let did = {
            let mut a = lock(&DIDS);
            match a.free.pop() {
                Some(d) => d,
                None if a.next < DID_LIMIT => {
                    a.next += 1;
                    (a.next - 1) as u16
                }
                None => return Err(Errno::ENOSPC),
            }
        };
        Ok(Arc::new(DomainTag {
            did,
            uses: Mutex::default(),
            seen: Mutex::default(),
        }))
    }

    /// A PASID entry of `unit` now points at the domain.
    pub(crate) fn add_use(&self, unit: &Arc<Unit>, pasid: u32) {
        let mut uses = lock(&self.uses);
        match uses
            .iter_mut()
            .find(|u| Arc::ptr_eq(&u.unit, unit) && u.pasid == pasid)
        {
            Some(u) => u.count += 1,
            None => uses.push(Use {
                unit: Arc::clone(unit),
                pasid,
                count: 1,
            }),
        }
        drop(uses);
        let mut seen = lock(&self.seen);
        if !seen
            .iter()
            .any(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(unit)))
        {
            seen.push(Arc::downgrade(unit));
        }
    }

    /// A PASID entry of `unit` was torn down: what the domain cached for the PASID there goes
    /// (`intel_pasid_tear_down_entry` flushes the PASID's IOTLB entries).
    pub(crate) fn remove_use(&self, unit: &Arc<Unit>, pasid: u32) {
        let mut uses = lock(&self.uses);
        if let Some(i) = uses
            .iter()
            .position(|u| Arc::ptr_eq(&u.unit, unit) && u.pasid == pasid)
        {
            uses[i].count -= 1;
            if uses[i].count == 0 {
                uses.swap_remove(i);
            }
        }
        drop(uses);
        unit.iotlb.invalidate_pasid(self.did, pasid);
    }

    /// The (unit, PASID) pairs in use.
    fn each_use(&self, mut f: impl FnMut(&Unit, u32)) {
        for u in lock(&self.uses).iter() {
            f(&u.unit, u.pasid);
        }
    }

    /// Page-selective invalidation of `first..=last` in every unit the domain is used on, all
    /// PASIDs (a second-stage change: §6.5.2.3 PSI).
    pub(crate) fn flush_range(&self, first: u64, last: u64) {
        let mut done: Vec<*const Unit> = Vec::new();
        self.each_use(|unit, _| {
            if !done.contains(&(unit as *const Unit)) {
                done.push(unit);
                unit.iotlb.invalidate_range(self.did, None, first, last);
            }
        });
    }

    /// PASID-based invalidation of `first..=last` (or everything, with `None`) for each PASID
    /// the domain is used at (§6.5.2.4, what `cache_tag_flush_range` sends per tag).
    pub(crate) fn flush_pasids(&self, range: Option<(u64, u64)>) {
        self.each_use(|unit, pasid| match range {
            Some((first, last)) => unit
                .iotlb
                .invalidate_range(self.did, Some(pasid), first, last),
            None => unit.iotlb.invalidate_pasid(self.did, pasid),
        });
    }

    /// Domain-selective invalidation in every unit the domain is used on.
    pub(crate) fn flush_all(&self) {
        self.each_use(|unit, _| unit.iotlb.invalidate_domain(self.did));
    }
}

impl Drop for DomainTag {
    /// The DID goes back once nothing any unit cached under it can be found.
    fn drop(&mut self) {
        let seen = std::mem::take(self.seen.get_mut().unwrap_or_else(PoisonError::into_inner));
        for unit in seen.iter().filter_map(Weak::upgrade) {
            unit.iotlb.invalidate_domain(self.did);
        }
        lock(&DIDS).free.push(self.did);
    }
}
