//! Model-based property tests: every format against a `BTreeMap` of leaves.
//!
//! The model picks leaves greedily (the largest page size that the IOVA, the
//! output address and the remaining length allow), which is the kernel's page
//! size rule stated directly, and implements the unmap contract of
//! generic_pt in Linux 7.3: whole leaves only, stop at a hole or inside a leaf.

use std::collections::BTreeMap;

use proptest::prelude::*;
use uiommu_pt::*;

const OA_BASE: u64 = 1 << 36;

/// Largest page size the generated operations aim at; `PT_MODEL_CAP_LG2`
/// raises it (e.g. to 30 for 1 GiB leaves) at the cost of a slower run.
fn size_cap() -> u64 {
    let lg2 = std::env::var("PT_MODEL_CAP_LG2")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(26);
    1 << lg2.min(40)
}

#[derive(Debug, Clone)]
struct Place {
    top: bool,
    a: u8,
    s: u8,
    b: u8,
}

#[derive(Debug, Clone)]
enum Op {
    Map {
        at: Place,
        c: u8,
        s2: u8,
        d: u8,
        oa_skew: Option<u8>,
    },
    Unmap {
        at: Place,
        c: u8,
        s2: u8,
        d: u8,
    },
    Translate {
        at: Place,
        sub: u32,
    },
    SetDirty {
        at: Place,
    },
    ReadDirty {
        at: Place,
        c: u8,
        s2: u8,
        no_clear: bool,
    },
}

fn place() -> impl Strategy<Value = Place> {
    (any::<bool>(), 0u8..6, any::<u8>(), 0u8..3).prop_map(|(top, a, s, b)| Place { top, a, s, b })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (place(), 0u8..4, any::<u8>(), 0u8..3, prop::option::weighted(0.3, any::<u8>()))
            .prop_map(|(at, c, s2, d, oa_skew)| Op::Map { at, c, s2, d, oa_skew }),
        3 => (place(), 0u8..4, any::<u8>(), 0u8..3)
            .prop_map(|(at, c, s2, d)| Op::Unmap { at, c, s2, d }),
        2 => (place(), any::<u32>()).prop_map(|(at, sub)| Op::Translate { at, sub }),
        1 => place().prop_map(|at| Op::SetDirty { at }),
        1 => (place(), 0u8..4, any::<u8>(), any::<bool>())
            .prop_map(|(at, c, s2, no_clear)| Op::ReadDirty { at, c, s2, no_clear }),
    ]
}

/// Dirty ranges in the order reported.
#[derive(Debug, Default, PartialEq, Eq)]
struct Ranges(Vec<(u64, u64)>);

impl DirtyRecorder for Ranges {
    fn record(&mut self, iova: u64, len: u64) {
        self.0.push((iova, len));
    }
}

/// Leaves by start IOVA: (size, output address, dirty).
type Leaves = BTreeMap<u64, (u64, u64, bool)>;

struct Harness<F: Format> {
    pt: PageTable<F>,
    model: Leaves,
    sizes: Vec<u64>,
    bases: [u64; 2],
    region: u64,
    first: u64,
    last: u64,
}

impl<F: Format> Harness<F> {
    fn new(fmt: F, cfg: Config) -> Self {
        let pt = PageTable::new(fmt, cfg).expect("config");
        let bitmap = pt.pgsize_bitmap();
        let sizes: Vec<u64> = (0..64)
            .map(|b| 1u64 << b)
            .filter(|s| bitmap & s != 0 && *s <= size_cap())
            .collect();
        let region = 8 * sizes.last().copied().unwrap();
        let (first, last) = pt.aperture();
        let bases = [first, last - (region - 1)];
        Harness {
            pt,
            model: BTreeMap::new(),
            sizes,
            bases,
            region,
            first,
            last,
        }
    }

    fn min(&self) -> u64 {
        self.sizes[0]
    }

    fn size(&self, s: u8) -> u64 {
        self.sizes[s as usize % self.sizes.len()]
    }

    fn iova(&self, p: &Place) -> u64 {
        self.bases[p.top as usize] + p.a as u64 * self.size(p.s) + p.b as u64 * self.min()
    }

    fn len(&self, c: u8, s2: u8, d: u8) -> u64 {
        c as u64 * self.size(s2) + d as u64 * self.min()
    }

    fn leaf_at(&self, iova: u64) -> Option<(u64, (u64, u64, bool))> {
        let (&start, &leaf) = self.model.range(..=iova).next_back()?;
        (iova - start < leaf.0).then_some((start, leaf))
    }

