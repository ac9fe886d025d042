//! DMA by a real device through a real IOMMU: QEMU's `edu` PCI device (vendor 1234, device
//! 11e8), which the real-kernel guest (`scripts/real-kernel/guest/init`) binds to vfio-pci
//! behind QEMU's emulated VT-d. The scenarios copy a page RAM → edu → RAM with edu's DMA
//! engine, once through the VFIO device cdev bound to an iommufd IOAS and once through the
//! legacy type1 container and group, then unmap the destination and see the next DMA blocked.
//!
//! Under uiommu, `scripts/client-on-uiommu.sh` runs them against its emulated edu
//! (`uiommu exec --device edu`), which completes a transfer the IOMMU refused as QEMU's does.
//! Where no edu device is bound to vfio-pci they print `SKIP` and pass, unless the target is
//! required (`UIOMMU_CLIENT_REQUIRE=1`), where a missing device fails.
//!
//! The IOVAs come from the usable ranges the IOMMU reports once the device is attached
//! (`IOMMU_IOAS_IOVA_RANGES`, or type1's `VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE`): the first
//! 1 MiB-aligned pair from 1 MiB up that lies inside one range and below edu's 28-bit DMA
//! mask (0x100000 and 0x200000 on the real-kernel guest's VT-d; from the selftest mock's
//! aperture at 16 MiB behind it). An IOMMU with no such range makes the scenario print `SKIP`.
//!
//! edu's registers (QEMU's `hw/misc/edu.c`): 0x00 identification (0x010000ed), 0x04
//! liveness (reads back the inverse), 0x80 DMA source, 0x88 destination, 0x90 count, 0x98
//! command (bit 0 start/busy, bit 1 direction: 0 RAM → edu, 1 edu → RAM). Its buffer is at
//! device address 0x40000, 4096 bytes; DMA addresses are masked to 28 bits. A transfer runs
//! 100 ms (virtual time) after the command is written; bit 0 clears when it is done, whether
//! or not the IOMMU refused its requests (`edu_dma_timer` ignores their result).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use uiommu_client::{
    DmaMapFlags, Iommufd, Iova, MapFlags, MappedBuffer, MmioRegion, PciDevice, PciDevices,
    PciFilter, VfioContainer, VfioDevice, VfioGroup,
};
use uiommu_uapi::vfio::*;

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
/// edu drives 28 address bits (its `dma_mask`).
const EDU_DMA_LIMIT: u64 = 1 << 28;
/// The IOVAs are 1 MiB apart and aligned, from 1 MiB up.
const IOVA_STEP: u64 = 0x10_0000;

/// One device: the scenarios must not open it at the same time (the cdev and the group
/// exclude each other).
static EDU: Mutex<()> = Mutex::new(());

/// The edu device bound to vfio-pci (`UIOMMU_CLIENT_EDU`, else the first in sysfs), or `None`
/// after printing why.
fn find(name: &str) -> Option<PciDevice> {
    let devices = PciDevices::new();
    let filter = PciFilter::new().id(0x1234, 0x11e8).driver("vfio-pci");
    let filter = match std::env::var(ENV) {
        Ok(addr) => filter.address(addr),
        Err(_) => filter,
    };
    let required = std::env::var_os("UIOMMU_CLIENT_REQUIRE").is_some_and(|v| v == "1");
    let found = match devices.matching(&filter) {
        Ok(found) => found.into_iter().next(),
        Err(e) if required => panic!("{name}: {e}"),
        Err(e) => {
            eprintln!("SKIP {name}: cannot scan for PCI devices: {e}");
            return None;
        }
    };
    if found.is_none() {
        if required {
            panic!(
                "{name}: no edu device bound to vfio-pci under {}",
                devices.root().display()
            );
        }
        eprintln!(
            "SKIP {name}: no edu PCI device bound to vfio-pci (run in the real-kernel leg or \
             under `uiommu exec --device edu`)"
        );
    }
    found
}

/// Two page IOVAs (source, destination) inside one of the usable `ranges` (first, last
/// inclusive) and below edu's DMA limit.
fn pick_iovas(ranges: &[(u64, u64)]) -> Option<(u64, u64)> {
    ranges.iter().find_map(|&(start, last)| {
        let src = start.max(IOVA_STEP).checked_next_multiple_of(IOVA_STEP)?;
        let dst = src.checked_add(IOVA_STEP)?;
        let end = dst.checked_add(PAGE as u64 - 1)?;
        (end <= last && end < EDU_DMA_LIMIT).then_some((src, dst))
    })
}

