//! The IOTLB of one emulated IOMMU unit: a set-associative cache of translations tagged by
//! domain ID (DID) and PASID, as the VT-d IOTLB caches first-stage, second-stage and nested
//! (combined) translations (VT-d spec §6.2.4 "IOTLB"; invalidated by the descriptors of
//! §6.5.2.3 "IOTLB Invalidate" and §6.5.2.4 "PASID-based IOTLB Invalidate").
//!
//! # Layout
//!
//! [`SETS`] sets of [`WAYS`] ways. An entry caches one page of any size: its IOVA page number at
//! that size, the DID, the PASID, the output page and the access kinds a walk has proven. The
//! set of an entry is a function of (DID, page number, page size) only — not of the PASID — so
//! that a range invalidation of a whole domain can find its sets without knowing which PASIDs
//! used them. A lookup probes one set per page size present in the cache (a bitmap, so a cache
//! holding only 4 KiB pages probes one set).
//!
//! # Invalidation cost
//!
//! No invalidation scans every entry:
//!
//! - by domain and PASID ([`Iotlb::invalidate_pasid`]): O(1). Each (DID, PASID) tag owns a slot
//!   of a small tag table with a generation counter; entries record the generation they were
//!   filled under, and bumping it makes all of the tag's entries stale at once. A tag may own
//!   one of two slots its hash names (found without a lock on the fill path); a new tag whose
//!   two slots are both owned takes one over, which makes the old owner's entries stale: an
//!   eviction, as any cache may do.
//! - by domain ([`Iotlb::invalidate_domain`]): bumps the generation of each of the domain's tag
//!   slots: O([`TAG_SLOTS`]), independent of the number of cached entries.
//! - by range ([`Iotlb::invalidate_range`], one domain, optionally one PASID): computes the sets
//!   the range's pages map to, per page size present, and clears matching entries in those sets
//!   only: O(pages × size classes) set probes, each set visited once. A range of more pages
//!   than there are sets would visit every set, so it falls back to the generation bump of the
//!   tag(s): the hardware may invalidate more than asked (§6.5.2.3, address-mask rounding),
//!   never less.
//!
//! Stale entries are reclaimed by later fills, which prefer invalid or stale ways over live ones.
//!
//! Each set is laid out field by field across its ways (the keys of a set share one cache
//! line).
//!
//! # Replacement and concurrency
//!
//! Replacement within a set is CLOCK (second chance): a hit sets the way's reference bit (only
//! if clear, so repeated hits do not write), a fill sweeps the set's hand past referenced ways,
//! clearing them, and evicts the first unreferenced one.
//!
//! Lookups never write shared state besides that bit: each set is a sequence lock, readers load
//! the ways with relaxed atomics and retry if a writer ran meanwhile. Fills and invalidations take
//! the set's lock. A walk that raced with an invalidation must not leave its (possibly stale)
//! result behind: every invalidation bumps an epoch first, a fill records the epoch before its
//! walk ([`Iotlb::begin_fill`]) and is dropped if the epoch moved.

pub mod s2cache;

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering, fence};
use std::sync::{Mutex, MutexGuard, PoisonError};
use uiommu_pt::Access;

/// Number of sets.
pub const SETS: usize = 64;
/// Ways per set.
pub const WAYS: usize = 8;
/// Distinct (DID, PASID) tags the cache can hold entries for at once.
pub const TAG_SLOTS: usize = 256;

/// Permission bit: reads were proven by a walk.
pub(crate) const PERM_R: u64 = 1 << 0;
/// Permission bit: writes were proven by a walk (and the leaf's dirty bit set, if the format
/// has one: a later write needs no walk).
pub(crate) const PERM_W: u64 = 1 << 1;
pub(crate) const PERM_MASK: u64 = PERM_R | PERM_W;
/// Bit 0 of `key`: the way holds an entry.
const VALID: u64 = 1;

/// The tag of a translation: the domain ID it was made under and the PASID of the request
/// (`NO_PASID` for requests without one, i.e. the RID_PASID).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag {
    /// Domain ID.
    pub did: u16,
    /// PASID of the request.
    pub pasid: u32,
}

