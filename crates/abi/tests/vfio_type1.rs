//! The legacy VFIO container with the type1 backend (`drivers/vfio/container.c`,
//! `drivers/vfio/vfio_iommu_type1.c`), where it differs from iommufd's compatibility
//! container: a group's file joins it, `VFIO_SET_IOMMU` needs a group and is set once, the
//! device opens only after it, mappings are whole entries (v1 and v2 unmap rules), the entry
//! limit shows in `dma_avail`, `VADDR` updates and dirty logging exist, the info chain is all
//! or nothing with a migration capability, and a BAR mapping (`VM_PFNMAP`) can be mapped.

mod common;

use common::{Buffer, sz};
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
const CONTAINER: i32 = 100;
/// A range the caller "mapped from a device file": no memory is there.
const BAR: (u64, u64) = (0x7e00_0000_0000, 0x10_0000);
const PAGE: u64 = 4096;

struct Host {
    container: Arc<Type1Container>,
    devices: Mutex<BTreeMap<i32, GroupDevice>>,
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
        fd == CONTAINER
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
    fn pfnmap(&self, vaddr: u64) -> Option<(u64, u64)> {
        (BAR.0..BAR.0 + BAR.1)
            .contains(&vaddr)
            .then(|| (vaddr, BAR.0 + BAR.1 - vaddr))
    }
}

struct Setup {
    host: Host,
    file: GroupFile,
}

fn setup() -> Setup {
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
    }]);
    let file = group.open(Arc::new(ProcessVm::current())).unwrap();
    let host = Host {
        container: Type1Container::new(common::process(1 << 30), driver),
        devices: Mutex::default(),
    };
    Setup { host, file }
}

fn addr<T>(v: &mut T) -> u64 {
    v as *mut T as u64
}

