//! Access objects (`drivers/iommu/iommufd/device.c`: `struct iommufd_access`): in-process users
//! of an IOAS — mediated devices and the like — that pin its pages or copy through its IOVAs
//! instead of using a domain. An access is told when a range it may have pinned is unmapped and
//! must release its pins before the unmap completes.

use crate::context::{Context, Handle};
use crate::ioas::{AccessFlags, AccessId, AccessNotify, PAGE_SIZE};
use crate::object::{Ioas, Object};
use crate::object_table::ObjRef;
use std::sync::{Mutex, MutexGuard, PoisonError, Weak};
use uiommu_uapi::errno::Result;
use uiommu_uapi::{Errno, UserMemory};

/// Which IOAS an access uses (under `ioas_lock`).
#[derive(Default)]
struct State {
    /// `access->ioas`: the IOAS new pins and copies go to.
    ioas: Option<Handle<Ioas>>,
    /// `access->ioas_unpin`: where existing pins are released; differs from `ioas` only while
    /// the access is moving.
    ioas_unpin: Option<Handle<Ioas>>,
    /// The access's slot in `ioas_unpin`.
    slot: Option<AccessId>,
}

/// An access (`IOMMUFD_OBJ_ACCESS`).
pub struct Access {
    state: Mutex<State>,
    /// `PAGE_SIZE` for an access that pins pages, else 1.
    iova_alignment: u64,
    /// `ops->unmap`: the owner, told about unmaps.
    notify: Weak<dyn AccessNotify>,
    /// Made by iommufd itself (a HW queue's): never told of unmaps, and the areas it pins
    /// cannot be unmapped (`EBUSY`) until it lets go.
    internal: bool,
}

/// The owner of an internal access: there is nothing to tell.
struct NoNotify;

impl AccessNotify for NoNotify {
    fn unmap(&self, _iova: u64, _length: u64) {}
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("iova_alignment", &self.iova_alignment)
            .finish_non_exhaustive()
    }
}

fn same(a: &Option<Handle<Ioas>>, b: &Option<Handle<Ioas>>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.object().same(b.object()),
        _ => false,
    }
}

impl Access {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `iommufd_access_change_ioas`: `EBUSY` while a move is under way; the old IOAS's pins are
    /// released through the owner's unmap before it lets go.
    fn change_ioas(&self, new: Option<Handle<Ioas>>) -> Result<()> {
        let mut st = self.lock();
        if !same(&st.ioas, &st.ioas_unpin) {
            return Err(Errno::EBUSY);
        }
        if same(&st.ioas, &new) {
            return Ok(());
        }
        let cur = st.ioas.take();
        let new_slot = match &new {
            Some(n) => {
                match n
                    .iopt
                    .add_access(self.notify.clone(), self.iova_alignment, self.internal)
                {
                    Ok(slot) => Some(slot),
                    Err(e) => {
                        st.ioas = cur;
                        return Err(e);
                    }
                }
            }
            None => None,
        };
        if let (Some(cur), Some(slot)) = (cur, st.slot) {
            // The owner's unmap callback unpins through `ioas_unpin`, taking this lock.
            drop(st);
            cur.iopt.remove_access(slot);
            st = self.lock();
        }
        st.ioas = new.clone();
        st.ioas_unpin = new;
        st.slot = new_slot;
        Ok(())
    }

    /// `iommufd_access_attach`.
    pub fn attach(&self, ctx: &Context, ioas_id: u32) -> Result<()> {
        if self.lock().ioas.is_some() {
            return Err(Errno::EINVAL);
        }
        self.change_ioas(Some(ctx.get::<Ioas>(ioas_id)?))
    }

    /// `iommufd_access_attach_internal`: `EINVAL` if the access already has an IOAS.
    pub fn attach_internal(&self, ioas: Handle<Ioas>) -> Result<()> {
        if self.lock().ioas.is_some() {
            return Err(Errno::EINVAL);
        }
        self.change_ioas(Some(ioas))
    }

    /// `iommufd_access_replace`: `ENOENT` if the access has no IOAS.
    pub fn replace(&self, ctx: &Context, ioas_id: u32) -> Result<()> {
        if self.lock().ioas.is_none() {
            return Err(Errno::ENOENT);
        }
        self.change_ioas(Some(ctx.get::<Ioas>(ioas_id)?))
    }

    /// `iommufd_access_detach`, and what destroying the object does.
    pub fn detach(&self) {
        let _ = self.change_ioas(None);
    }

