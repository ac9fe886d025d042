//! Files the uAPI hands out as file descriptors, and what the front end must do for them.
//!
//! Some commands create a file and report its fd (`IOMMU_TEST_OP_CREATE_ACCESS`, the fault
//! queue and vEVENTQ allocations); some take a caller's fd (an access by its fd). The
//! front end owns fd numbers, so it implements [`FdHost`]: a real kernel fd stands behind each
//! file, as for the context itself.

use crate::vfio::group::GroupDevice;
use crate::vfio::type1::Type1Container;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use uiommu_core::context::{Context, Handle, Process};
use uiommu_core::fault::FaultQueue;
use uiommu_core::ioas::{DmaBuf, FileBacking, PinOwner};
use uiommu_core::test_access::TestAccess;
use uiommu_core::test_dmabuf::TestDmaBuf;
use uiommu_core::veventq::Veventq;
use uiommu_devices::Trigger;
use uiommu_uapi::errno::Result;
use uiommu_uapi::{Errno, UserMemory};

/// A file that a command created.
#[derive(Debug, Clone)]
pub enum File {
    /// The selftest's access file (`[iommufd_test_staccess]`).
    TestAccess(Arc<TestAccess>),
    /// A fault queue's file (`[iommufd-pgfault]`).
    Fault(Arc<FaultFile>),
    /// A vEVENTQ's file (`[iommufd-viommu-event]`).
    Veventq(Arc<VeventqFile>),
    /// The selftest's dma-buf (`IOMMU_TEST_OP_DMABUF_GET`).
    DmaBuf(Arc<TestDmaBuf>),
}

/// The file of a vEVENTQ: a user of the queue object, keeping its context alive
/// (`iommufd_eventq_init`); closing it lets the queue be destroyed.
#[derive(Debug)]
pub struct VeventqFile {
    /// The context the queue belongs to.
    pub ctx: Arc<Context>,
    /// The queue.
    pub queue: Handle<Veventq>,
}

/// The file of a fault queue: a user of the queue object, keeping its context alive
/// (`iommufd_eventq_init`); closing it lets the queue be destroyed.
#[derive(Debug)]
pub struct FaultFile {
    /// The context the queue belongs to.
    pub ctx: Arc<Context>,
    /// The queue.
    pub queue: Handle<FaultQueue>,
}

/// What `poll` reports for a file (`EPOLLIN | EPOLLRDNORM`, `EPOLLOUT | EPOLLWRNORM`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    /// Readable.
    pub input: bool,
    /// Writable.
    pub output: bool,
}

impl File {
    /// What the file does when its last fd is closed (its `release`).
    pub fn release(&self) {
        match self {
            File::TestAccess(a) => a.release(),
            // Dropping the last reference gives back the user the file held.
            File::Fault(_) | File::Veventq(_) | File::DmaBuf(_) => {}
        }
    }

    /// `read(2)` of `count` bytes into `buf`. A file without a read method is `EINVAL`
    /// (`vfs_read`).
    pub fn read(&self, mem: &dyn UserMemory, buf: u64, count: usize) -> Result<usize> {
        match self {
            File::Fault(f) => crate::fault_file::read(&f.queue, mem, buf, count),
            File::Veventq(f) => f.queue.queue.read(mem, buf, count),
            File::TestAccess(_) | File::DmaBuf(_) => Err(Errno::EINVAL),
        }
    }

    /// `write(2)` of `count` bytes from `buf`; `EINVAL` without a write method.
    pub fn write(&self, mem: &dyn UserMemory, buf: u64, count: usize) -> Result<usize> {
        match self {
            File::Fault(f) => crate::fault_file::write(&f.queue, mem, buf, count),
            // A vEVENTQ has no write method.
            File::Veventq(_) | File::TestAccess(_) | File::DmaBuf(_) => Err(Errno::EINVAL),
        }
    }

