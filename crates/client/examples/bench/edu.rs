//! An emulated device's DMA through the IOMMU: edu (1234:11e8) copying 4 KiB between its
//! buffer and RAM mapped in an IOAS, started by `pwrite`s of its registers through the VFIO
//! device file and checked done by a `pread` (the `edu_driver` example's steps). Runs when an
//! edu is bound to vfio-pci (`uiommu exec --device edu -- bench`).

use std::error::Error;
use uiommu_client::uapi::vfio::{VFIO_PCI_BAR0_REGION_INDEX, VFIO_PCI_CONFIG_REGION_INDEX};
use uiommu_client::{Iommufd, Iova, MapFlags, MappedBuffer, VfioDevice};

const DMA_SOURCE: u64 = 0x80;
const DMA_DESTINATION: u64 = 0x88;
const DMA_COUNT: u64 = 0x90;
const DMA_COMMAND: u64 = 0x98;
const DMA_RUN: u64 = 1;
const DMA_TO_RAM: u64 = 2;
const EDU_BUFFER: u64 = 0x40000;
const IOVA: u64 = 0x100_0000;
const COMMAND: u64 = 0x04;
const MEMORY_AND_MASTER: u16 = 0x6;
pub const LEN: usize = 4096;

/// The VFIO cdev index of the first edu in sysfs, if there is one.
fn find_edu() -> Option<u32> {
    let hex = |dev: &str, attr: &str| {
        std::fs::read_to_string(format!("/sys/bus/pci/devices/{dev}/{attr}"))
            .ok()
            .and_then(|s| u32::from_str_radix(s.trim().trim_start_matches("0x"), 16).ok())
    };
    for entry in std::fs::read_dir("/sys/bus/pci/devices").ok()?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if hex(&name, "vendor") != Some(0x1234) || hex(&name, "device") != Some(0x11e8) {
            continue;
        }
        let dir = std::fs::read_dir(format!("/sys/bus/pci/devices/{name}/vfio-dev")).ok()?;
        for vfio in dir.flatten() {
            let vfio = vfio.file_name().to_string_lossy().into_owned();
            if let Some(n) = vfio.strip_prefix("vfio").and_then(|n| n.parse().ok()) {
                return Some(n);
            }
        }
    }
    None
}

/// Times a 4 KiB DMA each way with `time(iters, f)`; `None` if there is no edu.
pub fn run(
    time: &mut dyn FnMut(u32, &mut dyn FnMut()) -> f64,
) -> Result<Option<(f64, f64)>, Box<dyn Error>> {
    let Some(n) = find_edu() else {
        return Ok(None);
    };
    let dev = VfioDevice::open_cdev(n)?;
    let fd = Iommufd::open()?;
    dev.bind_iommufd(&fd)?;
    let ioas = fd.alloc_ioas()?;
    dev.attach(&ioas)?;
    let config = dev.region_info(VFIO_PCI_CONFIG_REGION_INDEX)?;
    let mut cmd = [0u8; 2];
    dev.read_region(&config, COMMAND, &mut cmd)?;
    let cmd = u16::from_le_bytes(cmd) | MEMORY_AND_MASTER;
    dev.write_region(&config, COMMAND, &cmd.to_le_bytes())?;
    let bar0 = dev.region_info(VFIO_PCI_BAR0_REGION_INDEX)?;
    let buf = MappedBuffer::new(LEN)?;
    buf.fill(0x3c);
    ioas.map(&buf, Iova::Fixed(IOVA), MapFlags::RW)?;
    let dma = |to_ram: bool| {
        let (src, dst) = if to_ram {
            (EDU_BUFFER, IOVA)
        } else {
            (IOVA, EDU_BUFFER)
        };
        let command = DMA_RUN | if to_ram { DMA_TO_RAM } else { 0 };
        for (reg, value) in [
            (DMA_SOURCE, src),
            (DMA_DESTINATION, dst),
            (DMA_COUNT, LEN as u64),
            (DMA_COMMAND, command),
        ] {
            dev.write_region(&bar0, reg, &value.to_le_bytes())
                .expect("edu register write");
        }
        let mut status = [0u8; 8];
        dev.read_region(&bar0, DMA_COMMAND, &mut status)
            .expect("edu status read");
        assert_eq!(u64::from_le_bytes(status) & DMA_RUN, 0, "edu DMA not done");
    };
    let from_ram = time(2_000, &mut || dma(false));
    let to_ram = time(2_000, &mut || dma(true));
    assert!(
        buf.to_vec().iter().all(|&b| b == 0x3c),
        "edu DMA moved wrong data"
    );
    Ok(Some((from_ram, to_ram)))
}
