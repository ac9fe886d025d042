//! `libuiommu_preload.so`: the Linux IOMMU user API served in process, for `LD_PRELOAD`.
//!
//! Opening `/dev/iommu` or `/dev/vfio/vfio` gives a *virtual* fd: a real kernel fd (a memfd,
//! [`backing`]) whose number the [`table`] maps to a uiommu context. `ioctl` on it runs
//! [`uiommu_abi::dispatch`] with the caller's memory reached through a fault-tolerant copy
//! ([`user_copy`]; `process_vm_readv`/`writev` elsewhere), so a bad pointer is `EFAULT`, never
//! a crash; `read`, `write` and `mmap` give the kernel's
//! errors; `dup`, `dup2`, `dup3`, `fcntl(F_DUPFD*)` share the context; `close` drops it with its
//! last fd. Every other call, and every call on another fd, goes to libc unchanged.
//!
//! Commands that hand out files (`IOMMU_TEST_OP_CREATE_ACCESS`) get a real fd for each from
//! [`files`], recorded in the same table; closing the last fd of one releases it. Commands that
//! take the caller's file (`IOMMU_IOAS_MAP_FILE`) reach its pages through [`mapfile`].
//!
//! Opening an emulated device's `/dev/vfio/devices/vfioN` gives a virtual fd for a vfio-pci
//! device file ([`device`]): its ioctls, and its region I/O by `pread`/`pwrite` (and `read`,
//! `write`, the vectored and fortified calls), reach [`uiommu_abi::VfioDeviceFile`]; `mmap` of a
//! BAR is served as MMIO by trapping each access ([`mmio`]). Opening an emulated device's
//! group node, `/dev/vfio/N`, gives a group file ([`group`]) whose
//! `VFIO_GROUP_GET_DEVICE_FD` hands out such device files, bound to the group's container (a
//! `/dev/vfio/vfio` or `/dev/iommu` context). With `UIOMMU_VFIO_CONTAINER=type1`,
//! `/dev/vfio/vfio` is the legacy type1 container instead ([`container`]), while `/dev/iommu`
//! stays iommufd, as on a kernel built with `CONFIG_VFIO_CONTAINER`.
//!
//! # Threads
//! The table is behind a read-write lock held only to look up or change an entry (and across
//! the system calls that put one of our files at a number: a new backing fd, a `dup`): a
//! command runs on its context with no global lock, so commands on different contexts run in
//! parallel (core serialises what must be serialised within one context). A call racing the
//! close of its fd answers for the object or `EBADF`, never from the backing file (see
//! [`table`]).
//!
//! # fork
//! A forked child shares its parent's contexts and files, as on the kernel: the parent owns
//! them and serves the child's calls on them, see [`share`]. A device file stays with the
//! process that opened it ([`device`]). [`fork`] keeps the child's locks consistent.
//!
//! # exec
//! Contexts do not survive `execve` (the new image has no copy of our state). A virtual fd
//! without `O_CLOEXEC` does survive as a memfd, and the new image adopts it as a fresh, empty
//! context when this library loads again.

pub mod addr_space;
pub mod attr;
#[allow(unsafe_code)]
mod attr_stream;
pub mod backing;
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod blocked;
pub mod config;
pub mod container;
pub mod device;
mod device_io;
#[allow(unsafe_code)]
mod dir_exports;
pub mod emulated;
#[allow(unsafe_code)]
mod exports;
mod failnth;
mod fd_stat;
pub mod files;
mod fork;
#[allow(unsafe_code)]
mod fs_exports;
pub mod group;
pub mod hwpt_log;
#[allow(unsafe_code)]
mod io_exports;
pub mod mapfile;
pub mod maps;
#[allow(unsafe_code)]
mod mm_exports;
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
pub mod mmio;
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod mmio_exports;
mod ops;
pub mod owned;
pub mod path;
pub mod process;
mod procfile;
mod readiness;
pub mod regions;
mod rw;
#[allow(unsafe_code)]
mod seqpacket;
pub mod share;
pub mod sriov_state;
#[allow(unsafe_code)]
mod sys;
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod syscall_exports;
pub mod table;
pub mod trace;
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
pub mod user_copy;
pub mod vdir;
pub mod vfs;
pub mod vpath;

/// This process's memory as a command reaches its caller's buffers: the fault-tolerant copy
/// ([`user_copy`]) where there is one, else `process_vm_readv`/`process_vm_writev`.
#[cfg(target_arch = "x86_64")]
pub fn caller_memory() -> user_copy::OwnMemory {
    user_copy::OwnMemory
}

/// This process's memory as a command reaches its caller's buffers: `process_vm_readv`/
/// `process_vm_writev` (the fault-tolerant copy is x86-64 only).
#[cfg(not(target_arch = "x86_64"))]
pub fn caller_memory() -> uiommu_abi::ProcessVm {
    uiommu_abi::ProcessVm::current()
}
