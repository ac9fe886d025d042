//! The per-context object table (`drivers/iommu/iommufd/main.c`: the `objects` xarray).
//!
//! - IDs are the lowest free value from 1, at most `i32::MAX` (`xa_limit_31b`); a full table is
//!   `EBUSY`, as `xa_alloc` reports.
//! - An ID is reserved before its object exists ([`ObjectTable::reserve`]) so that a command can
//!   report it to the caller first; until [`Pending::finalize`] no lookup finds it, and dropping
//!   the reservation frees the ID (`iommufd_object_abort`).
//! - `users` counts the table itself plus every holder of an [`ObjRef`]: lookups for the length of
//!   a command and long-term references such as a HWPT's on its IOAS. Removal succeeds only when
//!   the table holds the last one; otherwise `EBUSY`.
//! - A removed object can leave a tombstone: its ID stays taken but finds nothing
//!   (`REMOVE_OBJ_TOMBSTONE`).

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::ops::Deref;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use uiommu_uapi::{Errno, errno::Result};

/// The largest object ID (`xa_limit_31b`).
pub const MAX_OBJECT_ID: u32 = i32::MAX as u32;

/// An entry of a table: an object's ID, its users count and what it is.
#[derive(Debug)]
pub struct Entry<B: ?Sized> {
    id: u32,
    users: AtomicU32,
    body: B,
}

impl<B: ?Sized> Entry<B> {
    /// The object's ID.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// What the object is.
    pub fn body(&self) -> &B {
        &self.body
    }

    /// The current users count (1 = only the table).
    pub fn users(&self) -> u32 {
        self.users.load(Ordering::Acquire)
    }
}

/// A counted reference to a live object: one of its `users`.
#[derive(Debug)]
pub struct ObjRef<B: ?Sized> {
    obj: Arc<Entry<B>>,
}

impl<B: ?Sized> ObjRef<B> {
    fn new(obj: &Arc<Entry<B>>) -> Self {
        obj.users.fetch_add(1, Ordering::AcqRel);
        ObjRef {
            obj: Arc::clone(obj),
        }
    }

    /// The object's ID.
    pub fn id(&self) -> u32 {
        self.obj.id
    }

    /// The object's users count, this reference included.
    pub fn users(&self) -> u32 {
        self.obj.users()
    }

    /// Whether both refer to the same object.
    pub fn same(&self, other: &ObjRef<B>) -> bool {
        Arc::ptr_eq(&self.obj, &other.obj)
    }
}

impl<B: ?Sized> ObjRef<B> {
    /// A reference that does not count as a user (the kernel's plain pointers on lists).
    pub fn downgrade(&self) -> WeakObj<B> {
        WeakObj {
            obj: Arc::downgrade(&self.obj),
        }
    }
}

/// A non-counting reference to an object, upgraded only while the object is live.
#[derive(Debug)]
pub struct WeakObj<B: ?Sized> {
    obj: std::sync::Weak<Entry<B>>,
}

impl<B: ?Sized> Clone for WeakObj<B> {
    fn clone(&self) -> Self {
        WeakObj {
            obj: self.obj.clone(),
        }
    }
}

impl<B: ?Sized> WeakObj<B> {
    /// A counted reference, unless the object has been removed (`iommufd_lock_obj`: users is
    /// zero once the table let go).
    pub fn upgrade(&self) -> Option<ObjRef<B>> {
        let obj = self.obj.upgrade()?;
        obj.users
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                (u != 0).then_some(u + 1)
            })
            .ok()?;
        Some(ObjRef { obj })
    }

    /// Whether both refer to the same object.
    pub fn ptr_eq(&self, other: &ObjRef<B>) -> bool {
        std::ptr::addr_eq(self.obj.as_ptr(), Arc::as_ptr(&other.obj))
    }
}

impl<B: ?Sized> Clone for ObjRef<B> {
    fn clone(&self) -> Self {
        ObjRef::new(&self.obj)
    }
}

impl<B: ?Sized> Drop for ObjRef<B> {
    fn drop(&mut self) {
        self.obj.users.fetch_sub(1, Ordering::AcqRel);
    }
}

impl<B: ?Sized> Deref for ObjRef<B> {
    type Target = B;
    fn deref(&self) -> &B {
        &self.obj.body
    }
}

