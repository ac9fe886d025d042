//! The kernel's map/unmap contract, case by case (generic_pt/iommu_pt.h, 7.3).

use uiommu_pt::*;

const K4: u64 = 1 << 12;
const M2: u64 = 1 << 21;
const G1: u64 = 1 << 30;

fn x86() -> PageTable<X86_64> {
    PageTable::new(X86_64, Config::levels(4)).unwrap()
}

fn err<T>(r: Result<T, PtError>) -> i32 {
    r.err().map(PtError::errno).unwrap_or(0)
}

#[test]
fn map_argument_errors_in_kernel_order() {
    let pt = x86();
    let g = &mut Gather::new();
    assert_eq!(err(pt.map(0, 0, K4, Prot::CACHE, g)), errno::EINVAL);
    assert_eq!(err(pt.map(0, 1 << 52, K4, Prot::RW, g)), errno::ERANGE);
    assert_eq!(err(pt.map(0, 0, 0, Prot::RW, g)), errno::EINVAL);
    assert_eq!(
        err(pt.map(u64::MAX - K4 + 1, 0, 2 * K4, Prot::RW, g)),
        errno::EOVERFLOW
    );
    assert_eq!(err(pt.map(0x800, 0, K4, Prot::RW, g)), errno::ENXIO);
    assert_eq!(err(pt.map(0, 0x800, K4, Prot::RW, g)), errno::ENXIO);
    // Alignment is checked before the aperture.
    assert_eq!(
        err(pt.map((1 << 48) + 0x800, 0, K4, Prot::RW, g)),
        errno::ENXIO
    );
    assert_eq!(err(pt.map(1 << 48, 0, K4, Prot::RW, g)), errno::ERANGE);
    assert_eq!(
        err(pt.map((1 << 48) - K4, 0, 2 * K4, Prot::RW, g)),
        errno::ERANGE
    );
    assert!(g.is_empty());
}

#[test]
fn first_and_last_page() {
    let pt = x86();
    let g = &mut Gather::new();
    let top = (1u64 << 48) - K4;
    pt.map(0, 0x5000, K4, Prot::RW, g).unwrap();
    pt.map(top, 0x6000, K4, Prot::READ, g).unwrap();
    assert_eq!(pt.iova_to_phys(0), Some(0x5000));
    assert_eq!(pt.iova_to_phys(top + K4 - 1), Some(0x6fff));
    assert_eq!(pt.iova_to_phys(1 << 48), None);
    assert_eq!(pt.unmap(top, K4, g), K4);
    // A full 64-bit AMD v1 table reaches the very last page.
    let amd = PageTable::new(AmdV1::default(), Config::levels(6)).unwrap();
    assert_eq!(amd.aperture(), (0, u64::MAX));
    amd.map(u64::MAX - K4 + 1, 0x7000, K4, Prot::RW, g).unwrap();
    assert_eq!(amd.iova_to_phys(u64::MAX), Some(0x7fff));
    assert_eq!(amd.unmap(u64::MAX - K4 + 1, K4, g), K4);
}

#[test]
fn overlap_is_eaddrinuse_and_changes_nothing() {
    let pt = x86();
    let g = &mut Gather::new();
    pt.map(M2 + K4, 0x10_0000, K4, Prot::RW, g).unwrap();
    // A 2 MiB page over it, a run that reaches it, and the same page again.
    assert_eq!(
        err(pt.map(M2, 0x4000_0000, M2, Prot::RW, g)),
        errno::EADDRINUSE
    );
    assert_eq!(
        err(pt.map(M2 - 8 * K4, 0, 10 * K4, Prot::RW, g)),
        errno::EADDRINUSE
    );
    assert_eq!(err(pt.map(M2 + K4, 0, K4, Prot::RW, g)), errno::EADDRINUSE);
    assert_eq!(pt.iova_to_phys(M2 - 8 * K4), None, "partial map undone");
    assert_eq!(pt.iova_to_phys(M2 + K4), Some(0x10_0000));
    // A 4 KiB page inside an existing 2 MiB page.
    pt.map(4 * M2, 0, M2, Prot::RW, g).unwrap();
    assert_eq!(
        err(pt.map(4 * M2 + K4, 0, K4, Prot::RW, g)),
        errno::EADDRINUSE
    );
}

#[test]
fn partial_unmap_of_a_large_page() {
    let pt = x86();
    let g = &mut Gather::new();
    pt.map(0, 0, M2, Prot::RW, g).unwrap();
    // Starting inside the leaf unmaps nothing.
    assert_eq!(pt.unmap(K4, K4, g), 0);
    assert_eq!(pt.iova_to_phys(K4), Some(K4));
    // Starting at the leaf removes all of it and reports its full size.
    assert_eq!(pt.unmap(0, K4, g), M2);
    assert_eq!(pt.iova_to_phys(M2 - 1), None);
    assert_eq!(g.range(), Some((0, M2 - 1)));
}

#[test]
fn unmap_stops_at_a_hole() {
    let pt = x86();
    let g = &mut Gather::new();
    pt.map(0, 0, K4, Prot::RW, g).unwrap();
    pt.map(2 * K4, 0, K4, Prot::RW, g).unwrap();
    assert_eq!(pt.unmap(0, 3 * K4, g), K4);
    assert_eq!(pt.iova_to_phys(2 * K4), Some(0));
    assert_eq!(pt.unmap(0, 0, g), 0);
    assert_eq!(pt.unmap(u64::MAX, 2, g), 0);
    assert_eq!(pt.unmap(1 << 48, K4, g), 0);
}

