//! Helpers for the legacy type1 container tests: a container, an edu group behind VT-d that
//! joins it, the caller's fds (the container's, the device files, a fake BAR mapping), and the
//! container's ioctls with real buffers.
#![allow(dead_code)]

use crate::common::{process, sz};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use uiommu_abi::{
    Caller, FdHost, File, GroupDevice, GroupFile, GroupMember, PciAddress, ProcessVm,
    Type1Container, VfioGroup,
};
use uiommu_core::iommu::DeviceSpec;
use uiommu_uapi::Errno;
use uiommu_uapi::vfio::*;
use zerocopy::{FromBytes, IntoBytes};

/// The container's fd.
pub const CONTAINER: i32 = 100;
/// An iommufd's fd.
pub const IOMMUFD: i32 = 200;
/// A range the caller "mapped from a device file" by default: no memory is there.
pub const BAR: (u64, u64) = (0x7e00_0000_0000, 0x10_0000);
pub const PAGE: u64 = 4096;

pub struct Host {
    pub container: Arc<Type1Container>,
    /// Where the caller "mapped a BAR": [`BAR`] unless a test moves it.
    pub bar: Mutex<(u64, u64)>,
    /// An iommufd context at [`IOMMUFD`].
    pub ctx: Arc<uiommu_core::context::Context>,
    pub devices: Mutex<BTreeMap<i32, GroupDevice>>,
}

impl FdHost for Host {
    fn install(&self, _file: File) -> Result<i32, Errno> {
        Err(Errno::ENOMEM)
    }
    fn install_device(&self, device: GroupDevice) -> Result<i32, Errno> {
        let mut t = self.devices.lock().unwrap();
        let fd = 500 + t.len() as i32;
        t.insert(fd, device);
        Ok(fd)
    }
    fn is_open(&self, fd: i32) -> bool {
        fd == CONTAINER || fd == IOMMUFD
    }
    fn iommufd(&self, fd: i32) -> Result<Arc<uiommu_core::context::Context>, Errno> {
        match fd {
            IOMMUFD => Ok(Arc::clone(&self.ctx)),
            CONTAINER => Err(Errno::EBADFD),
            _ => Err(Errno::EBADF),
        }
    }
    fn get(&self, _fd: i32) -> Option<File> {
        None
    }
    fn uninstall(&self, _fd: i32) {}
    fn map_file(&self, _fd: i32) -> Result<Arc<dyn uiommu_core::ioas::FileBacking>, Errno> {
        Err(Errno::EBADF)
    }
    fn vfio_container(&self, fd: i32) -> Option<Arc<Type1Container>> {
        (fd == CONTAINER).then(|| Arc::clone(&self.container))
    }
    fn pfnmaps(&self, vaddr: u64, len: u64) -> Vec<(u64, u64)> {
        let bar = *self.bar.lock().unwrap();
        let (from, to) = (vaddr.max(bar.0), (vaddr + len).min(bar.0 + bar.1));
        if from < to {
            vec![(from, to - from)]
        } else {
            Vec::new()
        }
    }
}

pub struct Setup {
    pub host: Host,
    pub group: Arc<VfioGroup>,
    pub file: Option<GroupFile>,
}

pub fn setup() -> Setup {
    let driver = uiommu_core::driver::create("vtd").expect("model");
    let phys = Arc::new(
        Arc::clone(&driver)
            .probe_device(DeviceSpec::default())
            .unwrap(),
    );
    let function = Arc::new(Mutex::new(uiommu_devices::edu::function(phys)));
    let group = VfioGroup::new(vec![GroupMember {
        name: "0000:00:10.0".into(),
        function,
        address: PciAddress::default(),
        sriov: None,
    }]);
    let file = group.open(Arc::new(ProcessVm::current())).unwrap();
    let host = Host {
        bar: Mutex::new(BAR),
        ctx: crate::common::ctx_behind(Arc::clone(&driver)),
        container: Type1Container::new(process(1 << 30), driver),
        devices: Mutex::default(),
    };
    Setup {
        host,
        group,
        file: Some(file),
    }
}

