//! DMA by a real device through a real IOMMU: QEMU's `edu` PCI device (vendor 1234, device
//! 11e8), which the real-kernel guest (`scripts/real-kernel/guest/init`) binds to vfio-pci
//! behind QEMU's emulated VT-d. The scenarios copy a page RAM → edu → RAM with edu's DMA
//! engine, once through the VFIO device cdev bound to an iommufd IOAS and once through the
//! legacy type1 container and group, then unmap the destination and see the next DMA blocked.
//!
//! uiommu serves no VFIO device, so the scenarios are ignored there and run in the
//! real-kernel leg (`--include-ignored`). Where no edu device is bound to vfio-pci they
//! print `SKIP` and pass, unless the target is required on a kernel
//! (`UIOMMU_CLIENT_REQUIRE=1`), where a missing device fails.
//!
//! edu's registers (QEMU's `hw/misc/edu.c`): 0x00 identification (0x010000ed), 0x04
//! liveness (reads back the inverse), 0x80 DMA source, 0x88 destination, 0x90 count, 0x98
//! command (bit 0 start/busy, bit 1 direction: 0 RAM → edu, 1 edu → RAM). Its buffer is at
//! device address 0x40000, 4096 bytes; DMA addresses are masked to 28 bits. A transfer runs
//! 100 ms (virtual time) after the command is written; bit 0 clears when it is done.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use uiommu_client::{
    DmaMapFlags, Iommufd, Iova, MapFlags, MappedBuffer, MmioRegion, VfioContainer, VfioDevice,
    VfioGroup,
};
use uiommu_uapi::vfio::*;

use crate::common::{required, under_uiommu};

/// Where PCI devices are listed.
const PCI_DEVICES: &str = "/sys/bus/pci/devices";
/// The guest init exports the PCI address of the edu device it bound to vfio-pci.
const ENV: &str = "UIOMMU_CLIENT_EDU";

const EDU_ID: usize = 0x00;
const EDU_LIVENESS: usize = 0x04;
const EDU_DMA_SRC: usize = 0x80;
const EDU_DMA_DST: usize = 0x88;
const EDU_DMA_COUNT: usize = 0x90;
const EDU_DMA_CMD: usize = 0x98;
const EDU_DMA_RUN: u64 = 1 << 0;
const EDU_DMA_TO_RAM: u64 = 1 << 1;
/// edu's internal buffer, in its own address space.
const EDU_BUF: u64 = 0x4_0000;
const PAGE: usize = 4096;
/// IOVAs below edu's 28-bit DMA mask.
const SRC_IOVA: u64 = 0x10_0000;
const DST_IOVA: u64 = 0x20_0000;

/// One device: the scenarios must not open it at the same time (the cdev and the group
/// exclude each other).
static EDU: Mutex<()> = Mutex::new(());

/// The PCI address of an edu device bound to vfio-pci, or `None` (after printing why).
fn find(name: &str) -> Option<String> {
    if let Some(addr) = std::env::var_os(ENV) {
        return Some(addr.to_string_lossy().into_owned());
    }
    let found = std::fs::read_dir(PCI_DEVICES).ok().and_then(|dir| {
        dir.flatten().find_map(|d| {
            let p = d.path();
            let attr = |a: &str| std::fs::read_to_string(p.join(a)).unwrap_or_default();
            let driver = std::fs::read_link(p.join("driver")).ok()?;
            (attr("vendor").trim() == "0x1234"
                && attr("device").trim() == "0x11e8"
                && driver.file_name()? == "vfio-pci")
                .then(|| d.file_name().to_string_lossy().into_owned())
        })
    });
    if found.is_none() {
        if required() && !under_uiommu() {
            panic!("{name}: no edu device bound to vfio-pci under {PCI_DEVICES}");
        }
        eprintln!("SKIP {name}: no edu PCI device bound to vfio-pci (run in the real-kernel leg)");
    }
    found
}

fn sysfs(addr: &str) -> PathBuf {
    Path::new(PCI_DEVICES).join(addr)
}

/// `/dev/vfio/devices/vfioN` of the device, from `<device>/vfio-dev/vfioN`.
fn cdev(addr: &str) -> PathBuf {
    let dir = sysfs(addr).join("vfio-dev");
    let entry = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .next()
        .unwrap_or_else(|| panic!("{} is empty", dir.display()));
    Path::new("/dev/vfio/devices").join(entry.file_name())
}

