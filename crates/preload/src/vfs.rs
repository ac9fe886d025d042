//! The calls on the emulated devices' sysfs and `/dev` entries ([`crate::vpath`]), in safe
//! code: what `open`, `stat`, `readlink` and `access` of an entry only the tree has give.
//!
//! A file's contents are served by a real fd: a memfd holding them, reopened read-only, so
//! `read`, `pread`, `lseek`, `fstat` and `close` are the kernel's own. A directory only the
//! tree has is opened as `/` and remembered ([`crate::vdir`]). A device's cdev opens a device
//! file ([`crate::device`]), a group's node a group file ([`crate::group`]).

use crate::sys::{self, Errno};
use crate::vdir;
use libc::c_int;
use std::ffi::CString;
use uiommu_abi::sysfs::Node;

/// What `stat` reports of an entry of ours.
#[derive(Debug, Clone, Copy)]
pub struct Meta {
    /// `st_mode`: type and permissions.
    pub mode: u32,
    /// `st_size`.
    pub size: u64,
    /// `st_ino`.
    pub ino: u64,
    /// `st_nlink`.
    pub nlink: u64,
    /// `st_rdev` as `(major, minor)`.
    pub rdev: (u32, u32),
}

/// Sysfs shows every attribute with this size, whatever it reads.
const ATTRIBUTE_SIZE: u64 = 4096;

/// The `stat` of entry `node` at `path`.
pub fn meta(path: &str, node: &Node) -> Meta {
    let (mode, size, rdev) = match node {
        Node::Dir => (libc::S_IFDIR | 0o755, 0, (0, 0)),
        Node::Text(_) => (libc::S_IFREG | 0o444, ATTRIBUTE_SIZE, (0, 0)),
        Node::NumVfs(_) => (libc::S_IFREG | 0o644, ATTRIBUTE_SIZE, (0, 0)),
        // A debugfs seq_file shows size 0.
        Node::Debugfs { .. } => (libc::S_IFREG | 0o444, 0, (0, 0)),
        Node::Config(_, size) => (libc::S_IFREG | 0o644, *size as u64, (0, 0)),
        Node::Link(t) => (libc::S_IFLNK | 0o777, t.len() as u64, (0, 0)),
        Node::CharDev(major, minor) => (libc::S_IFCHR | 0o600, 0, (*major, *minor)),
    };
    Meta {
        mode,
        size,
        ino: vdir::ino_of(path, 0),
        nlink: if matches!(node, Node::Dir) { 2 } else { 1 },
        rdev,
    }
}

/// `open(path, flags)` of entry `node` at `path`.
pub fn open(path: &str, node: &Node, flags: c_int) -> Result<c_int, Errno> {
    let read_only = flags & libc::O_ACCMODE == libc::O_RDONLY;
    let cloexec = flags & libc::O_CLOEXEC;
    if flags & (libc::O_CREAT | libc::O_EXCL) == libc::O_CREAT | libc::O_EXCL {
        return Err(libc::EEXIST);
    }
    match node {
        Node::Dir if !read_only => Err(libc::EISDIR),
        Node::Dir => {
            let fd = sys::open_raw(c"/", libc::O_RDONLY | libc::O_DIRECTORY | cloexec, 0)?;
            vdir::remember_fd(fd, path);
            Ok(fd)
        }
        // Only reached with O_NOFOLLOW.
        Node::Link(_) => Err(libc::ELOOP),
        Node::CharDev(major, minor) => crate::device::open(*major, *minor, flags),
        Node::Text(_) | Node::Config(..) | Node::Debugfs { .. } | Node::NumVfs(_) => {
            if flags & libc::O_DIRECTORY != 0 {
                return Err(libc::ENOTDIR);
            }
            if !read_only && node.writable() {
                return crate::attr::open(node, flags);
            }
            if !read_only {
                return Err(libc::EACCES);
            }
            file_with(&node.contents(), cloexec)
        }
    }
}

/// A read-only fd of a file holding `bytes` (`O_CLOEXEC` in `cloexec` or not).
fn file_with(bytes: &[u8], cloexec: c_int) -> Result<c_int, Errno> {
    let memfd = sys::memfd(c"uiommu-sysfs")?;
    let reopened = sys::write_all_raw(memfd, bytes).and_then(|()| {
        let own = CString::new(format!("/proc/self/fd/{memfd}")).map_err(|_| libc::EINVAL)?;
        sys::open_raw(&own, libc::O_RDONLY | cloexec, 0)
    });
    sys::close_raw(memfd);
    reopened
}

/// `access(path, mode)` of entry `node`: files and directories read-only, device nodes
/// readable and writable, nothing executable but directories.
pub fn access(node: &Node, mode: c_int) -> Result<(), Errno> {
    let allowed = match node {
        Node::Dir => libc::R_OK | libc::X_OK,
        Node::Text(_) | Node::Config(..) | Node::Link(_) | Node::Debugfs { .. } => libc::R_OK,
        Node::NumVfs(_) => libc::R_OK | libc::W_OK,
        Node::CharDev(..) => libc::R_OK | libc::W_OK,
    };
    if mode & !allowed != 0 {
        return Err(libc::EACCES);
    }
    Ok(())
}

/// `readlink` of entry `node`: a link's target; `EINVAL` for what is not a link.
pub fn readlink(node: &Node) -> Result<&[u8], Errno> {
    match node {
        Node::Link(t) => Ok(t.as_bytes()),
        _ => Err(libc::EINVAL),
    }
}

/// The `open` flags of an `fopen` mode (`r`, `w`, `a`, with `+`, `e`, `x`).
pub fn fopen_flags(mode: &[u8]) -> c_int {
    let plus = mode.contains(&b'+');
    let mut flags = match (mode.first(), plus) {
        (Some(b'w'), false) => libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC,
        (Some(b'w'), true) => libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC,
        (Some(b'a'), false) => libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND,
        (Some(b'a'), true) => libc::O_RDWR | libc::O_CREAT | libc::O_APPEND,
        (_, false) => libc::O_RDONLY,
        (_, true) => libc::O_RDWR,
    };
    if mode.contains(&b'e') {
        flags |= libc::O_CLOEXEC;
    }
    if mode.contains(&b'x') {
        flags |= libc::O_EXCL;
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fopen_modes() {
        assert_eq!(fopen_flags(b"r"), libc::O_RDONLY);
        assert_eq!(fopen_flags(b"re"), libc::O_RDONLY | libc::O_CLOEXEC);
        assert_eq!(fopen_flags(b"r+"), libc::O_RDWR);
        assert_eq!(
            fopen_flags(b"w"),
            libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC
        );
    }

    #[test]
    fn entries_stat_as_sysfs_shows_them() {
        let m = meta("/dev/vfio/devices/vfio0", &Node::CharDev(511, 0));
        assert_eq!(m.mode & libc::S_IFMT, libc::S_IFCHR);
        assert_eq!(m.rdev, (511, 0));
        assert_eq!(meta("/x", &Node::Text("a".into())).size, 4096);
        assert_eq!(
            access(&Node::Text(String::new()), libc::W_OK),
            Err(libc::EACCES)
        );
        assert_eq!(access(&Node::Dir, libc::R_OK | libc::X_OK), Ok(()));
    }
}
