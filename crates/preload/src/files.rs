//! Files that commands hand out as fds (the selftest access file; later fault queues and
//! vEVENTQs), and the [`FdHost`] the commands reach the caller's fds through.
//!
//! A file's fd is a real kernel fd, a memfd named after the file as the kernel names its
//! anonymous inode (`[iommufd_test_staccess]`), made close-on-exec at the lowest free number
//! (`get_unused_fd_flags(O_CLOEXEC)` in `iommufd_test_create_access`). The fd table maps it to
//! an [`OpenFile`], shared by every fd duplicated from it, so that the file's `release` runs
//! when the last of those fds is closed (`close`, `close_range`, `dup2`/`dup3` over it, or a
//! stale entry found after a close behind our back), as `fput` of the last reference does.
//! Across `execve` the image that held the file is gone, with its context: nothing is left to
//! release, and a file fd kept without `O_CLOEXEC` is an ordinary memfd in the new image.
//!
//! # fork
//! A child's fds are the parent's files: the child reaches them through the parent (see
//! [`crate::share`]), and a command a child runs installs the files it makes in the child.

use crate::fork;
use crate::readiness::StandIn;
use crate::sys::{self, Errno};
use crate::table::{Object, TABLE};
use crate::{mapfile, ops};
use libc::c_int;
use std::ffi::CStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use uiommu_abi::host::{Context, FileBacking, Trigger};
use uiommu_abi::{EventfdTrigger, FdHost, File};

/// A file behind one or more fds.
pub struct OpenFile {
    file: File,
    /// Whether dropping the last fd releases the file (not for an fd a failed command takes
    /// back: the command releases the file itself).
    armed: AtomicBool,
}

impl OpenFile {
    /// A file released when the last holder drops it.
    pub(crate) fn new(file: File) -> Arc<Self> {
        Arc::new(OpenFile {
            file,
            armed: AtomicBool::new(true),
        })
    }

    /// The file.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Dropping the last holder will not release the file: a failed command that made it
    /// releases it itself.
    pub(crate) fn disarm(&self) {
        self.armed.store(false, Ordering::Release);
    }
}

impl Drop for OpenFile {
    /// The file's `release` (`iommufd_test_staccess_release` for the access file), with the
    /// fork gate held as for any command that changes a context. The table lock is never held
    /// here: entries are dropped after it is released.
    fn drop(&mut self) {
        if *self.armed.get_mut() {
            let _gate = fork::command_guard();
            self.file.release();
        }
    }
}

/// The name of a file's memfd: the kernel's anonymous inode name for it.
fn name(file: &File) -> &'static CStr {
    #[allow(unreachable_patterns)]
    match file {
        File::TestAccess(_) => c"[iommufd_test_staccess]",
        File::Fault(_) => c"[iommufd-pgfault]",
        File::Veventq(_) => c"[iommufd-viommu-event]",
        File::DmaBuf(_) => c"dmabuf:",
        _ => c"[iommufd]",
    }
}

/// The process's fds, as commands see them.
#[derive(Debug, Default, Clone, Copy)]
pub struct Fds;

impl FdHost for Fds {
    /// A new close-on-exec fd for `file` at the lowest free number; `ENOMEM` if there is none
    /// (`iommufd_test_create_access` turns `get_unused_fd_flags`'s failure into `ENOMEM`).
    fn install(&self, file: File) -> uiommu_uapi::errno::Result<i32> {
        install(file).map_err(|_| uiommu_uapi::Errno::ENOMEM)
    }

    /// Closes an fd made by [`Fds::install`] without releasing its file.
    fn uninstall(&self, fd: i32) {
        let Some(entry) = ops::entry(fd) else {
            return;
        };
        if let Object::File(f) = &entry.object {
            f.disarm();
        }
        let removed = TABLE.remove_if(fd, &entry);
        sys::close_raw(fd);
        drop(removed);
    }

    /// The file behind `fd`, if `fd` is a file of ours.
    fn get(&self, fd: i32) -> Option<File> {
        ops::entry_with(fd, |entry| match &entry.object {
            Object::File(f) => Some(f.file.clone()),
            Object::Context(_)
            | Object::Device(_)
            | Object::Group(_)
            | Object::Container(_)
            | Object::FailNth(_)
            | Object::Attr(_)
            | Object::Remote(_) => None,
        })
    }

    /// The legacy container behind `fd`, for the process that opened it.
    fn vfio_container(&self, fd: i32) -> Option<Arc<uiommu_abi::Type1Container>> {
        match ops::entry(fd)?.object {
            Object::Container(c) => c.serve().ok().cloned(),
            _ => None,
        }
    }

