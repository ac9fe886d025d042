//! The VFIO group file over an edu function behind the mock and VT-d IOMMU models, through
//! the real structs and `GroupFile::ioctl`: each command's errnos in the kernel's order, the
//! container being an iommufd context, and a device fd that came bound to it, so that type1
//! `VFIO_IOMMU_MAP_DMA` reaches the device's DMA.

mod common;

use common::sz;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use uiommu_abi::{
    Caller, FdHost, File, GroupDevice, GroupFile, GroupMember, PciAddress, ProcessVm, REGION_SHIFT,
    UserBuffer, VfioGroup, dispatch,
};
use uiommu_core::context::Context;
use uiommu_core::iommu::DeviceSpec;
use uiommu_devices::SharedFunction;
use uiommu_devices::edu::regs::*;
use uiommu_uapi::Errno;
use uiommu_uapi::vfio::*;
use zerocopy::{FromBytes, IntoBytes};

/// The container's fd (an iommufd context).
const CONTAINER: i32 = 100;
/// An open fd that is no iommufd.
const OTHER: i32 = 300;
/// A closed fd.
const CLOSED: i32 = 999;
/// The function's PCI name.
const NAME: &[u8] = b"0000:00:10.0\0";

/// The caller's fds: the container, [`OTHER`], and the device fds the group handed out.
struct Host {
    ctx: Arc<Context>,
    devices: Mutex<BTreeMap<i32, GroupDevice>>,
    /// Refuse new fds, as with none free.
    full: bool,
}

impl FdHost for Host {
    fn install(&self, _file: File) -> Result<i32, Errno> {
        Err(Errno::ENOMEM)
    }
    fn install_device(&self, device: GroupDevice) -> Result<i32, Errno> {
        if self.full {
            return Err(Errno::ENOMEM);
        }
        let mut t = self.devices.lock().unwrap();
        let fd = 500 + t.len() as i32;
        t.insert(fd, device);
        Ok(fd)
    }
    fn is_open(&self, fd: i32) -> bool {
        [CONTAINER, OTHER].contains(&fd) || self.devices.lock().unwrap().contains_key(&fd)
    }
    fn iommufd(&self, fd: i32) -> Result<Arc<Context>, Errno> {
        if fd == CONTAINER {
            return Ok(Arc::clone(&self.ctx));
        }
        Err(if self.is_open(fd) {
            Errno::EBADFD
        } else {
            Errno::EBADF
        })
    }
    fn get(&self, _fd: i32) -> Option<File> {
        None
    }
    fn uninstall(&self, _fd: i32) {}
    fn map_file(&self, _fd: i32) -> Result<Arc<dyn uiommu_core::ioas::FileBacking>, Errno> {
        Err(Errno::EBADF)
    }
}

/// A group of one edu function, a context to be its container, and the group's file.
struct Setup {
    host: Host,
    function: SharedFunction,
    group: Arc<VfioGroup>,
    file: Option<GroupFile>,
}

fn setup(iommu: &str) -> Setup {
    let driver = uiommu_core::driver::create(iommu).expect("model");
    let ctx = common::ctx_behind(Arc::clone(&driver));
    let phys = Arc::new(driver.probe_device(DeviceSpec::default()).unwrap());
    let function: SharedFunction = Arc::new(Mutex::new(uiommu_devices::edu::function(phys)));
    let group = VfioGroup::new(vec![GroupMember {
        name: "0000:00:10.0".into(),
        function: function.clone(),
        address: PciAddress::default(),
        sriov: None,
    }]);
    let file = group.open(Arc::new(ProcessVm::current())).unwrap();
    let host = Host {
        ctx,
        devices: Mutex::default(),
        full: false,
    };
    Setup {
        host,
        function,
        group,
        file: Some(file),
    }
}