/// The device's IOMMU group number, from the `iommu_group` link.
fn group(addr: &str) -> u32 {
    let link = std::fs::read_link(sysfs(addr).join("iommu_group")).unwrap();
    link.file_name().unwrap().to_str().unwrap().parse().unwrap()
}

/// BAR0 mapped, after checking it is edu's and enabling memory decode and bus mastering
/// (which vfio-pci clears when the device is released) through config space.
fn setup(dev: &VfioDevice) -> MmioRegion {
    let info = dev.info().unwrap();
    assert_ne!(info.flags & VFIO_DEVICE_FLAGS_PCI, 0);
    let config = dev.region_info(VFIO_PCI_CONFIG_REGION_INDEX).unwrap();
    let mut id = [0u8; 4];
    dev.read_region(&config, 0, &mut id).unwrap();
    assert_eq!(id, [0x34, 0x12, 0xe8, 0x11], "vendor 1234, device 11e8");
    let mut cmd = [0u8; 2];
    dev.read_region(&config, 4, &mut cmd).unwrap();
    let cmd = u16::from_le_bytes(cmd) | 0x2 | 0x4; // PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER
    dev.write_region(&config, 4, &cmd.to_le_bytes()).unwrap();

    let bar0 = dev.region_info(VFIO_PCI_BAR0_REGION_INDEX).unwrap();
    assert!(
        bar0.readable() && bar0.writable() && bar0.mappable(),
        "{bar0:?}"
    );
    assert_eq!(bar0.size, 1 << 20);
    let bar = dev.mmap_region(&bar0).unwrap();
    assert_eq!(bar.read32(EDU_ID), 0x0100_00ed);
    bar.write32(EDU_LIVENESS, 0x1234_5678);
    assert_eq!(bar.read32(EDU_LIVENESS), !0x1234_5678);
    // The same register through pread of the region.
    let mut raw = [0u8; 4];
    dev.read_region(&bar0, EDU_ID as u64, &mut raw).unwrap();
    assert_eq!(u32::from_le_bytes(raw), 0x0100_00ed);
    bar
}

