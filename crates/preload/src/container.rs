//! The legacy VFIO container (`/dev/vfio/vfio` of a kernel built with `CONFIG_VFIO_CONTAINER`),
//! in safe code: what `open` and `ioctl` of one do when the launcher asks for it
//! ([`crate::config::legacy_container`]).
//!
//! Opening the node makes a backing fd (a memfd named `uiommu:vfio-container`, see
//! [`crate::backing`]; not `uiommu:vfio`, so that a new image never adopts it as an iommufd
//! context) mapped to a [`Type1Container`]. Its ioctls are [`Type1Container::ioctl`]'s; group
//! files join it with `VFIO_GROUP_SET_CONTAINER` (see [`crate::files`]). It stays with the
//! process that opened it ([`crate::owned`]), as group and device files do: its pages are
//! pinned in that process.

use crate::owned::{Owned, Release};
use crate::sys::Errno;
use crate::table::Object;
use crate::{backing, ops, process};
use libc::{c_int, c_uint};
use std::sync::Arc;
use uiommu_abi::Type1Container;
use uiommu_abi::host::IommuDriver;

/// The name of a legacy container's memfd.
const NAME: &std::ffi::CStr = c"uiommu:vfio-container";

/// One open container, behind one or more fds.
pub struct OpenContainer {
    container: Owned<Arc<Type1Container>>,
}

impl OpenContainer {
    /// The container, for the process that opened it; `EBADF` in a forked child.
    pub(crate) fn serve(&self) -> Result<&Arc<Type1Container>, Errno> {
        self.container.serve()
    }
}

impl Release for Arc<Type1Container> {
    /// `vfio_fops_release`: the groups in it keep it until they leave.
    fn release(self) {
        drop(self);
    }
}

/// `open` of `/dev/vfio/vfio` with `flags` and `mode` (`vfio_fops_open`).
pub fn open(iommu: Arc<dyn IommuDriver>, flags: c_int, mode: c_uint) -> Result<c_int, Errno> {
    backing::open_node(NAME, flags, mode, || {
        let container = Type1Container::new(process::current(), iommu);
        Ok(Object::Container(Arc::new(OpenContainer {
            container: Owned::new(container),
        })))
    })
}

/// `ioctl(fd, request, arg)` on the container (`vfio_fops_unl_ioctl`).
pub fn ioctl(container: &OpenContainer, request: u32, arg: u64) -> Result<c_int, Errno> {
    let c = container.serve()?;
    ops::command(|caller| c.ioctl(caller, request, arg))
}
