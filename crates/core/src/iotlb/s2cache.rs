//! A cache of second-stage translations of first-stage table addresses: what hardware keeps so
//! that a nested walk does not walk the second stage again for every guest table it reads
//! (VT-d spec §6.2.5 "Caching Paging-structure Entries" for the nested walk, §3.8; the SMMUv3
//! stage-2 walk cache for stage-1 table fetches, Arm IHI 0070 §16.2).
//!
//! It caches read translations only, by guest-physical page: direct mapped, [`SLOTS`] slots,
//! each a sequence lock over a key and a value, so a lookup is two loads checked by two loads of
//! the sequence and never writes. A translation that needs more (a write, for an accessed or
//! dirty update) takes the full walk.
//!
//! [`S2Cache::flush`] forgets everything and must be called whenever the second stage loses
//! or changes an entry. A walk that raced with a flush must not leave its result behind: a fill
//! carries the epoch read before its walk ([`S2Cache::begin`]) and is dropped if a flush began
//! since; the flush bumps the epoch before it clears the slots, and a fill checks the epoch with
//! its slot locked, so whichever comes second wins in the slot.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};

/// Number of slots.
pub const SLOTS: usize = 64;
const PAGE_LG2: u32 = 12;
/// Bit 0 of a key: the slot holds a translation.
const VALID: u64 = 1;

#[derive(Debug, Default)]
struct Slot {
    /// Even: stable; odd: a writer is in.
    seq: AtomicU32,
    /// Guest-physical page address `| VALID`, 0 when empty.
    key: AtomicU64,
    /// Host page address.
    value: AtomicU64,
}

/// The epoch a fill started under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FillEpoch(u64);

/// A second-stage translation cache (see the module docs).
#[derive(Debug)]
pub struct S2Cache {
    slots: Box<[Slot; SLOTS]>,
    epoch: AtomicU64,
}

impl Default for S2Cache {
    fn default() -> Self {
        Self::new()
    }
}

fn index(gpa_page: u64) -> usize {
    (gpa_page >> PAGE_LG2) as usize % SLOTS
}

impl S2Cache {
    /// An empty cache.
    pub fn new() -> Self {
        S2Cache {
            slots: Box::new(std::array::from_fn(|_| Slot::default())),
            epoch: AtomicU64::new(0),
        }
    }

    /// The host address of `gpa` for a read, if cached.
    #[inline]
    pub fn lookup(&self, gpa: u64) -> Option<u64> {
        let page = gpa & !((1 << PAGE_LG2) - 1);
        let slot = &self.slots[index(page)];
        let s1 = slot.seq.load(Ordering::Acquire);
        if s1 & 1 != 0 {
            return None;
        }
        let key = slot.key.load(Ordering::Relaxed);
        let value = slot.value.load(Ordering::Relaxed);
        fence(Ordering::Acquire);
        if slot.seq.load(Ordering::Relaxed) != s1 || key != page | VALID {
            return None;
        }
        Some(value | (gpa & ((1 << PAGE_LG2) - 1)))
    }

    /// Records the epoch before a walk whose result goes to [`S2Cache::fill`].
    #[inline]
    pub fn begin(&self) -> FillEpoch {
        FillEpoch(self.epoch.load(Ordering::SeqCst))
    }

    /// Caches that `gpa` reads at host address `hpa`, unless a flush began since `epoch`.
    pub fn fill(&self, epoch: FillEpoch, gpa: u64, hpa: u64) {
        let page = gpa & !((1 << PAGE_LG2) - 1);
        let slot = &self.slots[index(page)];
        let Some(seq) = lock(slot) else {
            return;
        };
        if self.epoch.load(Ordering::SeqCst) == epoch.0 {
            slot.key.store(page | VALID, Ordering::Relaxed);
            slot.value
                .store(hpa & !((1 << PAGE_LG2) - 1), Ordering::Relaxed);
        }
        slot.seq.store(seq + 2, Ordering::Release);
    }

