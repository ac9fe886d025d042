//! The legacy VFIO container (`/dev/vfio/vfio` of a kernel built with `CONFIG_VFIO_CONTAINER`),
//! in safe code: what `open` and `ioctl` of one do when the launcher asks for it
//! ([`crate::config::legacy_container`]).
//!
//! Opening the node makes a backing fd (a memfd named `uiommu:vfio-container`, see
//! [`crate::backing`]; not `uiommu:vfio`, so that a new image adopts it as a container, not as
//! an iommufd context) mapped to a [`Type1Container`]. Its ioctls are [`Type1Container::ioctl`]'s; group
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
    backing::open_node(NAME, flags, mode, || Ok(fresh(iommu)))
}

/// A new, empty container of this process, whose backend's domains are `iommu`'s.
pub fn fresh(iommu: Arc<dyn IommuDriver>) -> Object {
    let container = Type1Container::new(process::current(), iommu);
    Object::Container(Arc::new(OpenContainer {
        container: Owned::new(container),
    }))
}

/// Whether a `/proc/self/fd` link target is a container's backing memfd: an fd kept across
/// `execve`, which the new image adopts as a fresh, empty container (the old image's groups
/// and mappings are gone with it), as it adopts iommufd contexts.
pub fn is_backing_link(target: &[u8]) -> bool {
    let mut want = b"/memfd:".to_vec();
    want.extend_from_slice(NAME.to_bytes());
    want.extend_from_slice(b" (deleted)");
    target == want.as_slice()
}

/// `ioctl(fd, request, arg)` on the container (`vfio_fops_unl_ioctl`).
pub fn ioctl(container: &OpenContainer, request: u32, arg: u64) -> Result<c_int, Errno> {
    let c = container.serve()?;
    ops::command(|caller| c.ioctl(caller, request, arg))
}