#[test]
fn emptied_tables_are_handed_back() {
    let tables = OwnedTables::new(9);
    let pt = PageTable::new_in(X86_64, tables, Config::levels(4)).unwrap();
    let g = &mut Gather::new();
    pt.map(G1, 0, M2, Prot::RW, g).unwrap();
    // An output address only 4 KiB aligned forces 4 KiB pages.
    pt.map(G1 + M2, K4, 512 * K4, Prot::RW, g).unwrap();
    let in_use = pt.memory().tables_in_use();
    // Covering the leaf table whole unlinks it; it is freed only on release.
    assert_eq!(pt.unmap(G1 + M2, M2, g), M2);
    assert_eq!(g.freed_tables().len(), 1);
    assert_eq!(pt.memory().tables_in_use(), in_use);
    pt.release(g);
    assert_eq!(pt.memory().tables_in_use(), in_use - 1);
    assert!(g.freed_tables().is_empty());
    // A large page over an empty table replaces it (the table is gathered).
    pt.map(4 * G1, 0, K4, Prot::RW, g).unwrap();
    assert_eq!(pt.unmap(4 * G1, K4, g), K4);
    assert!(g.freed_tables().is_empty(), "table not covered whole stays");
    pt.map(4 * G1, 0, M2, Prot::RW, g).unwrap();
    assert_eq!(g.freed_tables().len(), 1);
    assert_eq!(pt.iova_to_phys(4 * G1 + 5), Some(5));
}

#[test]
fn out_of_table_memory_is_enomem() {
    let pt = PageTable::new_in(X86_64, OwnedTables::with_limit(9, 2), Config::levels(4)).unwrap();
    let g = &mut Gather::new();
    assert_eq!(err(pt.map(0, 0, K4, Prot::RW, g)), errno::ENOMEM);
    assert_eq!(pt.iova_to_phys(0), None);
    // A 1 GiB page needs only one table below the root.
    pt.map(0, 0, G1, Prot::RW, g).unwrap();
}

#[test]
fn largest_pages_alignment_allows() {
    let pt = x86();
    let g = &mut Gather::new();
    // 4K up to the 2M boundary, 2M up to 1G, a 1G page, then 2M and 4K.
    let iova = G1 - M2 - K4;
    let len = K4 + M2 + G1 + M2 + K4;
    pt.map(iova, iova, len, Prot::RW, g).unwrap();
    let size = |va| 1u64 << pt.lookup(va).unwrap().page_lg2;
    assert_eq!(size(iova), K4);
    assert_eq!(size(G1 - M2), M2);
    assert_eq!(size(G1), G1);
    assert_eq!(size(2 * G1), M2);
    assert_eq!(size(2 * G1 + M2), K4);
    assert_eq!(pt.unmap(iova, len, g), len);
}

#[test]
fn selftest_mock_geometry() {
    // MOCK_IOMMUPT_HUGE: only 1 MiB and 4 KiB (two 2 KiB entries) pages.
    let huge = Config {
        pgsize_bitmap: (1 << 20) | (1 << 12),
        ..Config::levels(3)
    };
    let pt = PageTable::new(AmdV1Mock::default(), huge).unwrap();
    let g = &mut Gather::new();
    assert_eq!(err(pt.map(1 << 24, 0, 2048, Prot::RW, g)), errno::ENXIO);
    pt.map(1 << 24, 1 << 30, 3 << 20, Prot::RW, g).unwrap();
    assert_eq!(pt.lookup((1 << 24) + 5).unwrap().page_lg2, 20);
    let plain = PageTable::new(AmdV1Mock::default(), Config::levels(3)).unwrap();
    plain.map(1 << 24, 0x800, 2048, Prot::READ, g).unwrap();
    assert_eq!(plain.lookup(1 << 24).unwrap().page_lg2, 11);
    assert_eq!(plain.iova_to_phys((1 << 24) + 0x7ff), Some(0xfff));
}

#[test]
fn dirty_read_and_clear_and_no_clear() {
    let pt = PageTable::new(AmdV1::default(), Config::levels(4)).unwrap();
    let g = &mut Gather::new();
    // AMD v1 would use one 64 KiB page for an aligned 64 KiB; force 4 KiB pages.
    pt.map(0, K4, 16 * K4, Prot::RW, g).unwrap();
    pt.set_dirty(3 * K4).unwrap();
    assert_eq!(err(pt.set_dirty(64 * K4)), errno::ENOENT);
    let mut bm = DirtyBitmap::new(0, 12, 64);
    pt.read_and_clear_dirty(0, 16 * K4, true, &mut bm, g)
        .unwrap();
    assert!(bm.test(3 * K4) && !bm.test(2 * K4));
    let mut bm = DirtyBitmap::new(0, 12, 64);
    let g = &mut Gather::new();
    pt.read_and_clear_dirty(0, 16 * K4, false, &mut bm, g)
        .unwrap();
    assert!(bm.test(3 * K4));
    assert_eq!(g.range(), Some((3 * K4, 4 * K4 - 1)));
    let mut bm = DirtyBitmap::new(0, 12, 64);
    pt.read_and_clear_dirty(0, 16 * K4, false, &mut bm, g)
        .unwrap();
    assert_eq!(bm.bits[0], 0);
    assert_eq!(
        err(x86().read_and_clear_dirty(0, K4, false, &mut bm, g)),
        errno::EOPNOTSUPP
    );
}
