use super::*;
use proptest::prelude::*;

#[test]
fn ids_are_lowest_free_from_one() {
    let t = ObjectTable::<&str>::default();
    let a = t.reserve().unwrap().finalize("a");
    let b = t.reserve().unwrap().finalize("b");
    let c = t.reserve().unwrap().finalize("c");
    assert_eq!((a.id(), b.id(), c.id()), (1, 2, 3));
    drop((a, b, c));
    t.remove(2, false).unwrap();
    assert_eq!(t.reserve().unwrap().finalize("d").id(), 2);
    assert_eq!(t.reserve().unwrap().finalize("e").id(), 4);
}

#[test]
fn pending_ids_are_invisible_and_freed_on_abort() {
    let t = ObjectTable::<u8>::default();
    let p = t.reserve().unwrap();
    assert_eq!(p.id(), 1);
    assert_eq!(t.get(1, |_| true).err(), Some(Errno::ENOENT));
    assert_eq!(t.remove(1, false).err(), Some(Errno::ENOENT));
    drop(p);
    assert!(t.is_empty());
    assert_eq!(t.reserve().unwrap().id(), 1);
}

#[test]
fn prepared_objects_take_references_before_publication() {
    let t = ObjectTable::<u8>::default();
    let p = t.reserve().unwrap().prepare(3);
    let early = p.obj_ref();
    assert_eq!((p.id(), *early, *p), (1, 3, 3));
    assert_eq!(
        t.get(1, |_| true).err(),
        Some(Errno::ENOENT),
        "not published yet"
    );
    let r = p.finalize();
    assert_eq!(r.id(), 1);
    drop((early, r));
    t.remove(1, false).unwrap();
    // Aborting frees the ID even while a reference is still held.
    let p = t.reserve().unwrap().prepare(4);
    let held = p.obj_ref();
    drop(p);
    assert!(t.is_empty());
    assert_eq!(*held, 4);
}

#[test]
fn busy_while_referenced_then_removable() {
    let t = ObjectTable::<u8>::default();
    let r = t.reserve().unwrap().finalize(7);
    assert_eq!(t.remove(1, false).err(), Some(Errno::EBUSY));
    let r2 = t.get(1, |&b| b == 7).unwrap();
    assert_eq!(*r2, 7);
    assert_eq!(
        t.get(1, |&b| b == 8).err(),
        Some(Errno::ENOENT),
        "type mismatch"
    );
    drop((r, r2));
    let obj = t.remove(1, false).unwrap();
    assert_eq!(*obj.body(), 7);
    assert_eq!(t.remove(1, false).err(), Some(Errno::ENOENT));
}

#[test]
fn remove_through_a_reference() {
    let t = ObjectTable::<u8>::default();
    let r = t.reserve().unwrap().finalize(1);
    let other = r.clone();
    assert_eq!(t.remove_ref(r, false).err(), Some(Errno::EBUSY));
    assert_eq!(other.users(), 2, "the caller's reference was given back");
    t.remove_ref(other, false).unwrap();
    assert!(t.is_empty());
}

#[test]
fn tombstones_keep_their_id() {
    let t = ObjectTable::<u8>::default();
    drop(t.reserve().unwrap().finalize(1));
    t.remove(1, true).unwrap();
    assert_eq!(t.get(1, |_| true).err(), Some(Errno::ENOENT));
    assert_eq!(t.remove(1, false).err(), Some(Errno::ENOENT));
    assert_eq!(t.reserve().unwrap().id(), 2);
}

#[test]
fn teardown_goes_leaves_first() {
    // 2 holds a reference on 1: the first pass can only take 2.
    #[derive(Debug)]
    enum Node {
        Leaf,
        Holds(#[allow(dead_code)] ObjRef<Node>),
    }
    let t = ObjectTable::<Node>::default();
    let one = t.reserve().unwrap().finalize(Node::Leaf);
    drop(t.reserve().unwrap().finalize(Node::Holds(one)));
    let first: Vec<u32> = t.remove_leaves().iter().map(|o| o.id()).collect();
    assert_eq!(first, [2]);
    let second: Vec<u32> = t.remove_leaves().iter().map(|o| o.id()).collect();
    assert_eq!(second, [1]);
    assert!(t.is_empty());
}

#[test]
fn weak_references_do_not_count_and_die_with_removal() {
    let t = ObjectTable::<u8>::default();
    let r = t.reserve().unwrap().finalize(5);
    let w = r.downgrade();
    assert!(w.ptr_eq(&r));
    drop(r);
    let up = w.upgrade().unwrap();
    assert_eq!(*up, 5);
    assert_eq!(t.remove(1, false).err(), Some(Errno::EBUSY));
    drop(up);
    t.remove(1, false).unwrap();
    assert!(w.upgrade().is_none());
}

#[derive(Debug, Clone)]
enum Op {
    Add,
    Abort,
    Remove(u32),
    Hold(u32),
    Release,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Add),
        1 => Just(Op::Abort),
        2 => (1u32..12).prop_map(Op::Remove),
        1 => (1u32..12).prop_map(Op::Hold),
        1 => Just(Op::Release),
    ]
}

proptest! {
    /// Against a model: a set of live IDs and a multiset of held references.
    #[test]
    fn matches_model(ops in prop::collection::vec(op(), 1..80)) {
        let t = ObjectTable::<u32>::default();
        let mut live = BTreeSet::new();
        let mut held: Vec<ObjRef<u32>> = Vec::new();
        for op in ops {
            match op {
                Op::Add => {
                    let want = (1..).find(|i| !live.contains(i)).unwrap();
                    let r = t.reserve().unwrap().finalize(want);
                    prop_assert_eq!(r.id(), want);
                    live.insert(want);
                }
                Op::Abort => {
                    let want = (1..).find(|i| !live.contains(i)).unwrap();
                    prop_assert_eq!(t.reserve().unwrap().id(), want);
                }
                Op::Remove(id) => {
                    let busy = held.iter().any(|r| r.id() == id);
                    let got = t.remove(id, false).map(|o| o.id());
                    let want = if !live.contains(&id) {
                        Err(Errno::ENOENT)
                    } else if busy {
                        Err(Errno::EBUSY)
                    } else {
                        Ok(id)
                    };
                    prop_assert_eq!(got, want);
                    if want.is_ok() {
                        live.remove(&id);
                    }
                }
                Op::Hold(id) => {
                    let got = t.get(id, |_| true);
                    prop_assert_eq!(got.is_ok(), live.contains(&id));
                    if let Ok(r) = got {
                        prop_assert_eq!(*r, id);
                        held.push(r);
                    }
                }
                Op::Release => drop(held.pop()),
            }
            prop_assert_eq!(t.ids(), live.iter().copied().collect::<Vec<_>>());
        }
    }
}
