use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

const K4: u32 = 12;
const M2: u32 = 21;

fn tag(did: u16, pasid: u32) -> Tag {
    Tag { did, pasid }
}

fn fill(tlb: &Iotlb, t: Tag, iova: u64, phys: u64, lg2: u32, access: Access) {
    let ticket = tlb.begin_fill();
    tlb.insert(
        t,
        Fill {
            iova,
            phys,
            page_lg2: lg2,
            access,
        },
        ticket,
    );
}

#[test]
fn hits_carry_the_offset_and_need_the_permission() {
    let tlb = Iotlb::new();
    let t = tag(5, 0);
    fill(&tlb, t, 0x1234_5000, 0x7f00_0000_9000, K4, Access::Read);
    assert_eq!(
        tlb.lookup(t, 0x1234_5abc, Access::Read),
        Some(Hit {
            phys: 0x7f00_0000_9abc,
            page_lg2: K4
        })
    );
    // Writes were not proven: a miss, so that the walk checks them and sets dirty.
    assert_eq!(tlb.lookup(t, 0x1234_5abc, Access::Write), None);
    fill(&tlb, t, 0x1234_5000, 0x7f00_0000_9000, K4, Access::Write);
    assert!(tlb.lookup(t, 0x1234_5000, Access::Write).is_some());
    assert!(
        tlb.lookup(t, 0x1234_5000, Access::Read).is_some(),
        "widened, not replaced"
    );
    assert_eq!(tlb.len(), 1);
    // Other tags and pages miss.
    assert_eq!(tlb.lookup(tag(5, 1), 0x1234_5000, Access::Read), None);
    assert_eq!(tlb.lookup(tag(6, 0), 0x1234_5000, Access::Read), None);
    assert_eq!(tlb.lookup(t, 0x1234_6000, Access::Read), None);
}

#[test]
fn large_pages_cover_their_span() {
    let tlb = Iotlb::new();
    let t = tag(2, 7);
    fill(&tlb, t, 0x4010_1000, 0x8010_1000, M2, Access::Write);
    let hit = tlb.lookup(t, 0x401f_fff8, Access::Write).unwrap();
    assert_eq!(
        hit,
        Hit {
            phys: 0x801f_fff8,
            page_lg2: M2
        }
    );
    assert_eq!(tlb.lookup(t, 0x4020_0000, Access::Write), None);
    // A range touching one byte of the page takes it.
    tlb.invalidate_range(2, Some(7), 0x401f_f000, 0x401f_ffff);
    assert_eq!(tlb.lookup(t, 0x4000_0000, Access::Write), None);
}

#[test]
fn invalidation_by_domain_pasid_and_range_leaves_the_rest() {
    let tlb = Iotlb::new();
    let (a0, a1, b0) = (tag(10, 0), tag(10, 1), tag(11, 0));
    for i in 0..4u64 {
        for t in [a0, a1, b0] {
            fill(
                &tlb,
                t,
                i << 12,
                (0x100 + i + u64::from(t.did)) << 12,
                K4,
                Access::Read,
            );
        }
    }
    assert_eq!(tlb.len(), 12);
    tlb.invalidate_range(10, Some(1), 0x1000, 0x2fff);
    assert!(!tlb.contains(a1, 0x1000) && !tlb.contains(a1, 0x2000));
    assert!(tlb.contains(a1, 0) && tlb.contains(a1, 0x3000));
    assert!((0..4).all(|i| tlb.contains(a0, i << 12) && tlb.contains(b0, i << 12)));
    tlb.invalidate_range(10, None, 0, 0xfff);
    assert!(!tlb.contains(a0, 0) && !tlb.contains(a1, 0) && tlb.contains(b0, 0));
    tlb.invalidate_pasid(10, 0);
    assert!((0..4).all(|i| !tlb.contains(a0, i << 12)));
    assert!(tlb.contains(a1, 0x3000));
    tlb.invalidate_domain(10);
    assert!(!tlb.contains(a1, 0x3000));
    assert_eq!(tlb.len(), 4, "domain 11 untouched");
    tlb.invalidate_all();
    assert!(tlb.is_empty());
}

