//! The vfio-pci device file over an edu function behind the mock and VT-d IOMMU models,
//! through the real structs and `VfioDeviceFile::ioctl`, `region_read` and `region_write`.

mod common;

use common::{ctx_behind, ioctl as iommufd_ioctl, sz};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use uiommu_abi::{
    Caller, FdHost, File, PciAddress, ProcessVm, REGION_SHIFT, UserBuffer, VfioDeviceFile,
};
use uiommu_core::context::Context;
use uiommu_core::iommu::DeviceSpec;
use uiommu_devices::describe::{Capability, ExpressDecl};
use uiommu_devices::edu::{Edu, regs::*};
use uiommu_devices::testing::CountingTrigger;
use uiommu_devices::{Function, PciFunction, SharedFunction, Trigger};
use uiommu_uapi::Errno;
use uiommu_uapi::iommufd::*;
use uiommu_uapi::vfio::*;
use zerocopy::{FromBytes, IntoBytes};

/// The fd of the context.
const IOMMUFD: i32 = 100;
/// An open fd that is neither an iommufd nor an eventfd.
const OTHER: i32 = 300;
/// A closed fd.
const CLOSED: i32 = 999;

/// The caller's fds: the context, counting eventfds from 200, and [`OTHER`].
struct Host {
    ctx: Arc<Context>,
    eventfds: Mutex<BTreeMap<i32, Arc<CountingTrigger>>>,
}

impl Host {
    /// A new eventfd and its counter.
    fn eventfd(&self) -> (i32, Arc<CountingTrigger>) {
        let mut t = self.eventfds.lock().unwrap();
        let fd = 200 + t.len() as i32;
        let c = CountingTrigger::new();
        t.insert(fd, Arc::clone(&c));
        (fd, c)
    }
}

impl FdHost for Host {
    fn install(&self, _file: File) -> Result<i32, Errno> {
        Err(Errno::ENOMEM)
    }
    fn uninstall(&self, _fd: i32) {}
    fn get(&self, _fd: i32) -> Option<File> {
        None
    }
    fn map_file(&self, _fd: i32) -> Result<Arc<dyn uiommu_core::ioas::FileBacking>, Errno> {
        Err(Errno::EBADF)
    }
    fn is_open(&self, fd: i32) -> bool {
        fd == IOMMUFD || fd == OTHER || self.eventfds.lock().unwrap().contains_key(&fd)
    }
    fn iommufd(&self, fd: i32) -> Result<Arc<Context>, Errno> {
        match fd {
            IOMMUFD => Ok(Arc::clone(&self.ctx)),
            _ if self.is_open(fd) => Err(Errno::EBADFD),
            _ => Err(Errno::EBADF),
        }
    }
    fn eventfd(&self, fd: i32) -> Result<Arc<dyn Trigger>, Errno> {
        let found = self.eventfds.lock().unwrap().get(&fd).cloned();
        match found {
            Some(c) => Ok(c as Arc<dyn Trigger>),
            None if self.is_open(fd) => Err(Errno::EINVAL),
            None => Err(Errno::EBADF),
        }
    }
}

/// A context over an IOMMU model with an IOAS, and a device file of a new edu function.
struct Setup {
    host: Host,
    ioas: u32,
    edu: Arc<Mutex<Function<Edu>>>,
    file: VfioDeviceFile,
}

fn setup(iommu: &str) -> Setup {
    setup_as(iommu, uiommu_devices::edu::description())
}

/// edu's registers behind the function `desc` declares.
fn setup_as(iommu: &str, desc: uiommu_devices::Description) -> Setup {
    let driver = uiommu_core::driver::create(iommu).expect("model");
    let ctx = ctx_behind(Arc::clone(&driver));
    let ioas = common::ioas_alloc(&ctx);
    let phys = Arc::new(driver.probe_device(DeviceSpec::default()).unwrap());
    let edu = Arc::new(Mutex::new(Function::new(desc, Edu::default(), phys)));
    let shared: SharedFunction = edu.clone();
    let file = VfioDeviceFile::open(
        shared,
        Arc::new(ProcessVm::current()),
        PciAddress::default(),
    );
    let host = Host {
        ctx,
        eventfds: Mutex::default(),
    };
    Setup {
        host,
        ioas,
        edu,
        file,
    }
}

impl Setup {
    fn ioctl<T: IntoBytes + FromBytes>(&self, cmd: u32, arg: &mut T) -> Result<i64, Errno> {
        self.ioctl_at(cmd, arg as *mut T as u64)
    }

    fn ioctl_at(&self, cmd: u32, addr: u64) -> Result<i64, Errno> {
        let mem = ProcessVm::current();
        self.file
            .ioctl(&Caller::opener(&mem, &self.host), cmd, addr)
    }

    fn bind(&self) -> Result<u32, Errno> {
        let mut b = VfioDeviceBindIommufd {
            argsz: sz::<VfioDeviceBindIommufd>(),
            iommufd: IOMMUFD,
            ..Default::default()
        };
        self.ioctl(VFIO_DEVICE_BIND_IOMMUFD, &mut b)
            .map(|_| b.out_devid)
    }

    fn attach(&self, pt_id: u32) -> Result<u32, Errno> {
        let mut a = VfioDeviceAttachIommufdPt {
            argsz: sz::<VfioDeviceAttachIommufdPt>(),
            pt_id,
            ..Default::default()
        };
        self.ioctl(VFIO_DEVICE_ATTACH_IOMMUFD_PT, &mut a)
            .map(|_| a.pt_id)
    }

