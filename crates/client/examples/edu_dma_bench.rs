//! Device DMA through the VFIO path, end to end, against memcpy: how long a program waits
//! for edu (QEMU's educational device, 1234:11e8) to copy 4 KiB through the IOMMU.
//!
//! One transfer is what a user-space driver does: write edu's DMA source, destination and
//! count, write the command, read the command back to see the start bit clear — through the
//! VFIO device file (`pwrite`/`pread` of the BAR 0 region) or through BAR 0 mapped into the
//! program (each access a load or store). The transfer itself is edu's engine reading or
//! writing an IOVA, translated by the IOMMU the device is attached to.
//!
//! ```text
//! uiommu exec --device edu -- edu_dma_bench [BDF] [--iterations N]
//! ```
//!
//! The same binary runs on a host whose edu is bound to vfio-pci. Besides the transfers it
//! times, in the same process, a plain 4 KiB copy and a `pread` of one byte of `/dev/zero`
//! (one real system call), so that each figure can be read as a ratio.

use std::error::Error;
use std::fs::File;
use std::hint::black_box;
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};
use uiommu_client::uapi::vfio::{VFIO_PCI_BAR0_REGION_INDEX, VFIO_PCI_CONFIG_REGION_INDEX};
use uiommu_client::{Iommufd, Iova, MapFlags, MappedBuffer, MmioRegion, RegionInfo, VfioDevice};

/// edu's DMA registers (QEMU's `docs/specs/edu.rst`).
const DMA_SOURCE: u64 = 0x80;
const DMA_DESTINATION: u64 = 0x88;
const DMA_COUNT: u64 = 0x90;
const DMA_COMMAND: u64 = 0x98;
const DMA_RUN: u64 = 1;
const DMA_TO_RAM: u64 = 2;
/// edu's 4 KiB DMA buffer in its own address space.
const EDU_BUFFER: u64 = 0x40000;
const PAGE: usize = 4096;
/// PCI command register: Memory Space and Bus Master enable.
const COMMAND: u64 = 0x04;
const MEMORY_AND_MASTER: u16 = 0x6;
/// Timed rounds per case; the median is reported.
const ROUNDS: usize = 7;

/// How the program reaches BAR 0.
trait Bar {
    fn write64(&self, offset: u64, value: u64) -> Result<(), Box<dyn Error>>;
    fn read64(&self, offset: u64) -> Result<u64, Box<dyn Error>>;
}

/// `pwrite`/`pread` of the device file's BAR 0 region.
struct RegionBar<'a> {
    dev: &'a VfioDevice,
    info: RegionInfo,
}

impl Bar for RegionBar<'_> {
    fn write64(&self, offset: u64, value: u64) -> Result<(), Box<dyn Error>> {
        Ok(self
            .dev
            .write_region(&self.info, offset, &value.to_le_bytes())?)
    }
    fn read64(&self, offset: u64) -> Result<u64, Box<dyn Error>> {
        let mut b = [0u8; 8];
        self.dev.read_region(&self.info, offset, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }
}

/// BAR 0 mapped into the program.
impl Bar for MmioRegion {
    fn write64(&self, offset: u64, value: u64) -> Result<(), Box<dyn Error>> {
        MmioRegion::write64(self, offset as usize, value);
        Ok(())
    }
    fn read64(&self, offset: u64) -> Result<u64, Box<dyn Error>> {
        Ok(MmioRegion::read64(self, offset as usize))
    }
}

/// One 4 KiB transfer between `ram` (an IOVA) and edu's buffer, waited for by polling.
fn transfer(bar: &dyn Bar, ram: u64, to_ram: bool) -> Result<(), Box<dyn Error>> {
    let (src, dst) = if to_ram {
        (EDU_BUFFER, ram)
    } else {
        (ram, EDU_BUFFER)
    };
    bar.write64(DMA_SOURCE, src)?;
    bar.write64(DMA_DESTINATION, dst)?;
    bar.write64(DMA_COUNT, PAGE as u64)?;
    bar.write64(DMA_COMMAND, DMA_RUN | if to_ram { DMA_TO_RAM } else { 0 })?;
    while bar.read64(DMA_COMMAND)? & DMA_RUN != 0 {
        std::hint::spin_loop();
    }
    Ok(())
}

/// Median time per call of `f` over [`ROUNDS`] rounds of `n` calls.
fn time(
    n: u32,
    mut f: impl FnMut() -> Result<(), Box<dyn Error>>,
) -> Result<Duration, Box<dyn Error>> {
    for _ in 0..n.div_ceil(10) {
        f()?;
    }
    let mut rounds = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let start = Instant::now();
        for _ in 0..n {
            f()?;
        }
        rounds.push(start.elapsed() / n);
    }
    rounds.sort();
    Ok(rounds[ROUNDS / 2])
}