impl Setup {
    fn caller_do<R>(&self, f: impl FnOnce(&Caller<'_>) -> R) -> R {
        let mem = ProcessVm::current();
        f(&Caller::opener(&mem, &self.host))
    }

    fn group_ioctl(&self, cmd: u32, arg: u64) -> Result<i64, Errno> {
        let file = self.file.as_ref().unwrap();
        self.caller_do(|c| file.ioctl(c, cmd, arg))
    }

    fn status(&self) -> Result<u32, Errno> {
        let mut s = VfioGroupStatus {
            argsz: sz::<VfioGroupStatus>(),
            flags: 0,
        };
        self.group_ioctl(VFIO_GROUP_GET_STATUS, addr(&mut s))
            .map(|_| s.flags)
    }

    fn set_container(&self, mut fd: i32) -> Result<i64, Errno> {
        self.group_ioctl(VFIO_GROUP_SET_CONTAINER, addr(&mut fd))
    }

    fn get_device_fd(&self, name: &[u8]) -> Result<i64, Errno> {
        self.group_ioctl(VFIO_GROUP_GET_DEVICE_FD, name.as_ptr() as u64)
    }

    /// `ioctl` on the device fd `fd`.
    fn device_ioctl(&self, fd: i64, cmd: u32, arg: u64) -> Result<i64, Errno> {
        let t = self.host.devices.lock().unwrap();
        let dev = &t[&(fd as i32)];
        self.caller_do(|c| dev.file().ioctl(c, cmd, arg))
    }

    /// A region write through the device fd `fd`.
    fn device_write(&self, fd: i64, index: u32, off: u64, bytes: &[u8]) {
        let t = self.host.devices.lock().unwrap();
        let pos = (u64::from(index) << REGION_SHIFT) + off;
        let buf = UserBuffer {
            addr: bytes.as_ptr() as u64,
            len: bytes.len(),
        };
        let n = self.caller_do(|c| t[&(fd as i32)].file().region_write(c, pos, buf));
        assert_eq!(n, Ok(bytes.len()));
    }

    fn close_device(&self, fd: i64) {
        let dev = self.host.devices.lock().unwrap().remove(&(fd as i32));
        drop(dev);
    }

    /// A type1 command on the container.
    fn container<T: IntoBytes + FromBytes>(&self, cmd: u32, arg: &mut T) -> Result<i64, Errno> {
        self.caller_do(|c| dispatch(&self.host.ctx, c, cmd, addr(arg)))
    }

    fn bound(&self) -> bool {
        self.function.lock().unwrap().dma().device().is_some()
    }
}

fn addr<T>(v: &mut T) -> u64 {
    v as *mut T as u64
}

#[test]
fn a_group_is_open_by_one_file_at_a_time() {
    let mut s = setup("mock");
    let mem = || Arc::new(ProcessVm::current());
    assert_eq!(s.group.open(mem()).err(), Some(Errno::EBUSY));
    assert_eq!(s.set_container(CONTAINER), Ok(0));
    s.file = None;
    // Closed, it can be opened again, out of its container.
    s.file = Some(s.group.open(mem()).unwrap());
    assert_eq!(s.status(), Ok(VFIO_GROUP_FLAGS_VIABLE));
    assert_eq!(
        s.group_ioctl(VFIO_GROUP_GET_STATUS + 10, 0),
        Err(Errno::ENOTTY)
    );
}

#[test]
fn get_status_checks_its_header_then_reports_the_container() {
    let s = setup("mock");
    assert_eq!(s.group_ioctl(VFIO_GROUP_GET_STATUS, 8), Err(Errno::EFAULT));
    let mut short = VfioGroupStatus { argsz: 7, flags: 0 };
    let r = s.group_ioctl(VFIO_GROUP_GET_STATUS, addr(&mut short));
    assert_eq!(r, Err(Errno::EINVAL));
    assert_eq!(s.status(), Ok(VFIO_GROUP_FLAGS_VIABLE));
    s.set_container(CONTAINER).unwrap();
    let both = VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET;
    assert_eq!(s.status(), Ok(both));
}

#[test]
fn set_container_checks_in_the_kernels_order() {
    let s = setup("mock");
    assert_eq!(
        s.group_ioctl(VFIO_GROUP_SET_CONTAINER, 8),
        Err(Errno::EFAULT)
    );
    assert_eq!(s.set_container(CLOSED), Err(Errno::EBADF));
    assert_eq!(s.set_container(OTHER), Err(Errno::EBADFD));
    assert_eq!(s.host.ctx.vfio_ioas().err(), Some(Errno::ENODEV));
    assert_eq!(s.set_container(CONTAINER), Ok(0));
    // The compatibility IOAS now exists: type1 can be set.
    assert!(s.host.ctx.vfio_ioas().is_ok());
    // A closed fd before the group's container; a foreign fd after it.
    assert_eq!(s.set_container(CLOSED), Err(Errno::EBADF));
    assert_eq!(s.set_container(OTHER), Err(Errno::EINVAL));
    assert_eq!(s.set_container(CONTAINER), Err(Errno::EINVAL));
}

#[test]
fn unset_container_needs_one_and_leaves_open_devices_bound() {
    let s = setup("mock");
    let unset = || s.group_ioctl(VFIO_GROUP_UNSET_CONTAINER, 0);
    assert_eq!(unset(), Err(Errno::EINVAL));
    s.set_container(CONTAINER).unwrap();
    let fd = s.get_device_fd(NAME).unwrap();
    // With an iommufd as the container nothing else is checked.
    assert_eq!(unset(), Ok(0));
    assert_eq!(unset(), Err(Errno::EINVAL));
    assert!(s.bound());
    // Not viable while the device's DMA is owned; no device without a container.
    assert_eq!(s.status(), Ok(0));
    assert_eq!(s.get_device_fd(NAME), Err(Errno::EINVAL));
    let mut info = VfioDeviceInfo {
        argsz: sz::<VfioDeviceInfo>(),
        ..Default::default()
    };
    assert_eq!(
        s.device_ioctl(fd, VFIO_DEVICE_GET_INFO, addr(&mut info)),
        Ok(0)
    );
    s.close_device(fd);
    assert!(!s.bound());
    assert_eq!(s.status(), Ok(VFIO_GROUP_FLAGS_VIABLE));
}

#[test]
fn get_device_fd_reads_the_name_then_finds_the_device_then_needs_a_container() {
    let s = setup("mock");
    assert_eq!(s.get_device_fd(&[]), Err(Errno::EFAULT));
    // Not NUL-terminated within a page.
    let long = vec![b'0'; 2 * 4096];
    assert_eq!(s.get_device_fd(&long), Err(Errno::EINVAL));
    assert_eq!(s.get_device_fd(b"0000:00:11.0\0"), Err(Errno::ENODEV));
    assert_eq!(s.get_device_fd(b"0000:00:10.0 x\0"), Err(Errno::EINVAL));
    assert_eq!(s.get_device_fd(NAME), Err(Errno::EINVAL));
    s.set_container(CONTAINER).unwrap();
    assert_eq!(s.get_device_fd(b"0000:00:10\0"), Err(Errno::ENODEV));
    let token = b"0000:00:10.0 vf_token=01234567-89ab-cdef-0123-456789abcdef\0";
    assert_eq!(s.get_device_fd(token), Err(Errno::EINVAL));
    assert!(!s.bound());
    let fd = s.get_device_fd(b"0000:00:10.0  \0").unwrap();
    assert!(s.bound());
    s.close_device(fd);
    assert!(!s.bound());
}

#[test]
fn a_device_fd_that_cannot_be_installed_is_released() {
    let mut s = setup("mock");
    s.host.full = true;
    s.set_container(CONTAINER).unwrap();
    assert_eq!(s.get_device_fd(NAME), Err(Errno::ENOMEM));
    assert!(!s.bound());
}

#[test]
fn a_group_device_refuses_the_cdev_commands_and_shares_its_state() {
    let s = setup("mock");
    s.set_container(CONTAINER).unwrap();
    let fd = s.get_device_fd(NAME).unwrap();
    let r = bind_to_container(&s, s.host.devices.lock().unwrap()[&(fd as i32)].file());
    assert_eq!(r, Err(Errno::EINVAL));
    let ioas = s.host.ctx.vfio_ioas().unwrap().id();
    let mut attach = VfioDeviceAttachIommufdPt {
        argsz: sz::<VfioDeviceAttachIommufdPt>(),
        pt_id: ioas,
        ..Default::default()
    };
    let r = s.device_ioctl(fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, addr(&mut attach));
    assert_eq!(r, Err(Errno::ENOTTY));
    // A second fd of the device: the same device, released with the last of them.
    let second = s.get_device_fd(NAME).unwrap();
    assert_ne!(fd, second);
    s.close_device(fd);
    assert!(s.bound());
    s.close_device(second);
    assert!(!s.bound());
}

/// `VFIO_DEVICE_BIND_IOMMUFD` of `file` to the container's context.
fn bind_to_container(s: &Setup, file: &uiommu_abi::VfioDeviceFile) -> Result<i64, Errno> {
    let mut b = VfioDeviceBindIommufd {
        argsz: sz::<VfioDeviceBindIommufd>(),
        iommufd: CONTAINER,
        ..Default::default()
    };
    s.caller_do(|c| file.ioctl(c, VFIO_DEVICE_BIND_IOMMUFD, addr(&mut b)))
}

#[test]
fn a_bound_cdev_and_an_open_group_exclude_each_other() {
    let mut s = setup("mock");
    let cdev = uiommu_abi::VfioDeviceFile::open(
        s.function.clone(),
        Arc::new(ProcessVm::current()),
        PciAddress::default(),
    )
    .in_group(Arc::clone(&s.group));
    // The group is open: the cdev's file cannot bind.
    assert_eq!(bind_to_container(&s, &cdev), Err(Errno::EBUSY));
    s.file = None;
    assert_eq!(bind_to_container(&s, &cdev), Ok(0));
    // Bound, it keeps the group closed; a second bind is refused and keeps nothing more.
    let mem = || Arc::new(ProcessVm::current());
    assert_eq!(s.group.open(mem()).err(), Some(Errno::EBUSY));
    assert_eq!(bind_to_container(&s, &cdev), Err(Errno::EINVAL));
    cdev.release();
    s.file = Some(s.group.open(mem()).unwrap());
    // A device the group opened is open: a cdev's file does not bind it, group closed or not.
    s.set_container(CONTAINER).unwrap();
    let fd = s.get_device_fd(NAME).unwrap();
    s.file = None;
    assert_eq!(bind_to_container(&s, &cdev), Err(Errno::EINVAL));
    s.close_device(fd);
    assert_eq!(bind_to_container(&s, &cdev), Ok(0));
    cdev.release();
}

/// edu moves 4 KiB between `iova` and its buffer, programmed through the device fd `fd`.
fn edu_dma(s: &Setup, fd: i64, iova: u64, to_ram: bool) {
    let (src, dst, dir) = if to_ram {
        (BUFFER_ADDRESS, iova, DMA_CMD_TO_RAM)
    } else {
        (iova, BUFFER_ADDRESS, 0)
    };
    for (reg, v) in [
        (DMA_SOURCE, src),
        (DMA_DESTINATION, dst),
        (DMA_COUNT, 4096),
        (DMA_COMMAND, DMA_CMD_RUN | dir),
    ] {
        s.device_write(fd, VFIO_PCI_BAR0_REGION_INDEX, reg, &v.to_le_bytes());
    }
}

fn type1_dma(iommu: &str) {
    let s = setup(iommu);
    s.set_container(CONTAINER).unwrap();
    // `VFIO_SET_IOMMU` takes a value, not a pointer.
    let set = s.caller_do(|c| dispatch(&s.host.ctx, c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU.into()));
    assert_eq!(set, Ok(0));
    let fd = s.get_device_fd(NAME).unwrap();
    s.device_write(fd, VFIO_PCI_CONFIG_REGION_INDEX, 4, &6u16.to_le_bytes());
    let mut buf = common::Buffer::new(2 * 4096);
    for (i, b) in buf.bytes_mut()[..4096].iter_mut().enumerate() {
        *b = (i * 7) as u8;
    }
    // Inside the mock's aperture (from 16 MiB) and edu's 28 address bits.
    let iova = 0x200_0000;
    let mut map = VfioIommuType1DmaMap {
        argsz: sz::<VfioIommuType1DmaMap>(),
        flags: VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
        vaddr: buf.addr(),
        iova,
        size: 2 * 4096,
    };
    assert_eq!(s.container(VFIO_IOMMU_MAP_DMA, &mut map), Ok(0));
    edu_dma(&s, fd, iova, false);
    edu_dma(&s, fd, iova + 4096, true);
    let bytes = buf.bytes_mut();
    assert_eq!(bytes[..4096], bytes[4096..], "{iommu}: data moved");
    let mut unmap = VfioIommuType1DmaUnmap {
        argsz: sz::<VfioIommuType1DmaUnmap>(),
        iova,
        size: 2 * 4096,
        ..Default::default()
    };
    assert_eq!(s.container(VFIO_IOMMU_UNMAP_DMA, &mut unmap), Ok(0));
    buf.bytes_mut()[4096..].fill(0xa5);
    edu_dma(&s, fd, iova + 4096, true);
    assert!(
        buf.bytes_mut()[4096..].iter().all(|&b| b == 0xa5),
        "{iommu}: written"
    );
    s.close_device(fd);
    assert!(!s.bound());
}

#[test]
fn type1_map_dma_reaches_a_group_device_behind_the_mock() {
    type1_dma("mock");
}

#[test]
fn type1_map_dma_reaches_a_group_device_behind_vtd() {
    type1_dma("vtd");
}