    /// Bound and attached to the IOAS.
    fn ready(iommu: &str) -> Setup {
        let s = setup(iommu);
        s.bind().unwrap();
        s.attach(s.ioas).unwrap();
        s
    }

    fn read(&self, index: u32, off: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let mem = ProcessVm::current();
        let pos = (u64::from(index) << REGION_SHIFT) + off;
        let caller = Caller::opener(&mem, &self.host);
        let ub = UserBuffer {
            addr: buf.as_mut_ptr() as u64,
            len: buf.len(),
        };
        self.file.region_read(&caller, pos, ub)
    }

    fn write(&self, index: u32, off: u64, buf: &[u8]) -> Result<usize, Errno> {
        let mem = ProcessVm::current();
        let pos = (u64::from(index) << REGION_SHIFT) + off;
        let caller = Caller::opener(&mem, &self.host);
        let ub = UserBuffer {
            addr: buf.as_ptr() as u64,
            len: buf.len(),
        };
        self.file.region_write(&caller, pos, ub)
    }

    fn cfg32(&self, off: u64) -> u32 {
        let mut b = [0u8; 4];
        self.read(VFIO_PCI_CONFIG_REGION_INDEX, off, &mut b)
            .unwrap();
        u32::from_le_bytes(b)
    }

    fn set_cfg16(&self, off: u64, v: u16) {
        self.write(VFIO_PCI_CONFIG_REGION_INDEX, off, &v.to_le_bytes())
            .unwrap();
    }

    fn bar32(&self, off: u64) -> u32 {
        let mut b = [0u8; 4];
        self.read(VFIO_PCI_BAR0_REGION_INDEX, off, &mut b).unwrap();
        u32::from_le_bytes(b)
    }

    fn set_bar32(&self, off: u64, v: u32) {
        self.write(VFIO_PCI_BAR0_REGION_INDEX, off, &v.to_le_bytes())
            .unwrap();
    }

    fn set_bar64(&self, off: u64, v: u64) {
        self.write(VFIO_PCI_BAR0_REGION_INDEX, off, &v.to_le_bytes())
            .unwrap();
    }

    /// SET_IRQS with `data` after the header.
    fn set_irqs(
        &self,
        flags: u32,
        index: u32,
        start: u32,
        count: u32,
        data: &[u8],
    ) -> Result<i64, Errno> {
        let mut buf = vec![0u8; 20 + data.len()];
        let hdr = VfioIrqSet {
            argsz: buf.len() as u32,
            flags,
            index,
            start,
            count,
        };
        buf[..20].copy_from_slice(hdr.as_bytes());
        buf[20..].copy_from_slice(data);
        self.ioctl_at(VFIO_DEVICE_SET_IRQS, buf.as_mut_ptr() as u64)
    }

    fn set_eventfd(&self, index: u32, fd: i32) -> Result<i64, Errno> {
        let flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
        self.set_irqs(flags, index, 0, 1, &fd.to_ne_bytes())
    }
}

const CONFIG: u32 = VFIO_PCI_CONFIG_REGION_INDEX;
const COMMAND: u64 = 4;
const MEM_MASTER: u16 = 0x6;

#[test]
fn every_ioctl_and_region_access_is_einval_before_bind() {
    let s = setup("mock");
    let mut info = VfioDeviceInfo {
        argsz: sz::<VfioDeviceInfo>(),
        ..Default::default()
    };
    assert_eq!(s.ioctl(VFIO_DEVICE_GET_INFO, &mut info), Err(Errno::EINVAL));
    assert_eq!(s.attach(s.ioas), Err(Errno::EINVAL));
    assert_eq!(s.ioctl_at(VFIO_DEVICE_RESET, 0), Err(Errno::EINVAL));
    assert_eq!(s.ioctl_at(0x1234, 0), Err(Errno::EINVAL));
    let mut b = [0u8; 4];
    assert_eq!(s.read(CONFIG, 0, &mut b), Err(Errno::EINVAL));
    assert_eq!(s.write(CONFIG, 0, &b), Err(Errno::EINVAL));
    // Bound, an unknown number is vfio-pci's ENOTTY.
    s.bind().unwrap();
    assert_eq!(s.ioctl_at(0x1234, 0), Err(Errno::ENOTTY));
    assert_eq!(s.ioctl(VFIO_DEVICE_GET_INFO, &mut info), Ok(0));
}

