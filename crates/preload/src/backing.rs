//! The kernel fd behind each virtual fd: a memfd reopened with the caller's open flags.
//!
//! A memfd behaves like the real device file where the kernel decides without us: it has a
//! number of its own, `dup`/`O_CLOEXEC`/`close` work, and `poll` reports it always ready while
//! `epoll_ctl` refuses it (`EPERM`) since it has no poll method, as `/dev/iommu` has none. Each
//! memfd has its own inode, which is how the fd table recognises its fds (see
//! [`crate::table`]). Reopening it through `/proc/self/fd` gives the new file the caller's
//! access mode and flags (`O_RDONLY`, `O_NONBLOCK`, `O_CLOEXEC`, and the errors of
//! `O_DIRECTORY` or `O_CREAT | O_EXCL` on an existing node).
//!
//! The memfd's name tells which node it stands for, so that a process started by `execve`
//! can adopt inherited fds (see [`crate::ops::adopt_inherited`]).

use crate::sys::{self, Errno};
use crate::table::{Object, TABLE};
use libc::{c_int, c_uint};
use std::ffi::{CStr, CString};
use uiommu_abi::host::Node;

/// The memfd name of a node.
pub fn name(node: Node) -> &'static CStr {
    match node {
        Node::Iommu => c"uiommu:iommu",
        Node::VfioContainer => c"uiommu:vfio",
    }
}

/// The node a `/proc/self/fd` link target names, if it is one of our memfds.
pub fn node_of_link(target: &[u8]) -> Option<Node> {
    [Node::Iommu, Node::VfioContainer].into_iter().find(|&n| {
        let mut want = b"/memfd:".to_vec();
        want.extend_from_slice(name(n).to_bytes());
        want.extend_from_slice(b" (deleted)");
        target == want.as_slice()
    })
}

/// A new backing fd for `node`, opened with `flags` and `mode`, at the lowest free number as
/// `open` would give.
pub fn create(node: Node, flags: c_int, mode: c_uint) -> Result<c_int, Errno> {
    create_named(name(node), flags, mode)
}

/// Opens a node: a new backing fd (a memfd called `name`, see [`create`]) mapped to the
/// object `object` makes, in one step of the table (see [`crate::table::FdTable::create`]); an
/// O_PATH fd names the node without opening it, so it stands for nothing (and `ioctl` on it is
/// `EBADF`).
pub fn open_node(
    name: &CStr,
    flags: c_int,
    mode: c_uint,
    object: impl FnOnce() -> Result<Object, Errno>,
) -> Result<c_int, Errno> {
    if flags & libc::O_PATH != 0 {
        return create_named(name, flags, mode);
    }
    TABLE.create(object()?, || create_named(name, flags, mode))
}

/// A new backing fd, a memfd called `name`, opened with `flags` and `mode` as [`create`] does.
fn create_named(name: &CStr, flags: c_int, mode: c_uint) -> Result<c_int, Errno> {
    let memfd = sys::memfd(name)?;
    let path = CString::new(format!("/proc/self/fd/{memfd}")).map_err(|_| libc::EINVAL)?;
    // The link is a magic symlink: O_NOFOLLOW would refuse it, and the real node is no link.
    match sys::open_raw(&path, flags & !libc::O_NOFOLLOW, mode) {
        Ok(reopened) => {
            // Put the reopened file at the memfd's number, the lowest that was free.
            let cloexec = flags & libc::O_CLOEXEC;
            let r = sys::dup3_raw(reopened, memfd, cloexec);
            sys::close_raw(reopened);
            if let Err(e) = r {
                sys::close_raw(memfd);
                return Err(e);
            }
            Ok(memfd)
        }
        // No /proc: the memfd itself, read-write, with the caller's close-on-exec choice.
        Err(libc::ENOENT) if flags & libc::O_PATH == 0 => {
            if let Err(e) = sys::set_cloexec(memfd, flags & libc::O_CLOEXEC != 0) {
                sys::close_raw(memfd);
                return Err(e);
            }
            Ok(memfd)
        }
        Err(e) => {
            sys::close_raw(memfd);
            Err(e)
        }
    }
}
