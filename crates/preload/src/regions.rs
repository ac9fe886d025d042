//! Mappings of the iommufd fd (`iommufd_fops_mmap`): memory of a context object (a vIOMMU's
//! page) that the program reads and writes directly.
//!
//! The memory belongs to uiommu, not to a kernel mapping, so `mmap` returns its address and
//! `munmap` of such a range must only give back the mapping (letting its owner be destroyed),
//! never reach the real `munmap`. Differences from the kernel, for programs that misbehave:
//! `MAP_FIXED` cannot place the region and is refused with `EINVAL`, and an access after
//! `munmap` is not faulted (the memory stays until its owner object is destroyed), every
//! `mmap` of one region returns the same address, and a partial `munmap` ends the mapping
//! whole. Each `mmap` still holds the owner by itself, as each VMA does: the owner stays in
//! use until every mapping of it was unmapped.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use uiommu_abi::Mapping;

/// The live mappings by address; the same region mapped twice has two entries in its list.
static REGIONS: Mutex<BTreeMap<u64, Vec<Mapping>>> = Mutex::new(BTreeMap::new());

fn regions() -> MutexGuard<'static, BTreeMap<u64, Vec<Mapping>>> {
    REGIONS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Records a new mapping; returns its address.
pub fn insert(m: Mapping) -> u64 {
    let addr = m.addr();
    regions().entry(addr).or_default().push(m);
    addr
}

/// Whether `addr..addr + len` overlaps a region.
pub fn overlaps(addr: u64, len: u64) -> bool {
    let end = addr.saturating_add(len);
    regions()
        .iter()
        .filter_map(|(&a, maps)| Some((a, a + maps.first()?.len())))
        .any(|(a, e)| a < end && e > addr)
}

/// `munmap(addr, len)`: ends one mapping of every region the range overlaps and returns the
/// parts of the range outside them, for the real `munmap`. `None` if it touches no region.
pub fn unmap(addr: u64, len: u64) -> Option<Vec<(u64, u64)>> {
    let end = addr.checked_add(len)?;
    let mut r = regions();
    let hit: Vec<(u64, u64)> = r
        .iter()
        .filter_map(|(&a, maps)| Some((a, a + maps.first()?.len())))
        .filter(|&(a, e)| a < end && e > addr)
        .collect();
    if hit.is_empty() {
        return None;
    }
    let mut dropped = Vec::new();
    for (a, _) in &hit {
        if let Some(maps) = r.get_mut(a) {
            dropped.extend(maps.pop());
            if maps.is_empty() {
                r.remove(a);
            }
        }
    }
    // The owner may be released here: outside the lock.
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
