//! An emulated device's DMA through the IOMMU: edu (1234:11e8) copying 4 KiB between its
//! buffer and RAM mapped in an IOAS, as a user-space driver does it: write the DMA source,
//! destination and count, write the command, read the command back until its start bit
//! clears. Timed two ways: by `pwrite`/`pread` of BAR 0 through the VFIO device file, and by
//! stores and loads to BAR 0 mapped into the program (each a trapped MMIO access under
//! uiommu). Runs when an edu is bound to vfio-pci (`uiommu exec --device edu -- bench`); with
//! several, `UIOMMU_CLIENT_EDU=BDF` names the one.

use std::error::Error;
use uiommu_client::uapi::vfio::{VFIO_PCI_BAR0_REGION_INDEX, VFIO_PCI_CONFIG_REGION_INDEX};
use uiommu_client::{
    Iommufd, Iova, MapFlags, MappedBuffer, MmioRegion, PciDevices, PciFilter, RegionInfo,
    VfioDevice,
};

#[path = "../common/edu.rs"]
mod regs;
use regs::*;

pub const LEN: usize = 4096;

/// How the program reaches BAR 0.
trait Bar0 {
    fn write(&self, offset: u64, value: u64);
    fn read(&self, offset: u64) -> u64;
}

/// `pwrite`/`pread` of the device file's BAR 0 region.
struct ByFile<'a>(&'a VfioDevice, RegionInfo);

impl Bar0 for ByFile<'_> {
    fn write(&self, offset: u64, value: u64) {
        self.0
            .write_region(&self.1, offset, &value.to_le_bytes())
            .expect("edu register write");
    }
    fn read(&self, offset: u64) -> u64 {
        let mut b = [0u8; 8];
        self.0
            .read_region(&self.1, offset, &mut b)
            .expect("edu register read");
        u64::from_le_bytes(b)
    }
}

/// BAR 0 mapped into the program.
impl Bar0 for MmioRegion {
    fn write(&self, offset: u64, value: u64) {
        self.write64(offset as usize, value);
    }
    fn read(&self, offset: u64) -> u64 {
        self.read64(offset as usize)
    }
}

/// One transfer between RAM at `iova` and edu's buffer, waited for by polling.
fn dma(bar: &dyn Bar0, iova: u64, to_ram: bool) {
    let (src, dst) = if to_ram {
        (BUFFER, iova)
    } else {
        (iova, BUFFER)
    };
    bar.write(DMA_SOURCE, src);
    bar.write(DMA_DESTINATION, dst);
    bar.write(DMA_COUNT, LEN as u64);
    bar.write(DMA_COMMAND, DMA_RUN | if to_ram { DMA_TO_RAM } else { 0 });
    while bar.read(DMA_COMMAND) & DMA_RUN != 0 {
        std::hint::spin_loop();
    }
}

/// Times 4 KiB DMAs each way and each access path with `time(iters, f)`: `(name, ns)` rows,
/// none if there is no edu.
pub fn run(
    time: &mut dyn FnMut(u32, &mut dyn FnMut()) -> f64,
) -> Result<Vec<(&'static str, f64)>, Box<dyn Error>> {
    let found = PciDevices::new().matching(&PciFilter::new().id(VENDOR, DEVICE));
    // `UIOMMU_CLIENT_EDU=BDF` picks one edu among several, as the client's scenarios do.
    let wanted = std::env::var("UIOMMU_CLIENT_EDU").ok();
    let Some(cdev) = found
        .ok()
        .into_iter()
        .flatten()
        .filter(|d| wanted.as_ref().is_none_or(|w| *w == d.address))
        .find_map(|d| d.vfio_cdev)
    else {
        return Ok(Vec::new());
    };
    let dev = VfioDevice::open_path(cdev.path())?;
    let fd = Iommufd::open()?;
    dev.bind_iommufd(&fd)?;
    let ioas = fd.alloc_ioas()?;
    dev.attach(&ioas)?;
    let config = dev.region_info(VFIO_PCI_CONFIG_REGION_INDEX)?;
    let mut cmd = [0u8; 2];
    dev.read_region(&config, PCI_COMMAND, &mut cmd)?;
    let cmd = u16::from_le_bytes(cmd) | MEMORY_AND_MASTER;
    dev.write_region(&config, PCI_COMMAND, &cmd.to_le_bytes())?;
    let buf = MappedBuffer::new(LEN)?;
    buf.fill(0x3c);
    // The first IOVA the IOMMU gives: below edu's DMA limit on every model.
    let iova = ioas.map(&buf, Iova::Auto, MapFlags::RW)?;
    if iova + LEN as u64 > DMA_LIMIT {
        return Err(format!("IOVA {iova:#x} is beyond edu's 28-bit DMA limit").into());
    }
    let info = dev.region_info(VFIO_PCI_BAR0_REGION_INDEX)?;
    let mapped = if info.mappable() {
        Some(dev.mmap_region(&info)?)
    } else {
        None
    };
    let file = ByFile(&dev, info);
    let mut rows = vec![
        (
            "edu DMA 4 KiB RAM -> device (pwrite)",
            time(2_000, &mut || dma(&file, iova, false)),
        ),
        (
            "edu DMA 4 KiB device -> RAM (pwrite)",
            time(2_000, &mut || dma(&file, iova, true)),
        ),
    ];
    if let Some(bar) = &mapped {
        rows.push((
            "edu DMA 4 KiB RAM -> device (mmap)",
            time(500, &mut || dma(bar, iova, false)),
        ));
        rows.push((
            "edu DMA 4 KiB device -> RAM (mmap)",
            time(500, &mut || dma(bar, iova, true)),
        ));
    }
    assert!(
        buf.to_vec().iter().all(|&b| b == 0x3c),
        "edu DMA moved wrong data"
    );
    Ok(rows)
}