    /// Whether this access pins pages (`ops->needs_pin_pages`).
    pub fn pins_pages(&self) -> bool {
        self.iova_alignment == PAGE_SIZE
    }

    fn current_ioas(&self) -> Result<Handle<Ioas>> {
        self.lock().ioas.clone().ok_or(Errno::ENOENT)
    }

    /// `iommufd_access_pin_pages`: the host address of each page of `iova..iova+length`.
    /// `EINVAL` for an access that does not pin or a zero length, `EOVERFLOW` on wrap,
    /// `ENOENT` without an IOAS, then the IOAS's checks.
    pub fn pin_pages(&self, iova: u64, length: u64, write: bool) -> Result<Vec<u64>> {
        if self.iova_alignment != PAGE_SIZE || length == 0 {
            return Err(Errno::EINVAL);
        }
        iova.checked_add(length - 1).ok_or(Errno::EOVERFLOW)?;
        self.current_ioas()?
            .iopt
            .access_pin(iova, length, write, self.internal)
    }

    /// `iommufd_access_unpin_pages`: releases a range pinned by [`Self::pin_pages`].
    pub fn unpin_pages(&self, iova: u64, length: u64) {
        let ioas = self.lock().ioas_unpin.clone();
        if let Some(ioas) = ioas {
            ioas.iopt.access_unpin(iova, length, self.internal);
        }
    }

    /// `iommufd_access_rw` reading `len` bytes straight into the caller's buffer at `ubuf`
    /// (see [`crate::ioas::IoPagetable::access_read_to`]). The IOAS is borrowed under the
    /// access's lock for the call, as the kernel holds `ioas_lock`: a change of IOAS waits.
    pub fn read_to(
        &self,
        iova: u64,
        len: u64,
        ubuf: u64,
        flags: AccessFlags,
        mem: &dyn UserMemory,
    ) -> Result<()> {
        if len == 0 {
            return Err(Errno::EINVAL);
        }
        iova.checked_add(len - 1).ok_or(Errno::EOVERFLOW)?;
        let st = self.lock();
        let ioas = st.ioas.as_ref().ok_or(Errno::ENOENT)?;
        ioas.iopt.access_read_to(iova, len, ubuf, flags, mem)
    }

    /// `iommufd_access_rw`: copies between `buf` and the memory under `iova`, the IOAS
    /// borrowed under the access's lock as in [`Self::read_to`].
    pub fn rw(
        &self,
        iova: u64,
        buf: &mut [u8],
        flags: AccessFlags,
        mem: &dyn UserMemory,
    ) -> Result<()> {
        if buf.is_empty() {
            return Err(Errno::EINVAL);
        }
        iova.checked_add(buf.len() as u64 - 1)
            .ok_or(Errno::EOVERFLOW)?;
        let st = self.lock();
        let ioas = st.ioas.as_ref().ok_or(Errno::ENOENT)?;
        ioas.iopt.access_rw(iova, buf, flags, mem)
    }
}

impl Drop for Access {
    /// `iommufd_access_destroy_object`.
    fn drop(&mut self) {
        self.detach();
    }
}

/// `iommufd_access_create`: a new access published at once, told of unmaps through `notify`,
/// pinning pages if `needs_pin_pages`. Returns the creator's reference.
pub fn create(
    ctx: &Context,
    notify: Weak<dyn AccessNotify>,
    needs_pin_pages: bool,
) -> Result<ObjRef<Object>> {
    let pending = ctx.objects.reserve()?;
    let iova_alignment = if needs_pin_pages { PAGE_SIZE } else { 1 };
    Ok(pending.finalize(Object::Access(Access {
        state: Mutex::new(State::default()),
        iova_alignment,
        notify,
        internal: false,
    })))
}

/// `iommufd_access_create_internal`: an access iommufd uses itself, pinning pages, published
/// at once (it takes an object ID like any access). Returns the creator's reference.
pub fn create_internal(ctx: &Context) -> Result<ObjRef<Object>> {
    let pending = ctx.objects.reserve()?;
    let notify: Weak<dyn AccessNotify> = Weak::<NoNotify>::new();
    Ok(pending.finalize(Object::Access(Access {
        state: Mutex::new(State::default()),
        iova_alignment: PAGE_SIZE,
        notify,
        internal: true,
    })))
}

/// `iommufd_access_destroy`: gives back the creator's reference and destroys the access.
pub fn destroy(ctx: &Context, access: ObjRef<Object>) {
    if let Ok(obj) = ctx.objects.remove_ref(access, false) {
        obj.body().destroy(ctx);
    }
}
