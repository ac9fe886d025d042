//! The VFIO group files (`/dev/vfio/N` of the emulated devices' groups), in safe code: what
//! `open`, `ioctl` and the last `close` of one do.
//!
//! Opening a group's node makes a backing fd (a memfd named `uiommu:vfio-group`, see
//! [`crate::backing`]) mapped to a [`GroupFile`]; a group is open by one file at a time
//! (`EBUSY`, `vfio_group_fops_open`). Its ioctls are [`GroupFile::ioctl`]'s; the device fds
//! `VFIO_GROUP_GET_DEVICE_FD` hands out are device files ([`crate::device`]). The file stays
//! with the process that opened it ([`crate::owned`]); its last close leaves the container and
//! lets the group be opened again.

use crate::owned::{Owned, Release};
use crate::sys::Errno;
use crate::table::Object;
use crate::{backing, ops};
use libc::c_int;
use std::sync::Arc;
use uiommu_abi::{GroupFile, VfioGroup};

/// The name of a group file's memfd.
const NAME: &std::ffi::CStr = c"uiommu:vfio-group";

/// One open group file, behind one or more fds.
pub struct OpenGroup {
    file: Owned<GroupFile>,
    /// The node it was opened from (`/dev/vfio/N`), which `fstat` shows.
    pub(crate) node: String,
}

impl OpenGroup {
    /// The file, for the process that opened it; `EBADF` in a forked child.
    pub(crate) fn serve(&self) -> Result<&GroupFile, Errno> {
        self.file.serve()
    }
}

impl Release for GroupFile {
    fn release(self) {
        drop(self);
    }
}

/// `open` of `group`'s node with `flags`.
pub fn open(group: &Arc<VfioGroup>, node: String, flags: c_int) -> Result<c_int, Errno> {
    backing::open_node(NAME, flags, 0, || {
        let memory = Arc::new(crate::caller_memory());
        let file = group.open(memory).map_err(|e| e.0)?;
        Ok(Object::Group(Arc::new(OpenGroup {
            file: Owned::new(file),
            node,
        })))
    })
}

/// `ioctl(fd, request, arg)` on the file (`vfio_group_fops_unl_ioctl`).
pub fn ioctl(group: &OpenGroup, request: u32, arg: u64) -> Result<c_int, Errno> {
    let file = group.serve()?;
    ops::command(|caller| file.ioctl(caller, request, arg))
}
