//! Map, unmap, IOVA allocation, allowed and reserved ranges, copy.

use super::*;

fn setup() -> (IoPagetable, Proc) {
    (IoPagetable::new(), Proc::new(1 << 20))
}

#[test]
fn map_fixed_and_unmap_like_the_area_selftest() {
    let (t, p) = setup();
    let base = 0x40_0000;
    for i in 0..10 {
        assert_eq!(t.unmap(i * PS, PS), Err(Errno::ENOENT));
    }
    for i in 0..10 {
        let iova = base + i * PS;
        assert_eq!(
            t.map_user(Iova::Fixed(iova), BUF, PS, RW, &p.owner),
            Ok(iova)
        );
    }
    for i in 0..10 {
        assert_eq!(t.unmap(base + i * PS, PS), Ok(PS));
    }
    // Split fails.
    t.map_user(Iova::Fixed(base + 16 * PS), BUF, 2 * PS, RW, &p.owner)
        .unwrap();
    assert_eq!(t.unmap(base + 16 * PS, PS), Err(Errno::ENOENT));
    assert_eq!(t.unmap(base + 17 * PS, PS), Err(Errno::ENOENT));
    // Over map fails.
    for (off, len) in [(16, 2), (16, 1), (17, 1), (15, 2), (15, 3)] {
        assert_eq!(
            t.map_user(Iova::Fixed(base + off * PS), BUF, len * PS, RW, &p.owner),
            Err(Errno::EEXIST)
        );
    }
    assert_eq!(t.areas().len(), 1);
    assert_eq!(t.unmap(0, u64::MAX), Ok(2 * PS));
    assert_eq!(t.unmap(0, u64::MAX), Ok(0));
    assert_eq!(t.unmap_all(), Ok(0));
}

#[test]
fn unmap_fully_contained_areas() {
    let (t, p) = setup();
    let base = 0x40_0000 + 4 * PS;
    for i in 0..4 {
        t.map_user(Iova::Fixed(base + i * 16 * PS), BUF, 8 * PS, RW, &p.owner)
            .unwrap();
    }
    assert_eq!(t.unmap(base - 4 * PS, 8 * PS), Err(Errno::ENOENT));
    assert_eq!(
        t.unmap(base + 3 * 16 * PS + 4 * PS, 8 * PS),
        Err(Errno::ENOENT)
    );
    assert_eq!(t.areas().len(), 4);
    assert_eq!(t.unmap(base - 4 * PS, 3 * 16 * PS + 12 * PS), Ok(32 * PS));
    assert!(t.areas().is_empty());
}

#[test]
fn unmap_argument_errors() {
    let (t, _p) = setup();
    assert_eq!(t.unmap(1, u64::MAX), Err(Errno::EOVERFLOW));
    assert_eq!(t.unmap(u64::MAX, 1), Err(Errno::EOVERFLOW));
    assert_eq!(t.unmap(5, 0), Err(Errno::EINVAL));
    assert_eq!(t.unmap(u64::MAX - 1, 3), Err(Errno::EOVERFLOW));
    assert_eq!(t.unmap_iova(0x1000, 0x1000), Ok(0));
}

#[test]
fn map_errors_in_kernel_order() {
    let (t, p) = setup();
    let o = &p.owner;
    assert_eq!(
        t.map_user(Iova::Auto, u64::MAX - 1, 2, RW, o),
        Err(Errno::EOVERFLOW)
    );
    assert_eq!(t.map_user(Iova::Auto, BUF, 0, RW, o), Err(Errno::EINVAL));
    assert_eq!(
        t.map_user(Iova::Fixed(0), 0, u64::MAX - 100, RW, o),
        Err(Errno::EINVAL)
    );
    t.add_reserved(0x10_0000, PS).unwrap();
    assert_eq!(
        t.map_user(Iova::Fixed(0x10_0000), BUF, PS, RW, o),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        t.map_user(Iova::Fixed(u64::MAX - 10), BUF, PS, RW, o),
        Err(Errno::EOVERFLOW)
    );
    // Auto: length of half the space.
    assert_eq!(
        t.map_user(Iova::Auto, 0, u64::MAX / 2, RW, o),
        Err(Errno::EOVERFLOW)
    );
    assert!(t.areas().is_empty());
    assert_eq!(p.vm.locked(), 0);
}