    /// Forgets every translation; fills begun before are dropped.
    pub fn flush(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        for slot in self.slots.iter() {
            let seq = loop {
                if let Some(seq) = lock(slot) {
                    break seq;
                }
                std::hint::spin_loop();
            };
            slot.key.store(0, Ordering::Relaxed);
            slot.seq.store(seq + 2, Ordering::Release);
        }
    }
}

/// Takes the slot's sequence lock: the even value it had, or `None` if a writer is in.
fn lock(slot: &Slot) -> Option<u32> {
    let seq = slot.seq.load(Ordering::Relaxed);
    if seq & 1 != 0 {
        return None;
    }
    slot.seq
        .compare_exchange(seq, seq + 1, Ordering::Acquire, Ordering::Relaxed)
        .ok()?;
    fence(Ordering::Release);
    Some(seq)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[test]
    fn caches_pages_and_keeps_the_offset() {
        let c = S2Cache::new();
        assert_eq!(c.lookup(0x5123), None);
        c.fill(c.begin(), 0x5123, 0x7f00_0000_9000);
        assert_eq!(c.lookup(0x5008), Some(0x7f00_0000_9008));
        // Another page in the same slot replaces it.
        let other = 0x5000 + (SLOTS as u64) * 4096;
        c.fill(c.begin(), other, 0x1000);
        assert_eq!(c.lookup(0x5008), None);
        assert_eq!(c.lookup(other + 8), Some(0x1008));
    }

    #[test]
    fn a_fill_begun_before_a_flush_is_dropped() {
        let c = S2Cache::new();
        c.fill(c.begin(), 0x1000, 0x2000);
        let stale = c.begin();
        c.flush();
        assert_eq!(c.lookup(0x1000), None);
        c.fill(stale, 0x1000, 0x2000);
        assert_eq!(c.lookup(0x1000), None);
        c.fill(c.begin(), 0x1000, 0x3000);
        assert_eq!(c.lookup(0x1000), Some(0x3000));
    }

    proptest! {
        /// Against a model: a lookup gives the last translation filled for its page since the
        /// last flush, or nothing (a direct-mapped cache may have evicted it); never another.
        #[test]
        fn never_answers_what_the_model_does_not_hold(
            ops in proptest::collection::vec((0u8..3, 0u64..256, 0u64..1024), 1..200)
        ) {
            let c = S2Cache::new();
            let mut model: BTreeMap<u64, u64> = BTreeMap::new();
            for (op, gpage, hpage) in ops {
                let gpa = gpage << 12;
                match op {
                    0 => {
                        c.fill(c.begin(), gpa, hpage << 12);
                        model.insert(gpa, hpage << 12);
                    }
                    1 => {
                        c.flush();
                        model.clear();
                    }
                    _ => {
                        if let Some(hpa) = c.lookup(gpa + 8) {
                            prop_assert_eq!(Some(&(hpa - 8)), model.get(&gpa));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn concurrent_fills_and_flushes_leave_nothing_stale() {
        use std::sync::Arc;
        use std::sync::atomic::AtomicBool;
        let c = Arc::new(S2Cache::new());
        let stop = Arc::new(AtomicBool::new(false));
        // The "table": page g maps to generation * 0x100000 + g; a flush follows each change.
        let generation = Arc::new(AtomicU64::new(1));
        let filler = {
            let (c, stop, generation) = (c.clone(), stop.clone(), generation.clone());
            std::thread::spawn(move || {
                let mut g = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let e = c.begin();
                    let hpa = generation.load(Ordering::SeqCst) << 32 | g << 12;
                    c.fill(e, g << 12, hpa);
                    g = (g + 1) % 128;
                }
            })
        };
        for _ in 0..2000 {
            let next = generation.fetch_add(1, Ordering::SeqCst) + 1;
            c.flush();
            // After the flush, nothing of an older generation may be found.
            for g in 0..128u64 {
                if let Some(hpa) = c.lookup(g << 12) {
                    assert!(hpa >> 32 >= next, "stale translation after a flush");
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        filler.join().unwrap();
    }
}