/// A cached translation as a lookup returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// Output address of the IOVA looked up.
    pub phys: u64,
    /// log2 of the cached page size.
    pub page_lg2: u32,
}

/// A translation to cache: the page containing `iova`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fill {
    /// Any IOVA in the page.
    pub iova: u64,
    /// Output address of `iova`.
    pub phys: u64,
    /// log2 of the page size (12..=63).
    pub page_lg2: u32,
    /// The access the walk proved.
    pub access: Access,
}

/// The epoch a fill started under (see [`Iotlb::begin_fill`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FillTicket(u64);

/// One set, field by field across its ways, so that a lookup scans the keys in one cache line.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Set {
    /// Per way: `vpn << 7 | page_lg2 << 1 | VALID`, 0 when empty.
    key: [AtomicU64; WAYS],
    /// Per way: `pasid << 32 | did << 16 | slot`.
    tag: [AtomicU64; WAYS],
    /// Per way: output page address `| PERM_*`.
    out: [AtomicU64; WAYS],
    /// Per way: generation of the tag slot at fill.
    generation: [AtomicU32; WAYS],
    /// Per way: CLOCK reference bit.
    referenced: [AtomicBool; WAYS],
    /// Sequence lock: odd while a writer changes the set.
    seq: AtomicU64,
    /// CLOCK hand.
    hand: AtomicU8,
}

/// An IOTLB.
#[derive(Debug)]
pub struct Iotlb {
    sets: Box<[Set; SETS]>,
    /// Generation of each tag slot.
    generations: Box<[AtomicU32; TAG_SLOTS]>,
    /// Owner of each tag slot: `tag bits | 1`, 0 when free.
    owners: Box<[AtomicU64; TAG_SLOTS]>,
    /// Serializes changes of slot owners and tag invalidations; the fill path finds its slot
    /// without it. Holds the hand choosing which candidate slot to take over.
    slot_lock: Mutex<usize>,
    /// Bitmap of the page sizes (`1 << lg2`) ever cached: which sets a lookup probes.
    sizes: AtomicU64,
    /// Bumped by every invalidation.
    epoch: AtomicU64,
    /// Fills dropped because an invalidation ran during their walk.
    dropped: AtomicU64,
}

impl Default for Iotlb {
    fn default() -> Self {
        Self::new()
    }
}

pub(crate) fn perm_of(access: Access) -> u64 {
    match access {
        Access::Read => PERM_R,
        Access::Write => PERM_W,
    }
}

fn key_of(vpn: u64, lg2: u32) -> u64 {
    (vpn << 7) | (u64::from(lg2) << 1) | VALID
}

fn tag_bits(tag: Tag) -> u64 {
    (u64::from(tag.pasid) << 32) | (u64::from(tag.did) << 16)
}

/// The two slots a tag may own (2-choice hashing over the tag table).
#[inline]
fn slot_candidates(tag: Tag) -> [usize; 2] {
    let h = (tag_bits(tag) | 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let first = (h >> 56) as usize % TAG_SLOTS;
    let step = 1 + ((h >> 32) as usize % (TAG_SLOTS - 1));
    [first, (first + step) % TAG_SLOTS]
}

/// The set of page `vpn` of size `1 << lg2` in domain `did`: consecutive pages go to
/// consecutive sets, offset per domain and size so that domains do not all start at set 0.
#[inline(always)]
fn set_index(did: u16, vpn: u64, lg2: u32) -> usize {
    let salt = (u64::from(did) ^ (u64::from(lg2) << 16)).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 58;
    (vpn.wrapping_add(salt) as usize) & (SETS - 1)
}

impl Set {
    /// Takes the set's write lock (spinning: writers hold it for a few stores).
    fn lock(&self) -> SetGuard<'_> {
        loop {
            let s = self.seq.load(Ordering::Relaxed);
            if s & 1 == 0
                && self
                    .seq
                    .compare_exchange_weak(s, s + 1, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                fence(Ordering::Release);
                return SetGuard { set: self, seq: s };
            }
            std::hint::spin_loop();
        }
    }
}