#[test]
fn auto_iova_alignment_follows_length_and_address() {
    let (t, p) = setup();
    // Lengths up to 10 pages at an address aligned to 2 GiB (as area_auto_iova without a
    // domain): IOVA aligned to the length's lowest set bit at least.
    let mut iovas = Vec::new();
    for i in 1..=10u64 {
        let len = PS * i;
        let iova = t.map_user(Iova::Auto, 1 << 31, len, RW, &p.owner).unwrap();
        assert_eq!(iova % (1 << len.trailing_zeros()), 0);
        assert_ne!(iova, 0);
        iovas.push((iova, len));
    }
    for (iova, len) in iovas {
        t.unmap(iova, len).unwrap();
    }
    // A reserved range is avoided.
    t.add_reserved(4 * PS, 100 * PS).unwrap();
    for i in 1..=10u64 {
        let len = PS * i;
        let iova = t.map_user(Iova::Auto, BUF, len, RW, &p.owner).unwrap();
        assert!(!(iova > 4 * PS && iova < 104 * PS));
        assert!(iova + len <= 4 * PS || iova >= 104 * PS);
    }
    // The in-page offset of the address is kept and the lowest fit is chosen.
    let t2 = IoPagetable::new();
    assert_eq!(
        t2.map_user(Iova::Auto, BUF + 0x800, 0x800, RW, &p.owner),
        Ok(PS + 0x800)
    );
    assert_eq!(t2.map_user(Iova::Auto, BUF, PS, RW, &p.owner), Ok(2 * PS));
    // Every length from 1 works without a domain (ioas_iova_alloc).
    for len in 1..2 * PS {
        let iova = t2.map_user(Iova::Auto, BUF, len, RW, &p.owner).unwrap();
        t2.unmap(iova, len).unwrap();
    }
}

#[test]
fn auto_iova_enospc_like_reserved_overflow() {
    let (t, p) = setup();
    t.add_reserved(6, 0xffff_ffff_ffff_8001).unwrap();
    assert_eq!(
        t.map_user(Iova::Auto, BUF, 0x5000, RW, &p.owner),
        Err(Errno::ENOSPC)
    );
    assert_eq!(t.add_reserved(1, 0), Err(Errno::EINVAL));
    assert_eq!(t.add_reserved(2, u64::MAX), Err(Errno::EOVERFLOW));
}

#[test]
fn auto_iova_below_the_ioas_alignment_is_einval() {
    let (t, p) = setup();
    t.add_domain(dyn_domain(&FakeDomain::any())).unwrap();
    assert_eq!(t.iova_alignment(), PS);
    // The address is only 2 KiB aligned, so the preferred alignment is below PAGE_SIZE.
    assert_eq!(
        t.map_user(Iova::Auto, BUF + 0x800, PS, RW, &p.owner),
        Err(Errno::EINVAL)
    );
    // A length that is not aligned is refused first.
    assert_eq!(
        t.map_user(Iova::Auto, BUF, 100, RW, &p.owner),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        t.map_user(Iova::Fixed(0x800), BUF, PS, RW, &p.owner),
        Err(Errno::EINVAL)
    );
    assert!(t.areas().is_empty());
}