#[test]
fn a_huge_range_falls_back_to_the_tag_only() {
    let tlb = Iotlb::new();
    fill(&tlb, tag(3, 0), 0x10_0000_0000, 0x5000, K4, Access::Read);
    fill(&tlb, tag(3, 9), 0x5000, 0x6000, K4, Access::Read);
    fill(&tlb, tag(4, 0), 0x5000, 0x7000, K4, Access::Read);
    // 2^20 pages: more than there are sets.
    tlb.invalidate_range(3, Some(0), 0, (1 << 32) - 1);
    assert!(!tlb.contains(tag(3, 0), 0x10_0000_0000), "over-invalidated");
    assert!(tlb.contains(tag(3, 9), 0x5000) && tlb.contains(tag(4, 0), 0x5000));
}

#[test]
fn a_fill_racing_an_invalidation_is_dropped() {
    let tlb = Iotlb::new();
    let t = tag(8, 0);
    let ticket = tlb.begin_fill();
    tlb.invalidate_range(8, None, 0, 0xfff);
    tlb.insert(
        t,
        Fill {
            iova: 0,
            phys: 0x9000,
            page_lg2: K4,
            access: Access::Read,
        },
        ticket,
    );
    assert!(!tlb.contains(t, 0));
    assert_eq!(tlb.dropped_fills(), 1);
}

#[test]
fn sets_evict_by_clock_and_tags_recycle() {
    let tlb = Iotlb::new();
    let t = tag(1, 0);
    // 2 * WAYS pages that all land in one set: page numbers SETS apart.
    let pages: Vec<u64> = (0..2 * WAYS as u64).map(|i| i * SETS as u64).collect();
    for &p in &pages[..WAYS] {
        fill(&tlb, t, p << 12, p << 12, K4, Access::Read);
    }
    // Reference the first half; the second fill wave evicts the unreferenced ones first.
    for &p in &pages[..WAYS / 2] {
        assert!(tlb.lookup(t, p << 12, Access::Read).is_some());
    }
    for &p in &pages[WAYS..WAYS + WAYS / 2] {
        fill(&tlb, t, p << 12, p << 12, K4, Access::Read);
    }
    assert!(pages[..WAYS / 2].iter().all(|&p| tlb.contains(t, p << 12)));
    assert!(
        pages[WAYS / 2..WAYS]
            .iter()
            .all(|&p| !tlb.contains(t, p << 12))
    );
    assert_eq!(tlb.len(), WAYS);
    // More tags than slots: some tags' entries go, nothing breaks.
    let tags: Vec<Tag> = (0..(TAG_SLOTS as u16 + 8))
        .map(|d| tag(100 + d, 3))
        .collect();
    for &t in &tags {
        fill(&tlb, t, 0x1000, 0x1000, K4, Access::Read);
    }
    assert!(tlb.contains(*tags.last().unwrap(), 0x1000));
    let live = tags.iter().filter(|&&t| tlb.contains(t, 0x1000)).count();
    assert!(live <= TAG_SLOTS, "{live}");
}

#[test]
fn bad_page_sizes_are_not_cached() {
    let tlb = Iotlb::new();
    fill(&tlb, tag(1, 0), 0, 0, 64, Access::Read);
    fill(&tlb, tag(1, 0), 0, 0, 3, Access::Read);
    assert!(tlb.is_empty());
    tlb.invalidate_range(1, None, 5, 4);
}