    /// `poll(2)`: a fault queue is always writable and readable while faults wait; a vEVENTQ
    /// is only ever readable, while events wait (`iommufd_eventq_fops_poll`); a file without a
    /// poll method is both (`DEFAULT_POLLMASK`), as is a dma-buf without fences.
    pub fn poll(&self) -> Readiness {
        match self {
            File::Fault(f) => Readiness {
                input: f.queue.readable(),
                output: true,
            },
            File::Veventq(f) => Readiness {
                input: f.queue.queue.readable(),
                output: false,
            },
            File::TestAccess(_) | File::DmaBuf(_) => Readiness {
                input: true,
                output: true,
            },
        }
    }

    /// Lets the front end mirror [`File::poll`]'s `input` into its backing fd as it changes.
    pub fn watch_input(&self, readiness: Arc<dyn Fn(bool) + Send + Sync>) {
        match self {
            File::Fault(f) => f.queue.set_readiness(readiness),
            File::Veventq(f) => f.queue.queue.set_readiness(readiness),
            File::TestAccess(_) | File::DmaBuf(_) => {}
        }
    }
}

/// The caller's file descriptors.
pub trait FdHost {
    /// Gives the caller a new fd (close-on-exec, as the kernel's anonymous files are) for
    /// `file`; `ENOMEM` if no fd can be had (`get_unused_fd_flags`).
    fn install(&self, file: File) -> Result<i32>;
    /// Takes back an fd made by [`FdHost::install`] for a command that then failed; the caller
    /// never saw it.
    fn uninstall(&self, fd: i32);
    /// The file behind the caller's `fd`, if it is one of ours.
    fn get(&self, fd: i32) -> Option<File>;

    /// The caller's file `fd` as the source of `IOMMU_IOAS_MAP_FILE` pages (`fget`): `EBADF`
    /// if `fd` is not open. Whether its pages can be pinned (a memfd, in range) is decided when
    /// they are pinned, through the returned [`FileBacking`].
    fn map_file(&self, fd: i32) -> Result<Arc<dyn FileBacking>>;

    /// Gives the caller a new fd (close-on-exec) for a device file a group opened
    /// (`VFIO_GROUP_GET_DEVICE_FD`); `ENOMEM` if no fd can be had. On failure `device` is
    /// dropped, which releases it.
    fn install_device(&self, device: GroupDevice) -> Result<i32> {
        drop(device);
        Err(Errno::ENOMEM)
    }

    /// Whether `fd` is open at all (`fget`), ours or not.
    fn is_open(&self, fd: i32) -> bool {
        self.get(fd).is_some()
    }

    /// `iommufd_ctx_from_fd(fd)`: the iommufd context behind the caller's `fd`; `EBADF` if
    /// `fd` is not open, `EBADFD` if it is not an iommufd. A host whose fds name no context
    /// answers with those two.
    fn iommufd(&self, fd: i32) -> Result<Arc<Context>> {
        Err(if self.is_open(fd) {
            Errno::EBADFD
        } else {
            Errno::EBADF
        })
    }

    /// `vfio_container_from_file(fd)`: the legacy VFIO container behind the caller's `fd`, if
    /// it is one (`None` for any other fd, open or not).
    fn vfio_container(&self, _fd: i32) -> Option<Arc<Type1Container>> {
        None
    }

    /// The parts of `vaddr..vaddr + len` that are the caller's mappings of a device file's BAR
    /// (`VM_PFNMAP | VM_IO` areas), as `(start, length)`, ascending; none by default.
    fn pfnmaps(&self, _vaddr: u64, _len: u64) -> Vec<(u64, u64)> {
        Vec::new()
    }

    /// `eventfd_ctx_fdget(fd)`: a trigger that signals the eventfd behind the caller's `fd`
    /// (an [`EventfdTrigger`] over a duplicate of it, in a host of real fds); `EBADF` if `fd`
    /// is not open, `EINVAL` if it is not an eventfd.
    fn eventfd(&self, fd: i32) -> Result<Arc<dyn Trigger>> {
        Err(if self.is_open(fd) {
            Errno::EINVAL
        } else {
            Errno::EBADF
        })
    }

