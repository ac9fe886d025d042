//! Tests of the IOAS, with a fake domain that records its mappings.

mod access;
mod concurrency;
mod dmabuf;
mod domain;
mod map;
mod model;

use super::*;
use crate::iommu::domain::DirtyRecorder;
use crate::iommu::{IoptDomain, Prot};
use std::collections::BTreeMap;
use std::sync::Mutex;
use uiommu_uapi::user::testing::TestMemory;

pub(super) const PS: u64 = PAGE_SIZE;
pub(super) const RW: Prot = Prot(Prot::RW.0 | Prot::CACHE.0);
pub(super) const RO: Prot = Prot(Prot::READ.0 | Prot::CACHE.0);

/// A domain that records what it maps, can fail on demand and tracks dirty ranges.
pub(super) struct FakeDomain {
    pub pgsize: u64,
    pub aperture: (u64, u64),
    pub maps: Mutex<BTreeMap<u64, (u64, u64, Prot)>>,
    /// Fail the map call that would bring the number of mapped ranges to this many.
    pub fail_at: Mutex<Option<usize>>,
    pub dirty: Mutex<Vec<(u64, u64)>>,
    pub dirty_ops: bool,
    pub tracking: Mutex<bool>,
}

impl FakeDomain {
    pub fn new(pgsize: u64, aperture: (u64, u64)) -> Arc<Self> {
        Arc::new(Self {
            pgsize,
            aperture,
            maps: Mutex::default(),
            fail_at: Mutex::default(),
            dirty: Mutex::default(),
            dirty_ops: true,
            tracking: Mutex::default(),
        })
    }

    pub fn any() -> Arc<Self> {
        Self::new(PS, (0, u64::MAX))
    }

    /// Mappings merged into `(iova, len, oa)` runs that are contiguous in IOVA and OA.
    pub fn runs(&self) -> Vec<(u64, u64, u64)> {
        let mut out: Vec<(u64, u64, u64)> = Vec::new();
        for (&iova, &(oa, len, _)) in self.maps.lock().unwrap().iter() {
            match out.last_mut() {
                Some(r) if r.0 + r.1 == iova && r.2 + r.1 == oa => r.1 += len,
                _ => out.push((iova, len, oa)),
            }
        }
        out
    }
}

impl IoptDomain for FakeDomain {
    fn pgsize_bitmap(&self) -> u64 {
        self.pgsize
    }
    fn aperture(&self) -> (u64, u64) {
        self.aperture
    }
    fn map(&self, iova: u64, oa: u64, len: u64, prot: Prot) -> uiommu_uapi::errno::Result<()> {
        let mut m = self.maps.lock().unwrap();
        if *self.fail_at.lock().unwrap() == Some(m.len() + 1) {
            return Err(Errno::ENOMEM);
        }
        assert!(
            m.range(..iova + len)
                .next_back()
                .is_none_or(|(&i, &(_, l, _))| i + l <= iova),
            "double map at {iova:#x}"
        );
        m.insert(iova, (oa, len, prot));
        Ok(())
    }
    fn unmap(&self, iova: u64, len: u64) {
        let mut m = self.maps.lock().unwrap();
        let keys: Vec<u64> = m.range(iova..iova + len).map(|(&k, _)| k).collect();
        for k in keys {
            m.remove(&k);
        }
    }
    fn has_dirty_tracking(&self) -> bool {
        self.dirty_ops
    }
    fn set_dirty_tracking(&self, enable: bool) -> uiommu_uapi::errno::Result<()> {
        *self.tracking.lock().unwrap() = enable;
        Ok(())
    }
    fn read_and_clear_dirty(
        &self,
        iova: u64,
        len: u64,
        no_clear: bool,
        bitmap: &mut dyn DirtyRecorder,
    ) -> uiommu_uapi::errno::Result<()> {
        let mut d = self.dirty.lock().unwrap();
        let last = iova + len - 1;
        for &(s, l) in d.iter() {
            let (a, b) = (s.max(iova), (s + l - 1).min(last));
            if a <= b {
                bitmap.record(a, b - a + 1);
            }
        }
        if !no_clear {
            d.retain(|&(s, l)| s + l - 1 < iova || s > last);
        }
        Ok(())
    }
}

/// A process: its memory, its memlock counter and its pin counts.
pub(super) struct Proc {
    pub mem: Arc<TestMemory>,
    pub vm: Arc<LockedVm>,
    pub owner: PinOwner,
}

struct SharedMem(Arc<TestMemory>);

impl uiommu_uapi::UserMemory for SharedMem {
    fn read(&self, addr: u64, buf: &mut [u8]) -> uiommu_uapi::errno::Result<()> {
        self.0.read(addr, buf)
    }
    fn write(&self, addr: u64, data: &[u8]) -> uiommu_uapi::errno::Result<()> {
        self.0.write(addr, data)
    }
}

impl Proc {
    /// Memory present at `0x10_0000..+16 MiB`, limit of `limit` pages.
    pub fn new(limit: u64) -> Self {
        let mem = Arc::new(TestMemory::new());
        mem.map(BUF, 16 << 20);
        let vm = Arc::new(LockedVm::new(limit));
        let owner = PinOwner {
            memory: Arc::new(ProbeMemory(SharedMem(mem.clone()))),
            account: vm.clone(),
            registry: Arc::new(PinRegistry::new()),
        };
        Self { mem, vm, owner }
    }

    pub fn refs(&self, addr: u64) -> u32 {
        self.owner.registry.refs(addr)
    }
}

/// Start of the test buffer: 1 MiB aligned.
pub(super) const BUF: u64 = 0x10_0000;

pub(super) fn dyn_domain(d: &Arc<FakeDomain>) -> Arc<dyn IoptDomain> {
    d.clone()
}

/// Every domain maps exactly the areas, at the areas' host addresses.
pub(super) fn check_domain_matches(iopt: &IoPagetable, d: &FakeDomain) {
    let mut want: Vec<(u64, u64, u64)> = Vec::new();
    for a in iopt.areas() {
        match want.last_mut() {
            Some(r) if r.0 + r.1 == a.iova && r.2 + r.1 == a.addr => r.1 += a.length,
            _ => want.push((a.iova, a.length, a.addr)),
        }
    }
    assert_eq!(d.runs(), want);
}
