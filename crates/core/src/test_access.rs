//! The selftest's access file (`selftest.c`: `struct selftest_access`): an access object driven
//! by `IOMMU_TEST_OP_CREATE_ACCESS`, `_ACCESS_PAGES`, `_ACCESS_RW`, `_DESTROY_ACCESS_PAGES` and
//! `_ACCESS_REPLACE_IOAS`, which keeps a list of pinned ranges and lets them go when told of an
//! unmap. The front end hands it to the caller as a file descriptor; closing that releases it.

use crate::access::{self, Access};
use crate::context::{Context, Handle, Kind};
use crate::ioas::{AccessFlags, AccessNotify, PAGE_SIZE};
use crate::object::Object;
use crate::object_table::ObjRef;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use uiommu_uapi::errno::Result;
use uiommu_uapi::{Errno, UserMemory};

#[derive(Debug, Clone, Copy)]
struct Item {
    iova: u64,
    length: u64,
    id: u32,
}

#[derive(Debug, Default)]
struct Items {
    list: Vec<Item>,
    next_id: u32,
}

/// A selftest access file.
#[derive(Debug)]
pub struct TestAccess {
    ctx: Arc<Context>,
    /// The creator's reference on the access object; `None` once released.
    access: Mutex<Option<ObjRef<Object>>>,
    /// `staccess->lock` and `items`.
    items: Mutex<Items>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl TestAccess {
    /// `iommufd_test_create_access` after the flags check: an access on `ioas_id`, which may
    /// pin pages if `needs_pin` (`MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES`).
    pub fn create(ctx: &Arc<Context>, ioas_id: u32, needs_pin: bool) -> Result<Arc<TestAccess>> {
        let mut failed = None;
        let staccess = Arc::new_cyclic(|me: &std::sync::Weak<TestAccess>| {
            let notify: std::sync::Weak<dyn AccessNotify> = me.clone();
            let access = access::create(ctx, notify, needs_pin)
                .and_then(|a| {
                    let h = Handle::<Access>::new(a.clone()).expect("made an access");
                    match h.attach(ctx, ioas_id) {
                        Ok(()) => Ok(a),
                        Err(e) => {
                            drop(h);
                            access::destroy(ctx, a);
                            Err(e)
                        }
                    }
                })
                .map_err(|e| failed = Some(e))
                .ok();
            TestAccess {
                ctx: ctx.clone(),
                access: Mutex::new(access),
                items: Mutex::default(),
            }
        });
        match failed {
            Some(e) => Err(e),
            None => Ok(staccess),
        }
    }

    fn access(&self) -> Result<Handle<Access>> {
        lock(&self.access)
            .clone()
            .and_then(Handle::new)
            .ok_or(Errno::EBADFD)
    }

    /// `iommufd_test_access_pages` after the argument checks (`length` at most 16 MiB): pins
    /// `iova..iova+length`, for writing if `write`, checks that the pinned pages are the
    /// caller's at `uptr` (`EBADE` otherwise; `uptr` 0 skips the check), and returns the new
    /// item's ID.
    pub fn pin(
        &self,
        iova: u64,
        length: u64,
        uptr: u64,
        write: bool,
        mem: &dyn UserMemory,
    ) -> Result<u32> {
        let access = self.access()?;
        if !access.pins_pages() {
            return Err(Errno::EOPNOTSUPP);
        }
        let mut items = lock(&self.items);
        let pages = access.pin_pages(iova, length, write)?;
        if uptr != 0 {
            let first = uptr.wrapping_sub(iova % PAGE_SIZE);
            let mut probe = [0u8];
            for (i, &host) in pages.iter().enumerate() {
                let user = first.wrapping_add(i as u64 * PAGE_SIZE);
                // `iommufd_test_check_pages`: the caller's page must exist and be the pinned one.
                let r = mem
                    .read(user, &mut probe)
                    .and((host == user).then_some(()).ok_or(Errno::EBADE));
                if let Err(e) = r {
                    access.unpin_pages(iova, length);
                    return Err(e);
                }
            }
        }
        let id = items.next_id;
        items.next_id = items.next_id.wrapping_add(1);
        items.list.push(Item { iova, length, id });
        Ok(id)
    }

    /// Undoes the pin that made item `id` (the ioctl's reply failed).
    pub fn abort_pin(&self, id: u32) {
        let _ = self.destroy_item(id);
    }

    /// `iommufd_test_access_item_destroy`: `ENOENT` for an unknown item.
    pub fn destroy_item(&self, id: u32) -> Result<()> {
        let access = self.access()?;
        let mut items = lock(&self.items);
        let pos = items
            .list
            .iter()
            .position(|i| i.id == id)
            .ok_or(Errno::ENOENT)?;
        let item = items.list.remove(pos);
        access.unpin_pages(item.iova, item.length);
        Ok(())
    }

    /// `iommufd_test_access_rw` after the argument checks (`length` at most 16 MiB): reads
    /// from or writes to the IOVA range with the caller's buffer at `ubuf`.
    pub fn rw(
        &self,
        iova: u64,
        length: u64,
        ubuf: u64,
        flags: AccessFlags,
        mem: &dyn UserMemory,
    ) -> Result<()> {
        // The access is borrowed under its lock, not counted: a release meanwhile waits for
        // the copy, as the kernel's waits for the file reference the call holds.
        let held = lock(&self.access);
        let access = held
            .as_deref()
            .and_then(<Access as Kind>::of)
            .ok_or(Errno::EBADFD)?;
        if !flags.write {
            // The kernel bounces through a kernel buffer; one copy into the caller's buffer
            // gives the same result (see `Access::read_to`).
            return access.read_to(iova, length, ubuf, flags, mem);
        }
        let mut tmp = vec![0u8; length as usize];
        if flags.write {
            mem.read(ubuf, &mut tmp)?;
        }
        access.rw(iova, &mut tmp, flags, mem)?;
        if !flags.write {
            mem.write(ubuf, &tmp)?;
        }
        Ok(())
    }

    /// `iommufd_test_access_replace_ioas`.
    pub fn replace_ioas(&self, ioas_id: u32) -> Result<()> {
        self.access()?.replace(&self.ctx, ioas_id)
    }

    /// The access object's ID.
    pub fn access_id(&self) -> Option<u32> {
        lock(&self.access).as_ref().map(ObjRef::id)
    }

    /// `iommufd_test_staccess_release`: unpins everything and destroys the access.
    pub fn release(&self) {
        self.unmap(0, u64::MAX);
        let taken = lock(&self.access).take();
        if let Some(access) = taken {
            access::destroy(&self.ctx, access);
        }
    }
}

impl AccessNotify for TestAccess {
    /// `iommufd_test_access_unmap`: releases every item that overlaps the range.
    fn unmap(&self, iova: u64, length: u64) {
        let last = iova.saturating_add(length.saturating_sub(1));
        let access = lock(&self.access).clone().and_then(Handle::<Access>::new);
        let mut items = lock(&self.items);
        items.list.retain(|item| {
            let item_last = item.iova + (item.length - 1);
            if iova > item_last || last < item.iova {
                return true;
            }
            if let Some(a) = &access {
                a.unpin_pages(item.iova, item.length);
            }
            false
        });
    }
}

impl Drop for TestAccess {
    fn drop(&mut self) {
        self.release();
    }
}