#[test]
fn bind_checks_its_arguments_in_the_kernels_order() {
    let s = setup("mock");
    let bind = |argsz: u32, flags: u32, iommufd: i32| {
        let mut b = [0u64; 4];
        let v = VfioDeviceBindIommufd {
            argsz,
            flags,
            iommufd,
            ..Default::default()
        };
        b.as_mut_bytes()[..24].copy_from_slice(v.as_bytes());
        s.ioctl_at(VFIO_DEVICE_BIND_IOMMUFD, b.as_mut_ptr() as u64)
    };
    assert_eq!(bind(15, 0, IOMMUFD), Err(Errno::EINVAL));
    assert_eq!(bind(16, 0, -1), Err(Errno::EINVAL));
    assert_eq!(bind(16, 2, IOMMUFD), Err(Errno::EINVAL));
    // A token is read, then refused: this function is no SR-IOV function.
    assert_eq!(
        bind(24, VFIO_DEVICE_BIND_FLAG_TOKEN, IOMMUFD),
        Err(Errno::EFAULT)
    );
    let uuid = [7u8; 16];
    let mut b = VfioDeviceBindIommufd {
        argsz: sz::<VfioDeviceBindIommufd>(),
        flags: VFIO_DEVICE_BIND_FLAG_TOKEN,
        iommufd: IOMMUFD,
        token_uuid_ptr: uuid.as_ptr() as u64,
        ..Default::default()
    };
    assert_eq!(
        s.ioctl(VFIO_DEVICE_BIND_IOMMUFD, &mut b),
        Err(Errno::EINVAL)
    );
    assert_eq!(bind(16, 0, CLOSED), Err(Errno::EBADF));
    assert_eq!(bind(16, 0, OTHER), Err(Errno::EBADFD));
    // A longer struct whose tail is not zero.
    let mut b = [0u64; 5];
    b.as_mut_bytes()[..4].copy_from_slice(&40u32.to_ne_bytes());
    b[4] = 1;
    assert_eq!(
        s.ioctl_at(VFIO_DEVICE_BIND_IOMMUFD, b.as_mut_ptr() as u64),
        Err(Errno::E2BIG)
    );
    // The old 16-byte struct binds; a second bind is refused.
    assert_eq!(bind(16, 0, IOMMUFD), Ok(0));
    assert_eq!(s.bind(), Err(Errno::EINVAL));
}

#[test]
fn attach_and_detach_the_rid_and_check_the_pasid_forms() {
    let s = setup("mock");
    let devid = s.bind().unwrap();
    assert!(devid > 0 && devid != s.ioas);
    let hwpt = s.attach(s.ioas).unwrap();
    assert_ne!(hwpt, s.ioas, "an automatic HWPT");
    // Attaching again replaces; the same automatic HWPT comes back.
    assert_eq!(s.attach(s.ioas), Ok(hwpt));
    // (argsz, flags, pt_id, errno): PASID without room for it, a short argsz, an unknown
    // flag, no such object.
    let pasid = VFIO_DEVICE_ATTACH_PASID;
    for (argsz, flags, pt_id, errno) in [
        (12, pasid, s.ioas, Errno::EINVAL),
        (11, 0, s.ioas, Errno::EINVAL),
        (16, 2, s.ioas, Errno::EINVAL),
        (16, 0, 0xdead, Errno::ENOENT),
    ] {
        let mut a = VfioDeviceAttachIommufdPt {
            argsz,
            flags,
            pt_id,
            pasid: 1,
        };
        let r = s.ioctl(VFIO_DEVICE_ATTACH_IOMMUFD_PT, &mut a);
        assert_eq!(r, Err(errno), "{argsz} {flags:#x} {pt_id}");
    }
    let mut d = VfioDeviceDetachIommufdPt {
        argsz: 8,
        flags: VFIO_DEVICE_DETACH_PASID,
        pasid: 3,
    };
    assert_eq!(
        s.ioctl(VFIO_DEVICE_DETACH_IOMMUFD_PT, &mut d),
        Err(Errno::EINVAL)
    );
    d.argsz = 12;
    assert_eq!(
        s.ioctl(VFIO_DEVICE_DETACH_IOMMUFD_PT, &mut d),
        Ok(0),
        "not attached"
    );
    d.flags = 0;
    assert_eq!(s.ioctl(VFIO_DEVICE_DETACH_IOMMUFD_PT, &mut d), Ok(0));
    assert_eq!(
        s.ioctl(VFIO_DEVICE_DETACH_IOMMUFD_PT, &mut d),
        Ok(0),
        "twice"
    );
    // The device object is the file's: IOMMU_DESTROY of it is busy until close.
    assert_eq!(common::destroy(&s.host.ctx, devid), Err(Errno::EBUSY));
    s.file.release();
    assert_eq!(common::destroy(&s.host.ctx, devid), Err(Errno::ENOENT));
}

