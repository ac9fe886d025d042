//! A user-space driver for QEMU's educational PCI device (edu, 1234:11e8) through VFIO and
//! iommufd, step by step.
//!
//! The program finds edu in sysfs, opens its VFIO device file, binds it to `/dev/iommu` and
//! attaches it to an I/O address space, reaches config space and BAR 0 by `pread`/`pwrite` of
//! the device file, maps a buffer and lets edu's DMA engine copy it through the IOMMU, then
//! unmaps it and sees the next transfer blocked. It runs unmodified against uiommu's emulated
//! edu and software IOMMU (`uiommu exec --device edu -- edu_driver`) and on a host whose edu
//! is bound to vfio-pci alike.

use std::error::Error;
use std::process::ExitCode;
use uiommu_client::uapi::vfio::{VFIO_PCI_BAR0_REGION_INDEX, VFIO_PCI_CONFIG_REGION_INDEX};
use uiommu_client::{
    Iommufd, Iova, MapFlags, MappedBuffer, PciDevices, PciFilter, RegionInfo, VfioDevice,
};

#[path = "common/edu.rs"]
mod edu;
use edu::*;

/// The buffer's I/O address: below edu's 28-bit DMA limit.
const IOVA: u64 = 0x100_0000;

fn step(n: u32, what: &str) {
    println!("[{n}] {what}");
}

/// The address and VFIO cdev index of the first edu in sysfs with a device cdev.
fn find_edu() -> Result<(String, u32), Box<dyn Error>> {
    let edus = PciDevices::new().matching(&PciFilter::new().id(VENDOR, DEVICE))?;
    edus.into_iter()
        .find_map(|d| Some((d.vfio_cdev?.index, d.address)))
        .map(|(n, address)| (address, n))
        .ok_or_else(|| "no edu device bound to a VFIO driver".into())
}

/// BAR 0 accesses through the device file.
struct Bar0<'a> {
    dev: &'a VfioDevice,
    info: RegionInfo,
}

impl Bar0<'_> {
    /// `N` bytes at `offset` (a little-endian register).
    fn read<const N: usize>(&self, offset: u64) -> Result<[u8; N], Box<dyn Error>> {
        let mut b = [0u8; N];
        self.dev.read_region(&self.info, offset, &mut b)?;
        Ok(b)
    }

    fn write(&self, offset: u64, bytes: &[u8]) -> Result<(), Box<dyn Error>> {
        Ok(self.dev.write_region(&self.info, offset, bytes)?)
    }

    /// Starts a 256-byte transfer between RAM at `ram` (an IOVA) and edu's buffer; whether it
    /// completed (the start bit cleared), which edu's does even when the IOMMU refused it.
    fn dma(&self, ram: u64, to_ram: bool) -> Result<bool, Box<dyn Error>> {
        let (src, dst) = if to_ram { (BUFFER, ram) } else { (ram, BUFFER) };
        let command = DMA_RUN | if to_ram { DMA_TO_RAM } else { 0 };
        for (reg, value) in [
            (DMA_SOURCE, src),
            (DMA_DESTINATION, dst),
            (DMA_COUNT, 256),
            (DMA_COMMAND, command),
        ] {
            self.write(reg, &value.to_le_bytes())?;
        }
        Ok(u64::from_le_bytes(self.read(DMA_COMMAND)?) & DMA_RUN == 0)
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    step(1, "find edu in sysfs");
    let (bdf, n) = find_edu()?;
    println!("    {bdf}: /dev/vfio/devices/vfio{n}");

    step(2, "open its device file and /dev/iommu, bind the device");
    let dev = VfioDevice::open_cdev(n)?;
    let fd = Iommufd::open()?;
    println!("    device ID {}", dev.bind_iommufd(&fd)?);

    step(3, "attach the device to a new I/O address space (IOAS)");
    let ioas = fd.alloc_ioas()?;
    println!(
        "    IOAS {}, HW page table {}",
        ioas.id(),
        dev.attach(&ioas)?
    );

    step(
        4,
        "config space by pread/pwrite: identity, then memory and bus mastering on",
    );
    let config = dev.region_info(VFIO_PCI_CONFIG_REGION_INDEX)?;
    let mut id = [0u8; 4];
    dev.read_region(&config, 0, &mut id)?;
    let mut cmd = [0u8; 2];
    dev.read_region(&config, PCI_COMMAND, &mut cmd)?;
    let cmd = u16::from_le_bytes(cmd) | MEMORY_AND_MASTER;
    dev.write_region(&config, PCI_COMMAND, &cmd.to_le_bytes())?;
    println!(
        "    {:#010x}, {} bytes of config space, command {cmd:#06x}",
        u32::from_le_bytes(id),
        config.size
    );

    step(5, "BAR 0 by pread/pwrite: identification and liveness");
    let bar0 = Bar0 {
        info: dev.region_info(VFIO_PCI_BAR0_REGION_INDEX)?,
        dev: &dev,
    };
    bar0.write(LIVENESS, &0x1234_5678u32.to_le_bytes())?;
    println!(
        "    BAR 0 of {} KiB: id {:#010x}, liveness {:#010x} (inverted)",
        bar0.info.size >> 10,
        u32::from_le_bytes(bar0.read(ID)?),
        u32::from_le_bytes(bar0.read(LIVENESS)?)
    );

    step(6, "map a buffer and copy it by DMA: RAM -> edu -> RAM");
    let buf = MappedBuffer::new(4096)?;
    let pattern: Vec<u8> = (0..=255u8).map(|i| i.wrapping_mul(7) ^ 0x5a).collect();
    buf.write(0, &pattern);
    ioas.map(&buf, Iova::Fixed(IOVA), MapFlags::RW)?;
    let there = bar0.dma(IOVA, false)?;
    let back = bar0.dma(IOVA + 256, true)?;
    let mut copy = vec![0u8; 256];
    buf.read(256, &mut copy);
    println!(
        "    to edu: {}, back: {}, bytes {}",
        done(there),
        done(back),
        if copy == pattern { "equal" } else { "DIFFER" }
    );
    if !there || !back || copy != pattern {
        return Err("DMA through the IOMMU failed".into());
    }

    step(7, "unmap the buffer: the next DMA is blocked by the IOMMU");
    ioas.unmap(IOVA, 4096)?;
    buf.fill(0xa5);
    // edu ignores the outcome of its requests (QEMU's edu_dma_timer): the transfer completes;
    // the IOMMU refused the write and recorded the fault, so no byte lands.
    let completed = bar0.dma(IOVA + 512, true)?;
    let mut after = vec![0u8; 256];
    buf.read(512, &mut after);
    let untouched = after.iter().all(|&b| b == 0xa5);
    println!(
        "    transfer {}, destination {}",
        if completed { "completed" } else { "STUCK" },
        if untouched {
            "untouched: the IOMMU blocked the write"
        } else {
            "WRITTEN"
        }
    );
    if !completed || !untouched {
        return Err("DMA after unmap was not blocked".into());
    }
    println!("done");
    Ok(())
}

fn done(ok: bool) -> &'static str {
    if ok { "done" } else { "FAILED" }
}

fn main() -> ExitCode {
    run().map_or_else(
        |e| {
            eprintln!("edu_driver: {e}");
            ExitCode::FAILURE
        },
        |()| ExitCode::SUCCESS,
    )
}
