//! Guest-physical memory as a nested walk reads it: each address of a guest's stage-1
//! tables (and descriptors) translated by the nest parent's stage-2 table, then read from
//! the owning process's memory (VT-d spec §3.8 "Nested Translation"; Arm IHI 0070 §3.3.2;
//! AMD IOMMU spec §2.2.6 "Guest Translation"). Accessed/dirty updates of guest entries are
//! writes, translated by a full stage-2 walk for write.

use super::table::IoTable;
use crate::iommu::translate::DmaMemory;
use crate::iotlb::s2cache::S2Cache;
use uiommu_pt::{Access, Fault, GuestMemory};

/// The nest parent's table, an optional cache of its read translations, and user memory.
pub struct ThroughS2<'a> {
    s2: &'a dyn IoTable,
    cache: Option<&'a S2Cache>,
    mem: &'a DmaMemory,
}

impl<'a> ThroughS2<'a> {
    /// Guest memory behind `s2`, read from `mem`.
    pub fn new(s2: &'a dyn IoTable, mem: &'a DmaMemory) -> Self {
        ThroughS2 {
            s2,
            cache: None,
            mem,
        }
    }

    /// Reads look up and fill `cache` (the stage-2 translations of table addresses the
    /// hardware keeps, `crate::dma::s2cache`) before walking `s2`.
    pub fn cached(mut self, cache: &'a S2Cache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// The host address of `gpa`; a stage-2 fault is a [`Fault`] at `gpa`.
    fn host(&self, gpa: u64, access: Access) -> Result<u64, Fault> {
        let cache = self.cache.filter(|_| access == Access::Read);
        if let Some(hpa) = cache.and_then(|c| c.lookup(gpa)) {
            return Ok(hpa);
        }
        let epoch = cache.map(S2Cache::begin);
        let hpa = self
            .s2
            .translate(gpa, access)
            .map(|t| t.phys)
            .map_err(|_| Fault { addr: gpa })?;
        if let (Some(c), Some(epoch)) = (cache, epoch) {
            c.fill(epoch, gpa, hpa);
        }
        Ok(hpa)
    }

    fn read_at(&self, hpa: u64, gpa: u64) -> Result<u64, Fault> {
        let mut b = [0u8; 8];
        self.mem
            .read(hpa, &mut b)
            .map_err(|_| Fault { addr: gpa })?;
        Ok(u64::from_le_bytes(b))
    }
}

impl GuestMemory for ThroughS2<'_> {
    fn read_u64(&self, gpa: u64) -> Result<u64, Fault> {
        self.read_at(self.host(gpa, Access::Read)?, gpa)
    }

    /// Compare and store through user memory, which has no atomic exchange: atomic against
    /// other walks only as far as the memory's own accesses are. The hardware's locked
    /// update is a write at stage 2 whether or not the compare succeeds.
    fn compare_exchange_u64(
        &self,
        gpa: u64,
        old: u64,
        new: u64,
    ) -> Result<Result<u64, u64>, Fault> {
        let hpa = self.host(gpa, Access::Write)?;
        let cur = self.read_at(hpa, gpa)?;
        if cur != old {
            return Ok(Err(cur));
        }
        self.mem
            .write(hpa, &new.to_le_bytes())
            .map_err(|_| Fault { addr: gpa })?;
        Ok(Ok(old))
    }
}
