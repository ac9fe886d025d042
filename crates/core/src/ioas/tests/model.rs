//! Random operation sequences on two IOASes checked against a simple model: areas with the
//! pages object each refers to, reserved and allowed lists, and domains with their apertures.
//! After every step: areas, IOVA ranges, every domain's mappings, per-page refs and the
//! memlock charge must match.

use super::*;
use proptest::prelude::*;

const SLOTS: u64 = 48;
const APERTURES: [(u64, u64); 3] = [(0, u64::MAX), (8 * PS, u64::MAX), (0, 40 * PS - 1)];

#[derive(Clone, Debug)]
enum Op {
    Map {
        ioas: usize,
        slot: Option<u64>,
        page: u64,
        n: u64,
    },
    Unmap {
        ioas: usize,
        slot: u64,
        n: u64,
    },
    UnmapAll {
        ioas: usize,
    },
    Copy {
        src: usize,
        pick: usize,
        slot: Option<u64>,
    },
    Allow {
        ioas: usize,
        ranges: Vec<(u64, u64)>,
    },
    Reserve {
        ioas: usize,
        slot: u64,
        n: u64,
    },
    Unreserve {
        ioas: usize,
    },
    AddDomain {
        ioas: usize,
        aperture: usize,
    },
    RemoveDomain {
        ioas: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let ioas = 0usize..2;
    prop_oneof![
        4 => (ioas.clone(), proptest::option::of(0..SLOTS), 0u64..16, 1u64..5)
            .prop_map(|(ioas, slot, page, n)| Op::Map { ioas, slot, page, n }),
        3 => (ioas.clone(), 0..SLOTS, 1u64..12).prop_map(|(ioas, slot, n)| Op::Unmap { ioas, slot, n }),
        1 => ioas.clone().prop_map(|ioas| Op::UnmapAll { ioas }),
        2 => (ioas.clone(), 0usize..8, proptest::option::of(0..SLOTS))
            .prop_map(|(src, pick, slot)| Op::Copy { src, pick, slot }),
        1 => (ioas.clone(), proptest::collection::vec((0..SLOTS, 1u64..8), 0..3))
            .prop_map(|(ioas, r)| Op::Allow {
                ioas,
                ranges: r.into_iter().map(|(s, n)| (s * PS, (s + n) * PS - 1)).collect(),
            }),
        1 => (ioas.clone(), 0..SLOTS, 1u64..4).prop_map(|(ioas, slot, n)| Op::Reserve { ioas, slot, n }),
        1 => ioas.clone().prop_map(|ioas| Op::Unreserve { ioas }),
        1 => (ioas.clone(), 0usize..3).prop_map(|(ioas, aperture)| Op::AddDomain { ioas, aperture }),
        1 => ioas.prop_map(|ioas| Op::RemoveDomain { ioas }),
    ]
}

#[derive(Clone, Copy, Debug)]
struct MArea {
    len: u64,
    pages: usize,
    /// Host address of the first byte.
    addr: u64,
}

#[derive(Default)]
struct MIoas {
    areas: BTreeMap<u64, MArea>,
    reserved: Vec<(u64, u64)>,
    allowed: Vec<(u64, u64)>,
    domains: Vec<(Arc<FakeDomain>, (u64, u64))>,
}

fn hit(list: &[(u64, u64)], s: u64, l: u64) -> bool {
    list.iter().any(|&(a, b)| a <= l && s <= b)
}

impl MIoas {
    fn all_reserved(&self) -> Vec<(u64, u64)> {
        let mut v = self.reserved.clone();
        for (_, (lo, hi)) in &self.domains {
            if *lo != 0 {
                v.push((0, lo - 1));
            }
            if *hi != u64::MAX {
                v.push((hi + 1, u64::MAX));
            }
        }
        v
    }

    fn area_list(&self) -> Vec<(u64, u64)> {
        self.areas
            .iter()
            .map(|(&i, a)| (i, i + a.len - 1))
            .collect()
    }

    fn holes(&self) -> Vec<(u64, u64)> {
        let mut v = self.all_reserved();
        v.sort_unstable();
        let mut out = Vec::new();
        let mut cur = Some(0u64);
        for (a, b) in v {
            let Some(c) = cur else { break };
            if a > c {
                out.push((c, a - 1));
            }
            if b >= c {
                cur = b.checked_add(1);
            }
        }
        if let Some(c) = cur {
            out.push((c, u64::MAX));
        }
        out
    }