impl Setup {
    fn caller_do<R>(&self, f: impl FnOnce(&Caller<'_>) -> R) -> R {
        let mem = ProcessVm::current();
        f(&Caller::opener(&mem, &self.host))
    }
    fn at(&self, cmd: u32, arg: u64) -> Result<i64, Errno> {
        self.caller_do(|c| self.host.container.ioctl(c, cmd, arg))
    }
    fn call<T: IntoBytes + FromBytes>(&self, cmd: u32, arg: &mut T) -> Result<i64, Errno> {
        self.at(cmd, addr(arg))
    }
    fn group(&self, cmd: u32, arg: u64) -> Result<i64, Errno> {
        self.caller_do(|c| self.file.ioctl(c, cmd, arg))
    }
    fn join(&self) {
        let mut fd = CONTAINER;
        assert_eq!(self.group(VFIO_GROUP_SET_CONTAINER, addr(&mut fd)), Ok(0));
    }
    fn open_device(&self) -> Result<i64, Errno> {
        self.group(VFIO_GROUP_GET_DEVICE_FD, c"0000:00:10.0".as_ptr() as u64)
    }
    /// Joined, `ty` set, the device open (its domain attached).
    fn ready(ty: u32) -> Setup {
        let s = setup();
        s.join();
        assert_eq!(s.at(VFIO_SET_IOMMU, u64::from(ty)), Ok(0));
        s.open_device().unwrap();
        s
    }
    fn map(&self, flags: u32, vaddr: u64, iova: u64, size: u64) -> Result<i64, Errno> {
        let mut m = VfioIommuType1DmaMap {
            argsz: sz::<VfioIommuType1DmaMap>(),
            flags,
            vaddr,
            iova,
            size,
        };
        self.call(VFIO_IOMMU_MAP_DMA, &mut m)
    }
    fn map_rw(&self, vaddr: u64, iova: u64, size: u64) -> Result<i64, Errno> {
        self.map(
            VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
            vaddr,
            iova,
            size,
        )
    }
    /// UNMAP_DMA: the result and the size written back (`u64::MAX` if none was).
    fn unmap(&self, flags: u32, iova: u64, size: u64) -> (Result<i64, Errno>, u64) {
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
    fn info(&self, argsz: u32) -> (Result<i64, Errno>, Vec<u8>) {
        let mut buf = vec![0xa5u8; 1024];
        buf[..4].copy_from_slice(&argsz.to_ne_bytes());
        let r = self.at(VFIO_IOMMU_GET_INFO, buf.as_mut_ptr() as u64);
        (r, buf)
    }
    fn dma_avail(&self) -> u32 {
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

#[test]
fn the_container_before_a_group_and_set_iommu() {
    let s = setup();
    assert_eq!(
        s.at(VFIO_GET_API_VERSION, 0),
        Ok(i64::from(VFIO_API_VERSION))
    );
    for (ext, want) in [
        (VFIO_TYPE1_IOMMU, 1),
        (VFIO_TYPE1v2_IOMMU, 1),
        (VFIO_UNMAP_ALL, 1),
        // Only with a backend (iommufd never offers it).
        (VFIO_UPDATE_VADDR, 0),
        (VFIO_DMA_CC_IOMMU, 0),
        (VFIO_NOIOMMU_IOMMU, 0),
        (6, 0),
        (VFIO_SPAPR_TCE_IOMMU, 0),
    ] {
        assert_eq!(
            s.at(VFIO_CHECK_EXTENSION, u64::from(ext)),
            Ok(want),
            "{ext}"
        );
    }
    // No group: nothing to set; no backend: its commands are EINVAL, not ENOTTY or ENODEV.
    assert_eq!(
        s.at(VFIO_SET_IOMMU, u64::from(VFIO_TYPE1v2_IOMMU)),
        Err(Errno::EINVAL)
    );
    assert_eq!(s.map_rw(0, 0, PAGE), Err(Errno::EINVAL));
    assert_eq!(s.at(VFIO_IOMMU_GET_INFO + 40, 0), Err(Errno::EINVAL));
    s.join();
    // A type no backend offers is ENODEV (iommufd's is EINVAL).
    for ty in [VFIO_SPAPR_TCE_IOMMU, VFIO_NOIOMMU_IOMMU, 6] {
        assert_eq!(s.at(VFIO_SET_IOMMU, u64::from(ty)), Err(Errno::ENODEV));
    }
    // The device needs the backend first.
    assert_eq!(s.open_device(), Err(Errno::EINVAL));
    assert_eq!(s.at(VFIO_SET_IOMMU, u64::from(VFIO_TYPE1_IOMMU)), Ok(0));
    // No domain yet: none fails to enforce coherency; the device's does not.
    let cc = u64::from(VFIO_DMA_CC_IOMMU);
    assert_eq!(s.at(VFIO_CHECK_EXTENSION, cc), Ok(1));
    s.open_device().unwrap();
    assert_eq!(s.at(VFIO_CHECK_EXTENSION, cc), Ok(0));
    // Set once (iommufd's may be set again).
    assert_eq!(
        s.at(VFIO_SET_IOMMU, u64::from(VFIO_TYPE1v2_IOMMU)),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        s.at(VFIO_CHECK_EXTENSION, u64::from(VFIO_UPDATE_VADDR)),
        Ok(1)
    );
    assert_eq!(s.at(VFIO_IOMMU_GET_INFO + 40, 0), Err(Errno::ENOTTY));
    // v1 has no dirty logging.
    let mut d = VfioIommuType1DirtyBitmap {
        argsz: 8,
        flags: VFIO_IOMMU_DIRTY_PAGES_FLAG_START,
    };
    assert_eq!(s.call(VFIO_IOMMU_DIRTY_PAGES, &mut d), Err(Errno::EACCES));
}

#[test]
fn leaving_the_container_needs_closed_devices_and_releases_the_backend() {
    let s = Setup::ready(VFIO_TYPE1v2_IOMMU);
    let buf = Buffer::new(PAGE as usize);
    assert_eq!(s.map_rw(buf.addr(), 0x10_0000, PAGE), Ok(0));
    assert_eq!(s.group(VFIO_GROUP_UNSET_CONTAINER, 0), Err(Errno::EBUSY));
    s.host.devices.lock().unwrap().clear();
    assert_eq!(s.group(VFIO_GROUP_UNSET_CONTAINER, 0), Ok(0));
    // The last group took the backend and its mappings: back to an unset container.
    assert_eq!(s.map_rw(buf.addr(), 0x10_0000, PAGE), Err(Errno::EINVAL));
    assert_eq!(
        s.at(VFIO_SET_IOMMU, u64::from(VFIO_TYPE1v2_IOMMU)),
        Err(Errno::EINVAL)
    );
    s.join();
    assert_eq!(s.at(VFIO_SET_IOMMU, u64::from(VFIO_TYPE1v2_IOMMU)), Ok(0));
    assert_eq!(s.map_rw(buf.addr(), 0x10_0000, PAGE), Ok(0));
}

#[test]
fn map_checks_in_type1_order() {
    let s = Setup::ready(VFIO_TYPE1v2_IOMMU);
    let buf = Buffer::new(4 * PAGE as usize);
    let rw = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
    assert_eq!(s.map_rw(buf.addr(), 0x10_0000, 0), Err(Errno::EINVAL));
    assert_eq!(
        s.map_rw(buf.addr(), u64::MAX - PAGE + 2, PAGE),
        Err(Errno::EOVERFLOW)
    );
    assert_eq!(s.map(0, buf.addr(), 0x10_0000, PAGE), Err(Errno::EINVAL));
    let both = rw | VFIO_DMA_MAP_FLAG_VADDR;
    assert_eq!(s.map(both, buf.addr(), 0x10_0000, PAGE), Err(Errno::EINVAL));
    assert_eq!(
        s.map_rw(buf.addr() + 1, 0x10_0000, PAGE),
        Err(Errno::EINVAL)
    );
    assert_eq!(s.dma_avail(), u32::from(u16::MAX));
    assert_eq!(s.map_rw(buf.addr(), 0x10_0000, 2 * PAGE), Ok(0));
    assert_eq!(s.dma_avail(), u32::from(u16::MAX) - 1);
    assert_eq!(
        s.map_rw(buf.addr(), 0x10_1000, 2 * PAGE),
        Err(Errno::EEXIST)
    );
    // Memory that is not there cannot be pinned.
    assert_eq!(s.map_rw(0x1000, 0x20_0000, PAGE), Err(Errno::EFAULT));
    assert_eq!(s.dma_avail(), u32::from(u16::MAX) - 1);
}

#[test]
fn a_bar_mapping_is_mapped_without_pinning() {
    let s = Setup::ready(VFIO_TYPE1_IOMMU);
    assert_eq!(s.map_rw(BAR.0, 0x10_0000, BAR.1), Ok(0));
    assert_eq!(s.map_rw(BAR.0 + PAGE, 0x40_0000, PAGE), Ok(0));
    // Past the BAR's end it is user memory again, which is not there.
    assert_eq!(
        s.map_rw(BAR.0 + BAR.1 - PAGE, 0x80_0000, 2 * PAGE),
        Err(Errno::EFAULT)
    );
    assert_eq!(s.unmap(0, 0x10_0000, BAR.1), (Ok(0), BAR.1));
}

#[test]
fn v1_unmaps_whole_entries_from_their_first_iova() {
    let s = Setup::ready(VFIO_TYPE1_IOMMU);
    let buf = Buffer::new(8 * PAGE as usize);
    s.map_rw(buf.addr(), 0x10_0000, 4 * PAGE).unwrap();
    s.map_rw(buf.addr() + 4 * PAGE, 0x10_4000, 4 * PAGE)
        .unwrap();
    // From inside an entry: success, nothing unmapped.
    assert_eq!(s.unmap(0, 0x10_1000, PAGE), (Ok(0), 0));
    // Over the first IOVA of the second entry: all of it goes.
    assert_eq!(s.unmap(0, 0x10_4000, PAGE), (Ok(0), 4 * PAGE));
    assert_eq!(s.unmap(0, 0x0f_f000, 2 * PAGE), (Ok(0), 4 * PAGE));
    assert_eq!(s.dma_avail(), u32::from(u16::MAX));
}

#[test]
fn v2_refuses_to_cut_an_entry() {
    let s = Setup::ready(VFIO_TYPE1v2_IOMMU);
    let buf = Buffer::new(8 * PAGE as usize);
    s.map_rw(buf.addr(), 0x10_0000, 4 * PAGE).unwrap();
    s.map_rw(buf.addr() + 4 * PAGE, 0x10_4000, 4 * PAGE)
        .unwrap();
    assert_eq!(s.unmap(0, 0x10_1000, PAGE), (Err(Errno::EINVAL), u64::MAX));
    assert_eq!(s.unmap(0, 0x10_0000, PAGE), (Err(Errno::EINVAL), u64::MAX));
    assert_eq!(
        s.unmap(0, 0x10_0000, 3 * PAGE),
        (Err(Errno::EINVAL), u64::MAX)
    );
    // Nothing there: success, 0.
    assert_eq!(s.unmap(0, 0x20_0000, PAGE), (Ok(0), 0));
    assert_eq!(s.unmap(0, 0x0f_0000, 0x2_0000), (Ok(0), 8 * PAGE));
    // ALL needs iova and size 0, and takes everything.
    s.map_rw(buf.addr(), 0x10_0000, 4 * PAGE).unwrap();
    assert_eq!(
        s.unmap(VFIO_DMA_UNMAP_FLAG_ALL, 0, PAGE).0,
        Err(Errno::EINVAL)
    );
    assert_eq!(s.unmap(VFIO_DMA_UNMAP_FLAG_ALL, 0, 0), (Ok(0), 4 * PAGE));
    // Unknown flags, and GET_DIRTY_BITMAP with ALL.
    assert_eq!(s.unmap(1 << 3, 0, PAGE).0, Err(Errno::EINVAL));
    let all_dirty = VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
    assert_eq!(s.unmap(all_dirty, 0, 0).0, Err(Errno::EINVAL));
}

#[test]
fn vaddr_is_invalidated_and_updated_in_place() {
    let s = Setup::ready(VFIO_TYPE1v2_IOMMU);
    let buf = Buffer::new(4 * PAGE as usize);
    s.map_rw(buf.addr(), 0x10_0000, 4 * PAGE).unwrap();
    let vaddr = VFIO_DMA_UNMAP_FLAG_VADDR;
    let set = VFIO_DMA_MAP_FLAG_VADDR;
    // Nothing invalid yet.
    assert_eq!(
        s.map(set, buf.addr(), 0x10_0000, 4 * PAGE),
        Err(Errno::EINVAL)
    );
    assert_eq!(s.unmap(vaddr, 0x10_0000, 4 * PAGE), (Ok(0), 4 * PAGE));
    // Twice is EINVAL; the mapping stays, and its slot.
    assert_eq!(s.unmap(vaddr, 0x10_0000, 4 * PAGE).0, Err(Errno::EINVAL));
    assert_eq!(s.dma_avail(), u32::from(u16::MAX) - 1);
    assert_eq!(s.map(set, buf.addr(), 0x20_0000, PAGE), Err(Errno::ENOENT));
    assert_eq!(s.map(set, buf.addr(), 0x10_0000, PAGE), Err(Errno::EINVAL));
    assert_eq!(s.map(set, buf.addr(), 0x10_0000, 4 * PAGE), Ok(0));
    assert_eq!(s.unmap(0, 0x10_0000, 4 * PAGE), (Ok(0), 4 * PAGE));
}

#[test]
fn info_chain_is_all_or_nothing() {
    let s = Setup::ready(VFIO_TYPE1v2_IOMMU);
    let (r, buf) = s.info(16);
    r.unwrap();
    let need = u32::from_ne_bytes(buf[..4].try_into().unwrap());
    // Migration (32) + DMA avail (12 -> 16) + IOVA ranges (16 + 16 per range).
    assert!(need >= 24 + 32 + 16 + 32, "{need}");
    assert_eq!(u32::from_ne_bytes(buf[4..8].try_into().unwrap()), 3);
    // Nothing past the 16 bytes asked for.
    assert!(buf[16..].iter().all(|&b| b == 0xa5));
    let (r, buf) = s.info(need - 1);
    r.unwrap();
    assert_eq!(u32::from_ne_bytes(buf[16..20].try_into().unwrap()), 0);
    assert!(buf[24..].iter().all(|&b| b == 0xa5));
    let (r, buf) = s.info(need);
    r.unwrap();
    assert_eq!(u32::from_ne_bytes(buf[16..20].try_into().unwrap()), 24);
    let id = |off: usize| u16::from_ne_bytes(buf[off..off + 2].try_into().unwrap());
    let next = |off: usize| u32::from_ne_bytes(buf[off + 4..off + 8].try_into().unwrap()) as usize;
    assert_eq!(id(24), VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION);
    assert_eq!(next(24), 56);
    assert_eq!(id(56), VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL);
    assert_eq!(next(56), 72);
    assert_eq!(id(72), VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE);
    assert_eq!(next(72), 0);
    // The migration capability reports the smallest page size; DMA avail's padding is zero.
    assert_eq!(u64::from_ne_bytes(buf[40..48].try_into().unwrap()), PAGE);
    assert_eq!(buf[68..72], [0; 4]);
}

#[test]
fn dirty_logging_reports_every_mapped_page() {
    let s = Setup::ready(VFIO_TYPE1v2_IOMMU);
    let buf = Buffer::new(4 * PAGE as usize);
    s.map_rw(buf.addr(), 0x10_0000, 4 * PAGE).unwrap();
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Get {
        head: VfioIommuType1DirtyBitmap,
        range: VfioIommuType1DirtyBitmapGet,
    }
    let mut bits = 0u64;
    let mut get = Get {
        head: VfioIommuType1DirtyBitmap {
            argsz: size_of::<Get>() as u32,
            flags: VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP,
        },
        range: VfioIommuType1DirtyBitmapGet {
            iova: 0x10_0000,
            size: 8 * PAGE,
            bitmap: VfioBitmap {
                pgsize: PAGE,
                size: 8,
                data: addr(&mut bits),
            },
        },
    };
    let at = addr(&mut get);
    // Not logging yet.
    assert_eq!(s.at(VFIO_IOMMU_DIRTY_PAGES, at), Err(Errno::EINVAL));
    let mut start = VfioIommuType1DirtyBitmap {
        argsz: 8,
        flags: VFIO_IOMMU_DIRTY_PAGES_FLAG_START,
    };
    assert_eq!(s.call(VFIO_IOMMU_DIRTY_PAGES, &mut start), Ok(0));
    assert_eq!(s.at(VFIO_IOMMU_DIRTY_PAGES, at), Ok(0));
    assert_eq!(bits, 0b1111);
    // Two flags at once.
    start.flags |= VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP;
    assert_eq!(
        s.call(VFIO_IOMMU_DIRTY_PAGES, &mut start),
        Err(Errno::EINVAL)
    );
}
