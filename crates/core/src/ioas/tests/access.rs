//! Accesses: pin, unpin, rw, and the unmap notification.

use super::*;
use std::sync::Weak;

/// A selftest-like access: remembers what it pinned and unpins what an unmap touches.
struct Staccess {
    iopt: Weak<IoPagetable>,
    items: Mutex<Vec<(u64, u64)>>,
    /// When false the access ignores unmap requests.
    cooperative: bool,
    calls: Mutex<u32>,
}

impl AccessNotify for Staccess {
    fn unmap(&self, iova: u64, length: u64) {
        *self.calls.lock().unwrap() += 1;
        if !self.cooperative {
            return;
        }
        let Some(t) = self.iopt.upgrade() else { return };
        let last = iova + (length - 1);
        self.items.lock().unwrap().retain(|&(i, l)| {
            let hit = !(iova > i + l - 1 || last < i);
            if hit {
                t.access_unpin(i, l, false);
            }
            !hit
        });
    }
}

fn access(t: &Arc<IoPagetable>, cooperative: bool) -> (Arc<Staccess>, AccessId) {
    let s = Arc::new(Staccess {
        iopt: Arc::downgrade(t),
        items: Mutex::default(),
        cooperative,
        calls: Mutex::default(),
    });
    let weak: Weak<dyn AccessNotify> = Arc::downgrade(&(s.clone() as Arc<dyn AccessNotify>));
    let id = t.add_access(weak, PS, false).unwrap();
    (s, id)
}

fn pin(t: &IoPagetable, s: &Staccess, iova: u64, len: u64) -> uiommu_uapi::errno::Result<Vec<u64>> {
    let r = t.access_pin(iova, len, false, false)?;
    s.items.lock().unwrap().push((iova, len));
    Ok(r)
}

#[test]
fn pin_and_unpin_without_a_domain() {
    let t = Arc::new(IoPagetable::new());
    let p = Proc::new(1 << 20);
    let (s, _id) = access(&t, true);
    assert_eq!(t.iova_alignment(), PS);
    let base = 0x100_0000;
    t.map_user(Iova::Fixed(base), BUF, 8 * PS, RW, &p.owner)
        .unwrap();
    assert_eq!(
        pin(&t, &s, base + PS, 2 * PS),
        Ok(vec![BUF + PS, BUF + 2 * PS])
    );
    assert_eq!((p.refs(BUF + PS), p.refs(BUF), p.vm.locked()), (1, 0, 2));
    // Double user of the same range: one pin.
    pin(&t, &s, base + PS, 2 * PS).unwrap();
    assert_eq!(p.vm.locked(), 2);
    // A domain added and removed under an access keeps the access's pins.
    let d = FakeDomain::any();
    t.add_domain(dyn_domain(&d)).unwrap();
    assert_eq!((p.refs(BUF + PS), p.vm.locked()), (1, 8));
    t.remove_domain(&dyn_domain(&d));
    assert_eq!(p.vm.locked(), 2);
    t.access_unpin(base + PS, 2 * PS, false);
    assert_eq!(p.vm.locked(), 2);
    t.access_unpin(base + PS, 2 * PS, false);
    assert_eq!((p.refs(BUF + PS), p.vm.locked()), (0, 0));
}

#[test]
fn pin_errors() {
    let t = Arc::new(IoPagetable::new());
    let p = Proc::new(1 << 20);
    let (s, _id) = access(&t, true);
    let base = 0x100_0000;
    t.map_user(Iova::Fixed(base), BUF, 2 * PS, RO, &p.owner)
        .unwrap();
    t.map_user(Iova::Fixed(base + 2 * PS), BUF, 2 * PS, RW, &p.owner)
        .unwrap();
    assert_eq!(t.access_pin(base, 0, false, false), Err(Errno::EINVAL));
    assert_eq!(
        t.access_pin(u64::MAX, 2, false, false),
        Err(Errno::EOVERFLOW)
    );
    assert_eq!(
        t.access_pin(base - PS, PS, false, false),
        Err(Errno::ENOENT)
    );
    assert_eq!(
        t.access_pin(base + 2 * PS, 4 * PS, false, false),
        Err(Errno::ENOENT)
    );
    assert_eq!(t.access_pin(base, 2 * PS, true, false), Err(Errno::EPERM));
    // The second area is writable, but the walk fails at the first one and keeps nothing.
    assert_eq!(t.access_pin(base, 4 * PS, true, false), Err(Errno::EPERM));
    assert_eq!(p.vm.locked(), 0);
    // Spanning two areas works and needs page alignment.
    assert_eq!(pin(&t, &s, base + PS, 2 * PS).unwrap().len(), 2);
    assert_eq!(p.vm.locked(), 2);
    assert_eq!(
        t.access_pin(base + 0x800, PS, false, false),
        Err(Errno::EINVAL)
    );
    // Unmapping an unaligned area in the IOAS is not our concern here; EFAULT when absent:
    let t2 = IoPagetable::new();
    t2.map_user(Iova::Fixed(0x1000), 0x7000_0000, PS, RW, &p.owner)
        .unwrap();
    assert_eq!(t2.access_pin(0x1000, PS, false, false), Err(Errno::EFAULT));
}