#[derive(Debug, Clone)]
enum Op {
    Insert {
        did: u16,
        pasid: u32,
        page: u64,
        big: bool,
        phys: u64,
        write: bool,
    },
    Lookup {
        did: u16,
        pasid: u32,
        iova: u64,
        write: bool,
    },
    InvDomain(u16),
    InvPasid(u16, u32),
    InvRange {
        did: u16,
        pasid: Option<u32>,
        first: u64,
        pages: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let did = 0u16..3;
    let pasid = 0u32..3;
    prop_oneof![
        4 => (did.clone(), pasid.clone(), 0u64..2048, any::<bool>(), 0u64..64, any::<bool>())
            .prop_map(|(did, pasid, page, big, phys, write)| Op::Insert {
                did, pasid, page, big, phys, write
            }),
        4 => (did.clone(), pasid.clone(), 0u64..(2048 << 12), any::<bool>())
            .prop_map(|(did, pasid, iova, write)| Op::Lookup { did, pasid, iova, write }),
        1 => did.clone().prop_map(Op::InvDomain),
        1 => (did.clone(), pasid.clone()).prop_map(|(d, p)| Op::InvPasid(d, p)),
        2 => (did, proptest::option::of(pasid), 0u64..2048, 1u64..200)
            .prop_map(|(did, pasid, first, pages)| Op::InvRange { did, pasid, first, pages }),
    ]
}

/// (tag, page_lg2, vpn) -> (output page, accesses proven: bit 0 read, bit 1 write).
type Model = BTreeMap<(Tag, u32, u64), (u64, u8)>;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Against a map: a hit is always a translation the model holds with the permission
    /// (nothing invalidated is ever served); entries of tags an invalidation did not name are
    /// never lost while no more than a set's worth are live.
    #[test]
    fn iotlb_matches_a_model(ops in proptest::collection::vec(op(), 1..120)) {
        let tlb = Iotlb::new();
        // What may hit, and of those what must hit.
        let mut allowed: Model = BTreeMap::new();
        let mut present: Model = BTreeMap::new();
        let mut sizes = 0u64;
        for op in ops {
            match op {
                Op::Insert { did, pasid, page, big, phys, write } => {
                    let t = tag(did, pasid);
                    let lg2 = if big { M2 } else { K4 };
                    let iova = page << 12;
                    let key = (t, lg2, iova >> lg2);
                    if !allowed.contains_key(&key) && allowed.len() >= WAYS {
                        continue;
                    }
                    let out = phys << lg2;
                    let access = if write { Access::Write } else { Access::Read };
                    fill(&tlb, t, iova, out, lg2, access);
                    sizes |= 1 << lg2;
                    let bit = if write { 2 } else { 1 };
                    // A fill widens the accesses of a cached entry of the same output; what
                    // must hit widens only from what surely is cached (an entry a wide range
                    // invalidation dropped may still be allowed, but proves nothing).
                    let widened = |m: &Model| match m.get(&key) {
                        Some(&(o, w)) if o == out => w | bit,
                        _ => bit,
                    };
                    let (may, must) = (widened(&allowed), widened(&present));
                    allowed.insert(key, (out, may));
                    present.insert(key, (out, must));
                }
                Op::Lookup { did, pasid, iova, write } => {
                    let t = tag(did, pasid);
                    let access = if write { Access::Write } else { Access::Read };
                    let hit = tlb.lookup(t, iova, access);
                    let bit = if write { 2 } else { 1 };
                    if let Some(h) = hit {
                        let key = (t, h.page_lg2, iova >> h.page_lg2);
                        let Some(&(out, w)) = allowed.get(&key) else {
                            panic!("served {h:?} for {t:?} {iova:#x} that the model lacks");
                        };
                        prop_assert_eq!(h.phys, out | (iova & ((1 << h.page_lg2) - 1)));
                        prop_assert!(w & bit != 0);
                    } else {
                        // Anything present that covers it with the permission must hit.
                        for lg2 in [K4, M2] {
                            if let Some(&(_, w)) = present.get(&(t, lg2, iova >> lg2)) {
                                prop_assert!(w & bit == 0, "lost {t:?} {iova:#x}");
                            }
                        }
                    }
                }
                Op::InvDomain(did) => {
                    tlb.invalidate_domain(did);
                    allowed.retain(|k, _| k.0.did != did);
                    present.retain(|k, _| k.0.did != did);
                }
                Op::InvPasid(did, pasid) => {
                    tlb.invalidate_pasid(did, pasid);
                    allowed.retain(|k, _| k.0 != tag(did, pasid));
                    present.retain(|k, _| k.0 != tag(did, pasid));
                }
                Op::InvRange { did, pasid, first, pages } => {
                    let (lo, hi) = (first << 12, ((first + pages) << 12) - 1);
                    tlb.invalidate_range(did, pasid, lo, hi);
                    let named = |t: Tag| t.did == did && pasid.is_none_or(|p| p == t.pasid);
                    let overlaps = |k: &(Tag, u32, u64)| {
                        let start = k.2 << k.1;
                        start <= hi && lo < start + (1 << k.1)
                    };
                    allowed.retain(|k, _| !(named(k.0) && overlaps(k)));
                    // A range of more pages than sets, at a size cached so far, takes the
                    // named tags whole.
                    let wide = [K4, M2].iter().any(|&lg2| {
                        sizes & (1 << lg2) != 0 && (hi >> lg2) - (lo >> lg2) >= SETS as u64
                    });
                    present.retain(|k, _| !(named(k.0) && (wide || overlaps(k))));
                }
            }
        }
    }
}