#[test]
fn get_info_region_info_and_irq_info_answer_as_vfio_pci() {
    let s = Setup::ready("mock");
    let mut info = VfioDeviceInfo {
        argsz: sz::<VfioDeviceInfo>(),
        cap_offset: 7,
        pad: 7,
        ..Default::default()
    };
    s.ioctl(VFIO_DEVICE_GET_INFO, &mut info).unwrap();
    // QEMU's edu has no reset method (no FLR, no PM): vfio-pci offers no reset.
    assert_eq!(info.flags, VFIO_DEVICE_FLAGS_PCI);
    assert_eq!(
        (info.num_regions, info.num_irqs, info.cap_offset),
        (9, 5, 0)
    );
    // An old caller's 16 bytes: nothing past them is written.
    let mut info = VfioDeviceInfo {
        argsz: 16,
        cap_offset: 7,
        ..Default::default()
    };
    s.ioctl(VFIO_DEVICE_GET_INFO, &mut info).unwrap();
    assert_eq!((info.num_regions, info.cap_offset), (9, 7));
    info.argsz = 15;
    assert_eq!(s.ioctl(VFIO_DEVICE_GET_INFO, &mut info), Err(Errno::EINVAL));

    let region = |index: u32| {
        let mut r = VfioRegionInfo {
            argsz: sz::<VfioRegionInfo>(),
            index,
            cap_offset: 0x55,
            ..Default::default()
        };
        s.ioctl(VFIO_DEVICE_GET_REGION_INFO, &mut r).map(|_| r)
    };
    let rw = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
    let bar0 = region(0).unwrap();
    assert_eq!(
        (bar0.size, bar0.flags, bar0.offset),
        (1 << 20, rw | VFIO_REGION_INFO_FLAG_MMAP, 0)
    );
    assert_eq!(bar0.cap_offset, 0x55, "no capability: copied back as given");
    for i in 1..6 {
        let r = region(i).unwrap();
        assert_eq!((r.size, r.flags, r.offset), (0, 0, u64::from(i) << 40));
    }
    let rom = region(VFIO_PCI_ROM_REGION_INDEX).unwrap();
    assert_eq!((rom.size, rom.flags), (0, 0));
    let cfg = region(CONFIG).unwrap();
    assert_eq!((cfg.size, cfg.flags, cfg.offset), (256, rw, 7 << 40));
    assert_eq!(region(VFIO_PCI_VGA_REGION_INDEX).err(), Some(Errno::EINVAL));
    assert_eq!(region(9).err(), Some(Errno::EINVAL));

    let irq = |index: u32| {
        let mut i = VfioIrqInfo {
            argsz: sz::<VfioIrqInfo>(),
            index,
            ..Default::default()
        };
        s.ioctl(VFIO_DEVICE_GET_IRQ_INFO, &mut i)
            .map(|_| (i.count, i.flags))
    };
    let (ev, nr) = (VFIO_IRQ_INFO_EVENTFD, VFIO_IRQ_INFO_NORESIZE);
    let intx = ev | VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
    assert_eq!(irq(VFIO_PCI_INTX_IRQ_INDEX), Ok((1, intx)));
    assert_eq!(irq(VFIO_PCI_MSI_IRQ_INDEX), Ok((1, ev | nr)));
    assert_eq!(irq(VFIO_PCI_MSIX_IRQ_INDEX), Ok((0, ev)));
    assert_eq!(irq(VFIO_PCI_ERR_IRQ_INDEX), Ok((1, ev | nr)));
    assert_eq!(irq(VFIO_PCI_REQ_IRQ_INDEX), Ok((1, ev | nr)));
    assert_eq!(irq(5), Err(Errno::EINVAL));

    // Hot reset: a root-bus function with no slot has neither a slot nor a bus reset; a
    // short argsz is checked first.
    let mut buf = [0u32; 5];
    buf[0] = 11;
    assert_eq!(
        s.ioctl_at(VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, buf.as_mut_ptr() as u64),
        Err(Errno::EINVAL)
    );
    buf[0] = 20;
    assert_eq!(
        s.ioctl_at(VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, buf.as_mut_ptr() as u64),
        Err(Errno::ENODEV)
    );
}

#[test]
fn set_irqs_validation_errors_through_the_ioctl() {
    let s = Setup::ready("mock");
    let none = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
    // (flags, index, start, count, data bytes, errno)
    let cases: &[(u32, u32, u32, u32, usize, Errno)] = &[
        (none, 5, 0, 1, 0, Errno::EINVAL),
        (none, VFIO_PCI_MSIX_IRQ_INDEX, 0, 0, 0, Errno::EINVAL),
        (none, 0, 1, 0, 0, Errno::EINVAL),
        (none, 0, 0, 2, 0, Errno::EINVAL),
        (none | 0x40, 0, 0, 1, 0, Errno::EINVAL),
        (
            VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
            0,
            0,
            1,
            1,
            Errno::EINVAL,
        ),
        (
            VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
            0,
            0,
            1,
            3,
            Errno::EINVAL,
        ),
        (VFIO_IRQ_SET_DATA_NONE, 0, 0, 1, 0, Errno::ENOTTY),
        (none | VFIO_IRQ_SET_ACTION_MASK, 0, 0, 1, 0, Errno::ENOTTY),
        (
            VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK,
            1,
            0,
            1,
            0,
            Errno::ENOTTY,
        ),
        (
            VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
            3,
            0,
            1,
            0,
            Errno::ENOTTY,
        ),
        // INTx not enabled: MASK, UNMASK and the loopback TRIGGER are EINVAL.
        (
            VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK,
            0,
            0,
            1,
            0,
            Errno::EINVAL,
        ),
        (
            VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
            0,
            0,
            1,
            0,
            Errno::EINVAL,
        ),
        (none, 0, 0, 1, 0, Errno::EINVAL),
        (none, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, 0, Errno::EINVAL),
        // ERR and REQ without an eventfd.
        (none, VFIO_PCI_REQ_IRQ_INDEX, 0, 1, 0, Errno::EINVAL),
        (
            VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER,
            4,
            0,
            0,
            0,
            Errno::EINVAL,
        ),
    ];
    for &(flags, index, start, count, len, errno) in cases {
        let r = s.set_irqs(flags, index, start, count, &vec![0u8; len]);
        assert_eq!(r, Err(errno), "{flags:#x} {index} {start} {count} {len}");
    }
    // A short argsz.
    let mut hdr = VfioIrqSet {
        argsz: 19,
        flags: none,
        ..Default::default()
    };
    assert_eq!(s.ioctl(VFIO_DEVICE_SET_IRQS, &mut hdr), Err(Errno::EINVAL));
    // Eventfd errors.
    assert_eq!(s.set_eventfd(0, CLOSED), Err(Errno::EBADF));
    assert_eq!(s.set_eventfd(0, OTHER), Err(Errno::EINVAL));
    assert_eq!(s.set_eventfd(4, -2), Err(Errno::EINVAL));
}

