//! dma-buf imports: bounds, revocation in every domain of every IOAS, and what accesses and
//! cuts may not do (`iommufd_ioas.dmabuf_simple`, `dmabuf_revoke` and the kernel's checks).

use super::*;
use crate::test_dmabuf::TestDmaBuf;

const SIZE: u64 = 4 * PS;

fn buf() -> Arc<TestDmaBuf> {
    Arc::new(TestDmaBuf::new(SIZE).unwrap())
}

fn map(t: &IoPagetable, b: &Arc<TestDmaBuf>, iova: Iova, start: u64, len: u64) -> Result<u64> {
    let p = Proc::new(0);
    t.map_dmabuf(iova, b.clone(), start, len, RW, &p.owner)
}

#[test]
fn range_must_lie_inside_the_buffer() {
    let t = IoPagetable::new();
    let b = buf();
    assert_eq!(map(&t, &b, Iova::Auto, 0, 0), Err(Errno::EINVAL));
    assert_eq!(map(&t, &b, Iova::Auto, SIZE, SIZE), Err(Errno::EINVAL));
    assert_eq!(map(&t, &b, Iova::Auto, 0, SIZE + 1), Err(Errno::EINVAL));
    assert_eq!(map(&t, &b, Iova::Auto, u64::MAX, 2), Err(Errno::EOVERFLOW));
    assert!(t.areas().is_empty());
    let iova = map(&t, &b, Iova::Auto, PS, 2 * PS).unwrap();
    let a = t.areas();
    assert_eq!(
        (a[0].iova, a[0].length, a[0].addr),
        (iova, 2 * PS, b.addr() + PS)
    );
}

#[test]
fn nothing_is_pinned_or_charged() {
    let t = IoPagetable::new();
    let d = FakeDomain::any();
    t.add_domain(dyn_domain(&d)).unwrap();
    // A limit of zero pages: a user mapping could not be pinned at all.
    let p = Proc::new(0);
    let b = buf();
    let iova = t
        .map_dmabuf(Iova::Fixed(0x10_0000), b.clone(), 0, SIZE, RW, &p.owner)
        .unwrap();
    assert_eq!(d.runs(), vec![(iova, SIZE, b.addr())]);
    assert_eq!(p.vm.locked(), 0);
    assert_eq!(p.refs(b.addr()), 0);
    assert_eq!(t.unmap_all(), Ok(SIZE));
    assert!(d.runs().is_empty());
}

#[test]
fn revoke_unmaps_every_domain_for_good() {
    let t = IoPagetable::new();
    let (d1, d2) = (FakeDomain::any(), FakeDomain::any());
    t.add_domain(dyn_domain(&d1)).unwrap();
    let b = buf();
    let iova = map(&t, &b, Iova::Auto, 0, SIZE).unwrap();
    b.set_revoked(true);
    assert!(d1.runs().is_empty());
    // The area stays, mapping nothing, also in a domain attached later.
    assert_eq!(t.areas().len(), 1);
    t.add_domain(dyn_domain(&d2)).unwrap();
    assert!(d2.runs().is_empty());
    assert_eq!(map(&t, &b, Iova::Auto, 0, SIZE), Err(Errno::ENODEV));
    // Restoring the buffer serves new imports only.
    b.set_revoked(false);
    let iova2 = map(&t, &b, Iova::Auto, 0, SIZE).unwrap();
    for d in [&d1, &d2] {
        assert_eq!(d.runs(), vec![(iova2, SIZE, b.addr())]);
    }
    t.remove_domain(&dyn_domain(&d2));
    assert_eq!(t.unmap(iova, SIZE), Ok(SIZE));
    assert_eq!(map(&t, &b, Iova::Fixed(iova), 0, SIZE), Ok(iova));
    assert_eq!(d1.runs().len(), 2);
}

#[test]
fn any_invalidation_revokes_a_live_import() {
    let t = IoPagetable::new();
    let d = FakeDomain::any();
    t.add_domain(dyn_domain(&d)).unwrap();
    let b = buf();
    map(&t, &b, Iova::Auto, 0, SIZE).unwrap();
    b.set_revoked(false);
    assert!(d.runs().is_empty());
    assert_eq!(t.areas().len(), 1);
}

#[test]
fn revoke_reaches_copies_in_other_ioases() {
    let (t1, t2) = (IoPagetable::new(), IoPagetable::new());
    let (d1, d2) = (FakeDomain::any(), FakeDomain::any());
    t1.add_domain(dyn_domain(&d1)).unwrap();
    t2.add_domain(dyn_domain(&d2)).unwrap();
    let b = buf();
    let iova = map(&t1, &b, Iova::Auto, 0, SIZE).unwrap();
    let copied = t2.copy(&t1, iova + PS, PS, Iova::Auto, RW).unwrap();
    assert_eq!(d2.runs(), vec![(copied, PS, b.addr() + PS)]);
    b.set_revoked(true);
    assert!(d1.runs().is_empty() && d2.runs().is_empty());
    // A copy of a revoked import is revoked too.
    let again = t2.copy(&t1, iova, SIZE, Iova::Auto, RW).unwrap();
    assert!(d2.runs().is_empty());
    assert_eq!(t2.unmap(again, SIZE), Ok(SIZE));
}

#[test]
fn accesses_and_cuts_are_refused() {
    let t = IoPagetable::new();
    let b = buf();
    let iova = map(&t, &b, Iova::Fixed(0x10_0000), 0, SIZE).unwrap();
    assert_eq!(t.access_pin(iova, PS, false, false), Err(Errno::EINVAL));
    let mut bytes = [0u8; 8];
    let p = Proc::new(0);
    assert_eq!(
        t.access_rw(iova, &mut bytes, AccessFlags::default(), p.mem.as_ref()),
        Err(Errno::EINVAL)
    );
    assert_eq!(t.cut_iova(&[iova + PS - 1]), Err(Errno::EOPNOTSUPP));
    // Cutting at an end is no cut.
    assert_eq!(t.cut_iova(&[iova + SIZE - 1]), Ok(()));
    assert_eq!(t.areas().len(), 1);
}

#[test]
fn revoke_racing_maps_and_domains_leaves_no_mapping() {
    for _ in 0..50 {
        let t = Arc::new(IoPagetable::new());
        let d = FakeDomain::any();
        let b = buf();
        let mapper = {
            let (t, b, d) = (t.clone(), b.clone(), d.clone());
            std::thread::spawn(move || {
                for i in 0..20 {
                    let _ = map(&t, &b, Iova::Auto, 0, SIZE);
                    if i % 4 == 0 {
                        let _ = t.add_domain(dyn_domain(&d));
                    }
                    if i % 7 == 0 {
                        t.remove_domain(&dyn_domain(&d));
                    }
                }
            })
        };
        b.set_revoked(true);
        mapper.join().unwrap();
        // Every import made before the revoke was unmapped, every later one refused.
        assert!(d.runs().is_empty(), "{:?}", d.runs());
    }
}
