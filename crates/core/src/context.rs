//! One open of `/dev/iommu` (the kernel's `struct iommufd_ctx`, `main.c`): its objects, the
//! IOAS the VFIO compatibility layer uses, and how pinned pages are charged.

use crate::group::Group;
use crate::ioas::{LockedVm, NoAccount, PinAccount, PinMemory, PinOwner, PinRegistry, RlimitMode};
use crate::iommu::IommuDriver;
use crate::mmap::{MmapHold, MmapRegistry};
use crate::object::Object;
use crate::object_table::{ObjRef, ObjectTable, WeakObj};
use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use uiommu_uapi::{Errno, errno::Result};

/// The process that opened the context: where its pages are pinned and charged.
#[derive(Clone)]
pub struct Process {
    /// Its address space, to check that pages can be pinned.
    pub memory: Arc<dyn PinMemory>,
    /// Pin counts of its pages.
    pub registry: Arc<PinRegistry>,
    /// Pinned pages charged to its user (`user_struct::locked_vm`).
    pub user_locked: Arc<LockedVm>,
    /// Pinned pages charged to the process (`mm_struct::locked_vm`).
    pub mm_locked: Arc<LockedVm>,
    /// `CAP_IPC_LOCK`: pins are not charged.
    pub cap_ipc_lock: bool,
    /// `CAP_SYS_RESOURCE`: may change the accounting mode.
    pub cap_sys_resource: bool,
}

impl std::fmt::Debug for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Process")
            .field("user_locked", &self.user_locked.locked())
            .field("mm_locked", &self.mm_locked.locked())
            .field("cap_ipc_lock", &self.cap_ipc_lock)
            .finish_non_exhaustive()
    }
}

/// Which device node the context was opened through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    /// `/dev/iommu`: pins are charged per user by default.
    Iommu,
    /// `/dev/vfio/vfio` served by iommufd: pins are charged per process, as VFIO does.
    VfioContainer,
}

/// An iommufd context.
#[derive(Debug)]
pub struct Context {
    /// The objects, by ID.
    pub objects: ObjectTable<Object>,
    vfio_ioas: Mutex<Option<WeakObj<Object>>>,
    account_mode: Mutex<RlimitMode>,
    /// The groups of bound devices, by iommu group ID (`ictx->groups`).
    groups: Mutex<BTreeMap<u32, Weak<Group>>>,
    process: Process,
    /// Regions the caller may `mmap` through the context's fd (`mt_mmap`).
    mmaps: Arc<MmapRegistry>,
    /// The IOMMU the context's devices (`IOMMU_TEST_OP_MOCK_DOMAIN`'s) sit behind.
    iommu: Arc<dyn IommuDriver>,
    /// The context itself, for objects that keep it alive as the kernel's `iommufd_ctx_get`
    /// does (an access file outlives the fd it was created through).
    me: Weak<Context>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An object of one kind, as found in [`Object`].
pub trait Kind: Sized {
    /// `Some` if `obj` is of this kind.
    fn of(obj: &Object) -> Option<&Self>;
}

/// A counted reference to an object of kind `T`.
#[derive(Debug)]
pub struct Handle<T> {
    obj: ObjRef<Object>,
    _kind: PhantomData<fn() -> T>,
}

impl<T: Kind> Handle<T> {
    /// Checks `obj`'s kind.
    pub fn new(obj: ObjRef<Object>) -> Option<Self> {
        T::of(&obj)?;
        Some(Handle {
            obj,
            _kind: PhantomData,
        })
    }

    /// The untyped reference.
    pub fn object(&self) -> &ObjRef<Object> {
        &self.obj
    }

    /// Gives up the kind.
    pub fn into_object(self) -> ObjRef<Object> {
        self.obj
    }

    /// The object's ID.
    pub fn id(&self) -> u32 {
        self.obj.id()
    }
}

impl<T> Clone for Handle<T> {
    fn clone(&self) -> Self {
        Handle {
            obj: self.obj.clone(),
            _kind: PhantomData,
        }
    }
}

impl<T: Kind> Deref for Handle<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // The kind was checked when the handle was made and an object never changes kind.
        T::of(&self.obj).expect("handle kind checked at creation")
    }
}

impl Context {
    /// A new, empty context opened by `process` through `node` (`iommufd_fops_open`), whose
    /// devices sit behind `iommu`, a hardware model of the registry.
    pub fn new(process: Process, node: Node, iommu: Arc<dyn IommuDriver>) -> Arc<Self> {
        let mode = match node {
            Node::Iommu => RlimitMode::User,
            Node::VfioContainer => RlimitMode::Process,
        };
        Arc::new_cyclic(|me| Context {
            objects: ObjectTable::default(),
            vfio_ioas: Mutex::new(None),
            account_mode: Mutex::new(mode),
            groups: Mutex::new(BTreeMap::new()),
            process,
            mmaps: Arc::default(),
            iommu,
            me: me.clone(),
        })
    }

