//! Domains, pinning, refs, accounting, huge pages, dirty tracking.

use super::*;
use crate::iommu::domain::DirtyRecorder;

#[test]
fn pins_only_with_a_domain_and_counts_refs() {
    let t = IoPagetable::new();
    let p = Proc::new(1 << 20);
    let base = 0x40_0000;
    t.map_user(Iova::Fixed(base), BUF, 4 * PS, RW, &p.owner)
        .unwrap();
    assert_eq!(p.refs(BUF), 0);
    assert_eq!(p.vm.locked(), 0);
    let d = FakeDomain::any();
    t.add_domain(dyn_domain(&d)).unwrap();
    assert_eq!(p.refs(BUF), 1);
    assert_eq!(p.vm.locked(), 4);
    check_domain_matches(&t, &d);
    // A second domain pins nothing more.
    let d2 = FakeDomain::any();
    t.add_domain(dyn_domain(&d2)).unwrap();
    assert_eq!((p.refs(BUF), p.vm.locked()), (1, 4));
    check_domain_matches(&t, &d2);
    // Two maps of the same buffer: two pins.
    t.map_user(Iova::Auto, BUF, 4 * PS, RW, &p.owner).unwrap();
    assert_eq!((p.refs(BUF + 3 * PS), p.vm.locked()), (2, 8));
    assert_eq!(p.refs(BUF + 4 * PS), 0);
    check_domain_matches(&t, &d);
    t.remove_domain(&dyn_domain(&d));
    assert!(d.runs().is_empty());
    assert_eq!(p.refs(BUF), 2);
    t.remove_domain(&dyn_domain(&d2));
    assert!(d2.runs().is_empty());
    assert_eq!((p.refs(BUF), p.vm.locked()), (0, 0));
    assert_eq!(t.domain_count(), 0);
}

#[test]
fn add_domain_errors_leave_everything_unchanged() {
    let t = IoPagetable::new();
    let p = Proc::new(1 << 20);
    let d = FakeDomain::any();
    t.add_domain(dyn_domain(&d)).unwrap();
    assert_eq!(t.add_domain(dyn_domain(&d)), Err(Errno::EEXIST));
    assert_eq!(
        t.add_domain(dyn_domain(&FakeDomain::new(2 * PS, (0, u64::MAX)))),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        t.add_domain(dyn_domain(&FakeDomain::new(0, (0, u64::MAX)))),
        Err(Errno::EINVAL)
    );
    t.remove_domain(&dyn_domain(&d));
    // Unaligned area vs a 2 KiB-page domain.
    t.map_user(Iova::Fixed(0x10_0400), BUF, 0x400, RW, &p.owner)
        .unwrap();
    assert_eq!(
        t.add_domain(dyn_domain(&FakeDomain::new(0x800, (0, u64::MAX)))),
        Err(Errno::EADDRINUSE)
    );
    t.unmap_all().unwrap();
    // Aperture over an area.
    t.map_user(Iova::Fixed(0x1000), BUF, PS, RW, &p.owner)
        .unwrap();
    let narrow = FakeDomain::new(0x800, (0x10_0000, 0xffff_ffff));
    assert_eq!(t.add_domain(dyn_domain(&narrow)), Err(Errno::EADDRINUSE));
    assert_eq!(t.iova_ranges(), vec![(0, u64::MAX)]);
    assert_eq!(t.iova_alignment(), 1);
    t.unmap_all().unwrap();
    // Aperture over an allowed range.
    t.set_allow_iovas(&[(0x1_0000_0000, 0x1_0000_ffff)])
        .unwrap();
    assert_eq!(t.add_domain(dyn_domain(&narrow)), Err(Errno::EADDRINUSE));
    assert_eq!(t.iova_ranges(), vec![(0, u64::MAX)]);
    t.set_allow_iovas(&[]).unwrap();
    t.add_domain(dyn_domain(&narrow)).unwrap();
    assert_eq!(t.iova_ranges(), vec![(0x10_0000, 0xffff_ffff)]);
    assert_eq!(t.iova_alignment(), 0x800);
    t.remove_domain(&dyn_domain(&narrow));
    assert_eq!(t.iova_ranges(), vec![(0, u64::MAX)]);
    assert_eq!(t.iova_alignment(), 1);
}