pub fn addr<T>(v: &mut T) -> u64 {
    v as *mut T as u64
}

impl Setup {
    pub fn caller_do<R>(&self, f: impl FnOnce(&Caller<'_>) -> R) -> R {
        let mem = ProcessVm::current();
        f(&Caller::opener(&mem, &self.host))
    }
    pub fn at(&self, cmd: u32, arg: u64) -> Result<i64, Errno> {
        self.caller_do(|c| self.host.container.ioctl(c, cmd, arg))
    }
    pub fn call<T: IntoBytes + FromBytes>(&self, cmd: u32, arg: &mut T) -> Result<i64, Errno> {
        self.at(cmd, addr(arg))
    }
    pub fn group(&self, cmd: u32, arg: u64) -> Result<i64, Errno> {
        self.caller_do(|c| self.file.as_ref().expect("open").ioctl(c, cmd, arg))
    }
    pub fn join(&self) {
        let mut fd = CONTAINER;
        assert_eq!(self.group(VFIO_GROUP_SET_CONTAINER, addr(&mut fd)), Ok(0));
    }
    pub fn open_device(&self) -> Result<i64, Errno> {
        self.group(VFIO_GROUP_GET_DEVICE_FD, c"0000:00:10.0".as_ptr() as u64)
    }
    /// Joined, `ty` set, the device open (its domain attached).
    pub fn ready(ty: u32) -> Setup {
        let s = setup();
        s.join();
        assert_eq!(s.at(VFIO_SET_IOMMU, u64::from(ty)), Ok(0));
        s.open_device().unwrap();
        s
    }
    pub fn map(&self, flags: u32, vaddr: u64, iova: u64, size: u64) -> Result<i64, Errno> {
        let mut m = VfioIommuType1DmaMap {
            argsz: sz::<VfioIommuType1DmaMap>(),
            flags,
            vaddr,
            iova,
            size,
        };
        self.call(VFIO_IOMMU_MAP_DMA, &mut m)
    }
    pub fn map_rw(&self, vaddr: u64, iova: u64, size: u64) -> Result<i64, Errno> {
        self.map(
            VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
            vaddr,
            iova,
            size,
        )
    }
    /// UNMAP_DMA: the result and the size written back (`u64::MAX` if none was).
    pub fn unmap(&self, flags: u32, iova: u64, size: u64) -> (Result<i64, Errno>, u64) {
        let mut u = VfioIommuType1DmaUnmap {
            argsz: sz::<VfioIommuType1DmaUnmap>(),
            flags,
            iova,
            size,
        };
        let r = self.call(VFIO_IOMMU_UNMAP_DMA, &mut u);
        (r, if r.is_ok() { u.size } else { u64::MAX })
    }
    /// The info struct and the capability chain after it.
    pub fn info(&self, argsz: u32) -> (Result<i64, Errno>, Vec<u8>) {
        let mut buf = vec![0xa5u8; 1024];
        buf[..4].copy_from_slice(&argsz.to_ne_bytes());
        let r = self.at(VFIO_IOMMU_GET_INFO, buf.as_mut_ptr() as u64);
        (r, buf)
    }
    pub fn dma_avail(&self) -> u32 {
        let (r, buf) = self.info(1024);
        r.unwrap();
        let mut off = u32::from_ne_bytes(buf[16..20].try_into().unwrap()) as usize;
        while off != 0 {
            let id = u16::from_ne_bytes(buf[off..off + 2].try_into().unwrap());
            if id == VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL {
                return u32::from_ne_bytes(buf[off + 8..off + 12].try_into().unwrap());
            }
            off = u32::from_ne_bytes(buf[off + 4..off + 8].try_into().unwrap()) as usize;
        }
        panic!("no dma_avail capability");
    }
}