#[test]
fn intx_masks_itself_and_unmasks_on_request() {
    let s = Setup::ready("mock");
    let (fd, t) = s.host.eventfd();
    s.set_eventfd(VFIO_PCI_INTX_IRQ_INDEX, fd).unwrap();
    s.set_cfg16(COMMAND, MEM_MASTER);
    s.set_bar32(INTERRUPT_RAISE, IRQ_FACTORIAL);
    assert_eq!(t.count(), 1);
    s.set_bar32(INTERRUPT_RAISE, IRQ_DMA);
    assert_eq!(t.count(), 1, "automasked");
    let act = |action: u32| s.set_irqs(VFIO_IRQ_SET_DATA_NONE | action, 0, 0, 1, &[]);
    // Unmasked with the line still asserted: masked again and signalled.
    act(VFIO_IRQ_SET_ACTION_UNMASK).unwrap();
    assert_eq!(t.count(), 2);
    s.set_bar32(INTERRUPT_ACK, IRQ_FACTORIAL | IRQ_DMA);
    act(VFIO_IRQ_SET_ACTION_UNMASK).unwrap();
    assert_eq!(t.count(), 2);
    // A false BOOL mask does nothing; MASK then a raise stays silent.
    s.set_irqs(
        VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_MASK,
        0,
        0,
        1,
        &[0],
    )
    .unwrap();
    act(VFIO_IRQ_SET_ACTION_MASK).unwrap();
    s.set_bar32(INTERRUPT_RAISE, IRQ_FACTORIAL);
    assert_eq!(t.count(), 2);
    act(VFIO_IRQ_SET_ACTION_UNMASK).unwrap();
    assert_eq!(t.count(), 3);
    // Loopback.
    act(VFIO_IRQ_SET_ACTION_TRIGGER).unwrap();
    assert_eq!(t.count(), 4);
    // MSI cannot be enabled while INTx is.
    let (fd2, _) = s.host.eventfd();
    assert_eq!(
        s.set_eventfd(VFIO_PCI_MSI_IRQ_INDEX, fd2),
        Err(Errno::EINVAL)
    );
    // Disable: count 0.
    s.set_irqs(
        VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
        0,
        0,
        0,
        &[],
    )
    .unwrap();
    assert_eq!(act(VFIO_IRQ_SET_ACTION_UNMASK), Err(Errno::EINVAL));
}

#[test]
fn msi_enabled_by_set_irqs_delivers_edus_interrupt() {
    let s = Setup::ready("mock");
    let (fd, t) = s.host.eventfd();
    s.set_eventfd(VFIO_PCI_MSI_IRQ_INDEX, fd).unwrap();
    // The function's MSI is on; the user's view of it is virtual and still off.
    let mut flags = [0u8; 2];
    s.edu.lock().unwrap().config_read(0x42, &mut flags).unwrap();
    assert_eq!(u16::from_le_bytes(flags) & 1, 1);
    assert_eq!(s.cfg32(0x40) >> 16 & 1, 0);
    s.set_cfg16(COMMAND, MEM_MASTER);
    s.set_bar32(STATUS, STATUS_IRQFACT);
    s.set_bar32(FACTORIAL, 5);
    assert_eq!(s.bar32(FACTORIAL), 120);
    assert_eq!(t.count(), 1);
    // Loopback, and a BOOL of false.
    let trig = VFIO_IRQ_SET_ACTION_TRIGGER;
    s.set_irqs(VFIO_IRQ_SET_DATA_NONE | trig, 1, 0, 1, &[])
        .unwrap();
    s.set_irqs(VFIO_IRQ_SET_DATA_BOOL | trig, 1, 0, 1, &[0])
        .unwrap();
    assert_eq!(t.count(), 2);
    // Disabled: the function's MSI is off again and edu falls back to INTx.
    s.set_irqs(VFIO_IRQ_SET_DATA_NONE | trig, 1, 0, 0, &[])
        .unwrap();
    s.edu.lock().unwrap().config_read(0x42, &mut flags).unwrap();
    assert_eq!(u16::from_le_bytes(flags) & 1, 0);
    s.set_bar32(INTERRUPT_RAISE, IRQ_DMA);
    assert_eq!(t.count(), 2);
}