#[test]
fn fill_failures_roll_back() {
    let t = IoPagetable::new();
    let p = Proc::new(1 << 20);
    for i in 0..3 {
        t.map_user(
            Iova::Fixed(0x10_0000 + i * 0x10_000),
            BUF + i * PS,
            PS,
            RW,
            &p.owner,
        )
        .unwrap();
    }
    let d = FakeDomain::any();
    *d.fail_at.lock().unwrap() = Some(3);
    assert_eq!(t.add_domain(dyn_domain(&d)), Err(Errno::ENOMEM));
    assert!(d.runs().is_empty());
    assert_eq!((p.refs(BUF), p.vm.locked()), (0, 0));
    *d.fail_at.lock().unwrap() = None;
    t.add_domain(dyn_domain(&d)).unwrap();
    // A failing second domain on map: the new area is in neither.
    let d2 = FakeDomain::any();
    t.add_domain(dyn_domain(&d2)).unwrap();
    *d2.fail_at.lock().unwrap() = Some(4);
    assert_eq!(
        t.map_user(Iova::Auto, BUF + 8 * PS, PS, RW, &p.owner),
        Err(Errno::ENOMEM)
    );
    assert_eq!(t.areas().len(), 3);
    check_domain_matches(&t, &d);
    check_domain_matches(&t, &d2);
    assert_eq!((p.refs(BUF + 8 * PS), p.vm.locked()), (0, 3));
}

#[test]
fn pinning_faults_and_memlock_limit() {
    let t = IoPagetable::new();
    let p = Proc::new(6);
    t.add_domain(dyn_domain(&FakeDomain::any())).unwrap();
    // Absent memory.
    assert_eq!(
        t.map_user(Iova::Auto, 0x7000_0000, PS, RW, &p.owner),
        Err(Errno::EFAULT)
    );
    // Read-only memory can back a read-only mapping only.
    p.mem.map_readonly(0x8000_0000, PS);
    assert_eq!(
        t.map_user(Iova::Auto, 0x8000_0000, PS, RW, &p.owner),
        Err(Errno::EFAULT)
    );
    t.map_user(Iova::Auto, 0x8000_0000, PS, RO, &p.owner)
        .unwrap();
    assert_eq!(p.vm.locked(), 1);
    // The limit counts pages: 5 more fit, 6 do not, and a failure charges nothing.
    assert_eq!(
        t.map_user(Iova::Auto, BUF, 6 * PS, RW, &p.owner),
        Err(Errno::ENOMEM)
    );
    assert_eq!(p.vm.locked(), 1);
    assert_eq!(p.refs(BUF), 0);
    // A sub-page map at an offset still pins whole pages: 2 pages here.
    let iova = t.map_user(Iova::Auto, BUF + PS - 8, 16, RW, &p.owner);
    assert_eq!(
        iova,
        Err(Errno::EINVAL),
        "16 bytes are not PAGE_SIZE aligned with a domain"
    );
    t.map_user(Iova::Auto, BUF, 5 * PS, RW, &p.owner).unwrap();
    assert_eq!(p.vm.locked(), 6);
    t.unmap_all().unwrap();
    assert_eq!(p.vm.locked(), 0);
}

#[test]
fn sub_page_areas_pin_whole_pages() {
    let t = IoPagetable::new();
    let p = Proc::new(1 << 20);
    let iova = t
        .map_user(Iova::Auto, BUF + PS - 8, 16, RW, &p.owner)
        .unwrap();
    assert_eq!(iova % PS, PS - 8);
    t.add_domain(dyn_domain(&FakeDomain::new(1, (0, u64::MAX))))
        .unwrap();
    assert_eq!((p.refs(BUF), p.refs(BUF + PS), p.vm.locked()), (1, 1, 2));
}

#[test]
fn huge_pages_option() {
    let t = IoPagetable::new();
    let p = Proc::new(1 << 20);
    assert!(t.huge_pages());
    t.map_user(Iova::Fixed(0x10_0000), BUF, PS, RW, &p.owner)
        .unwrap();
    t.set_huge_pages(false).unwrap();
    assert_eq!(t.iova_alignment(), PS);
    assert_eq!(
        t.map_user(Iova::Fixed(0x10_1000), BUF + 0x800, PS, RW, &p.owner),
        Err(Errno::EINVAL)
    );
    t.set_huge_pages(false).unwrap();
    t.set_huge_pages(true).unwrap();
    assert_eq!(t.iova_alignment(), 1);
    t.map_user(Iova::Fixed(0x10_1000), BUF + 0x800, PS, RW, &p.owner)
        .unwrap();
    assert_eq!(t.set_huge_pages(false), Err(Errno::EADDRINUSE));
    assert!(t.huge_pages());
    t.unmap(0x10_1000, PS).unwrap();
    // With a domain and an area it cannot be disabled.
    let d = FakeDomain::any();
    t.add_domain(dyn_domain(&d)).unwrap();
    assert_eq!(t.set_huge_pages(false), Err(Errno::EINVAL));
    t.unmap_all().unwrap();
    t.set_huge_pages(false).unwrap();
    // Domains are then filled page by page.
    t.map_user(Iova::Fixed(0x20_0000), BUF, 4 * PS, RW, &p.owner)
        .unwrap();
    assert_eq!(d.maps.lock().unwrap().len(), 4);
    check_domain_matches(&t, &d);
}