    /// The fixed-IOVA checks: EINVAL over a reservation, EEXIST over an area.
    fn fixed_err(&self, iova: u64, len: u64) -> Option<Errno> {
        let last = iova + len - 1;
        if hit(&self.all_reserved(), iova, last) {
            Some(Errno::EINVAL)
        } else if hit(&self.area_list(), iova, last) {
            Some(Errno::EEXIST)
        } else {
            None
        }
    }
}

struct World {
    t: [IoPagetable; 2],
    m: [MIoas; 2],
    pages: usize,
    p: Proc,
}

impl World {
    fn check(&self) {
        let mut pinned: BTreeMap<usize, std::collections::BTreeSet<u64>> = BTreeMap::new();
        for (t, m) in self.t.iter().zip(&self.m) {
            let got: Vec<(u64, u64, u64)> = t
                .areas()
                .iter()
                .map(|a| (a.iova, a.length, a.addr))
                .collect();
            let want: Vec<(u64, u64, u64)> =
                m.areas.iter().map(|(&i, a)| (i, a.len, a.addr)).collect();
            assert_eq!(got, want);
            assert_eq!(t.iova_ranges(), m.holes());
            assert_eq!(
                t.iova_alignment(),
                if m.domains.is_empty() { 1 } else { PS }
            );
            for (d, _) in &m.domains {
                check_domain_matches(t, d);
            }
            if !m.domains.is_empty() {
                for a in m.areas.values() {
                    let set = pinned.entry(a.pages).or_default();
                    set.extend((0..a.len / PS).map(|i| a.addr / PS + i));
                }
            }
        }
        let total: usize = pinned.values().map(|s| s.len()).sum();
        assert_eq!(self.p.vm.locked(), total as u64);
        for page in BUF / PS..BUF / PS + 24 {
            let want = pinned.values().filter(|s| s.contains(&page)).count() as u32;
            assert_eq!(self.p.refs(page * PS), want, "refs of page {page:#x}");
        }
    }

