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
//! Its reads and writes are [`crate::device_io`]'s.
//!
//! # fork
//! The file stays with the process that opened it: a forked child's calls on an inherited
//! device fd are `EBADF`, and its closing the fd releases nothing (the opener's file stays
//! bound). Across `execve` the file is gone with the image; the memfd is an ordinary file in
//! the new one.

use crate::emulated::{self, DeviceNode, Emulated};
use crate::sys::{self, Errno};
use crate::table::{Entry, Object, TABLE};
use crate::{backing, fork, ops};
use libc::c_int;
use std::sync::{Arc, Mutex};
use uiommu_abi::{PciAddress, ProcessVm, UserMemory, VfioDeviceFile};

/// The name of a device file's memfd.
const NAME: &std::ffi::CStr = c"uiommu:vfio-device";

/// One open device file, behind one or more fds.
pub struct OpenDevice {
    /// Always `Some` but while it is dropped.
    file: Option<VfioDeviceFile>,
    /// The process that opened it.
    owner: u32,
    /// The file position (`f_pos`), shared by the fds duplicated from the open.
    pub(crate) pos: Mutex<u64>,
}

impl OpenDevice {
    /// The file, for the process that opened it; `EBADF` in a forked child.
    pub(crate) fn serve(&self) -> Result<&VfioDeviceFile, Errno> {
        match &self.file {
            Some(f) if std::process::id() == self.owner => Ok(f),
            _ => Err(libc::EBADF),
        }
    }
}

impl Drop for OpenDevice {
    /// The file's `release`, with the fork gate held as for a command. A forked child's copy
    /// is left alone: it would act on the opener's bindings as the child's memory saw them.
    fn drop(&mut self) {
        let Some(file) = self.file.take() else {
            return;
        };
        if std::process::id() != self.owner {
            std::mem::forget(file);
            return;
        }
        let _gate = fork::command_guard();
        file.release();
    }
}

/// `open` of the device node numbered `(major, minor)` with `flags`: a device file of its
/// device; `ENODEV` for a group node (not served yet) and for numbers of no device.
pub fn open(major: u32, minor: u32, flags: c_int) -> Result<c_int, Errno> {
    let device = match emulated::registry().and_then(|r| r.node(major, minor)) {
        Some(DeviceNode::Cdev(d)) => d,
        Some(DeviceNode::Group(_)) | None => return Err(libc::ENODEV),
    };
    backing::open_node(NAME, flags, 0, |fd| install(fd, device))
}

/// Maps `fd`, a fresh backing fd, to a new file of `device`.
fn install(fd: c_int, device: &Emulated) -> Result<(), Errno> {
    let id = sys::file_id(fd)?;
    fork::install();
    let memory: Arc<dyn UserMemory + Send + Sync> = Arc::new(ProcessVm::current());
    let bdf = device.placement.bdf;
    let address = PciAddress {
        segment: bdf.domain,
        bus: bdf.bus,
        devfn: bdf.device << 3 | bdf.function,
    };
    let open = OpenDevice {
        file: Some(VfioDeviceFile::open(
            device.function.clone(),
            memory,
            address,
        )),
        owner: std::process::id(),
        pos: Mutex::new(0),
    };
    let entry = Entry {
        object: Object::Device(Arc::new(open)),
        id,
    };
    // A stale entry at this number (closed behind our back) is replaced, and dropped here.
    drop(TABLE.insert(fd, entry));
    Ok(())
}

/// `ioctl(fd, request, arg)` on the file (`vfio_device_fops_unl_ioctl`).
pub fn ioctl(dev: &OpenDevice, request: u32, arg: u64) -> Result<c_int, Errno> {
    let file = dev.serve()?;
    ops::command(|caller| file.ioctl(caller, request, arg))
}