#[test]
fn allowed_ranges() {
    let (t, p) = setup();
    assert_eq!(t.set_allow_iovas(&[(5, 5)]), Err(Errno::EINVAL));
    assert_eq!(t.set_allow_iovas(&[(0, 10), (10, 20)]), Err(Errno::EINVAL));
    t.add_reserved(4 * PS, 100 * PS).unwrap();
    assert_eq!(t.set_allow_iovas(&[(PS, 600 * PS)]), Err(Errno::EADDRINUSE));
    assert!(t.allowed_iovas().is_empty());
    let (lo, hi) = (200 * PS, 600 * PS - 1);
    t.set_allow_iovas(&[(lo, hi)]).unwrap();
    for i in 1..=10u64 {
        let len = PS * i;
        let iova = t.map_user(Iova::Auto, BUF, len, RW, &p.owner).unwrap();
        assert!(iova >= lo && iova + len - 1 <= hi);
        assert_eq!(iova % (1 << len.trailing_zeros()), 0);
    }
    // Fixed maps ignore the allowed ranges.
    t.map_user(Iova::Fixed(0x1000_0000), BUF, PS, RW, &p.owner)
        .unwrap();
    // A reservation over an allowed range is refused.
    assert_eq!(t.reserve(lo + PS, lo + 2 * PS, 7), Err(Errno::EADDRINUSE));
    // Over an area too.
    assert_eq!(
        t.reserve(0x1000_0000, 0x1000_0000, 7),
        Err(Errno::EADDRINUSE)
    );
    // Adjacent allowed ranges form one span.
    t.set_allow_iovas(&[]).unwrap();
    t.set_allow_iovas(&[(0x2000_0000, 0x2000_0fff), (0x2000_1000, 0x2000_1fff)])
        .unwrap();
    assert_eq!(t.allowed_iovas(), vec![(0x2000_0000, 0x2000_1fff)]);
    assert_eq!(
        t.map_user(Iova::Auto, BUF, 2 * PS, RW, &p.owner),
        Ok(0x2000_0000)
    );
    assert_eq!(
        t.map_user(Iova::Auto, BUF, PS, RW, &p.owner),
        Err(Errno::ENOSPC)
    );
}

#[test]
fn iova_ranges_and_reservations() {
    let (t, _p) = setup();
    assert_eq!(t.iova_ranges(), vec![(0, u64::MAX)]);
    assert_eq!(t.iova_alignment(), 1);
    t.add_reserved(PS, PS).unwrap();
    assert_eq!(t.iova_ranges(), vec![(0, PS - 1), (2 * PS, u64::MAX)]);
    // Overlapping reservations are fine and stack.
    t.reserve(PS, 3 * PS - 1, 9).unwrap();
    assert_eq!(t.iova_ranges(), vec![(0, PS - 1), (3 * PS, u64::MAX)]);
    t.remove_reserved(9);
    assert_eq!(t.iova_ranges(), vec![(0, PS - 1), (2 * PS, u64::MAX)]);
    // reserve_all is all or nothing for its owner.
    t.set_allow_iovas(&[(0x10_0000, 0x10_ffff)]).unwrap();
    assert_eq!(
        t.reserve_all(&[(0x20_0000, 0x20_0fff), (0x10_0000, 0x10_0000)], 3),
        Err(Errno::EADDRINUSE)
    );
    assert_eq!(t.reserved_ranges(), vec![(PS, 2 * PS - 1)]);
}

#[test]
fn copy_shares_pages() {
    let (t, p) = setup();
    let d = FakeDomain::any();
    t.add_domain(dyn_domain(&d)).unwrap();
    let base = 0x40_0000;
    t.map_user(Iova::Fixed(base), BUF, PS, RW, &p.owner)
        .unwrap();
    assert_eq!(p.refs(BUF), 1);
    // Inside one IOAS.
    assert_eq!(
        t.copy(&t, base, PS, Iova::Fixed(base + PS), RW),
        Ok(base + PS)
    );
    assert_eq!(p.refs(BUF), 1);
    // Between IOASes.
    let t2 = IoPagetable::new();
    let d2 = FakeDomain::any();
    t2.add_domain(dyn_domain(&d2)).unwrap();
    let iova = t2.copy(&t, base, 2 * PS, Iova::Auto, RW).unwrap();
    assert_eq!(t2.areas().len(), 2);
    assert_eq!(p.refs(BUF), 1);
    assert_eq!(p.vm.locked(), 1);
    check_domain_matches(&t2, &d2);
    // A second map of the same buffer pins again.
    t2.map_user(Iova::Auto, BUF, PS, RW, &p.owner).unwrap();
    assert_eq!(p.refs(BUF), 2);
    // The source can go; the copy keeps the pages pinned.
    t.unmap_all().unwrap();
    assert_eq!(p.refs(BUF), 2);
    t2.unmap(iova, 2 * PS).unwrap();
    assert_eq!(p.refs(BUF), 1);
    t2.unmap_all().unwrap();
    assert_eq!(p.refs(BUF), 0);
    assert_eq!(p.vm.locked(), 0);
}

