//! An end-to-end DMA session through an IOMMU, step by step.
//!
//! A program opens `/dev/iommu`, gives a device an I/O address space, maps a buffer, lets the
//! device move data by DMA through the IOMMU, unmaps, and sees the next DMA blocked and
//! reported as a page fault. The device is the iommufd selftest's mock device and its DMA
//! engine is a mediated-device access (`IOMMU_TEST_OP_ACCESS_RW`), so this runs on uiommu's
//! software IOMMU (`uiommu exec -- dma_demo`) and on a kernel built with `CONFIG_IOMMUFD_TEST`
//! alike.

use std::process::ExitCode;
use uiommu_client::uapi::iommufd::{IOMMU_PGFAULT_PERM_READ, IOMMUFD_PAGE_RESP_INVALID};
use uiommu_client::uapi::selftest::{MOCK_APERTURE_START, TestTriggerIopf};
use uiommu_client::{Hwpt, HwptFlags, Iommufd, Iova, MapFlags, MappedBuffer, PageResponse, Result};

fn step(n: u32, what: &str) {
    println!("[{n}] {what}");
}

fn run() -> Result<()> {
    step(1, "open /dev/iommu");
    let fd = Iommufd::open()?;

    step(2, "allocate an I/O address space (IOAS)");
    let ioas = fd.alloc_ioas()?;
    println!("    IOAS {}", ioas.id());

    step(3, "create a device and attach it to the IOAS");
    let test = fd.test();
    let dev = test.mock_domain(&ioas)?;
    let info = fd.hw_info(dev.dev_id())?;
    println!(
        "    device {} behind an IOMMU of hw_info type {}, attached to HW page table {}",
        dev.dev_id(),
        info.data_type,
        dev.hwpt_id()
    );

    step(
        4,
        "give the device a page table that reports its faults to a fault queue",
    );
    let faults = fd.alloc_fault_queue()?;
    let hwpt = Hwpt::builder(dev.dev_id(), &ioas)
        .flags(HwptFlags::empty())
        .fault(&faults)
        .alloc()?;
    dev.replace(&hwpt)?;
    println!(
        "    device {} now translates through HW page table {} (fault queue {})",
        dev.dev_id(),
        hwpt.id(),
        faults.id()
    );

    step(5, "map a buffer for DMA");
    let buf = MappedBuffer::new(4096)?;
    buf.write(0, b"hello from the CPU");
    let iova = ioas.map(&buf, Iova::Fixed(MOCK_APERTURE_START), MapFlags::RW)?;
    println!("    user address {:#x} is IOVA {iova:#x}", buf.addr());

    step(6, "the device reads the buffer by DMA");
    let dma = test.create_access(&ioas, 0)?;
    let mut got = [0u8; 18];
    dma.read(iova, &mut got)?;
    println!("    device read {:?}", String::from_utf8_lossy(&got));

    step(7, "the device writes by DMA; the CPU sees it");
    dma.write(iova + 64, b"hello from the device")?;
    let mut seen = [0u8; 21];
    buf.read(64, &mut seen);
    println!("    CPU read {:?}", String::from_utf8_lossy(&seen));

    step(8, "unmap the buffer");
    let n = ioas.unmap(iova, 4096)?;
    println!("    {n} bytes unmapped");

    step(9, "the device tries DMA again");
    match dma.read(iova, &mut got) {
        Ok(()) => println!("    unexpected: DMA still reached memory"),
        Err(e) => println!("    blocked: {e}"),
    }
    test.trigger_iopf(TestTriggerIopf {
        dev_id: dev.dev_id().raw(),
        pasid: 0,
        grpid: 1,
        perm: IOMMU_PGFAULT_PERM_READ,
        addr: iova,
    })?;
    for f in faults.read_faults(4)? {
        println!(
            "    page fault: device {} read at IOVA {:#x} (group {}, cookie {})",
            f.dev_id, f.addr, f.grpid, f.cookie
        );
        faults.respond(&[PageResponse {
            cookie: f.cookie,
            code: IOMMUFD_PAGE_RESP_INVALID,
        }])?;
        println!("    answered: the page stays unmapped");
    }
    println!("done");
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dma_demo: {e}");
            ExitCode::FAILURE
        }
    }
}
