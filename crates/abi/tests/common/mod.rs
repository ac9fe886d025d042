//! Shared helpers: a context for this process and an `ioctl` that passes real pointers.
#![allow(dead_code)]

use std::sync::Arc;
use uiommu_abi::{Caller, ProcessVm, dispatch};
use uiommu_core::context::{Context, Node, Process};
use uiommu_core::ioas::{LockedVm, PinRegistry, ProbeMemory};
use uiommu_core::iommu::IommuDriver;
use uiommu_uapi::Errno;
use zerocopy::{FromBytes, IntoBytes};

pub mod mock;

/// A process description for this test process with generous limits.
pub fn process(limit_pages: u64) -> Process {
    Process {
        memory: Arc::new(ProbeMemory(ProcessVm::current())),
        registry: Arc::new(PinRegistry::new()),
        user_locked: Arc::new(LockedVm::new(limit_pages)),
        mm_locked: Arc::new(LockedVm::new(limit_pages)),
        cap_ipc_lock: false,
        cap_sys_resource: true,
    }
}

pub mod files;

/// A fresh `/dev/iommu` context whose devices sit behind the selftest mock IOMMU.
pub fn ctx() -> Arc<Context> {
    ctx_behind(uiommu_core::driver::default_model().create())
}

/// A fresh `/dev/iommu` context whose devices sit behind `iommu`.
pub fn ctx_behind(iommu: Arc<dyn IommuDriver>) -> Arc<Context> {
    Context::new(process(1 << 30), Node::Iommu, iommu)
}

/// `ioctl(fd, cmd, &mut arg)` with `arg`'s real address.
pub fn ioctl<T: IntoBytes + FromBytes>(ctx: &Context, cmd: u32, arg: &mut T) -> Result<i64, Errno> {
    let addr = arg as *mut T as u64;
    ioctl_at(ctx, cmd, addr)
}

/// `ioctl` with a raw address.
pub fn ioctl_at(ctx: &Context, cmd: u32, addr: u64) -> Result<i64, Errno> {
    let mem = ProcessVm::current();
    let caller = Caller::opener(&mem, &files::FILES);
    dispatch(ctx, &caller, cmd, addr)
}

/// `size_of::<T>()` as the structs' `size` fields hold it.
pub fn sz<T>() -> u32 {
    size_of::<T>() as u32
}

/// IOMMU_DESTROY of object `id`.
pub fn destroy(ctx: &Context, id: u32) -> Result<i64, Errno> {
    use uiommu_uapi::iommufd::{IOMMU_DESTROY, IommuDestroy};
    let mut cmd = IommuDestroy {
        size: sz::<IommuDestroy>(),
        id,
    };
    ioctl(ctx, IOMMU_DESTROY, &mut cmd)
}

/// A page-aligned buffer of `len` bytes.
pub struct Buffer {
    mem: Vec<u8>,
    off: usize,
    pub len: usize,
}

impl Buffer {
    pub fn new(len: usize) -> Self {
        let mem = vec![0u8; len + 4096];
        let off = (mem.as_ptr() as usize).next_multiple_of(4096) - mem.as_ptr() as usize;
        Buffer { mem, off, len }
    }

    pub fn addr(&self) -> u64 {
        self.mem[self.off..].as_ptr() as u64
    }

    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.mem[self.off..self.off + self.len]
    }
}

/// IOMMU_IOAS_ALLOC, returning the ID.
pub fn ioas_alloc(ctx: &Context) -> u32 {
    use uiommu_uapi::iommufd::{IOMMU_IOAS_ALLOC, IommuIoasAlloc};
    let mut cmd = IommuIoasAlloc {
        size: size_of::<IommuIoasAlloc>() as u32,
        ..Default::default()
    };
    ioctl(ctx, IOMMU_IOAS_ALLOC, &mut cmd).unwrap();
    cmd.out_ioas_id
}
