//! Threads mapping and unmapping on different IOASes and on disjoint ranges of one.

use super::*;
use std::thread;

#[test]
fn parallel_map_unmap() {
    let p = Arc::new(Proc::new(1 << 20));
    let shared = Arc::new(IoPagetable::new());
    shared.add_domain(dyn_domain(&FakeDomain::any())).unwrap();
    let mut handles = Vec::new();
    for t in 0..8u64 {
        let p = p.clone();
        let shared = shared.clone();
        handles.push(thread::spawn(move || {
            let own = IoPagetable::new();
            let d = FakeDomain::any();
            own.add_domain(dyn_domain(&d)).unwrap();
            let uva = BUF + t * 16 * PS;
            for i in 0..200u64 {
                let len = PS * (1 + i % 4);
                let iova = own.map_user(Iova::Auto, uva, len, RW, &p.owner).unwrap();
                let fixed = 0x1000_0000 * (t + 1) + (i % 8) * 0x10_0000;
                shared
                    .map_user(Iova::Fixed(fixed), uva, len, RW, &p.owner)
                    .unwrap();
                assert_eq!(shared.unmap(fixed, len), Ok(len));
                if i % 3 == 0 {
                    assert_eq!(own.unmap(iova, len), Ok(len));
                }
            }
            check_domain_matches(&own, &d);
            own.unmap_all().unwrap();
            assert!(d.runs().is_empty());
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    assert!(shared.areas().is_empty());
    assert_eq!(p.vm.locked(), 0);
    assert_eq!(p.refs(BUF), 0);
}

#[test]
fn shared_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<IoPagetable>();
    check::<PinOwner>();
    check::<PinRegistry>();
    check::<LockedVm>();
}
