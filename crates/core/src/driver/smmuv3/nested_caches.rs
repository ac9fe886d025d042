//! What the SMMU caches for one nested domain, and the guest's commands that clear it (Arm
//! IHI 0070 §4.4 "TLB invalidation", §4.3 "Configuration structure invalidation"): the CDs
//! it has read until a `CFGI_CD`/`CFGI_CD_ALL`, and TLB entries tagged with the domain and
//! the substream, remembered per ASID so that `TLBI_NH_*` by ASID finds them. The stage-2
//! parent lists the caches of the nested domains over it and clears them all when its own
//! entries change.

use super::cd::Cd;
use super::unit::{DomainTag, lock};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// What the SMMU caches for one nested domain: its TLB tag, the CDs it has read (by CD
/// index) and, per ASID, the request substreams whose TLB entries were filled under it.
#[derive(Debug)]
pub struct NestedCaches {
    pub(crate) tag: Arc<DomainTag>,
    cds: Mutex<BTreeMap<u32, Cd>>,
    asids: Mutex<BTreeMap<u16, BTreeSet<u32>>>,
}

impl NestedCaches {
    /// Empty caches under `tag`.
    pub(crate) fn new(tag: Arc<DomainTag>) -> Self {
        NestedCaches {
            tag,
            cds: Mutex::default(),
            asids: Mutex::default(),
        }
    }

    /// The CD of `ssid`, if it is cached.
    pub(crate) fn cd(&self, ssid: u32) -> Option<Cd> {
        lock(&self.cds).get(&ssid).copied()
    }

    /// Caches the CD of `ssid`.
    pub(crate) fn keep_cd(&self, ssid: u32, cd: Cd) {
        lock(&self.cds).insert(ssid, cd);
    }

    /// Notes that TLB entries of substream `pasid` are filled under `asid`.
    pub(crate) fn note_asid(&self, asid: u16, pasid: u32) {
        lock(&self.asids).entry(asid).or_default().insert(pasid);
    }

    /// `CMD_TLBI_NH_ALL` (and `TLBI_NSNH_ALL`) for this domain: every TLB entry.
    pub(crate) fn tlbi_all(&self) {
        self.tag.flush_all();
    }

    /// `CMD_TLBI_NH_ASID`: the entries filled under `asid`.
    pub(crate) fn tlbi_asid(&self, asid: u16) {
        for &pasid in lock(&self.asids).get(&asid).into_iter().flatten() {
            self.tag.unit.iotlb.invalidate_pasid(self.tag.did, pasid);
        }
    }

    /// `CMD_TLBI_NH_VA` (with an ASID) and `CMD_TLBI_NH_VAA` (all ASIDs): entries overlapping
    /// `first..=last`.
    pub(crate) fn tlbi_range(&self, asid: Option<u16>, first: u64, last: u64) {
        let iotlb = &self.tag.unit.iotlb;
        match asid {
            None => iotlb.invalidate_range(self.tag.did, None, first, last),
            Some(a) => {
                for &pasid in lock(&self.asids).get(&a).into_iter().flatten() {
                    iotlb.invalidate_range(self.tag.did, Some(pasid), first, last);
                }
            }
        }
    }

    /// `CMD_CFGI_CD` of CD `ssid` (`None`: `CMD_CFGI_CD_ALL`). The TLB entries of the
    /// substream go too: once the CD is read again they may be under another ASID.
    pub(crate) fn cfgi_cd(&self, ssid: Option<u32>) {
        match ssid {
            Some(s) => {
                lock(&self.cds).remove(&s);
                self.tag.unit.iotlb.invalidate_pasid(self.tag.did, s);
            }
            None => {
                lock(&self.cds).clear();
                self.tag.flush_all();
            }
        }
    }
}