    fn model_map(&mut self, iova: u64, oa: u64, len: u64) -> Result<(), i32> {
        if len == 0 {
            return Err(errno::EINVAL);
        }
        let Some(last) = iova.checked_add(len - 1) else {
            return Err(errno::EOVERFLOW);
        };
        if (iova | oa | len) % self.min() != 0 {
            return Err(errno::ENXIO);
        }
        if iova < self.first || last > self.last {
            return Err(errno::ERANGE);
        }
        let overlap = self
            .model
            .range(..=last)
            .next_back()
            .is_some_and(|(&s, l)| s + l.0 > iova);
        if overlap {
            return Err(errno::EADDRINUSE);
        }
        let all: Vec<u64> = (0..64)
            .map(|b| 1u64 << b)
            .filter(|s| self.pt.pgsize_bitmap() & s != 0)
            .collect();
        // A new writable Arm leaf with DBM starts writable-dirty (Linux's encoding).
        let f = self.pt.format();
        let fresh = f.dirty_tracking()
            && f.is_dirty(f.leaf(0, 0, F::GRANULE_LG2, f.attrs(Prot::RW).unwrap()));
        let (mut va, mut pa, mut left) = (iova, oa, len);
        while left > 0 {
            let size = *all
                .iter()
                .rev()
                .find(|&&s| (va | pa) % s == 0 && s <= left)
                .unwrap();
            self.model.insert(va, (size, pa, fresh));
            (va, pa, left) = (va.wrapping_add(size), pa + size, left - size);
        }
        Ok(())
    }

    fn model_unmap(&mut self, iova: u64, len: u64) -> u64 {
        if len == 0 {
            return 0;
        }
        let Some(last) = iova.checked_add(len - 1) else {
            return 0;
        };
        if iova < self.first || last > self.last {
            return 0;
        }
        let (mut va, mut total) = (iova, 0);
        while let Some((start, (size, _, _))) = self.leaf_at(va) {
            if start != va {
                break;
            }
            self.model.remove(&start);
            total += size;
            match start.checked_add(size) {
                Some(next) if next <= last => va = next,
                _ => break,
            }
        }
        total
    }

    fn apply(&mut self, op: &Op) {
        let mut g = Gather::new();
        match op {
            Op::Map {
                at,
                c,
                s2,
                d,
                oa_skew,
            } => {
                let iova = self.iova(at);
                let len = self.len(*c, *s2, *d);
                let skew = oa_skew.map_or(0, |s| self.size(s));
                let oa = OA_BASE + (iova - self.bases[at.top as usize]) + skew;
                let got = self
                    .pt
                    .map(iova, oa, len, Prot::RW, &mut g)
                    .map_err(PtError::errno);
                let want = self.model_map(iova, oa, len);
                assert_eq!(got, want, "map {iova:#x} -> {oa:#x} len {len:#x}");
            }
            Op::Unmap { at, c, s2, d } => {
                let iova = self.iova(at);
                let len = self.len(*c, *s2, *d);
                let got = self.pt.unmap(iova, len, &mut g);
                assert_eq!(
                    got,
                    self.model_unmap(iova, len),
                    "unmap {iova:#x} len {len:#x}"
                );
            }
            Op::Translate { at, sub } => {
                let iova = self.iova(at).wrapping_add(*sub as u64 % self.size(at.s));
                let want = self.leaf_at(iova).map(|(s, (_, oa, _))| oa + (iova - s));
                assert_eq!(self.pt.iova_to_phys(iova), want, "translate {iova:#x}");
            }
            Op::SetDirty { at } => {
                let iova = self.iova(at);
                let got = self.pt.set_dirty(iova).map_err(PtError::errno);
                let want = if !self.pt.format().dirty_tracking() {
                    Err(errno::EOPNOTSUPP)
                } else if let Some((s, _)) = self.leaf_at(iova) {
                    self.model.get_mut(&s).unwrap().2 = true;
                    Ok(())
                } else if iova > self.last {
                    Err(errno::ERANGE)
                } else {
                    Err(errno::ENOENT)
                };
                assert_eq!(got, want, "set_dirty {iova:#x}");
            }
            Op::ReadDirty {
                at,
                c,
                s2,
                no_clear,
            } => self.read_dirty(at, *c, *s2, *no_clear),
        }
        // Invalidation is instant here, so unlinked tables go back at once:
        // any table still in use would then show up as a corrupted mapping.
        self.pt.release(&mut g);
    }