struct SetGuard<'a> {
    set: &'a Set,
    seq: u64,
}

impl Drop for SetGuard<'_> {
    fn drop(&mut self) {
        self.set.seq.store(self.seq + 2, Ordering::Release);
    }
}

impl Iotlb {
    /// An empty IOTLB.
    pub fn new() -> Self {
        Iotlb {
            sets: Box::new(std::array::from_fn(|_| Set::default())),
            generations: Box::new(std::array::from_fn(|_| AtomicU32::new(0))),
            owners: Box::new(std::array::from_fn(|_| AtomicU64::new(0))),
            slot_lock: Mutex::new(0),
            sizes: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }
    }

    fn lock_slots(&self) -> MutexGuard<'_, usize> {
        self.slot_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The generation of the slot in the low bits of a tag word.
    #[inline(always)]
    fn generation(&self, tag_word: u64) -> u32 {
        self.generations[tag_word as usize % TAG_SLOTS].load(Ordering::Acquire)
    }

    /// The cached translation of `iova` for `tag` that permits `access`, if any. An entry
    /// that lacks the permission is a miss: the walk that follows proves it (or faults), and
    /// for a write sets the dirty bit the hardware must set.
    #[inline]
    pub fn lookup(&self, tag: Tag, iova: u64, access: Access) -> Option<Hit> {
        let mut sizes = self.sizes.load(Ordering::Relaxed);
        let want_tag = tag_bits(tag);
        let need = perm_of(access);
        while sizes != 0 {
            let lg2 = sizes.trailing_zeros();
            sizes &= sizes - 1;
            let vpn = iova >> lg2;
            if let Some(out) = self.probe(tag.did, vpn, lg2, want_tag, need) {
                let page = out & !PERM_MASK;
                return Some(Hit {
                    phys: page | (iova & ((1u64 << lg2) - 1)),
                    page_lg2: lg2,
                });
            }
        }
        None
    }

    #[inline(always)]
    fn probe(&self, did: u16, vpn: u64, lg2: u32, want_tag: u64, need: u64) -> Option<u64> {
        let set = &self.sets[set_index(did, vpn, lg2) % SETS];
        let want_key = key_of(vpn, lg2);
        for _ in 0..4 {
            let s1 = set.seq.load(Ordering::Acquire);
            if s1 & 1 != 0 {
                std::hint::spin_loop();
                continue;
            }
            let mut found = None;
            for (i, key) in set.key.iter().enumerate() {
                if key.load(Ordering::Relaxed) != want_key {
                    continue;
                }
                let t = set.tag[i].load(Ordering::Relaxed);
                if t & !0xffff != want_tag {
                    continue;
                }
                let out = set.out[i].load(Ordering::Relaxed);
                let generation = set.generation[i].load(Ordering::Relaxed);
                // A stale way may share the key with the live one a later fill made.
                if out & need == need && generation == self.generation(t) {
                    found = Some((out, i));
                    break;
                }
            }
            fence(Ordering::Acquire);
            if set.seq.load(Ordering::Relaxed) != s1 {
                continue;
            }
            let (out, i) = found?;
            if !set.referenced[i].load(Ordering::Relaxed) {
                set.referenced[i].store(true, Ordering::Relaxed);
            }
            return Some(out);
        }
        None
    }

    /// The invalidation epoch: it moves at the start of every invalidation, so a translation
    /// read from the cache while it stood still is valid while it still does.
    #[inline]
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Records the invalidation epoch before a walk whose result will be given to
    /// [`Iotlb::insert`].
    #[inline]
    pub fn begin_fill(&self) -> FillTicket {
        FillTicket(self.epoch.load(Ordering::SeqCst))
    }

    /// The slot of `tag` and its generation, if it has one. Lock-free: a slot is taken over by
    /// storing its new owner before bumping its generation, so a generation read between two
    /// equal owner reads is one the owner's entries may carry.
    fn find_slot(&self, tag: Tag) -> Option<(u16, u32)> {
        let want = tag_bits(tag) | 1;
        for c in slot_candidates(tag) {
            if self.owners[c].load(Ordering::SeqCst) == want {
                let generation = self.generations[c].load(Ordering::SeqCst);
                if self.owners[c].load(Ordering::SeqCst) == want {
                    return Some((c as u16, generation));
                }
            }
        }
        None
    }