/// The body of an object of any kind: what a holder that must not know the kinds keeps (an
/// mmap region's owner, a driver's hold on a HW queue of its vIOMMU).
pub trait AnyBody: Any + Send + Sync + Debug {}

impl<T: Any + Send + Sync + Debug> AnyBody for T {}

/// A counted reference to an object of any kind.
pub type AnyObjRef = ObjRef<dyn AnyBody>;

/// A non-counting reference to an object of any kind.
pub type AnyWeakObj = WeakObj<dyn AnyBody>;

impl<B: AnyBody> ObjRef<B> {
    /// Another counted reference to the object, of no kind.
    pub fn erase(&self) -> AnyObjRef {
        let obj: Arc<Entry<dyn AnyBody>> = self.obj.clone();
        ObjRef::new(&obj)
    }
}

#[derive(Debug)]
enum Slot<B> {
    /// Reserved by a command that has not finished (`XA_ZERO_ENTRY` before finalize).
    Pending,
    /// Removed, ID kept (`XA_ZERO_ENTRY` after a tombstoning removal).
    Tombstone,
    Live(Arc<Entry<B>>),
}

#[derive(Debug)]
struct Slots<B> {
    slots: BTreeMap<u32, Slot<B>>,
    /// IDs below `next_unused` that are free again.
    freed: BTreeSet<u32>,
    /// The lowest ID never handed out.
    next_unused: u32,
}

/// The objects of one context.
#[derive(Debug)]
pub struct ObjectTable<B> {
    inner: Mutex<Slots<B>>,
}

impl<B> Default for ObjectTable<B> {
    fn default() -> Self {
        ObjectTable {
            inner: Mutex::new(Slots {
                slots: BTreeMap::new(),
                freed: BTreeSet::new(),
                next_unused: 1,
            }),
        }
    }
}

/// A reserved ID whose object is being built.
#[derive(Debug)]
#[must_use = "dropping a reservation frees its ID"]
pub struct Pending<'t, B> {
    table: &'t ObjectTable<B>,
    id: u32,
}

impl<'t, B> Pending<'t, B> {
    /// The reserved ID, which the command may already report.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Publishes the object (`iommufd_object_finalize`) and returns a reference to it.
    pub fn finalize(self, body: B) -> ObjRef<B> {
        self.prepare(body).finalize()
    }

    /// Builds the object without publishing it: references to it can be taken (the kernel
    /// counts users of objects it has not finalized yet, e.g. a HWPT attached while it is
    /// being allocated), but no lookup finds it until [`Prepared::finalize`].
    pub fn prepare(self, body: B) -> Prepared<'t, B> {
        let obj = Arc::new(Entry {
            id: self.id,
            users: AtomicU32::new(1),
            body,
        });
        Prepared { pending: self, obj }
    }
}

/// A built, unpublished object. Dropping it frees the ID; the body goes with the last
/// reference (`iommufd_object_abort_and_destroy`).
#[derive(Debug)]
#[must_use = "dropping a prepared object aborts it"]
pub struct Prepared<'t, B> {
    pending: Pending<'t, B>,
    obj: Arc<Entry<B>>,
}

impl<B> Prepared<'_, B> {
    /// The reserved ID.
    pub fn id(&self) -> u32 {
        self.pending.id
    }

    /// A counted reference, before publication.
    pub fn obj_ref(&self) -> ObjRef<B> {
        ObjRef::new(&self.obj)
    }

    /// Publishes the object.
    pub fn finalize(self) -> ObjRef<B> {
        let Prepared { pending, obj } = self;
        let r = ObjRef::new(&obj);
        pending
            .table
            .lock()
            .slots
            .insert(pending.id, Slot::Live(obj));
        std::mem::forget(pending);
        r
    }
}

impl<B> Deref for Prepared<'_, B> {
    type Target = B;
    fn deref(&self) -> &B {
        &self.obj.body
    }
}

impl<B> Drop for Pending<'_, B> {
    fn drop(&mut self) {
        let mut t = self.table.lock();
        t.slots.remove(&self.id);
        t.free_id(self.id);
    }
}