/// One edu DMA of `count` bytes, waiting for it to finish.
fn dma(bar: &MmioRegion, src: u64, dst: u64, count: u64, to_ram: bool) {
    assert_eq!(bar.read64(EDU_DMA_CMD) & EDU_DMA_RUN, 0, "edu DMA busy");
    bar.write64(EDU_DMA_SRC, src);
    bar.write64(EDU_DMA_DST, dst);
    bar.write64(EDU_DMA_COUNT, count);
    let dir = if to_ram { EDU_DMA_TO_RAM } else { 0 };
    bar.write64(EDU_DMA_CMD, EDU_DMA_RUN | dir);
    let deadline = Instant::now() + Duration::from_secs(30);
    while bar.read64(EDU_DMA_CMD) & EDU_DMA_RUN != 0 {
        assert!(Instant::now() < deadline, "edu DMA did not finish");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn pattern() -> Vec<u8> {
    (0..PAGE).map(|i| (i * 7 + 3) as u8).collect()
}

/// The page at `SRC_IOVA` → edu's buffer → the page at `DST_IOVA`; then, once `unmap`
/// removed `DST_IOVA`, a DMA to it changes nothing in the (still allocated) page.
fn copy_then_blocked(
    bar: &MmioRegion,
    src: &MappedBuffer,
    dst: &MappedBuffer,
    unmap: impl FnOnce(),
) {
    let data = pattern();
    src.write(0, &data);
    dst.fill(0xee);
    dma(bar, SRC_IOVA, EDU_BUF, PAGE as u64, false);
    dma(bar, EDU_BUF, DST_IOVA, PAGE as u64, true);
    assert!(dst.to_vec() == data, "the page came back through edu");
    // Half a page lands at an offset in the destination, the rest stays.
    dst.fill(0);
    dma(bar, EDU_BUF + 0x800, DST_IOVA + 0x100, 0x800, true);
    let got = dst.to_vec();
    assert!(got[..0x100].iter().all(|&b| b == 0));
    assert!(got[0x100..0x900] == data[0x800..]);
    assert!(got[0x900..].iter().all(|&b| b == 0));

    unmap();
    dst.fill(0x5a);
    // The IOMMU has no translation for DST_IOVA any more: the write faults and is dropped
    // (edu does not report it; the kernel logs a DMAR fault), so the page keeps its bytes.
    dma(bar, EDU_BUF, DST_IOVA, PAGE as u64, true);
    assert!(
        dst.to_vec().iter().all(|&b| b == 0x5a),
        "DMA after unmap landed"
    );
    // The source mapping still works.
    src.fill(0x11);
    dma(bar, SRC_IOVA, EDU_BUF, PAGE as u64, false);
    src.fill(0);
    dma(bar, EDU_BUF, SRC_IOVA, PAGE as u64, true);
    assert!(src.to_vec().iter().all(|&b| b == 0x11));
}

#[test]
#[ignore = "needs a VFIO device: runs in the real-kernel leg"]
/// The VFIO cdev bound to an iommufd and attached to an IOAS: edu's DMA goes through the
/// IOAS's mappings, and stops at an unmapped IOVA.
fn edu_dma_cdev_iommufd() {
    let _one = EDU.lock().unwrap_or_else(|e| e.into_inner());
    let Some(addr) = find("edu_dma_cdev_iommufd") else {
        return;
    };
    let fd = Iommufd::open().unwrap();
    let dev = VfioDevice::open_path(cdev(&addr)).unwrap();
    let devid = dev.bind_iommufd(&fd).unwrap();
    assert_ne!(devid, 0);
    let ioas = fd.alloc_ioas().unwrap();
    let hwpt = dev.attach(&ioas).unwrap();
    assert_ne!(
        hwpt,
        ioas.id(),
        "attaching to an IOAS returns its auto domain"
    );
    let src = MappedBuffer::new(PAGE).unwrap();
    let dst = MappedBuffer::new(PAGE).unwrap();
    assert_eq!(
        ioas.map(&src, Iova::Fixed(SRC_IOVA), MapFlags::RW).unwrap(),
        SRC_IOVA
    );
    assert_eq!(
        ioas.map(&dst, Iova::Fixed(DST_IOVA), MapFlags::RW).unwrap(),
        DST_IOVA
    );
    let bar = setup(&dev);
    copy_then_blocked(&bar, &src, &dst, || {
        assert_eq!(ioas.unmap(DST_IOVA, PAGE as u64).unwrap(), PAGE as u64);
    });
    drop(bar);
    dev.detach().unwrap();
}

#[test]
#[ignore = "needs a VFIO device: runs in the real-kernel leg"]
/// The legacy interface: the device's group in a `/dev/vfio/vfio` container with the type1v2
/// IOMMU, `VFIO_IOMMU_MAP_DMA` for the buffers, `VFIO_GROUP_GET_DEVICE_FD` for the device.
fn edu_dma_type1_container() {
    let _one = EDU.lock().unwrap_or_else(|e| e.into_inner());
    let Some(addr) = find("edu_dma_type1_container") else {
        return;
    };
    let container = VfioContainer::open().unwrap();
    assert_eq!(container.api_version().unwrap(), VFIO_API_VERSION as i32);
    assert_eq!(container.check_extension(VFIO_TYPE1v2_IOMMU).unwrap(), 1);
    let group = VfioGroup::open(group(&addr)).unwrap();
    assert_ne!(group.status().unwrap() & VFIO_GROUP_FLAGS_VIABLE, 0);
    group.set_container(&container).unwrap();
    assert_ne!(group.status().unwrap() & VFIO_GROUP_FLAGS_CONTAINER_SET, 0);
    container.set_iommu(VFIO_TYPE1v2_IOMMU).unwrap();
    let dev = group.device(&addr).unwrap();
    let rw = DmaMapFlags::READ | DmaMapFlags::WRITE;
    let src = MappedBuffer::new(PAGE).unwrap();
    let dst = MappedBuffer::new(PAGE).unwrap();
    container.map_dma(&src, 0, PAGE, SRC_IOVA, rw).unwrap();
    container.map_dma(&dst, 0, PAGE, DST_IOVA, rw).unwrap();
    let bar = setup(&dev);
    copy_then_blocked(&bar, &src, &dst, || {
        assert_eq!(
            container.unmap_dma(DST_IOVA, PAGE as u64).unwrap(),
            PAGE as u64
        );
    });
    drop(bar);
    drop(dev);
    assert_eq!(container.unmap_all().unwrap(), PAGE as u64);
    group.unset_container().unwrap();
}
