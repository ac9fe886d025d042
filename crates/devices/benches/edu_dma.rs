//! edu's DMA engine through the IOMMU models, against a plain copy of the same bytes.
//!
//! Each DMA case is one command write to BAR 0 that moves 4 KiB between the function's
//! buffer and a page mapped in the IOAS (the other DMA registers are programmed once; the
//! start bit clears with every transfer): the register decode, the domain lookup through the
//! device's group, the translation (IOTLB or the mock's software table) and the copy from or
//! to the process memory model.
//! - `edu_dma/{to_device,to_ram}_4KiB/{mock,vtd}`: RAM to the buffer, the buffer to RAM.
//! - `edu_dma/memory_model_read_4KiB`: the test process memory's own read of the page
//!   (a page table of boxed pages behind a lock), the floor of the DMA cases.
//! - `edu_dma/memcpy_4KiB`: a plain copy of 4 KiB between two slices.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::Arc;
use uiommu_core::driver::mock::MockDriver;
use uiommu_core::driver::vtd::{VtdConfig, VtdDriver};
use uiommu_core::iommu::IommuDriver;
use uiommu_devices::config::spec as pci;
use uiommu_devices::edu::{self, Edu, regs::*};
use uiommu_devices::testing::Rig;
use uiommu_devices::{Function, PciFunction};
use uiommu_uapi::UserMemory;

const IOVA: u64 = 0x0200_0000;
const UVA: u64 = 0x7f00_0000_0000;
const LEN: u64 = 4096;

/// Makes a new IOMMU model.
type NewIommu = fn() -> Arc<dyn IommuDriver>;

/// edu behind `iommu`, bound, with one page mapped and its DMA registers programmed for a
/// transfer in `direction`.
fn edu_ready(iommu: Arc<dyn IommuDriver>, direction: u64) -> (Rig, Function<Edu>) {
    let rig = Rig::new(iommu);
    let mut f = edu::function(rig.probe());
    rig.bind(&mut f);
    rig.map(IOVA, UVA, LEN);
    let command = pci::COMMAND_MEMORY | pci::COMMAND_MASTER;
    f.config_write(pci::COMMAND, &command.to_le_bytes())
        .unwrap();
    let (source, destination) = if direction == DMA_CMD_TO_RAM {
        (BUFFER_ADDRESS, IOVA)
    } else {
        (IOVA, BUFFER_ADDRESS)
    };
    for (offset, v) in [
        (DMA_SOURCE, source),
        (DMA_DESTINATION, destination),
        (DMA_COUNT, LEN),
    ] {
        f.bar_write(0, offset, &v.to_le_bytes()).unwrap();
    }
    (rig, f)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("edu_dma");
    g.throughput(Throughput::Bytes(LEN));
    let iommus: [(&str, NewIommu); 2] = [
        ("mock", || MockDriver::get()),
        ("vtd", || VtdDriver::new(VtdConfig::default())),
    ];
    for (name, iommu) in iommus {
        for (case, direction) in [("to_device_4KiB", 0), ("to_ram_4KiB", DMA_CMD_TO_RAM)] {
            let (_rig, mut f) = edu_ready(iommu(), direction);
            let command = (DMA_CMD_RUN | direction).to_le_bytes();
            g.bench_function(format!("{case}/{name}"), |b| {
                b.iter(|| f.bar_write(0, DMA_COMMAND, black_box(&command)).unwrap())
            });
            assert!(f.model().dma_abort().is_none(), "every transfer completed");
        }
    }
    let (rig, _f) = edu_ready(MockDriver::get(), 0);
    let mut page = vec![0u8; LEN as usize];
    g.bench_function("memory_model_read_4KiB", |b| {
        b.iter(|| rig.mem.read(black_box(UVA), &mut page).unwrap())
    });
    let source = vec![0x5au8; LEN as usize];
    g.bench_function("memcpy_4KiB", |b| {
        b.iter(|| page.copy_from_slice(black_box(&source)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