#[test]
fn config_space_is_the_virtual_view() {
    let s = Setup::ready("vtd");
    assert_eq!(s.cfg32(0), 0x11e8_1234);
    // BAR sizing reads the size mask back; the function's own BAR is untouched.
    s.write(CONFIG, 0x10, &[0xff; 4]).unwrap();
    assert_eq!(s.cfg32(0x10), 0xfff0_0000);
    s.write(CONFIG, 0x10, &0xfe12_3456u32.to_le_bytes())
        .unwrap();
    assert_eq!(s.cfg32(0x10), 0xfe10_0000);
    s.write(CONFIG, 0x14, &[0xff; 4]).unwrap();
    assert_eq!(s.cfg32(0x14), 0, "no BAR 1");
    s.write(CONFIG, 0x30, &[0xff; 4]).unwrap();
    assert_eq!(s.cfg32(0x30), 0, "no ROM");
    // Read-only: IDs, Status, the pin.
    s.write(CONFIG, 0, &[0; 4]).unwrap();
    assert_eq!(s.cfg32(0), 0x11e8_1234);
    s.write(CONFIG, 0x3c, &[0x0b, 0x02]).unwrap();
    assert_eq!(s.cfg32(0x3c) & 0xffff, 0x010b);
    // Command goes to the function; a write across the end is EFAULT.
    s.set_cfg16(COMMAND, MEM_MASTER);
    assert_eq!(s.cfg32(COMMAND) & 0xffff, u32::from(MEM_MASTER));
    let mut b = [0u8; 8];
    assert_eq!(s.read(CONFIG, 252, &mut b), Err(Errno::EFAULT));
    assert_eq!(s.read(CONFIG, 256, &mut b[..1]), Err(Errno::EFAULT));
    // An unaligned 8-byte read in pieces.
    assert_eq!(s.read(CONFIG, 1, &mut b), Ok(8));
    assert_eq!(b[..3], [0x12, 0xe8, 0x11]);
}

#[test]
fn bar0_reaches_edus_registers_with_vfio_pcis_access_rules() {
    let s = Setup::ready("mock");
    let mut b = [0u8; 4];
    // The open enabled Memory Space (`pci_enable_device`); with it disabled: EIO.
    assert_eq!(s.cfg32(COMMAND) & u32::from(MEM_MASTER), 0x2);
    assert_eq!(s.bar32(IDENTIFICATION), IDENTIFICATION_VALUE);
    s.set_cfg16(COMMAND, 0);
    assert_eq!(s.read(0, 0, &mut b), Err(Errno::EIO));
    s.set_cfg16(COMMAND, MEM_MASTER);
    assert_eq!(s.bar32(IDENTIFICATION), IDENTIFICATION_VALUE);
    s.set_bar32(LIVENESS, 0x1234_5678);
    assert_eq!(s.bar32(LIVENESS), !0x1234_5678);
    // Past the end: EINVAL; across it: cut.
    assert_eq!(s.read(0, BAR0_SIZE, &mut b), Err(Errno::EINVAL));
    let mut b8 = [0u8; 8];
    assert_eq!(s.read(0, BAR0_SIZE - 4, &mut b8), Ok(4));
    // No BAR 1, no ROM to write, no VGA.
    assert_eq!(s.read(1, 0, &mut b), Err(Errno::EINVAL));
    assert_eq!(
        s.write(VFIO_PCI_ROM_REGION_INDEX, 0, &b),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        s.read(VFIO_PCI_VGA_REGION_INDEX, 0, &mut b),
        Err(Errno::EINVAL)
    );
    // edu has no reset method: VFIO_DEVICE_RESET is EINVAL and changes nothing.
    s.set_bar32(LIVENESS, 1);
    assert_eq!(s.ioctl_at(VFIO_DEVICE_RESET, 0), Err(Errno::EINVAL));
    assert_eq!(s.bar32(LIVENESS), !1);
}

#[test]
fn a_function_with_flr_offers_reset_and_resets_its_registers() {
    let mut desc = uiommu_devices::edu::description();
    desc.capabilities.push(Capability::Express(ExpressDecl {
        flr: true,
        max_payload: 0,
    }));
    let s = setup_as("mock", desc);
    s.bind().unwrap();
    s.attach(s.ioas).unwrap();
    s.set_cfg16(COMMAND, MEM_MASTER);
    let mut info = VfioDeviceInfo {
        argsz: sz::<VfioDeviceInfo>(),
        ..Default::default()
    };
    s.ioctl(VFIO_DEVICE_GET_INFO, &mut info).unwrap();
    assert_eq!(info.flags, VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET);
    // Reset: registers at power-on, Command kept as the host restores it.
    s.set_bar32(LIVENESS, 1);
    s.ioctl_at(VFIO_DEVICE_RESET, 0).unwrap();
    assert_eq!(s.bar32(LIVENESS), 0);
}

#[test]
fn mmap_of_a_bar_follows_vfio_pci_core_mmaps_checks_and_its_accesses_reach_edu() {
    let s = setup("mock");
    let at = |i: u32| u64::from(i) << REGION_SHIFT;
    assert_eq!(s.file.mmap(0, 4096, true), Err(Errno::EINVAL), "unbound");
    s.bind().unwrap();
    let ok = |off: u64, len: u64| s.file.mmap(off, len, true).map(|m| (m.bar, m.offset));
    assert_eq!(ok(at(VFIO_PCI_NUM_REGIONS), 4096), Err(Errno::EINVAL));
    assert_eq!(s.file.mmap(0, 4096, false), Err(Errno::EINVAL), "private");
    for i in [
        VFIO_PCI_ROM_REGION_INDEX,
        CONFIG,
        VFIO_PCI_VGA_REGION_INDEX,
        1,
    ] {
        assert_eq!(ok(at(i), 4096), Err(Errno::EINVAL), "region {i}");
    }
    assert_eq!(ok(0, BAR0_SIZE), Ok((0, 0)));
    assert_eq!(ok(0, BAR0_SIZE + 1), Err(Errno::EINVAL), "past the end");
    assert_eq!(ok(BAR0_SIZE - 4096, 100), Ok((0, BAR0_SIZE - 4096)));
    assert_eq!(ok(BAR0_SIZE, 4096), Err(Errno::EINVAL));

    // The accesses of the mapping: EIO with Memory Space off, as pread's.
    let mut b = [0u8; 4];
    s.set_cfg16(COMMAND, 0);
    assert_eq!(
        s.file.mmio(0, IDENTIFICATION, &mut b, false),
        Err(Errno::EIO)
    );
    s.set_cfg16(COMMAND, MEM_MASTER);
    s.file.mmio(0, IDENTIFICATION, &mut b, false).unwrap();
    assert_eq!(u32::from_le_bytes(b), IDENTIFICATION_VALUE);
    let mut v = 0x1234_5678u32.to_le_bytes();
    s.file.mmio(0, LIVENESS, &mut v, true).unwrap();
    assert_eq!(s.bar32(LIVENESS), !0x1234_5678);
    assert_eq!(s.file.mmio(0, BAR0_SIZE, &mut b, false), Err(Errno::EINVAL));
}