struct Bits(Vec<(u64, u64)>);

impl DirtyRecorder for Bits {
    fn record(&mut self, iova: u64, length: u64) {
        self.0.push((iova, length));
    }
}

#[test]
fn dirty_tracking() {
    let t = IoPagetable::new();
    let p = Proc::new(1 << 20);
    let d = FakeDomain::any();
    t.add_domain(dyn_domain(&d)).unwrap();
    t.map_user(Iova::Fixed(0x10_0000), BUF, 4 * PS, RW, &p.owner)
        .unwrap();
    let mut b = Bits(Vec::new());
    assert_eq!(
        t.read_and_clear_dirty(d.as_ref(), 0x10_0000, 0, PS, false, &mut b),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        t.read_and_clear_dirty(d.as_ref(), u64::MAX, 2, PS, false, &mut b),
        Err(Errno::EOVERFLOW)
    );
    assert_eq!(
        t.read_and_clear_dirty(d.as_ref(), 0x10_0800, PS, PS, false, &mut b),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        t.read_and_clear_dirty(d.as_ref(), 0x10_0000, PS, 0, false, &mut b),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        t.read_and_clear_dirty(d.as_ref(), 0x10_0000, PS, 2 * PS, false, &mut b),
        Err(Errno::EINVAL)
    );
    d.dirty.lock().unwrap().push((0x10_0000, PS));
    t.set_dirty_tracking(d.as_ref(), true).unwrap();
    assert!(d.dirty.lock().unwrap().is_empty(), "enabling starts clean");
    d.dirty.lock().unwrap().push((0x10_0000 + PS, PS));
    t.read_and_clear_dirty(d.as_ref(), 0x10_0000, 4 * PS, PS, true, &mut b)
        .unwrap();
    assert_eq!(b.0, vec![(0x10_0000 + PS, PS)]);
    // Beyond the areas: no error, the walk just stops.
    t.read_and_clear_dirty(d.as_ref(), 0x10_0000, 8 * PS, PS, false, &mut b)
        .unwrap();
    assert!(d.dirty.lock().unwrap().is_empty());
    let plain = Arc::new(FakeDomain {
        dirty_ops: false,
        ..Arc::into_inner(FakeDomain::any()).unwrap()
    });
    assert_eq!(
        t.read_and_clear_dirty(plain.as_ref(), 0x10_0000, PS, PS, false, &mut b),
        Err(Errno::EOPNOTSUPP)
    );
    assert_eq!(
        t.set_dirty_tracking(plain.as_ref(), true),
        Err(Errno::EOPNOTSUPP)
    );
}

#[test]
fn cut_iova_for_vfio_compat() {
    let t = IoPagetable::new();
    let p = Proc::new(1 << 20);
    let d = FakeDomain::any();
    t.add_domain(dyn_domain(&d)).unwrap();
    t.map_user(Iova::Fixed(0x10_0000), BUF, 4 * PS, RW, &p.owner)
        .unwrap();
    // A domain may hold huge IOPTEs: no cut.
    assert_eq!(t.cut_iova(&[0x10_0000 + PS - 1]), Err(Errno::EINVAL));
    t.unmap_all().unwrap();
    t.set_huge_pages(false).unwrap();
    t.map_user(Iova::Fixed(0x10_0000), BUF, 4 * PS, RW, &p.owner)
        .unwrap();
    assert_eq!(t.cut_iova(&[0x10_0000 + PS - 0x801]), Err(Errno::EINVAL));
    // Cuts at the ends and outside areas are no-ops.
    t.cut_iova(&[0x10_0000, 0x10_0000 + 4 * PS - 1, 0x5000])
        .unwrap();
    assert_eq!(t.areas().len(), 1);
    t.cut_iova(&[0x10_0000 + 3 * PS - 1, 0x10_0000 + PS - 1])
        .unwrap();
    let areas: Vec<(u64, u64, u64)> = t
        .areas()
        .iter()
        .map(|a| (a.iova, a.length, a.addr))
        .collect();
    assert_eq!(
        areas,
        vec![
            (0x10_0000, PS, BUF),
            (0x10_1000, 2 * PS, BUF + PS),
            (0x10_3000, PS, BUF + 3 * PS)
        ]
    );
    assert_eq!((p.refs(BUF + PS), p.vm.locked()), (1, 4));
    assert_eq!(t.unmap(0x10_1000, 2 * PS), Ok(2 * PS));
    assert_eq!((p.refs(BUF + PS), p.refs(BUF), p.vm.locked()), (0, 1, 2));
    check_domain_matches(&t, &d);
}
