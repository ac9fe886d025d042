//! Random VFIO_IOMMU_MAP_DMA / VFIO_IOMMU_UNMAP_DMA sequences through `dispatch` against a
//! model of type1 semantics, for TYPE1v2 (mappings are whole; an unmap that would split one
//! fails with `ENOENT` after removing what came before it) and TYPE1 (any page-aligned range
//! can be unmapped).

mod common;
#[path = "common/vfio.rs"]
mod vfio;

use common::*;
use proptest::prelude::*;
use std::collections::BTreeMap;
use uiommu_core::context::Context;
use uiommu_uapi::Errno;
use uiommu_uapi::selftest::MOCK_APERTURE_START;
use uiommu_uapi::vfio::*;
use vfio::*;

/// Pages of IOVA (and of the buffer) the sequences play in.
const WINDOW: u64 = 16;
const BASE: u64 = MOCK_APERTURE_START;

#[derive(Debug, Clone)]
enum Op {
    /// Map `n` pages of the buffer from page `buf` at IOVA page `at`.
    Map { at: u64, n: u64, buf: u64 },
    /// Unmap `n` pages from IOVA page `at` (the range may run past the window).
    Unmap { at: u64, n: u64 },
    /// `VFIO_DMA_UNMAP_FLAG_ALL`.
    UnmapAll,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..WINDOW, 0..=4u64)
            .prop_flat_map(|(at, n)| (Just(at), Just(n), 0..=WINDOW - n))
            .prop_map(|(at, n, buf)| Op::Map { at, n, buf }),
        4 => (0..WINDOW, 0..=6u64).prop_map(|(at, n)| Op::Unmap { at, n }),
        1 => Just(Op::UnmapAll),
    ]
}

/// The expected outcome of an unmap: the result and the bytes reported.
type Outcome = (Result<i64, Errno>, u64);

/// TYPE1v2: whole mappings, by first IOVA page: (pages, first buffer page).
#[derive(Default)]
struct V2(BTreeMap<u64, (u64, u64)>);

impl V2 {
    fn map(&mut self, at: u64, n: u64, buf: u64) -> Result<i64, Errno> {
        if n == 0 {
            return Err(Errno::EINVAL);
        }
        if self
            .0
            .iter()
            .any(|(&s, &(len, _))| s < at + n && at < s + len)
        {
            return Err(Errno::EEXIST);
        }
        self.0.insert(at, (n, buf));
        Ok(0)
    }

    fn unmap(&mut self, at: u64, n: u64) -> Outcome {
        if n == 0 {
            return (Err(Errno::EINVAL), 0);
        }
        let hit: Vec<(u64, u64)> = self
            .0
            .iter()
            .filter(|&(&s, &(len, _))| s < at + n && at < s + len)
            .map(|(&s, &(len, _))| (s, len))
            .collect();
        let mut done = 0;
        for (s, len) in hit {
            if s < at || s + len > at + n {
                return (Err(Errno::ENOENT), done * PAGE);
            }
            self.0.remove(&s);
            done += len;
        }
        (Ok(0), done * PAGE)
    }

    fn pages(&self) -> BTreeMap<u64, u64> {
        self.0
            .iter()
            .flat_map(|(&s, &(len, buf))| (0..len).map(move |i| (s + i, buf + i)))
            .collect()
    }
}

/// TYPE1: mapped IOVA pages and the buffer page each shows.
#[derive(Default)]
struct V1(BTreeMap<u64, u64>);

impl V1 {
    fn map(&mut self, at: u64, n: u64, buf: u64) -> Result<i64, Errno> {
        if n == 0 {
            return Err(Errno::EINVAL);
        }
        if self.0.range(at..at + n).next().is_some() {
            return Err(Errno::EEXIST);
        }
        self.0.extend((0..n).map(|i| (at + i, buf + i)));
        Ok(0)
    }

    fn unmap(&mut self, at: u64, n: u64) -> Outcome {
        if n == 0 {
            return (Err(Errno::EINVAL), 0);
        }
        let gone: Vec<u64> = self.0.range(at..at + n).map(|(&p, _)| p).collect();
        for p in &gone {
            self.0.remove(p);
        }
        (Ok(0), gone.len() as u64 * PAGE)
    }
}

/// The IOAS's areas as IOVA page → buffer page, with every area checked to be page-aligned
/// and contiguous in the buffer.
fn actual_pages(ctx: &Context, ioas: u32, buf: &Buffer) -> BTreeMap<u64, u64> {
    let mut out = BTreeMap::new();
    for a in areas_full(ctx, ioas) {
        assert_eq!((a.iova - BASE) % PAGE, 0);
        assert_eq!(a.length % PAGE, 0);
        let first = (a.iova - BASE) / PAGE;
        let first_buf = (a.addr - buf.addr()) / PAGE;
        for i in 0..a.length / PAGE {
            out.insert(first + i, first_buf + i);
        }
    }
    out
}

/// Every buffer page is pinned once per IOVA page that shows it.
fn check_pins(ctx: &Context, buf: &Buffer, pages: &BTreeMap<u64, u64>) {
    for b in 0..WINDOW {
        let want = pages.values().filter(|&&v| v == b).count() as u32;
        assert_eq!(ctx.process().registry.refs(buf.addr() + b * PAGE), want);
    }
}

fn run(version: u32, ops: &[Op]) {
    let (ctx, ioas) = compat(version);
    let buf = Buffer::new((WINDOW * PAGE) as usize);
    let mut v2 = V2::default();
    let mut v1 = V1::default();
    for op in ops {
        let v2_mode = version == VFIO_TYPE1v2_IOMMU;
        match *op {
            Op::Map { at, n, buf: b } => {
                let got = map_buf(&ctx, &buf, b * PAGE, BASE + at * PAGE, n * PAGE);
                let want = if v2_mode {
                    v2.map(at, n, b)
                } else {
                    v1.map(at, n, b)
                };
                assert_eq!(got, want, "{op:?}");
            }
            Op::Unmap { at, n } => {
                let got = unmap_dma(&ctx, BASE + at * PAGE, n * PAGE);
                let want = if v2_mode {
                    v2.unmap(at, n)
                } else {
                    v1.unmap(at, n)
                };
                assert_eq!(got, want, "{op:?}");
            }
            Op::UnmapAll => {
                let mut cmd = unmap_cmd(VFIO_DMA_UNMAP_FLAG_ALL, 0, 0);
                let got = ioctl(&ctx, VFIO_IOMMU_UNMAP_DMA, &mut cmd);
                let total = if v2_mode {
                    v2.pages().len()
                } else {
                    v1.0.len()
                } as u64;
                assert_eq!((got, cmd.size), (Ok(0), total * PAGE));
                v2.0.clear();
                v1.0.clear();
            }
        }
        let want = if v2_mode { v2.pages() } else { v1.0.clone() };
        assert_eq!(actual_pages(&ctx, ioas, &buf), want, "after {op:?}");
        if v2_mode {
            let shape: Vec<(u64, u64)> =
                v2.0.iter()
                    .map(|(&s, &(len, _))| (BASE + s * PAGE, len * PAGE))
                    .collect();
            assert_eq!(areas(&ctx, ioas), shape, "v2 never splits or merges");
        }
        check_pins(&ctx, &buf, &want);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn type1v2_matches_the_model(ops in proptest::collection::vec(op(), 1..40)) {
        run(VFIO_TYPE1v2_IOMMU, &ops);
    }

    #[test]
    fn type1_matches_the_model(ops in proptest::collection::vec(op(), 1..40)) {
        run(VFIO_TYPE1_IOMMU, &ops);
    }
}