/// Maps `len` bytes at `uva` to `iova` in the IOAS.
fn map(s: &Setup, iova: u64, uva: u64, len: u64) {
    let mut cmd = IommuIoasMap {
        size: sz::<IommuIoasMap>(),
        flags: IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
        ioas_id: s.ioas,
        user_va: uva,
        length: len,
        iova,
        ..Default::default()
    };
    iommufd_ioctl(&s.host.ctx, IOMMU_IOAS_MAP, &mut cmd).unwrap();
}

fn unmap(s: &Setup, iova: u64, len: u64) {
    let mut cmd = IommuIoasUnmap {
        size: sz::<IommuIoasUnmap>(),
        ioas_id: s.ioas,
        iova,
        length: len,
    };
    iommufd_ioctl(&s.host.ctx, IOMMU_IOAS_UNMAP, &mut cmd).unwrap();
}

/// edu moves `count` bytes between `iova` and its buffer, programmed through BAR 0.
fn edu_dma(s: &Setup, iova: u64, count: u64, to_ram: bool) {
    let (src, dst) = if to_ram {
        (BUFFER_ADDRESS, iova)
    } else {
        (iova, BUFFER_ADDRESS)
    };
    s.set_bar64(DMA_SOURCE, src);
    s.set_bar64(DMA_DESTINATION, dst);
    s.set_bar64(DMA_COUNT, count);
    let dir = if to_ram { DMA_CMD_TO_RAM } else { 0 };
    s.set_bar64(DMA_COMMAND, DMA_CMD_RUN | dir);
}

fn end_to_end(iommu: &str) {
    let s = Setup::ready(iommu);
    s.set_cfg16(COMMAND, MEM_MASTER);
    let mut buf = common::Buffer::new(2 * 4096);
    // Inside the mock's aperture (from 16 MiB) and edu's 28 address bits.
    let iova = 0x200_0000;
    for (i, b) in buf.bytes_mut()[..4096].iter_mut().enumerate() {
        *b = i as u8;
    }
    map(&s, iova, buf.addr(), 2 * 4096);
    edu_dma(&s, iova, 4096, false);
    edu_dma(&s, iova + 4096, 4096, true);
    let bytes = buf.bytes_mut();
    assert_eq!(bytes[..4096], bytes[4096..], "{iommu}: data moved");
    assert_eq!(s.bar32(DMA_COMMAND) & 1, 0, "done");
    unmap(&s, iova, 2 * 4096);
    let before = buf.bytes_mut().to_vec();
    edu_dma(&s, iova + 4096, 4096, true);
    assert_eq!(buf.bytes_mut().to_vec(), before, "{iommu}: nothing written");
    assert_eq!(s.bar32(DMA_COMMAND) & 1, 0, "completed, as QEMU's edu does");
    let abort = s.edu.lock().unwrap().model().dma_abort();
    assert!(
        matches!(abort, Some(uiommu_devices::dma::DmaAbort::Iommu(_))),
        "{iommu}: {abort:?}"
    );
    // Closing unbinds: the device is gone from the context.
    s.file.release();
}

#[test]
fn edu_dma_moves_data_through_the_mock_and_faults_after_unmap() {
    end_to_end("mock");
}

#[test]
fn edu_dma_moves_data_through_vtd_and_faults_after_unmap() {
    end_to_end("vtd");
}

/// A model without registers, for a function that declares every kind of BAR and capability.
#[derive(Debug)]
struct Registerless;

impl uiommu_devices::Model for Registerless {
    fn bar_read(&mut self, _: &mut uiommu_devices::Bus, _: u8, _: u64, data: &mut [u8]) {
        data.fill(0);
    }
    fn bar_write(&mut self, _: &mut uiommu_devices::Bus, _: u8, _: u64, _: &[u8]) {}
    fn reset(&mut self, _: &mut uiommu_devices::Bus) {}
}

