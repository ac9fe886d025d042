//! Mappings of the iommufd fd (`iommufd_fops_mmap`): memory of a context object (a vIOMMU's
//! page) that the program reads and writes directly.
//!
//! The memory belongs to uiommu, not to a kernel mapping, so `mmap` returns its address and
//! `munmap` of such a range must only give back the mapping (letting its owner be destroyed),
//! never reach the real `munmap`. Differences from the kernel, for programs that misbehave:
//! `MAP_FIXED` cannot place the region and is refused with `EINVAL`, and an access after
//! `munmap` is not faulted (the memory stays until its owner object is destroyed).

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use uiommu_abi::Mapping;

static REGIONS: Mutex<BTreeMap<u64, Mapping>> = Mutex::new(BTreeMap::new());

fn regions() -> MutexGuard<'static, BTreeMap<u64, Mapping>> {
    REGIONS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Records a new mapping; returns its address.
pub fn insert(m: Mapping) -> u64 {
    let addr = m.addr();
    let old = regions().insert(addr, m);
    drop(old);
    addr
}

/// `munmap(addr, len)`: drops every region the range overlaps and returns the parts of the
/// range outside them, for the real `munmap`. `None` if it touches no region.
pub fn unmap(addr: u64, len: u64) -> Option<Vec<(u64, u64)>> {
    let end = addr.checked_add(len)?;
    let mut r = regions();
    let hit: Vec<(u64, u64)> = r
        .iter()
        .filter(|&(&a, m)| a < end && a + m.len() > addr)
        .map(|(&a, m)| (a, a + m.len()))
        .collect();
    if hit.is_empty() {
        return None;
    }
    let dropped: Vec<Mapping> = hit.iter().filter_map(|(a, _)| r.remove(a)).collect();
    drop(r);
    drop(dropped);
    let mut rest = Vec::new();
    let mut at = addr;
    for (a, e) in hit {
        if a > at {
            rest.push((at, a - at));
        }
        at = at.max(e);
    }
    if at < end {
        rest.push((at, end - at));
    }
    Some(rest)
}
