//! DomainIDs (AMD IOMMU spec §2.2.2.1 DTE[DomainID]): the tag of every IOTLB entry, and the
//! units whose DTEs hold one — where INVALIDATE_IOMMU_PAGES for it goes (§2.4.3).
//!
//! IDs come from one space shared by all units, lowest free first from 1
//! (`amd_iommu_pdom_id_alloc`: an IDA over `1..MAX_DOMAIN_ID`).

use super::unit::Unit;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;

/// `MAX_DOMAIN_ID`.
const MAX_DOMAIN_ID: u32 = 1 << 16;

#[derive(Debug)]
struct Ids {
    next: u32,
    free: BTreeSet<u16>,
}

static IDS: Mutex<Ids> = Mutex::new(Ids {
    next: 1,
    free: BTreeSet::new(),
});

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A DomainID and the units it is programmed on.
#[derive(Debug)]
pub struct DomainId {
    /// The ID.
    pub id: u16,
    units: Mutex<Vec<Weak<Unit>>>,
}

impl DomainId {
    /// A fresh ID; `ENOSPC` when all are taken.
    pub(crate) fn new() -> Result<Arc<Self>> {
        let id = {
            let mut ids = lock(&IDS);
            match ids.free.pop_first() {
                Some(id) => id,
                None if ids.next < MAX_DOMAIN_ID => {
                    ids.next += 1;
                    (ids.next - 1) as u16
                }
                None => return Err(Errno::ENOSPC),
            }
        };
        Ok(Arc::new(DomainId {
            id,
            units: Mutex::default(),
        }))
    }

    /// A DTE of `unit` now holds the ID.
    pub(crate) fn add_unit(&self, unit: &Arc<Unit>) {
        let mut units = lock(&self.units);
        if !units
            .iter()
            .any(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(unit)))
        {
            units.push(Arc::downgrade(unit));
        }
    }

    fn each_unit(&self, mut f: impl FnMut(&Unit)) {
        let units: Vec<_> = lock(&self.units).iter().filter_map(Weak::upgrade).collect();
        for u in units {
            f(&u);
        }
    }

    /// INVALIDATE_IOMMU_PAGES of `first..=last` for every PASID (S = 1, GN = 0).
    pub(crate) fn flush_range(&self, first: u64, last: u64) {
        self.each_unit(|u| u.iotlb.invalidate_range(self.id, None, first, last));
    }

    /// INVALIDATE_IOMMU_PAGES of the whole domain.
    pub(crate) fn flush_all(&self) {
        self.each_unit(|u| u.iotlb.invalidate_domain(self.id));
    }
}

impl Drop for DomainId {
    /// The ID goes back once nothing cached under it can be found any more.
    fn drop(&mut self) {
        self.flush_all();
        lock(&IDS).free.insert(self.id);
    }
}
