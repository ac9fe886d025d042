//! The last translation a DMA target used: a one-entry cache in front of the unit's IOTLB, as a
//! device's requests pass a small translation buffer close to it before the shared one (an
//! SMMUv3 TBU's micro-TLB, Arm IHI 0070 §16.2; a VT-d unit's per-port caches).
//!
//! An entry is valid while the IOTLB's invalidation epoch has not moved since the translation
//! was read from the IOTLB ([`super::Iotlb::epoch`]): every invalidation, of any tag, empties
//! it. Evictions from the IOTLB do not: an evicted translation is still right. The entry is a
//! sequence lock over three words, so a lookup only loads.

use crate::iotlb::{PERM_MASK, perm_of};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};
use uiommu_pt::Access;

/// Bit 0 of the key: the entry holds a translation.
const VALID: u64 = 1;

/// A one-entry translation cache (see the module docs).
#[derive(Debug, Default)]
pub struct MicroTlb {
    /// Even: stable; odd: a writer is in.
    seq: AtomicU32,
    /// The IOTLB epoch the translation was read under.
    epoch: AtomicU64,
    /// `vpn << 7 | page_lg2 << 1 | VALID`, 0 when empty.
    key: AtomicU64,
    /// Output page address `| PERM_*`.
    out: AtomicU64,
}

impl Clone for MicroTlb {
    /// A copy starts empty: it is another requester's buffer.
    fn clone(&self) -> Self {
        MicroTlb::default()
    }
}

impl MicroTlb {
    /// The translation of `iova` for `access`, if held and the IOTLB epoch is still `epoch`:
    /// the output address and log2 of the page size.
    #[inline(always)]
    pub fn lookup(&self, epoch: u64, iova: u64, access: Access) -> Option<(u64, u32)> {
        let s1 = self.seq.load(Ordering::Acquire);
        let at = self.epoch.load(Ordering::Relaxed);
        let key = self.key.load(Ordering::Relaxed);
        let out = self.out.load(Ordering::Relaxed);
        fence(Ordering::Acquire);
        if s1 & 1 != 0 || self.seq.load(Ordering::Relaxed) != s1 {
            return None;
        }
        let lg2 = ((key >> 1) & 63) as u32;
        let need = perm_of(access);
        if key & VALID == 0 || at != epoch || key >> 7 != iova >> lg2 || out & need != need {
            return None;
        }
        Some(((out & !PERM_MASK) | (iova & ((1 << lg2) - 1)), lg2))
    }

    /// Holds the translation of `iova` to `phys` in a page of `1 << page_lg2` bytes, proven for
    /// `access`, read from the IOTLB at `epoch`. Skipped if another writer is in.
    #[inline]
    pub fn fill(&self, epoch: u64, iova: u64, phys: u64, page_lg2: u32, access: Access) {
        let seq = self.seq.load(Ordering::Relaxed);
        if seq & 1 != 0
            || self
                .seq
                .compare_exchange(seq, seq + 1, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        fence(Ordering::Release);
        let page_mask = (1u64 << page_lg2) - 1;
        self.epoch.store(epoch, Ordering::Relaxed);
        self.key.store(
            ((iova >> page_lg2) << 7) | (u64::from(page_lg2) << 1) | VALID,
            Ordering::Relaxed,
        );
        self.out
            .store((phys & !page_mask) | perm_of(access), Ordering::Relaxed);
        self.seq.store(seq + 2, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_one_page_for_the_proven_access_and_epoch() {
        let m = MicroTlb::default();
        assert_eq!(m.lookup(0, 0x5008, Access::Read), None);
        m.fill(3, 0x5008, 0x9008, 12, Access::Read);
        assert_eq!(m.lookup(3, 0x5ff0, Access::Read), Some((0x9ff0, 12)));
        // Another page, another epoch, or an access not proven: a miss.
        assert_eq!(m.lookup(3, 0x6000, Access::Read), None);
        assert_eq!(m.lookup(4, 0x5008, Access::Read), None);
        assert_eq!(m.lookup(3, 0x5008, Access::Write), None);
        // A 2 MiB page.
        m.fill(4, 0x20_1234, 0x4060_1234, 21, Access::Write);
        assert_eq!(
            m.lookup(4, 0x3f_ffff, Access::Write),
            Some((0x407f_ffff, 21))
        );
        assert_eq!(m.lookup(4, 0x40_0000, Access::Write), None);
        assert_eq!(m.clone().lookup(4, 0x20_0000, Access::Write), None);
    }
}