impl<B> Slots<B> {
    /// Takes the live `obj` out if the table holds its only user (`refcount_dec_if_one`),
    /// leaving a tombstone or freeing its ID; `EBUSY` otherwise.
    fn take(&mut self, obj: Arc<Entry<B>>, tombstone: bool) -> Result<Arc<Entry<B>>> {
        if obj
            .users
            .compare_exchange(1, 0, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Err(Errno::EBUSY);
        }
        if tombstone {
            self.slots.insert(obj.id, Slot::Tombstone);
        } else {
            self.slots.remove(&obj.id);
            self.free_id(obj.id);
        }
        Ok(obj)
    }

    fn free_id(&mut self, id: u32) {
        self.freed.insert(id);
        // Keep `freed` small: collapse a free run at the top into `next_unused`.
        while let Some(&top) = self.freed.last() {
            if top + 1 != self.next_unused {
                break;
            }
            self.freed.pop_last();
            self.next_unused = top;
        }
    }
}

impl<B> ObjectTable<B> {
    fn lock(&self) -> MutexGuard<'_, Slots<B>> {
        // A panic while holding the lock cannot leave the map inconsistent (every update is a
        // single insert or remove), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reserves the lowest free ID (`_iommufd_object_alloc`).
    pub fn reserve(&self) -> Result<Pending<'_, B>> {
        // The object's allocation (`iommufd_object_alloc`).
        crate::fail_nth::alloc()?;
        let mut t = self.lock();
        let id = match t.freed.pop_first() {
            Some(id) => id,
            None if t.next_unused <= MAX_OBJECT_ID => {
                t.next_unused += 1;
                t.next_unused - 1
            }
            None => return Err(Errno::EBUSY),
        };
        t.slots.insert(id, Slot::Pending);
        Ok(Pending { table: self, id })
    }

    /// Looks up a live object that `matches` (`iommufd_get_object`); `ENOENT` otherwise.
    pub fn get(&self, id: u32, matches: impl FnOnce(&B) -> bool) -> Result<ObjRef<B>> {
        match self.lock().slots.get(&id) {
            Some(Slot::Live(obj)) if matches(&obj.body) => Ok(ObjRef::new(obj)),
            _ => Err(Errno::ENOENT),
        }
    }

    /// Removes object `id` if the table holds its only user (`iommufd_object_remove`):
    /// `ENOENT` if there is none, `EBUSY` if it is in use. The caller destroys what it returns.
    pub fn remove(&self, id: u32, tombstone: bool) -> Result<Arc<Entry<B>>> {
        let mut t = self.lock();
        let obj = match t.slots.get(&id) {
            Some(Slot::Live(obj)) => Arc::clone(obj),
            _ => return Err(Errno::ENOENT),
        };
        t.take(obj, tombstone)
    }

    /// Removes the object behind `r`, giving back the caller's reference under the table lock
    /// first, as the kernel does when a command destroys an object it holds: `EBUSY` if
    /// anyone else still uses it, `ENOENT` if it is no longer the object at that ID.
    pub fn remove_ref(&self, r: ObjRef<B>, tombstone: bool) -> Result<Arc<Entry<B>>> {
        let obj = Arc::clone(&r.obj);
        let mut t = self.lock();
        drop(r);
        match t.slots.get(&obj.id) {
            Some(Slot::Live(live)) if Arc::ptr_eq(live, &obj) => t.take(obj, tombstone),
            _ => Err(Errno::ENOENT),
        }
    }

    /// One pass of context teardown (`iommufd_fops_release`): removes every object whose only
    /// user is the table. Called until it returns nothing; leaves release inner objects.
    pub fn remove_leaves(&self) -> Vec<Arc<Entry<B>>> {
        let mut t = self.lock();
        let leaves: Vec<Arc<Entry<B>>> = t
            .slots
            .values()
            .filter_map(|s| match s {
                Slot::Live(obj) if obj.users.load(Ordering::Acquire) == 1 => Some(Arc::clone(obj)),
                _ => None,
            })
            .collect();
        leaves
            .into_iter()
            .filter_map(|obj| t.take(obj, false).ok())
            .collect()
    }

    /// IDs of live objects, in order.
    pub fn ids(&self) -> Vec<u32> {
        let t = self.lock();
        t.slots
            .iter()
            .filter(|(_, s)| matches!(s, Slot::Live(_)))
            .map(|(&id, _)| id)
            .collect()
    }

    /// Whether no ID is taken at all (live, pending or tombstone).
    pub fn is_empty(&self) -> bool {
        self.lock().slots.is_empty()
    }
}

#[cfg(test)]
mod tests;