#[test]
fn unmap_notifies_accesses_and_proceeds() {
    let t = Arc::new(IoPagetable::new());
    let p = Proc::new(1 << 20);
    let (s, _id) = access(&t, true);
    let base = 0x100_0000;
    t.map_user(Iova::Fixed(base), BUF, 8 * PS, RW, &p.owner)
        .unwrap();
    pin(&t, &s, base, 8 * PS).unwrap();
    assert_eq!(t.unmap(base, 8 * PS), Ok(8 * PS));
    assert!(s.items.lock().unwrap().is_empty());
    assert_eq!(*s.calls.lock().unwrap(), 1);
    assert_eq!((p.refs(BUF), p.vm.locked()), (0, 0));
}

#[test]
fn unresponsive_access_deadlocks_unmap() {
    let t = Arc::new(IoPagetable::new());
    let p = Proc::new(1 << 20);
    let (s, _id) = access(&t, false);
    t.map_user(Iova::Fixed(0x10_0000), BUF, PS, RW, &p.owner)
        .unwrap();
    pin(&t, &s, 0x10_0000, PS).unwrap();
    assert_eq!(t.unmap(0x10_0000, PS), Err(Errno::EDEADLK));
    assert_eq!(*s.calls.lock().unwrap(), 101);
    // The area refuses new pins and rw while the unmap is pending.
    assert_eq!(
        t.access_pin(0x10_0000, PS, false, false),
        Err(Errno::EINVAL)
    );
    let mut buf = [0u8; 4];
    let r = t.access_rw(0x10_0000, &mut buf, AccessFlags::default(), p.mem.as_ref());
    assert_eq!(r, Err(Errno::EINVAL));
    t.access_unpin(0x10_0000, PS, false);
    assert_eq!(t.unmap(0x10_0000, PS), Ok(PS));
}

#[test]
fn internal_access_locks_the_area() {
    let t = Arc::new(IoPagetable::new());
    let p = Proc::new(1 << 20);
    let weak: Weak<dyn AccessNotify> = Weak::<Staccess>::new();
    let id = t.add_access(weak, PS, true).unwrap();
    t.map_user(Iova::Fixed(0x10_0000), BUF, PS, RW, &p.owner)
        .unwrap();
    t.access_pin(0x10_0000, PS, true, true).unwrap();
    assert_eq!(t.unmap(0x10_0000, PS), Err(Errno::EBUSY));
    assert_eq!(t.unmap_all(), Err(Errno::EBUSY));
    t.access_unpin(0x10_0000, PS, true);
    t.remove_access(id);
    assert_eq!(t.iova_alignment(), 1);
    assert_eq!(t.unmap_all(), Ok(PS));
}

#[test]
fn remove_access_unmaps_everything_it_holds() {
    let t = Arc::new(IoPagetable::new());
    let p = Proc::new(1 << 20);
    let (s, id) = access(&t, true);
    t.map_user(Iova::Fixed(0x10_0000), BUF, PS, RW, &p.owner)
        .unwrap();
    pin(&t, &s, 0x10_0000, PS).unwrap();
    t.remove_access(id);
    assert_eq!(p.vm.locked(), 0);
    assert_eq!(t.iova_alignment(), 1);
}