    fn read_dirty(&mut self, at: &Place, c: u8, s2: u8, no_clear: bool) {
        let iova = self.iova(at);
        let len = self.len(c, s2, 0);
        let mut bm = Ranges::default();
        let mut g = Gather::new();
        let got = self
            .pt
            .read_and_clear_dirty(iova, len, no_clear, &mut bm, &mut g);
        let mut want_bm = Ranges::default();
        let want = if !self.pt.format().dirty_tracking() {
            Err(errno::EOPNOTSUPP)
        } else if len == 0 {
            Err(errno::EINVAL)
        } else if iova.checked_add(len - 1).is_none_or(|l| l > self.last) {
            Err(if iova.checked_add(len - 1).is_none() {
                errno::EOVERFLOW
            } else {
                errno::ERANGE
            })
        } else {
            let last = iova + (len - 1);
            let lo = self.leaf_at(iova).map_or(iova, |(s, _)| s);
            for (&s, leaf) in self.model.range_mut(lo..=last) {
                if leaf.2 {
                    want_bm.record(s, leaf.0);
                    leaf.2 &= no_clear;
                }
            }
            Ok(())
        };
        assert_eq!(
            got.map_err(PtError::errno),
            want,
            "read_dirty {iova:#x} len {len:#x}"
        );
        assert_eq!(bm, want_bm, "dirty bitmap {iova:#x} len {len:#x}");
    }

    /// Every model leaf translates at both ends with its own page size, and
    /// nothing translates just outside it.
    fn check(&self) {
        for (&s, &(size, oa, _)) in &self.model {
            let t = self.pt.lookup(s).expect("mapped leaf");
            assert_eq!((t.phys, 1u64 << t.page_lg2), (oa, size), "leaf at {s:#x}");
            assert_eq!(self.pt.iova_to_phys(s + (size - 1)), Some(oa + size - 1));
            for probe in [s.wrapping_sub(1), s.wrapping_add(size)] {
                let want = self
                    .leaf_at(probe)
                    .map(|(ls, (_, loa, _))| loa + (probe - ls));
                if probe >= self.first && probe <= self.last {
                    assert_eq!(self.pt.iova_to_phys(probe), want, "probe {probe:#x}");
                }
            }
        }
    }
}

fn run<F: Format>(fmt: F, cfg: Config, ops: &[Op]) {
    let mut h = Harness::new(fmt, cfg);
    for op in ops {
        h.apply(op);
        h.check();
    }
    // Unmapping everything leaves only the tables a partial cover kept.
    let (first, last) = (h.first, h.last);
    for base in h.bases {
        let end = (base + (h.region - 1)).min(last);
        let mut g = Gather::new();
        let mut iova = base.max(first);
        while iova <= end {
            match h.leaf_at(iova) {
                Some((s, (size, _, _))) if s == iova => {
                    assert_eq!(h.pt.unmap(iova, size, &mut g), size);
                    h.model.remove(&s);
                    iova = match iova.checked_add(size) {
                        Some(n) => n,
                        None => break,
                    };
                }
                _ => {
                    iova = match iova.checked_add(h.min()) {
                        Some(n) => n,
                        None => break,
                    }
                }
            }
        }
        h.pt.release(&mut g);
    }
    h.check();
}

fn cases() -> ProptestConfig {
    ProptestConfig {
        cases: 48,
        max_shrink_iters: 2000,
        ..ProptestConfig::default()
    }
}

macro_rules! model_tests {
    ($($name:ident: $fmt:expr, $cfg:expr;)*) => {
        proptest! {
            #![proptest_config(cases())]
            $(
                #[test]
                fn $name(ops in prop::collection::vec(op(), 1..24)) {
                    run($fmt, $cfg, &ops);
                }
            )*
        }
    };
}

model_tests! {
    x86_64_4level: X86_64, Config::levels(4);
    x86_64_5level: X86_64, Config::levels(5);
    vtdss_4level: VtdSs::default(), Config::levels(4);
    vtdss_5level: VtdSs::default(), Config::levels(5);
    vtdss_39bit: VtdSs::default(), Config { va_lg2: 39, ..Config::levels(3) };
    amdv1_4level: AmdV1::default(), Config::levels(4);
    amdv1_6level: AmdV1::default(), Config::levels(6);
    amdv1_mock: AmdV1Mock::default(), Config::levels(3);
    amdv1_mock_huge: AmdV1Mock::default(),
        Config { pgsize_bitmap: (1 << 20) | (1 << 12), ..Config::levels(3) };
    arm_s1_4k: Arm4kS1 { dbm: true }, Arm4kS1::config(48);
    arm_s1_16k: Arm16kS1 { dbm: true }, Arm16kS1::config(48);
    arm_s1_64k: Arm64kS1 { dbm: true }, Arm64kS1::config(48);
    arm_s2_4k: Arm4kS2::default(), Arm4kS2::config(40);
    arm_s2_16k: Arm16kS2::default(), Arm16kS2::config(48);
    arm_s2_64k: Arm64kS2::default(), Arm64kS2::config(42);
    tce_4k_32bit: Tce4k::default(), Tce4k::window(0, 31);
    tce_64k_ddw: Tce64k::default(), Tce64k::window(1 << 59, 40);
}
