//! What `fstat` shows of a virtual fd opened from a device node of ours: the node itself, as
//! `stat` of its path shows it ([`crate::vfs::meta`]) — a character device with the node's
//! numbers, which is how a program checks that it opened the VFIO device it meant (QEMU's
//! vfio-pci compares `S_ISCHR` and `st_rdev` after opening `/dev/vfio/devices/vfioN`).
//!
//! An iommufd context shows the node it was opened through (`/dev/iommu`, `/dev/vfio/vfio`,
//! misc character devices), which its backing memfd's name records. Other fds (a device file
//! a group handed out, files commands create) show their backing memfd, a regular file; on
//! Linux they are anonymous inodes.

use crate::table::{Object, TABLE};
use crate::vfs::{self, Meta};
use crate::{backing, emulated, sys};
use libc::c_int;
use std::ffi::CString;
use uiommu_abi::host::Node;

/// The `stat` of the node `fd` was opened from, if it is a virtual fd opened from a node of
/// the emulated devices' tree.
pub fn node_meta(fd: c_int) -> Option<Meta> {
    if TABLE.is_empty() {
        return None;
    }
    let entry = TABLE.get(fd)?.ok()?;
    let path = match &entry.object {
        Object::Device(d) => d.node.clone()?,
        Object::Group(g) => g.node.clone(),
        Object::Context(_) => {
            let link = CString::new(format!("/proc/self/fd/{fd}")).ok()?;
            match backing::node_of_link(&sys::readlink(&link)?)? {
                Node::Iommu => "/dev/iommu".to_string(),
                Node::VfioContainer => "/dev/vfio/vfio".to_string(),
            }
        }
        _ => return None,
    };
    let node = emulated::registry()?.tree().get(&path)?;
    Some(vfs::meta(&path, node))
}
