//! The kernel fds that stand for event queues, and how their readiness mirrors the queue's.
//!
//! `poll` on the stand-in must report what the kernel's queue file reports:
//! - a fault queue (`iommufd_fault_fops_poll`) is always writable, and readable while faults
//!   wait: an eventfd (always writable) whose counter is kept at 1 or 0;
//! - a vEVENTQ (`iommufd_veventq_fops_poll`) is never writable, and readable while events
//!   wait: a listening UNIX socket (never writable, readable while a connection is pending)
//!   given one pending connection exactly while events wait. The connection is made from a
//!   socket opened and closed on the spot, so the program sees one fd, as on the kernel.
//!
//! What differs, and no program of the uAPI relies on: `fstat` and `/proc/self/fd` show an
//! eventfd or a socket where the kernel shows an anonymous inode.

use crate::sys::{self, Errno};
use libc::c_int;

/// What stands for a queue's file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StandIn {
    /// For a fault queue.
    EventFd,
    /// For a vEVENTQ.
    Listener,
}

impl StandIn {
    /// A new close-on-exec, non-blocking stand-in, not readable.
    pub fn create(self) -> Result<c_int, Errno> {
        match self {
            StandIn::EventFd => sys::eventfd(),
            StandIn::Listener => sys::unix_listener(),
        }
    }

    /// Makes `fd` readable or not.
    pub fn set(self, fd: c_int, ready: bool) {
        match self {
            StandIn::EventFd => sys::eventfd_set(fd, ready),
            StandIn::Listener => {
                sys::unix_accept_all(fd);
                if ready {
                    sys::unix_connect_once(fd);
                }
            }
        }
    }
}