    /// The parts of the range that are BARs this process mapped (`mmap` of a device file).
    #[cfg(target_arch = "x86_64")]
    fn pfnmaps(&self, vaddr: u64, len: u64) -> Vec<(u64, u64)> {
        let (Ok(addr), Ok(len)) = (usize::try_from(vaddr), usize::try_from(len)) else {
            return Vec::new();
        };
        crate::mmio::ranges::pieces(addr, len)
            .into_iter()
            .map(|(s, l)| (s as u64, l as u64))
            .collect()
    }

    /// A new fd for a device file a group handed out; `ENOMEM` if there is none, as
    /// `get_unused_fd_flags` fails (the file is then released).
    fn install_device(&self, device: uiommu_abi::GroupDevice) -> uiommu_uapi::errno::Result<i32> {
        crate::device::install_from_group(device).map_err(|_| uiommu_uapi::Errno::ENOMEM)
    }

    /// Whether `fd` is open (`F_GETFD` succeeds).
    fn is_open(&self, fd: i32) -> bool {
        sys::fd_flags(fd).is_ok()
    }

    /// `fget(fd)` for `IOMMU_IOAS_MAP_FILE`: `EBADF` unless open. Our own virtual fds are not
    /// memfds (they stand for a device node or an anonymous file), so their pages never pin.
    fn map_file(&self, fd: i32) -> uiommu_uapi::errno::Result<Arc<dyn FileBacking>> {
        if ops::entry(fd).is_some() {
            return Ok(mapfile::unpinnable());
        }
        mapfile::map(fd)
    }

    /// `iommufd_ctx_from_fd(fd)`: the context of one of our `/dev/iommu` or `/dev/vfio/vfio`
    /// fds (both are iommufd's files); `EBADF` if `fd` is not open, `EBADFD` for any other
    /// file, a context shared from another process since a `fork` included (its objects live
    /// in that process).
    fn iommufd(&self, fd: i32) -> uiommu_uapi::errno::Result<Arc<Context>> {
        match ops::entry(fd).map(|e| e.object) {
            Some(Object::Context(ctx)) => Ok(ctx),
            _ if self.is_open(fd) => Err(uiommu_uapi::Errno::EBADFD),
            _ => Err(uiommu_uapi::Errno::EBADF),
        }
    }

    /// `eventfd_ctx_fdget(fd)`: a trigger over a duplicate of the caller's eventfd, so that it
    /// keeps signalling after the caller closes `fd`; `EBADF` if `fd` is not open, `EINVAL` for
    /// what is not an eventfd (our own fds never are, whatever stands behind them).
    fn eventfd(&self, fd: i32) -> uiommu_uapi::errno::Result<Arc<dyn Trigger>> {
        if !self.is_open(fd) {
            return Err(uiommu_uapi::Errno::EBADF);
        }
        if ops::entry(fd).is_some() || !sys::is_eventfd(fd) {
            return Err(uiommu_uapi::Errno::EINVAL);
        }
        let dup = sys::dup_owned(fd).map_err(uiommu_uapi::Errno)?;
        Ok(Arc::new(EventfdTrigger::new(dup)))
    }
}

/// A new fd to stand for `file` at the lowest free number, close-on-exec, and for a queue,
/// the kind of stand-in whose readiness must follow the queue's.
pub(crate) fn stand_in(file: &File) -> Result<(c_int, Option<StandIn>), Errno> {
    // A queue's fd polls as the queue does (see `readiness`); other files poll always ready,
    // as a memfd does.
    let queue = match file {
        File::Fault(_) => Some(StandIn::EventFd),
        File::Veventq(_) => Some(StandIn::Listener),
        _ => None,
    };
    let fd = match queue {
        Some(stand_in) => stand_in.create()?,
        None => sys::memfd(name(file))?,
    };
    Ok((fd, queue))
}

fn install(file: File) -> Result<i32, Errno> {
    let open = OpenFile::new(file.clone());
    let mut queue = None;
    let fd = TABLE.create(Object::File(open.clone()), || {
        let (fd, q) = stand_in(&file)?;
        queue = q;
        Ok(fd)
    })?;
    if let Some(stand_in) = queue {
        // Reach the stand-in through whichever fd stands for the file when the queue changes.
        let weak = Arc::downgrade(&open);
        file.watch_input(Arc::new(move |ready| {
            if let Some(fd) = weak.upgrade().and_then(|f| TABLE.fd_of(&f)) {
                stand_in.set(fd, ready);
            }
        }));
    }
    Ok(fd)
}