    fn step(&mut self, op: Op) {
        match op {
            Op::Map {
                ioas,
                slot,
                page,
                n,
            } => {
                let (len, uva) = (n * PS, BUF + page * PS);
                let iova = slot.map_or(Iova::Auto, |s| Iova::Fixed(s * PS));
                let r = self.t[ioas].map_user(iova, uva, len, RW, &self.p.owner);
                self.record(ioas, slot, len, r, &[(self.pages, uva, len)]);
                self.pages += 1;
            }
            Op::Copy { src, pick, slot } => {
                let Some((&siova, a)) = self.m[src].areas.iter().nth(pick) else {
                    return;
                };
                let a = *a;
                let dst = 1 - src;
                let iova = slot.map_or(Iova::Auto, |s| Iova::Fixed(s * PS));
                let r = self.t[dst].copy(&self.t[src], siova, a.len, iova, RW);
                self.record(dst, slot, a.len, r, &[(a.pages, a.addr, a.len)]);
            }
            Op::Unmap { ioas, slot, n } => {
                let (s, l) = (slot * PS, (slot + n) * PS - 1);
                let m = &mut self.m[ioas];
                let mut want = Err(Errno::ENOENT);
                let mut done = 0;
                for (i, e) in m.area_list() {
                    if e < s || i > l {
                        continue;
                    }
                    if i < s || e > l {
                        want = Err(Errno::ENOENT);
                        break;
                    }
                    m.areas.remove(&i);
                    done += e - i + 1;
                    want = Ok(done);
                }
                assert_eq!(self.t[ioas].unmap(s, l - s + 1), want);
            }
            Op::UnmapAll { ioas } => {
                let total: u64 = self.m[ioas].areas.values().map(|a| a.len).sum();
                self.m[ioas].areas.clear();
                assert_eq!(self.t[ioas].unmap_all(), Ok(total));
            }
            Op::Allow { ioas, ranges } => {
                let m = &mut self.m[ioas];
                let overlap = ranges
                    .iter()
                    .enumerate()
                    .any(|(i, &(s, l))| hit(&ranges[..i], s, l));
                let want = if overlap {
                    Err(Errno::EINVAL)
                } else if ranges.iter().any(|&(s, l)| hit(&m.all_reserved(), s, l)) {
                    Err(Errno::EADDRINUSE)
                } else {
                    m.allowed = ranges.clone();
                    Ok(())
                };
                assert_eq!(self.t[ioas].set_allow_iovas(&ranges), want);
            }
            Op::Reserve { ioas, slot, n } => {
                let m = &mut self.m[ioas];
                let (s, l) = (slot * PS, (slot + n) * PS - 1);
                let want = if hit(&m.area_list(), s, l) || hit(&m.allowed, s, l) {
                    Err(Errno::EADDRINUSE)
                } else {
                    m.reserved.push((s, l));
                    Ok(())
                };
                assert_eq!(self.t[ioas].reserve(s, l, 1), want);
            }
            Op::Unreserve { ioas } => {
                self.m[ioas].reserved.clear();
                self.t[ioas].remove_reserved(1);
            }
            Op::AddDomain { ioas, aperture } => {
                let m = &mut self.m[ioas];
                let (lo, hi) = APERTURES[aperture];
                let d = FakeDomain::new(PS, (lo, hi));
                let mut outside = Vec::new();
                if lo != 0 {
                    outside.push((0, lo - 1));
                }
                if hi != u64::MAX {
                    outside.push((hi + 1, u64::MAX));
                }
                let clash = outside
                    .iter()
                    .any(|&(s, l)| hit(&m.area_list(), s, l) || hit(&m.allowed, s, l));
                let want = if clash {
                    Err(Errno::EADDRINUSE)
                } else {
                    m.domains.push((d.clone(), (lo, hi)));
                    Ok(())
                };
                assert_eq!(self.t[ioas].add_domain(dyn_domain(&d)), want);
            }
            Op::RemoveDomain { ioas } => {
                if let Some((d, _)) = self.m[ioas].domains.pop() {
                    self.t[ioas].remove_domain(&dyn_domain(&d));
                    assert!(d.runs().is_empty());
                }
            }
        }
    }

    /// Checks a map or copy result against the model and records the new areas.
    fn record(
        &mut self,
        ioas: usize,
        slot: Option<u64>,
        len: u64,
        r: uiommu_uapi::errno::Result<u64>,
        parts: &[(usize, u64, u64)],
    ) {
        let m = &mut self.m[ioas];
        let iova = match slot {
            Some(s) => {
                let want = m.fixed_err(s * PS, len).map_or(Ok(s * PS), Err);
                assert_eq!(r, want);
                s * PS
            }
            None => {
                let Ok(iova) = r else {
                    assert_eq!(r, Err(Errno::ENOSPC));
                    return;
                };
                let last = iova + len - 1;
                assert!(iova != 0 && iova % PS == 0);
                assert_eq!(m.fixed_err(iova, len), None);
                if !m.allowed.is_empty() {
                    // Adjacent allowed ranges form one span (`interval_tree_span_iter`), so the
                    // mapping must lie in the union, not in a single range.
                    let mut covered = iova;
                    let mut ranges = m.allowed.clone();
                    ranges.sort();
                    for (a, b) in ranges {
                        if a <= covered && covered <= b {
                            covered = b.saturating_add(1);
                        }
                    }
                    assert!(
                        covered > last,
                        "{iova:#x}..={last:#x} outside {:?}",
                        m.allowed
                    );
                }
                iova
            }
        };
        if r.is_err() {
            return;
        }
        let mut at = iova;
        for &(pages, addr, len) in parts {
            m.areas.insert(at, MArea { len, pages, addr });
            at += len;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn ioas_matches_model(ops in proptest::collection::vec(op(), 1..40)) {
        let mut w = World {
            t: [IoPagetable::new(), IoPagetable::new()],
            m: [MIoas::default(), MIoas::default()],
            pages: 0,
            p: Proc::new(1 << 20),
        };
        for op in ops {
            w.step(op);
            w.check();
        }
        for t in &w.t {
            t.unmap_all().unwrap();
        }
        for m in &mut w.m {
            m.areas.clear();
        }
        w.check();
    }
}
