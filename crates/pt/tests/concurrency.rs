//! Walks and updates on disjoint ranges from several threads at once.

use std::sync::atomic::{AtomicBool, Ordering};

use uiommu_pt::*;

const K4: u64 = 1 << 12;
const M2: u64 = 1 << 21;

/// Each thread owns one 2 MiB slice; the slices share every table above the
/// leaf level, so table creation races between threads.
#[test]
fn disjoint_map_unmap_translate() {
    let pt = PageTable::new(X86_64, Config::levels(4)).unwrap();
    let threads = 4u64;
    let rounds = 200;
    std::thread::scope(|s| {
        for t in 0..threads {
            let pt = &pt;
            s.spawn(move || {
                let base = t * M2;
                for r in 0..rounds {
                    let mut g = Gather::new();
                    let oa = (t << 32) + (r << 24);
                    // Alternate 4 KiB pages and one 2 MiB page over the same slice.
                    if r % 2 == 0 {
                        pt.map(base, oa, 64 * K4, Prot::RW, &mut g).unwrap();
                        for i in 0..64 {
                            assert_eq!(pt.iova_to_phys(base + i * K4 + 7), Some(oa + i * K4 + 7));
                        }
                        assert_eq!(pt.unmap(base, 64 * K4, &mut g), 64 * K4);
                    } else {
                        pt.map(base, oa, M2, Prot::RW, &mut g).unwrap();
                        assert_eq!(pt.iova_to_phys(base + M2 - 1), Some(oa + M2 - 1));
                        assert_eq!(pt.unmap(base, M2, &mut g), M2);
                    }
                    assert_eq!(pt.iova_to_phys(base), None);
                    pt.release(&mut g);
                }
            });
        }
    });
    for t in 0..threads {
        assert_eq!(pt.iova_to_phys(t * M2), None);
    }
}

/// Readers translate a stable mapping while writers churn neighbouring ranges.
#[test]
fn readers_see_stable_mappings() {
    let pt = PageTable::new(AmdV1::default(), Config::levels(4)).unwrap();
    let mut g = Gather::new();
    pt.map(0, 0x8000_0000, M2, Prot::READ, &mut g).unwrap();
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let (pt, stop) = (&pt, &stop);
        s.spawn(move || {
            for r in 0..500u64 {
                let mut g = Gather::new();
                let iova = M2 + (r % 8) * 16 * K4;
                pt.map(iova, iova, 16 * K4, Prot::RW, &mut g).unwrap();
                pt.set_dirty(iova).unwrap();
                assert_eq!(pt.unmap(iova, 16 * K4, &mut g), 16 * K4);
                pt.release(&mut g);
            }
            stop.store(true, Ordering::Release);
        });
        s.spawn(move || {
            while !stop.load(Ordering::Acquire) {
                for i in (0..M2).step_by(K4 as usize * 37) {
                    assert_eq!(pt.iova_to_phys(i), Some(0x8000_0000 + i));
                    let t = pt.translate(i, Access::Read).unwrap();
                    assert_eq!(t.phys, 0x8000_0000 + i);
                }
            }
        });
    });
}

/// Hardware-style dirty updates and read-and-clear on the same leaves never
/// lose a write: every set is observed by some read.
#[test]
fn dirty_updates_race_with_clear() {
    let pt = PageTable::new(
        VtdSs {
            ad: true,
            ..VtdSs::default()
        },
        Config::levels(4),
    )
    .unwrap();
    let mut g = Gather::new();
    pt.map(0, 0, 64 * K4, Prot::RW, &mut g).unwrap();
    let writes = 2000;
    let seen = std::thread::scope(|s| {
        let pt = &pt;
        let writer = s.spawn(move || {
            for i in 0..writes {
                pt.translate((i % 64) * K4, Access::Write).unwrap();
            }
        });
        let mut seen = 0u64;
        loop {
            let done = writer.is_finished();
            let mut bm = DirtyBitmap::new(0, 12, 64);
            let mut g = Gather::new();
            pt.read_and_clear_dirty(0, 64 * K4, false, &mut bm, &mut g)
                .unwrap();
            seen += bm.bits[0].count_ones() as u64;
            if done {
                break;
            }
        }
        seen
    });
    assert!(seen >= 1 && seen <= writes);
    let mut bm = DirtyBitmap::new(0, 12, 64);
    pt.read_and_clear_dirty(0, 64 * K4, true, &mut bm, &mut g)
        .unwrap();
    assert_eq!(bm.bits[0], 0, "every mark was read and cleared");
}