#[test]
fn copy_errors() {
    let (t, p) = setup();
    t.map_user(Iova::Fixed(0x10_0000), BUF, 2 * PS, RO, &p.owner)
        .unwrap();
    t.map_user(Iova::Fixed(0x10_3000), BUF, PS, RO, &p.owner)
        .unwrap();
    let t2 = IoPagetable::new();
    assert_eq!(
        t2.copy(&t, 0x10_0000, 0, Iova::Auto, RO),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        t2.copy(&t, u64::MAX, 2, Iova::Auto, RO),
        Err(Errno::EOVERFLOW)
    );
    // A gap, or nothing mapped at the start.
    assert_eq!(
        t2.copy(&t, 0x10_0000, 4 * PS, Iova::Auto, RO),
        Err(Errno::ENOENT)
    );
    assert_eq!(
        t2.copy(&t, 0x0f_f000, PS, Iova::Auto, RO),
        Err(Errno::ENOENT)
    );
    // Writable copy of read-only pages.
    assert_eq!(
        t2.copy(&t, 0x10_0000, PS, Iova::Auto, RW),
        Err(Errno::EPERM)
    );
    assert!(t2.areas().is_empty());
    // Part of an area is fine.
    assert_eq!(
        t2.copy(&t, 0x10_1000, PS, Iova::Fixed(0x5000), RO),
        Ok(0x5000)
    );
    assert_eq!(t2.areas()[0].addr, BUF + PS);
}

#[test]
fn map_file_resolves_through_the_backing() {
    struct Memfd;
    impl FileBacking for Memfd {
        fn resolve(&self, offset: u64, len: u64) -> uiommu_uapi::errno::Result<u64> {
            if offset + len > 16 * PS {
                return Err(Errno::EINVAL);
            }
            Ok(BUF + offset)
        }
    }
    let (t, p) = setup();
    let f: Arc<dyn FileBacking> = Arc::new(Memfd);
    assert_eq!(
        t.map_file(Iova::Auto, f.clone(), 0, 0, RW, &p.owner),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        t.map_file(Iova::Auto, f.clone(), u64::MAX, 2, RW, &p.owner),
        Err(Errno::EOVERFLOW)
    );
    let iova = t
        .map_file(Iova::Auto, f.clone(), 2 * PS, 2 * PS, RW, &p.owner)
        .unwrap();
    assert_eq!(iova % (2 * PS), 0);
    assert_eq!(t.areas()[0].addr, BUF + 2 * PS);
    // Beyond the end of the file only fails once a domain needs the pages.
    t.map_file(Iova::Fixed(0x100_0000), f, 15 * PS, 2 * PS, RW, &p.owner)
        .unwrap();
    let d = FakeDomain::any();
    assert_eq!(t.add_domain(dyn_domain(&d)), Err(Errno::EINVAL));
    assert!(d.runs().is_empty());
    assert_eq!(p.refs(BUF + 2 * PS), 0);
    t.unmap(0x100_0000, 2 * PS).unwrap();
    t.add_domain(dyn_domain(&d)).unwrap();
    assert_eq!(p.refs(BUF + 2 * PS), 1);
    check_domain_matches(&t, &d);
}