#[test]
fn access_rw_paths() {
    let t = Arc::new(IoPagetable::new());
    let p = Proc::new(1 << 20);
    let (_s, _id) = access(&t, true);
    let data: Vec<u8> = (0..2 * PS).map(|i| (i * 7) as u8).collect();
    p.mem.put(BUF, &data);
    let iova = 0x100_0000 + 0x800;
    t.remove_access(_id);
    t.map_user(Iova::Fixed(iova), BUF, 2 * PS, RW, &p.owner)
        .unwrap();
    for slow_path in [false, true] {
        let flags = AccessFlags {
            write: false,
            slow_path,
        };
        for start in [PS - 50, PS - 1, PS, PS + 7] {
            for len in [1usize, 13, 63, 100] {
                let mut buf = vec![0u8; len];
                t.access_rw(iova + start, &mut buf, flags, p.mem.as_ref())
                    .unwrap();
                assert_eq!(&buf[..], &data[start as usize..start as usize + len]);
                let mut w: Vec<u8> = (0..len).map(|i| (i as u8) ^ 0x5a).collect();
                let wflags = AccessFlags {
                    write: true,
                    slow_path,
                };
                t.access_rw(iova + start, &mut w, wflags, p.mem.as_ref())
                    .unwrap();
                assert_eq!(p.mem.get(BUF + start, len), w);
                p.mem.put(BUF, &data);
            }
        }
    }
    let mut whole = vec![0u8; 2 * PS as usize];
    t.access_rw(iova, &mut whole, AccessFlags::default(), p.mem.as_ref())
        .unwrap();
    assert_eq!(whole, data);
    // Errors.
    let mut empty = [];
    assert_eq!(
        t.access_rw(iova, &mut empty, AccessFlags::default(), p.mem.as_ref()),
        Err(Errno::EINVAL)
    );
    let mut b = [0u8; 8];
    assert_eq!(
        t.access_rw(iova - 4, &mut b, AccessFlags::default(), p.mem.as_ref()),
        Err(Errno::ENOENT)
    );
    assert_eq!(
        t.access_rw(
            iova + 2 * PS - 4,
            &mut b,
            AccessFlags::default(),
            p.mem.as_ref()
        ),
        Err(Errno::ENOENT)
    );
    t.map_user(Iova::Fixed(0x200_0000), BUF, PS, RO, &p.owner)
        .unwrap();
    let w = AccessFlags {
        write: true,
        slow_path: false,
    };
    assert_eq!(
        t.access_rw(0x200_0000, &mut b, w, p.mem.as_ref()),
        Err(Errno::EPERM)
    );
    t.map_user(Iova::Fixed(0x300_0000), 0x7000_0000, PS, RW, &p.owner)
        .unwrap();
    assert_eq!(
        t.access_rw(0x300_0000, &mut b, AccessFlags::default(), p.mem.as_ref()),
        Err(Errno::EFAULT)
    );
}

#[test]
fn access_read_to_copies_into_the_caller_buffer_or_leaves_it() {
    let t = Arc::new(IoPagetable::new());
    let p = Proc::new(1 << 20);
    let data: Vec<u8> = (0..2 * PS).map(|i| (i * 3) as u8).collect();
    p.mem.put(BUF, &data);
    let iova = 0x100_0000;
    t.map_user(Iova::Fixed(iova), BUF, 2 * PS, RW, &p.owner)
        .unwrap();
    let ubuf = BUF + 4 * PS;
    for slow_path in [false, true] {
        let flags = AccessFlags {
            write: false,
            slow_path,
        };
        t.access_read_to(iova + 5, PS + 11, ubuf, flags, p.mem.as_ref())
            .unwrap();
        assert_eq!(
            p.mem.get(ubuf, (PS + 11) as usize),
            data[5..(PS + 16) as usize]
        );
    }
    // A range running past the mapping: ENOENT, and the caller's buffer untouched.
    p.mem.put(ubuf, &vec![0xee; 2 * PS as usize]);
    assert_eq!(
        t.access_read_to(
            iova + PS,
            2 * PS,
            ubuf,
            AccessFlags::default(),
            p.mem.as_ref()
        ),
        Err(Errno::ENOENT)
    );
    assert_eq!(
        p.mem.get(ubuf, 2 * PS as usize),
        vec![0xee; 2 * PS as usize]
    );
    // A caller buffer that is not there: EFAULT.
    assert_eq!(
        t.access_read_to(iova, 8, 0x10, AccessFlags::default(), p.mem.as_ref()),
        Err(Errno::EFAULT)
    );
}
