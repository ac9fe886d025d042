//! The vfio-pci device files (`/dev/vfio/devices/vfioN`), in safe code: what `open`, `ioctl`,
//! the reads and writes, and the last `close` of one do.
//!
//! Opening a device's cdev makes a backing fd (a memfd named `uiommu:vfio-device`, see
//! [`crate::backing`]) and a [`VfioDeviceFile`] over the device's function, which the fd table
//! maps the fd to as it maps a context. Every open is a file of its own: the kernel allows any
//! number (`vfio_device_fops_cdev_open` only allocates a `vfio_device_file`), and binding is
//! per file. When the last fd of a file is closed its `release` runs
//! (`vfio_device_fops_release`): interrupts off, the function reset, unbound.
//!
//! A group's `VFIO_GROUP_GET_DEVICE_FD` hands out the same kind of fd ([`install_from_group`])
//! for a file that came bound to the group's container; the group releases the device with
//! the last such file.
//!
//! Its reads and writes are [`crate::device_io`]'s.
//!
//! # fork
//! The file stays with the process that opened it ([`crate::owned`]). Across `execve` the file is gone with the image; the memfd is an ordinary file in
//! the new one.

use crate::emulated::{self, DeviceNode, Emulated};
use crate::owned::{Owned, Release};
use crate::sys::Errno;
use crate::table::Object;
use crate::{backing, group, ops};
use libc::c_int;
use std::sync::{Arc, Mutex};
use uiommu_abi::{GroupDevice, UserMemory, VfioDeviceFile, VfioGroup};

/// The name of a device file's memfd.
const NAME: &std::ffi::CStr = c"uiommu:vfio-device";

/// A device file as it was opened: through its cdev, or handed out by its group.
enum Served {
    Cdev(Box<VfioDeviceFile>),
    Group(GroupDevice),
}

impl Release for Served {
    fn release(self) {
        match self {
            Served::Cdev(f) => f.release(),
            // The group releases the device file with the last of its fds.
            Served::Group(d) => drop(d),
        }
    }
}

/// One open device file, behind one or more fds.
pub struct OpenDevice {
    file: Owned<Served>,
    /// The file position (`f_pos`), shared by the fds duplicated from the open.
    pub(crate) pos: Mutex<u64>,
    /// The device node it was opened from (`/dev/vfio/devices/vfioN`), which `fstat` shows;
    /// `None` for a file a group handed out (an anonymous inode on Linux).
    pub(crate) node: Option<String>,
}

impl OpenDevice {
    /// The file, for the process that opened it; `EBADF` in a forked child.
    pub(crate) fn serve(&self) -> Result<&VfioDeviceFile, Errno> {
        Ok(match self.file.serve()? {
            Served::Cdev(f) => f,
            Served::Group(d) => d.file(),
        })
    }
}

/// `open` of the device node numbered `(major, minor)` with `flags`: a device file of its
/// device, or a group file ([`crate::group`]); `ENODEV` for numbers of neither.
pub fn open(major: u32, minor: u32, flags: c_int) -> Result<c_int, Errno> {
    let registry = emulated::registry().ok_or(libc::ENODEV)?;
    let device = match registry.node(major, minor) {
        Some(DeviceNode::Cdev(d)) => d,
        Some(DeviceNode::Group(n, g)) => return group::open(g, format!("/dev/vfio/{n}"), flags),
        None => return Err(libc::ENODEV),
    };
    let group = registry.group_of(device);
    let node = format!("/dev/vfio/devices/vfio{}", device.placement.cdev);
    backing::open_node(NAME, flags, 0, || {
        Ok(object(file_of(device, group), Some(node)))
    })
}

/// A new file of `device`, a member of `group`.
fn file_of(device: &Emulated, group: Option<&Arc<VfioGroup>>) -> Served {
    let memory: Arc<dyn UserMemory + Send + Sync> = Arc::new(crate::caller_memory());
    let mut file = VfioDeviceFile::open(device.function.clone(), memory, device.address())
        .with_sriov(device.sriov.clone());
    if let Some(g) = group {
        file = file.in_group(Arc::clone(g));
    }
    Served::Cdev(Box::new(file))
}

/// A new close-on-exec, read-write fd for `device`, a file its group handed out
/// (`VFIO_GROUP_GET_DEVICE_FD`); on failure `device` is released.
pub fn install_from_group(device: GroupDevice) -> Result<c_int, Errno> {
    let flags = libc::O_RDWR | libc::O_CLOEXEC;
    backing::open_node(NAME, flags, 0, || Ok(object(Served::Group(device), None)))
}

/// The object of an fd for `file`, opened from `node`.
fn object(file: Served, node: Option<String>) -> Object {
    let open = OpenDevice {
        file: Owned::new(file),
        pos: Mutex::new(0),
        node,
    };
    Object::Device(Arc::new(open))
}

/// `ioctl(fd, request, arg)` on the file (`vfio_device_fops_unl_ioctl`).
pub fn ioctl(dev: &OpenDevice, request: u32, arg: u64) -> Result<c_int, Errno> {
    let file = dev.serve()?;
    ops::command(|caller| file.ioctl(caller, request, arg))
}
