//! What `fstat` and `readlink("/proc/self/fd/N")` show of a virtual fd opened from a device
//! node of ours. `fstat`: the node itself, as
//! `stat` of its path shows it ([`crate::vfs::meta`]) — a character device with the node's
//! numbers, which is how a program checks that it opened the VFIO device it meant (QEMU's
//! vfio-pci compares `S_ISCHR` and `st_rdev` after opening `/dev/vfio/devices/vfioN`).
//!
//! An iommufd context shows the node it was opened through (`/dev/iommu`, `/dev/vfio/vfio`,
//! misc character devices), which its backing memfd's name records; a legacy VFIO container
//! shows `/dev/vfio/vfio`. Other fds (a device file
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
    let path = node_path(fd)?;
    let node = emulated::registry()?.tree().get(&path)?;
    Some(vfs::meta(&path, node))
}

/// What `readlink` of `/proc/self/fd/N` shows for a virtual fd opened from one of our nodes:
/// the node's path, as Linux shows the device file's (`d_path`), where the host would show
/// the backing memfd.
pub fn proc_fd_link(path: &[u8]) -> Option<String> {
    let rest = path.strip_prefix(b"/proc/")?;
    if TABLE.is_empty() {
        return None;
    }
    let (who, rest) = rest.split_at(rest.iter().position(|&b| b == b'/')?);
    let ours = who == b"self"
        || who == b"thread-self"
        || who == crate::process::pid().to_string().as_bytes();
    if !ours {
        return None;
    }
    let n = std::str::from_utf8(rest.strip_prefix(b"/fd/")?).ok()?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    node_path(n.parse().ok()?)
}

/// The path of the node virtual fd `fd` was opened from.
fn node_path(fd: c_int) -> Option<String> {
    if TABLE.is_empty() {
        return None;
    }
    let entry = TABLE.get(fd)?.ok()?;
    Some(match &entry.object {
        Object::Device(d) => d.node.clone()?,
        Object::Group(g) => g.node.clone(),
        Object::Context(_) => {
            let link = CString::new(format!("/proc/self/fd/{fd}")).ok()?;
            match backing::node_of_link(&sys::readlink(&link)?)? {
                Node::Iommu => "/dev/iommu".to_string(),
                Node::VfioContainer => "/dev/vfio/vfio".to_string(),
            }
        }
        // The legacy container is the same misc device.
        Object::Container(_) => "/dev/vfio/vfio".to_string(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_process_s_fd_links_are_looked_at() {
        // No virtual fd is open in the test process: every form parses, none is ours.
        let me = format!("/proc/{}/fd/3", crate::process::pid());
        for p in ["/proc/self/fd/3", "/proc/thread-self/fd/3", me.as_str()] {
            assert_eq!(proc_fd_link(p.as_bytes()), None, "{p}");
        }
        for p in [
            "/proc/1/fd/3",
            "/proc/self/fd/",
            "/proc/self/fd/3x",
            "/proc/self/fdinfo/3",
        ] {
            assert_eq!(proc_fd_link(p.as_bytes()), None, "{p}");
        }
    }
}