#[test]
fn a_pci_express_function_with_msix_shows_its_regions_and_vectors() {
    let driver = uiommu_core::driver::create("mock").unwrap();
    let ctx = ctx_behind(Arc::clone(&driver));
    let probe = || {
        Arc::new(
            Arc::clone(&driver)
                .probe_device(DeviceSpec::default())
                .unwrap(),
        )
    };
    let phys = probe();
    let desc = uiommu_devices::testing::every_feature();
    let f: SharedFunction = Arc::new(Mutex::new(Function::new(desc, Registerless, phys)));
    let file = VfioDeviceFile::open(f, Arc::new(ProcessVm::current()), PciAddress::default());
    let s = Setup {
        ioas: common::ioas_alloc(&ctx),
        host: Host {
            ctx,
            eventfds: Mutex::default(),
        },
        edu: Arc::new(Mutex::new(uiommu_devices::edu::function(probe()))),
        file,
    };
    s.bind().unwrap();
    let region = |index: u32, argsz: u32| {
        let mut buf = [0u64; 8];
        (buf[0], buf[1]) = (u64::from(argsz), u64::from(index));
        s.ioctl_at(VFIO_DEVICE_GET_REGION_INFO, buf.as_mut_ptr() as u64)
            .map(|_| buf)
    };
    let (r, w, m, c) = (
        VFIO_REGION_INFO_FLAG_READ,
        VFIO_REGION_INFO_FLAG_WRITE,
        VFIO_REGION_INFO_FLAG_MMAP,
        VFIO_REGION_INFO_FLAG_CAPS,
    );
    let info = |b: [u64; 8]| VfioRegionInfo::read_from_bytes(&b.as_bytes()[..32]).unwrap();
    // BAR 0-1: 64-bit, 16 KiB; BAR 1 is its upper half. BAR 3: I/O, no mmap.
    let b0 = info(region(0, 32).unwrap());
    assert_eq!((b0.size, b0.flags), (16 << 10, r | w | m));
    assert_eq!(info(region(1, 32).unwrap()).size, 0);
    let b3 = info(region(3, 32).unwrap());
    assert_eq!((b3.size, b3.flags), (256, r | w));
    // BAR 4 holds the MSI-X table: MSIX_MAPPABLE, copied only when argsz has room.
    let small = info(region(4, 32).unwrap());
    assert_eq!(
        (small.flags, small.argsz, small.cap_offset),
        (r | w | m | c, 40, 0)
    );
    let whole = region(4, 40).unwrap();
    let b4 = info(whole);
    assert_eq!((b4.flags, b4.argsz, b4.cap_offset), (r | w | m | c, 40, 32));
    let header = VfioInfoCapHeader::read_from_bytes(&whole.as_bytes()[32..40]).unwrap();
    assert_eq!(
        (header.id, header.version, header.next),
        (VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, 1, 0)
    );
    let rom = info(region(VFIO_PCI_ROM_REGION_INDEX, 32).unwrap());
    assert_eq!((rom.size, rom.flags), (64 << 10, r));
    assert_eq!(info(region(CONFIG, 32).unwrap()).size, 4096);
    // mmap: the I/O BAR and the upper half are refused; the MSI-X table's BAR is mappable
    // whole (7.3 reports MSIX_MAPPABLE and leaves no hole).
    let at = |i: u64| i << REGION_SHIFT;
    assert_eq!(s.file.mmap(at(3), 4096, true), Err(Errno::EINVAL));
    assert_eq!(s.file.mmap(at(1), 4096, true), Err(Errno::EINVAL));
    assert_eq!(
        s.file.mmap(at(4), 4096, true).map(|m| (m.bar, m.offset)),
        Ok((4, 0))
    );

    // MSI-X: 16 vectors that can grow; MSI: 4.
    let mut i = VfioIrqInfo {
        argsz: 16,
        index: VFIO_PCI_MSIX_IRQ_INDEX,
        ..Default::default()
    };
    s.ioctl(VFIO_DEVICE_GET_IRQ_INFO, &mut i).unwrap();
    assert_eq!((i.count, i.flags), (16, VFIO_IRQ_INFO_EVENTFD));
    i.index = VFIO_PCI_MSI_IRQ_INDEX;
    s.ioctl(VFIO_DEVICE_GET_IRQ_INFO, &mut i).unwrap();
    assert_eq!(i.count, 4);

    // Vectors 2 and 3 of MSI-X get eventfds; the table is hidden from region I/O.
    let (fd2, t2) = s.host.eventfd();
    let (fd3, t3) = s.host.eventfd();
    let fds = [-1, -1, fd2, fd3];
    let flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
    s.set_irqs(flags, VFIO_PCI_MSIX_IRQ_INDEX, 0, 4, fds.as_bytes())
        .unwrap();
    s.set_cfg16(COMMAND, MEM_MASTER);
    let mut entry = [0u8; 16];
    assert_eq!(s.read(4, 2 * 16, &mut entry), Ok(16));
    assert_eq!(entry, [0xff; 16]);
    // Loopback of vectors 2..4: only those with an eventfd signal.
    let none = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
    s.set_irqs(none, VFIO_PCI_MSIX_IRQ_INDEX, 1, 3, &[])
        .unwrap();
    assert_eq!((t2.count(), t3.count()), (1, 1));
    // A bad fd in a block leaves none of the block's vectors set.
    s.set_irqs(
        flags,
        VFIO_PCI_MSIX_IRQ_INDEX,
        5,
        2,
        [fd2, CLOSED].as_bytes(),
    )
    .unwrap_err();
    // ERR on a PCI Express function: an eventfd, then loopback.
    let (fde, te) = s.host.eventfd();
    s.set_eventfd(VFIO_PCI_ERR_IRQ_INDEX, fde).unwrap();
    s.set_irqs(none, VFIO_PCI_ERR_IRQ_INDEX, 0, 1, &[]).unwrap();
    assert_eq!(te.count(), 1);
}