/// [`pick_iovas`] for scenario `name`, printing why it skips when there are none.
fn iovas(name: &str, ranges: &[(u64, u64)]) -> Option<(u64, u64)> {
    let found = pick_iovas(ranges);
    if found.is_none() {
        eprintln!("SKIP {name}: no usable IOVA range below edu's 28-bit DMA limit: {ranges:x?}");
    }
    found
}

#[test]
/// The IOVA choice on the ranges the targets report: the real-kernel guest's VT-d (MSI window
/// reserved), the selftest mock's aperture from 16 MiB, and ranges edu cannot reach.
fn edu_iovas_lie_in_a_usable_range_below_the_dma_limit() {
    let vtd = [(0, 0xfedf_ffff), (0xfef0_0000, (1 << 39) - 1)];
    assert_eq!(pick_iovas(&vtd), Some((0x10_0000, 0x20_0000)));
    let mock = [(0x100_0000, u64::MAX)];
    assert_eq!(pick_iovas(&mock), Some((0x100_0000, 0x110_0000)));
    let split = [(0x1000, 0x1f_ffff), (0x30_0001, 0x50_0fff)];
    assert_eq!(
        pick_iovas(&split),
        Some((0x40_0000, 0x50_0000)),
        "one range holds both"
    );
    assert_eq!(
        pick_iovas(&[(0x1000_0000, u64::MAX)]),
        None,
        "above 28 bits"
    );
    assert_eq!(pick_iovas(&[(u64::MAX - 0x1000, u64::MAX)]), None);
    assert_eq!(pick_iovas(&[]), None);
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

/// The page at `src_iova` → edu's buffer → the page at `dst_iova`; then, once `unmap`
/// removed `dst_iova`, a DMA to it changes nothing in the (still allocated) page and a DMA
/// from it reads zeros.
fn copy_then_blocked(
    bar: &MmioRegion,
    (src, src_iova): (&MappedBuffer, u64),
    (dst, dst_iova): (&MappedBuffer, u64),
    unmap: impl FnOnce(),
) {
    let data = pattern();
    src.write(0, &data);
    dst.fill(0xee);
    dma(bar, src_iova, EDU_BUF, PAGE as u64, false);
    dma(bar, EDU_BUF, dst_iova, PAGE as u64, true);
    assert!(dst.to_vec() == data, "the page came back through edu");
    // Half a page lands at an offset in the destination, the rest stays.
    dst.fill(0);
    dma(bar, EDU_BUF + 0x800, dst_iova + 0x100, 0x800, true);
    let got = dst.to_vec();
    assert!(got[..0x100].iter().all(|&b| b == 0));
    assert!(got[0x100..0x900] == data[0x800..]);
    assert!(got[0x900..].iter().all(|&b| b == 0));

    unmap();
    dst.fill(0x5a);
    // The IOMMU has no translation for dst_iova any more: the write faults and is dropped
    // (edu does not report it; the kernel logs a DMAR fault), so the page keeps its bytes.
    dma(bar, EDU_BUF, dst_iova, PAGE as u64, true);
    assert!(
        dst.to_vec().iter().all(|&b| b == 0x5a),
        "DMA after unmap landed"
    );
    // A read of it completes too and fills edu's buffer with zeros: QEMU's DMA through a
    // refused translation reads unassigned memory (system/memory.c: unassigned_mem_read).
    src.fill(0x77);
    dma(bar, dst_iova, EDU_BUF, PAGE as u64, false);
    dma(bar, EDU_BUF, src_iova, PAGE as u64, true);
    assert!(
        src.to_vec().iter().all(|&b| b == 0),
        "a refused read did not leave zeros"
    );
    // The source mapping still works.
    src.fill(0x11);
    dma(bar, src_iova, EDU_BUF, PAGE as u64, false);
    src.fill(0);
    dma(bar, EDU_BUF, src_iova, PAGE as u64, true);
    assert!(src.to_vec().iter().all(|&b| b == 0x11));
}

#[test]
/// The VFIO cdev bound to an iommufd and attached to an IOAS: edu's DMA goes through the
/// IOAS's mappings, and stops at an unmapped IOVA.
fn edu_dma_cdev_iommufd() {
    let name = "edu_dma_cdev_iommufd";
    let _one = EDU.lock().unwrap_or_else(|e| e.into_inner());
    let Some(edu) = find(name) else {
        return;
    };
    let cdev = edu
        .vfio_cdev
        .unwrap_or_else(|| panic!("{}: no vfio-dev/vfioN", edu.address));
    let fd = Iommufd::open().unwrap();
    let dev = VfioDevice::open_path(cdev.path()).unwrap();
    let devid = dev.bind_iommufd(&fd).unwrap();
    assert_ne!(devid.raw(), 0);
    let ioas = fd.alloc_ioas().unwrap();
    let hwpt = dev.attach(&ioas).unwrap();
    assert_ne!(
        hwpt.raw(),
        ioas.id().raw(),
        "attaching to an IOAS returns its auto domain"
    );
    // The attached domain's aperture and reserved regions now narrow the IOAS's ranges.
    let ranges: Vec<_> = ioas
        .iova_ranges()
        .unwrap()
        .ranges
        .iter()
        .map(|r| (r.start, r.last))
        .collect();
    let Some((src_iova, dst_iova)) = iovas(name, &ranges) else {
        dev.detach().unwrap();
        return;
    };
    let src = MappedBuffer::new(PAGE).unwrap();
    let dst = MappedBuffer::new(PAGE).unwrap();
    assert_eq!(
        ioas.map(&src, Iova::Fixed(src_iova), MapFlags::RW).unwrap(),
        src_iova
    );
    assert_eq!(
        ioas.map(&dst, Iova::Fixed(dst_iova), MapFlags::RW).unwrap(),
        dst_iova
    );
    let bar = setup(&dev);
    copy_then_blocked(&bar, (&src, src_iova), (&dst, dst_iova), || {
        assert_eq!(ioas.unmap(dst_iova, PAGE as u64).unwrap(), PAGE as u64);
    });
    drop(bar);
    dev.detach().unwrap();
}

#[test]
/// The legacy interface: the device's group in a `/dev/vfio/vfio` container with the type1v2
/// IOMMU, `VFIO_IOMMU_MAP_DMA` for the buffers, `VFIO_GROUP_GET_DEVICE_FD` for the device.
fn edu_dma_type1_container() {
    let name = "edu_dma_type1_container";
    let _one = EDU.lock().unwrap_or_else(|e| e.into_inner());
    let Some(edu) = find(name) else {
        return;
    };
    let group_path = edu
        .group_path()
        .unwrap_or_else(|| panic!("{}: no iommu_group", edu.address));
    let container = VfioContainer::open().unwrap();
    assert_eq!(container.api_version().unwrap(), VFIO_API_VERSION as i32);
    assert_eq!(container.check_extension(VFIO_TYPE1v2_IOMMU).unwrap(), 1);
    let group = VfioGroup::open_path(group_path).unwrap();
    assert_ne!(group.status().unwrap() & VFIO_GROUP_FLAGS_VIABLE, 0);
    group.set_container(&container).unwrap();
    assert_ne!(group.status().unwrap() & VFIO_GROUP_FLAGS_CONTAINER_SET, 0);
    container.set_iommu(VFIO_TYPE1v2_IOMMU).unwrap();
    let dev = group.device(&edu.address).unwrap();
    // The usable ranges are the device's domain's once it is attached: at VFIO_SET_IOMMU with
    // the type1 driver, at VFIO_GROUP_GET_DEVICE_FD with iommufd's compatibility container.
    let info = container.get_info().unwrap();
    let ranges: Vec<_> = match &info.iova_ranges {
        Some(r) => r.iter().map(|r| (r.start, r.end)).collect(),
        None => vec![(0, u64::MAX)],
    };
    let Some((src_iova, dst_iova)) = iovas(name, &ranges) else {
        drop(dev);
        group.unset_container().unwrap();
        return;
    };
    let rw = DmaMapFlags::READ | DmaMapFlags::WRITE;
    let src = MappedBuffer::new(PAGE).unwrap();
    let dst = MappedBuffer::new(PAGE).unwrap();
    container
        .map_dma(&src, 0, PAGE as u64, src_iova, rw)
        .unwrap();
    container
        .map_dma(&dst, 0, PAGE as u64, dst_iova, rw)
        .unwrap();
    let bar = setup(&dev);
    copy_then_blocked(&bar, (&src, src_iova), (&dst, dst_iova), || {
        assert_eq!(
            container.unmap_dma(dst_iova, PAGE as u64).unwrap(),
            PAGE as u64
        );
    });
    drop(bar);
    drop(dev);
    assert_eq!(container.unmap_all().unwrap(), PAGE as u64);
    group.unset_container().unwrap();
}