    /// The slot of `tag` and its generation, taking one of its two candidate slots over (and
    /// making the previous owner's entries stale) if it has none.
    fn slot_for(&self, tag: Tag) -> (u16, u32) {
        if let Some(found) = self.find_slot(tag) {
            return found;
        }
        let mut hand = self.lock_slots();
        if let Some(found) = self.find_slot(tag) {
            return found;
        }
        let cands = slot_candidates(tag);
        let slot = match cands
            .iter()
            .find(|&&c| self.owners[c].load(Ordering::SeqCst) == 0)
        {
            Some(&c) => c,
            None => {
                *hand = hand.wrapping_add(1);
                cands[*hand & 1]
            }
        };
        self.owners[slot].store(tag_bits(tag) | 1, Ordering::SeqCst);
        let generation = self.generations[slot].fetch_add(1, Ordering::SeqCst) + 1;
        (slot as u16, generation)
    }

    /// Caches `fill` for `tag`, unless an invalidation ran since `ticket` was taken. An entry
    /// for the same page and tag with the same output is widened by the new access; otherwise
    /// an invalid or stale way is used, or the CLOCK victim.
    pub fn insert(&self, tag: Tag, fill: Fill, ticket: FillTicket) {
        let lg2 = fill.page_lg2;
        if !(12..=63).contains(&lg2) {
            return;
        }
        let (slot, generation) = self.slot_for(tag);
        let vpn = fill.iova >> lg2;
        let key = key_of(vpn, lg2);
        let tag_word = tag_bits(tag) | u64::from(slot);
        let page = fill.phys & !((1u64 << lg2) - 1);
        let set = &self.sets[set_index(tag.did, vpn, lg2) % SETS];
        let _g = set.lock();
        if self.epoch.load(Ordering::SeqCst) != ticket.0 {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.sizes.fetch_or(1u64 << lg2, Ordering::Relaxed);
        let mut perm = perm_of(fill.access);
        let mut victim = None;
        for i in 0..WAYS {
            let k = set.key[i].load(Ordering::Relaxed);
            let t = set.tag[i].load(Ordering::Relaxed);
            let live =
                k & VALID != 0 && set.generation[i].load(Ordering::Relaxed) == self.generation(t);
            if live && k == key && t == tag_word {
                let out = set.out[i].load(Ordering::Relaxed);
                if out & !PERM_MASK == page {
                    perm |= out & PERM_MASK;
                }
                victim = Some(i);
                break;
            }
            if !live && victim.is_none() {
                victim = Some(i);
            }
        }
        let i = victim.unwrap_or_else(|| Self::clock_victim(set));
        set.key[i].store(key, Ordering::Relaxed);
        set.tag[i].store(tag_word, Ordering::Relaxed);
        set.out[i].store(page | perm, Ordering::Relaxed);
        set.generation[i].store(generation, Ordering::Relaxed);
        set.referenced[i].store(false, Ordering::Relaxed);
    }

    /// CLOCK: the first way past the hand whose reference bit is clear, clearing bits on the way.
    fn clock_victim(set: &Set) -> usize {
        let mut hand = set.hand.load(Ordering::Relaxed) as usize % WAYS;
        loop {
            if set.referenced[hand].swap(false, Ordering::Relaxed) {
                hand = (hand + 1) % WAYS;
                continue;
            }
            set.hand.store(((hand + 1) % WAYS) as u8, Ordering::Relaxed);
            return hand;
        }
    }

    fn bump_epoch(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// Makes every entry of the tags `matches` selects stale, by generation.
    fn bump_tags(&self, matches: impl Fn(Tag) -> bool) {
        let _g = self.lock_slots();
        for (owner, generation) in self.owners.iter().zip(self.generations.iter()) {
            let o = owner.load(Ordering::SeqCst);
            let tag = Tag {
                did: (o >> 16) as u16,
                pasid: (o >> 32) as u32,
            };
            if o != 0 && matches(tag) {
                generation.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    /// Domain-selective invalidation: every entry of `did`, any PASID (§6.5.2.3, DSI;
    /// §6.5.2.4 for all PASIDs of the domain).
    pub fn invalidate_domain(&self, did: u16) {
        self.bump_epoch();
        self.bump_tags(|t| t.did == did);
    }

    /// PASID-selective invalidation: every entry of `did` and `pasid` (§6.5.2.4, granularity
    /// "PASID-selective-within-domain").
    pub fn invalidate_pasid(&self, did: u16, pasid: u32) {
        self.bump_epoch();
        let _g = self.lock_slots();
        if let Some((slot, _)) = self.find_slot(Tag { did, pasid }) {
            self.generations[slot as usize].fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Page-selective invalidation of `first..=last` for `did`, of one PASID or all
    /// (§6.5.2.4 "page-selective-within-PASID", §6.5.2.3 PSI). Entries of every page size
    /// that overlap the range go.
    pub fn invalidate_range(&self, did: u16, pasid: Option<u32>, first: u64, last: u64) {
        if first > last {
            return;
        }
        self.bump_epoch();
        let sizes = self.sizes.load(Ordering::Relaxed);
        let mut sets = 0u64;
        let mut rest = sizes;
        while rest != 0 {
            let lg2 = rest.trailing_zeros();
            rest &= rest - 1;
            let (lo, hi) = (first >> lg2, last >> lg2);
            if hi - lo >= SETS as u64 {
                match pasid {
                    Some(p) => self.bump_tags(|t| t.did == did && t.pasid == p),
                    None => self.bump_tags(|t| t.did == did),
                }
                return;
            }
            for vpn in lo..=hi {
                sets |= 1 << set_index(did, vpn, lg2);
            }
        }
        while sets != 0 {
            let i = sets.trailing_zeros() as usize;
            sets &= sets - 1;
            self.clear_in_set(&self.sets[i % SETS], did, pasid, first, last);
        }
    }

    fn clear_in_set(&self, set: &Set, did: u16, pasid: Option<u32>, first: u64, last: u64) {
        let _g = set.lock();
        for (key, tag) in set.key.iter().zip(set.tag.iter()) {
            let k = key.load(Ordering::Relaxed);
            if k & VALID == 0 {
                continue;
            }
            let t = tag.load(Ordering::Relaxed);
            if (t >> 16) as u16 != did || pasid.is_some_and(|p| (t >> 32) as u32 != p) {
                continue;
            }
            let lg2 = ((k >> 1) & 0x3f) as u32;
            let start = (k >> 7) << lg2;
            let end = start | ((1u64 << lg2) - 1);
            if start <= last && first <= end {
                key.store(0, Ordering::Relaxed);
            }
        }
    }

    /// Global invalidation: everything (§6.5.2.3, global granularity).
    pub fn invalidate_all(&self) {
        self.bump_epoch();
        self.bump_tags(|_| true);
    }

    /// Number of live entries (a full scan: for tests and statistics only).
    pub fn len(&self) -> usize {
        self.sets
            .iter()
            .flat_map(|s| (0..WAYS).map(move |i| (s, i)))
            .filter(|&(s, i)| {
                s.key[i].load(Ordering::Relaxed) & VALID != 0
                    && s.generation[i].load(Ordering::Relaxed)
                        == self.generation(s.tag[i].load(Ordering::Relaxed))
            })
            .count()
    }

    /// Whether nothing live is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a live entry caches the page holding `iova` for `tag` (any permission, any
    /// size), without counting a lookup.
    pub fn contains(&self, tag: Tag, iova: u64) -> bool {
        let mut sizes = self.sizes.load(Ordering::Relaxed);
        while sizes != 0 {
            let lg2 = sizes.trailing_zeros();
            sizes &= sizes - 1;
            if self
                .probe(tag.did, iova >> lg2, lg2, tag_bits(tag), 0)
                .is_some()
            {
                return true;
            }
        }
        false
    }

    /// Fills dropped so far because an invalidation ran during their walk.
    pub fn dropped_fills(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests;
