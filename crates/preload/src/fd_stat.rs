//! What `fstat` shows of a virtual fd opened from a device node of ours: the node itself, as
//! `stat` of its path shows it ([`crate::vfs::meta`]) — a character device with the node's
//! numbers, which is how a program checks that it opened the VFIO device it meant (QEMU's
//! vfio-pci compares `S_ISCHR` and `st_rdev` after opening `/dev/vfio/devices/vfioN`).
//!
//! Other fds (`/dev/iommu`, a device file a group handed out, files commands create) show
//! their backing memfd, a regular file; on Linux they are a misc device and anonymous inodes.

use crate::emulated;
use crate::table::{Object, TABLE};
use crate::vfs::{self, Meta};
use libc::c_int;

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
        _ => return None,
    };
    let node = emulated::registry()?.tree().get(&path)?;
    Some(vfs::meta(&path, node))
}