    /// `dma_buf_get(fd)`: the dma-buf behind `fd`; `EBADF` if `fd` is not open, `EINVAL` if
    /// it is no dma-buf.
    fn dma_buf(&self, fd: i32) -> Result<Arc<TestDmaBuf>> {
        match self.get(fd) {
            Some(File::DmaBuf(buf)) => Ok(buf),
            _ if self.is_open(fd) => Err(Errno::EINVAL),
            _ => Err(Errno::EBADF),
        }
    }
}

/// A trigger that signals an eventfd as `eventfd_signal` does: each signal adds 1 to its
/// counter (an 8-byte write of 1). The fd is the trigger's own (a duplicate the host made of
/// the caller's), so the caller closing theirs does not stop it, as the kernel's reference
/// to the eventfd context does not.
#[derive(Debug)]
pub struct EventfdTrigger(std::fs::File);

impl EventfdTrigger {
    /// The trigger of the eventfd `fd`.
    pub fn new(fd: OwnedFd) -> Self {
        EventfdTrigger(std::fs::File::from(fd))
    }
}

impl Trigger for EventfdTrigger {
    /// A counter at its maximum would block the write (`EAGAIN` for a non-blocking eventfd);
    /// the kernel's signal saturates instead, so a failed write is dropped.
    fn trigger(&self) {
        let _ = (&self.0).write(&1u64.to_ne_bytes());
    }
}

/// The dma-buf an `IOMMU_IOAS_MAP_FILE` imports, if `fd` is one.
pub(crate) fn dma_buf_to_map(fds: &dyn FdHost, fd: i32) -> Option<Arc<dyn DmaBuf>> {
    fds.dma_buf(fd).ok().map(|b| b as Arc<dyn DmaBuf>)
}

/// A front end that cannot create files: creating one fails as with no free fd, and no fd
/// names one.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoFiles;

impl FdHost for NoFiles {
    fn install(&self, _file: File) -> Result<i32> {
        Err(Errno::ENOMEM)
    }
    fn uninstall(&self, _fd: i32) {}
    fn get(&self, _fd: i32) -> Option<File> {
        None
    }
    fn map_file(&self, _fd: i32) -> Result<Arc<dyn FileBacking>> {
        Err(Errno::EBADF)
    }
}

/// Who is calling: their memory and their fds.
#[derive(Clone, Copy)]
pub struct Caller<'a> {
    /// The caller's memory.
    pub mem: &'a dyn UserMemory,
    /// The caller's fds.
    pub fds: &'a dyn FdHost,
    /// The calling process, when it is not the one that opened the context (a child sharing
    /// its parent's context after `fork`): pages it maps are pinned in and charged to it.
    pub process: Option<&'a Process>,
}

impl<'a> Caller<'a> {
    /// The process that opened the context, calling with `mem` and `fds`.
    pub fn opener(mem: &'a dyn UserMemory, fds: &'a dyn FdHost) -> Self {
        Caller {
            mem,
            fds,
            process: None,
        }
    }

    /// Where pins of pages this caller maps in `ctx` are charged.
    pub fn pin_owner(&self, ctx: &Context) -> PinOwner {
        match self.process {
            Some(p) => ctx.pin_owner_of(p),
            None => ctx.pin_owner(),
        }
    }
}

impl std::fmt::Debug for Caller<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn an_eventfd_trigger_writes_one_per_signal() {
        let (mut rx, tx) = std::io::pipe().unwrap();
        let t = EventfdTrigger::new(OwnedFd::from(tx));
        t.trigger();
        t.trigger();
        let mut got = [0u8; 16];
        rx.read_exact(&mut got).unwrap();
        assert_eq!(got[..8], 1u64.to_ne_bytes());
        assert_eq!(got[8..], 1u64.to_ne_bytes());
    }
}
