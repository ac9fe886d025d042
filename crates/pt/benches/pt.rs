//! Map, unmap and translate timings per format (ns per call).
//!
//! The map/unmap cases are the ones Linux's generic page-table work reports:
//! 1 x 4K, 256 x 4K, 256 x 2M and 1 x 1G. Formats with another granule use
//! their own smallest page and their level-1 and level-2 item sizes instead.
//! Upper tables are populated once before timing, as in a live domain.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use uiommu_pt::*;

/// Calls per timed batch: long enough to hide the clock, short enough to
/// keep the batch in a few tables.
const BATCH: u64 = 32;

struct Case {
    name: String,
    len: u64,
    stride: u64,
}

fn cases<F: Format>(pt: &PageTable<F>) -> Vec<Case> {
    let g = 1u64 << F::GRANULE_LG2;
    let l1 = 1u64 << F::item_lg2(1);
    let l2 = 1u64 << F::item_lg2(2);
    let has = |s: u64| pt.pgsize_bitmap() & s != 0;
    let label = |s: u64| match s.trailing_zeros() {
        b @ 30.. => format!("{}G", 1u64 << (b - 30)),
        b @ 20.. => format!("{}M", 1u64 << (b - 20)),
        b => format!("{}K", 1u64 << (b - 10)),
    };
    let mut v = vec![
        Case {
            name: format!("1x{}", label(g)),
            len: g,
            stride: g,
        },
        Case {
            name: format!("256x{}", label(g)),
            len: 256 * g,
            stride: 512 * g,
        },
    ];
    if has(l1) {
        v.push(Case {
            name: format!("256x{}", label(l1)),
            len: 256 * l1,
            stride: 512 * l1,
        });
    }
    if has(l2) {
        v.push(Case {
            name: format!("1x{}", label(l2)),
            len: l2,
            stride: l2,
        });
    }
    v
}

/// Times `BATCH` maps (or unmaps) at a time; the other half runs untimed.
fn time_ops<F: Format>(pt: &PageTable<F>, case: &Case, iters: u64, map_timed: bool) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0;
    let mut g = Gather::new();
    while done < iters {
        let n = BATCH.min(iters - done);
        let t = Instant::now();
        if map_timed {
            for i in 0..n {
                let iova = i * case.stride;
                black_box(pt.map(iova, iova, case.len, Prot::RW, &mut g)).unwrap();
            }
            total += t.elapsed();
        } else {
            for i in 0..n {
                let iova = i * case.stride;
                pt.map(iova, iova, case.len, Prot::RW, &mut g).unwrap();
            }
        }
        let t = Instant::now();
        for i in 0..n {
            black_box(pt.unmap(i * case.stride, case.len, &mut g));
        }
        if !map_timed {
            total += t.elapsed();
        }
        pt.release(&mut g);
        done += n;
    }
    total
}

fn bench_format<F: Format>(c: &mut Criterion, name: &str, fmt: F, cfg: Config) {
    let pt = PageTable::new(fmt, cfg).unwrap();
    for case in cases(&pt) {
        // Populate the upper levels once.
        time_ops(&pt, &case, BATCH, true);
        c.bench_function(&format!("{name}/map/{}", case.name), |b| {
            b.iter_custom(|iters| time_ops(&pt, &case, iters, true))
        });
        c.bench_function(&format!("{name}/unmap/{}", case.name), |b| {
            b.iter_custom(|iters| time_ops(&pt, &case, iters, false))
        });
    }
}

fn map_unmap(c: &mut Criterion) {
    bench_format(c, "x86_64_4l", X86_64, Config::levels(4));
    bench_format(c, "x86_64_5l", X86_64, Config::levels(5));
    bench_format(c, "vtd_ss_4l", VtdSs::default(), Config::levels(4));
    bench_format(c, "amdv1_4l", AmdV1::default(), Config::levels(4));
    bench_format(c, "amdv1_mock", AmdV1Mock::default(), Config::levels(3));
    bench_format(c, "arm_s1_4k", Arm4kS1::default(), Arm4kS1::config(48));
    bench_format(c, "arm_s2_4k", Arm4kS2::default(), Arm4kS2::config(48));
    bench_format(c, "arm_s1_16k", Arm16kS1::default(), Arm16kS1::config(48));
    bench_format(c, "arm_s1_64k", Arm64kS1::default(), Arm64kS1::config(48));
    bench_format(c, "tce_4k", Tce4k::default(), Tce4k::window(0, 31));
}

/// Hot: the same IOVA again and again (every entry in L1). Cold: 16384 leaf
/// tables (64 MiB) visited in a scattered order, so most entries miss cache.
fn translate(c: &mut Criterion) {
    let pt = PageTable::new(X86_64, Config::levels(4)).unwrap();
    let mut g = Gather::new();
    pt.map(0x1234_5000, 0x8000_0000, 0x1000, Prot::RW, &mut g)
        .unwrap();
    c.bench_function("x86_64/translate/hot", |b| {
        b.iter(|| pt.iova_to_phys(black_box(0x1234_5678)))
    });
    let n = 16384u64;
    // One 4K page per 2 MiB region, the regions spread over 512 GiB.
    let iova = |i: u64| (i * 0x1000_0000 * 2 + (i % 512) * 0x1000) & ((1 << 48) - 1);
    for i in 0..n {
        pt.map(iova(i), i << 12, 0x1000, Prot::RW, &mut g).unwrap();
    }
    let mut k = 0u64;
    c.bench_function("x86_64/translate/cold", |b| {
        b.iter(|| {
            // A full-period LCG over the table indices.
            k = (k * 5 + 1) % n;
            pt.iova_to_phys(black_box(iova(k)))
        })
    });
    c.bench_function("x86_64/translate_dma/hot", |b| {
        b.iter(|| pt.translate(black_box(0x1234_5678), Access::Read))
    });
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(150))
        .measurement_time(Duration::from_millis(400))
        .sample_size(20)
}

criterion_group! {
    name = benches;
    config = config();
    targets = map_unmap, translate
}
criterion_main!(benches);