    /// A counted reference to this context (`iommufd_ctx_get`).
    pub fn arc(&self) -> Arc<Context> {
        // `self` is borrowed from a live `Arc`: the only way to make a context is `new`.
        self.me
            .upgrade()
            .expect("a context is always behind its Arc while borrowed")
    }

    /// The IOMMU the context's devices sit behind.
    pub fn iommu(&self) -> &Arc<dyn IommuDriver> {
        &self.iommu
    }

    /// The process that opened the context.
    pub fn process(&self) -> &Process {
        &self.process
    }

    /// Looks up object `id` of kind `T` (`iommufd_get_object` with a type): `ENOENT` if there
    /// is none or it is another kind.
    pub fn get<T: Kind>(&self, id: u32) -> Result<Handle<T>> {
        let obj = self.objects.get(id, |o| T::of(o).is_some())?;
        Ok(Handle {
            obj,
            _kind: PhantomData,
        })
    }

    /// Looks up object `id` of any kind.
    pub fn get_any(&self, id: u32) -> Result<ObjRef<Object>> {
        self.objects.get(id, |_| true)
    }

    /// `IOMMU_DESTROY` (`iommufd_object_remove`): `ENOENT` or `EBUSY`; the object's resources
    /// are released when the last reference goes, here.
    pub fn destroy(&self, id: u32) -> Result<()> {
        let obj = self.objects.remove(id, false)?;
        obj.body().destroy(self);
        Ok(())
    }

    /// The context's view of iommu group `id`, shared by its bound devices
    /// (`iommufd_get_group`).
    pub fn group(&self, id: u32) -> Arc<Group> {
        let mut groups = lock(&self.groups);
        if let Some(g) = groups.get(&id).and_then(Weak::upgrade) {
            return g;
        }
        let g = Arc::new(Group::new(id));
        groups.insert(id, Arc::downgrade(&g));
        g
    }

    /// Where pins of pages the opener creates now are charged (`iopt_alloc_pages`).
    pub fn pin_owner(&self) -> PinOwner {
        self.pin_owner_of(&self.process)
    }

    /// Where pins of pages `process` creates now are charged (`iopt_alloc_pages` takes
    /// `current`'s mm and user, whoever opened the context): the mode fixed at this moment
    /// stays with the pages for their life.
    pub fn pin_owner_of(&self, process: &Process) -> PinOwner {
        let account: Arc<dyn PinAccount> = if process.cap_ipc_lock {
            Arc::new(NoAccount)
        } else {
            match *lock(&self.account_mode) {
                RlimitMode::User => process.user_locked.clone(),
                RlimitMode::Process => process.mm_locked.clone(),
            }
        };
        PinOwner {
            memory: process.memory.clone(),
            account,
            registry: process.registry.clone(),
        }
    }

    /// The context's mmap regions, for drivers to register memory they share with the caller.
    pub fn mmaps(&self) -> &Arc<MmapRegistry> {
        &self.mmaps
    }

    /// `iommufd_fops_mmap` after the generic checks: maps the region at `offset` of exactly
    /// `length` bytes (`ENXIO` otherwise). The hold keeps the region's owner in use.
    pub fn mmap(&self, offset: u64, length: u64) -> Result<MmapHold> {
        self.mmaps.map(offset, length)
    }

    /// `IOMMU_OPTION_RLIMIT_MODE` get.
    pub fn rlimit_mode(&self) -> RlimitMode {
        *lock(&self.account_mode)
    }

    /// `IOMMU_OPTION_RLIMIT_MODE` set (`iommufd_option_rlimit_mode`): `EPERM` without
    /// `CAP_SYS_RESOURCE`, `EBUSY` once the context has any object, `EINVAL` for other values.
    pub fn set_rlimit_mode(&self, val64: u64) -> Result<()> {
        if !self.process.cap_sys_resource {
            return Err(Errno::EPERM);
        }
        let mut mode = lock(&self.account_mode);
        if !self.objects.is_empty() {
            return Err(Errno::EBUSY);
        }
        *mode = RlimitMode::from_val64(val64)?;
        Ok(())
    }

    /// The compatibility IOAS, if set and still live (`get_compat_ioas`): `ENODEV` otherwise.
    pub fn vfio_ioas(&self) -> Result<ObjRef<Object>> {
        lock(&self.vfio_ioas)
            .as_ref()
            .and_then(WeakObj::upgrade)
            .ok_or(Errno::ENODEV)
    }

    /// `IOMMU_VFIO_IOAS_SET` / `_CLEAR`.
    pub fn set_vfio_ioas(&self, ioas: Option<&ObjRef<Object>>) {
        *lock(&self.vfio_ioas) = ioas.map(ObjRef::downgrade);
    }
}

impl Drop for Context {
    /// `iommufd_fops_release`: objects go leaves first; each pass frees the users of the next.
    fn drop(&mut self) {
        loop {
            let leaves = self.objects.remove_leaves();
            if leaves.is_empty() {
                break;
            }
            for obj in &leaves {
                obj.body().destroy(self);
            }
            drop(leaves);
        }
    }
}