/// The VFIO cdev number of the device at `bdf` (`/sys/bus/pci/devices/BDF/vfio-dev/vfioN`).
fn cdev_of(bdf: &str) -> Result<u32, Box<dyn Error>> {
    for entry in std::fs::read_dir(format!("/sys/bus/pci/devices/{bdf}/vfio-dev"))? {
        let name = entry?.file_name();
        if let Some(n) = name.to_str().and_then(|n| n.strip_prefix("vfio")) {
            return Ok(n.parse()?);
        }
    }
    Err(format!("{bdf} has no VFIO device file").into())
}

fn run() -> Result<(), Box<dyn Error>> {
    let mut bdf = "0000:00:10.0".to_string();
    let mut n: u32 = 20_000;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--iterations" => n = args.next().ok_or("--iterations needs a number")?.parse()?,
            _ => bdf = a,
        }
    }

    let dev = VfioDevice::open_cdev(cdev_of(&bdf)?)?;
    let iommufd = Iommufd::open()?;
    dev.bind_iommufd(&iommufd)?;
    let ioas = iommufd.alloc_ioas()?;
    dev.attach(&ioas)?;
    let config = dev.region_info(VFIO_PCI_CONFIG_REGION_INDEX)?;
    let mut cmd = [0u8; 2];
    dev.read_region(&config, COMMAND, &mut cmd)?;
    let cmd = u16::from_le_bytes(cmd) | MEMORY_AND_MASTER;
    dev.write_region(&config, COMMAND, &cmd.to_le_bytes())?;

    // An IOVA the IOMMU translates and edu's 28-bit DMA mask reaches.
    let buf = MappedBuffer::new(PAGE)?;
    buf.fill(0x5a);
    let iova = ioas.map(&buf, Iova::Auto, MapFlags::RW)?;
    if iova + PAGE as u64 > 1 << 28 {
        return Err(format!("IOVA {iova:#x} is beyond edu's 28-bit DMA mask").into());
    }
    let info = dev.region_info(VFIO_PCI_BAR0_REGION_INDEX)?;
    let mapped = if info.mappable() {
        Some(dev.mmap_region(&info)?)
    } else {
        None
    };
    let region = RegionBar { dev: &dev, info };

    // Check a round trip moves the data before timing anything.
    transfer(&region, iova, false)?;
    buf.fill(0);
    transfer(&region, iova, true)?;
    let mut back = vec![0u8; PAGE];
    buf.read(0, &mut back);
    if back.iter().any(|&b| b != 0x5a) {
        return Err("a DMA round trip did not bring the data back".into());
    }

    println!("edu at {bdf}: 4 KiB DMA through the IOMMU, median of {ROUNDS} rounds of {n}");
    println!("{:<44} {:>12} {:>10}", "case", "per 4 KiB", "GB/s");
    let line = |name: &str, t: Duration| {
        let gbs = PAGE as f64 / t.as_nanos().max(1) as f64;
        println!("{name:<44} {:>9.0} ns {gbs:>10.2}", t.as_nanos());
    };
    line(
        "region (pread/pwrite): RAM -> edu",
        time(n, || transfer(&region, iova, false))?,
    );
    line(
        "region (pread/pwrite): edu -> RAM",
        time(n, || transfer(&region, iova, true))?,
    );
    if let Some(bar) = &mapped {
        let m = n.div_ceil(10);
        line(
            "mapped BAR 0 (loads/stores): RAM -> edu",
            time(m, || transfer(bar, iova, false))?,
        );
        line(
            "mapped BAR 0 (loads/stores): edu -> RAM",
            time(m, || transfer(bar, iova, true))?,
        );
    }
    let src = vec![0x11u8; PAGE];
    let mut dst = vec![0u8; PAGE];
    line(
        "memcpy",
        time(n * 10, || {
            dst.copy_from_slice(black_box(&src));
            black_box(&mut dst);
            Ok(())
        })?,
    );
    let zero = File::open("/dev/zero")?;
    let mut one = [0u8; 1];
    let syscall = time(n * 10, || Ok(zero.read_at(&mut one, 0).map(drop)?))?;
    println!(
        "{:<44} {:>9.0} ns",
        "one system call (pread of /dev/zero)",
        syscall.as_nanos()
    );
    Ok(())
}

fn main() -> std::process::ExitCode {
    run().map_or_else(
        |e| {
            eprintln!("edu_dma_bench: {e}");
            std::process::ExitCode::FAILURE
        },
        |()| std::process::ExitCode::SUCCESS,
    )
}
