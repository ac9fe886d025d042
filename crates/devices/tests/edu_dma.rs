//! edu end to end: a function probed from the context's IOMMU model (the selftest mock, VT-d),
//! bound and attached to an IOAS, its DMA engine programmed through BAR 0 to copy a buffer
//! both ways through the IOMMU, its MSI firing on completion; then the IOVA is unmapped and
//! the next transfer faults in the IOMMU model, touches nothing and completes, as QEMU's edu
//! does (it ignores the result of its requests).

use std::sync::{Arc, Mutex};
use uiommu_core::dma::DmaError;
use uiommu_core::driver::mock::MockDriver;
use uiommu_core::driver::vtd::{VtdConfig, VtdDriver};
use uiommu_core::iommu::translate::FaultReason;
use uiommu_core::iommu::{IommuDriver, NO_PASID};
use uiommu_devices::config::spec as pci;
use uiommu_devices::dma::{DmaAbort, FaultLog};
use uiommu_devices::edu::{self, Edu, regs::*};
use uiommu_devices::testing::{CountingTrigger, Rig};
use uiommu_devices::{Function, IrqIndex, PciFunction};
use uiommu_uapi::UserMemory;

/// A data page and a destination page, mapped at `IOVA` and `IOVA + PAGE` (inside the mock's
/// aperture and edu's 28 address bits).
const IOVA: u64 = 0x0200_0000;
const UVA: u64 = 0x7f00_0000_0000;
const PAGE: u64 = 4096;

struct Setup {
    rig: Rig,
    edu: Function<Edu>,
    msi: Arc<CountingTrigger>,
}

/// edu behind `iommu`: bound, memory and bus mastering on, MSI enabled to a counter.
fn setup(iommu: Arc<dyn IommuDriver>) -> Setup {
    let rig = Rig::new(iommu);
    let mut edu = edu::function(rig.probe());
    rig.bind(&mut edu);
    // One area per page, so that the second can be unmapped alone.
    rig.map(IOVA, UVA, PAGE);
    rig.map(IOVA + PAGE, UVA + PAGE, PAGE);
    let command = pci::COMMAND_MEMORY | pci::COMMAND_MASTER;
    edu.config_write(pci::COMMAND, &command.to_le_bytes())
        .unwrap();
    edu.config_write(0x42, &pci::MSI_FLAGS_ENABLE.to_le_bytes())
        .unwrap();
    let msi = CountingTrigger::new();
    assert!(
        edu.interrupts()
            .set_trigger(IrqIndex::Msi, 0, Some(msi.clone()))
    );
    Setup { rig, edu, msi }
}

/// A register, read at its width (edu takes 4-byte accesses below 0x80).
fn reg(edu: &mut Function<Edu>, offset: u64) -> u64 {
    let mut b = [0; 8];
    let len = if offset < WIDE_REGISTERS { 4 } else { 8 };
    edu.bar_read(0, offset, &mut b[..len]).unwrap();
    u64::from_le_bytes(b)
}

/// The driver programs a transfer of `count` bytes, with the completion interrupt.
fn transfer(edu: &mut Function<Edu>, source: u64, destination: u64, count: u64, to_ram: bool) {
    for (offset, v) in [
        (DMA_SOURCE, source),
        (DMA_DESTINATION, destination),
        (DMA_COUNT, count),
    ] {
        edu.bar_write(0, offset, &v.to_le_bytes()).unwrap();
    }
    let dir = if to_ram { DMA_CMD_TO_RAM } else { 0 };
    let command = DMA_CMD_RUN | DMA_CMD_IRQ | dir;
    edu.bar_write(0, DMA_COMMAND, &command.to_le_bytes())
        .unwrap();
}

fn ack(edu: &mut Function<Edu>) {
    edu.bar_write(0, INTERRUPT_ACK, &IRQ_DMA.to_le_bytes())
        .unwrap();
}

/// Copies a page into edu's buffer and back out to the second page, then faults once the
/// second page is unmapped. Returns the fault.
fn copy_both_ways_then_fault(s: &mut Setup) -> DmaError {
    let pattern: Vec<u8> = (0..PAGE).map(|i| (i * 7 + 3) as u8).collect();
    s.rig.mem.write(UVA, &pattern).unwrap();

    // RAM to the device; address bits beyond the 28 edu drives are dropped.
    transfer(&mut s.edu, IOVA | 1 << 40, BUFFER_ADDRESS, PAGE, false);
    assert_eq!(&s.edu.model().buffer()[..], &pattern[..]);
    assert_eq!(reg(&mut s.edu, DMA_COMMAND) & DMA_CMD_RUN, 0, "done");
    assert_eq!(reg(&mut s.edu, INTERRUPT_STATUS), u64::from(IRQ_DMA));
    assert_eq!(s.msi.count(), 1);
    ack(&mut s.edu);

    // The device to RAM, at an offset that crosses nothing.
    transfer(&mut s.edu, BUFFER_ADDRESS + 16, IOVA + PAGE, 256, true);
    assert_eq!(s.rig.mem.get(UVA + PAGE, 256), &pattern[16..272]);
    assert_eq!(s.msi.count(), 2);
    ack(&mut s.edu);

    // The destination page leaves the IOAS; its memory stays in the process.
    s.rig.ioas.iopt.unmap(IOVA + PAGE, PAGE).unwrap();
    s.rig.mem.write(UVA + PAGE, &[0x5a; PAGE as usize]).unwrap();
    transfer(&mut s.edu, BUFFER_ADDRESS, IOVA + PAGE, PAGE, true);
    assert_eq!(
        reg(&mut s.edu, DMA_COMMAND) & DMA_CMD_RUN,
        0,
        "the transfer completed, as on QEMU"
    );
    assert_eq!(reg(&mut s.edu, INTERRUPT_STATUS), u64::from(IRQ_DMA));
    assert_eq!(s.msi.count(), 3, "the completion interrupt");
    ack(&mut s.edu);
    assert_eq!(
        s.rig.mem.get(UVA + PAGE, PAGE as usize),
        [0x5a; PAGE as usize]
    );
    // The mapped page is still reachable through the IOMMU, untouched by the failure.
    assert_eq!(s.rig.mem.get(UVA, PAGE as usize), pattern);
    match s.edu.model().dma_abort() {
        Some(DmaAbort::Iommu(e @ DmaError::Fault(f))) => {
            let dev_id = s.edu.dma().device().unwrap().id();
            assert_eq!((f.dev_id, f.pasid, f.iova), (dev_id, NO_PASID, IOVA + PAGE));
            assert!(matches!(f.reason, FaultReason::NotPresent { .. }), "{f:?}");
            e
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn edu_copies_through_the_mock_iommu_and_faults_once_unmapped() {
    let mut s = setup(MockDriver::get());
    copy_both_ways_then_fault(&mut s);
}

#[test]
fn edu_copies_through_vtd_and_the_fault_is_recorded_in_the_unit() {
    let vtd = VtdDriver::new(VtdConfig::default());
    let mut s = setup(vtd.clone());
    // The host's log of the fault, beside the unit's record.
    let logged = Arc::new(Mutex::new(Vec::new()));
    let sink = logged.clone();
    let log: FaultLog = Arc::new(move |e| {
        if let DmaError::Fault(f) = e {
            sink.lock().unwrap().push(*f);
        }
    });
    s.edu.dma().set_fault_log(Some(log));
    let e = copy_both_ways_then_fault(&mut s);
    assert!(matches!(e, DmaError::Fault(f) if *logged.lock().unwrap() == [f]));
    // A request nothing claims is no IOMMU fault: not logged.
    s.edu.dma().unbind();
    transfer(&mut s.edu, IOVA, BUFFER_ADDRESS, 64, false);
    assert_eq!(logged.lock().unwrap().len(), 1);
    let (records, overflow) = vtd.unit().take_faults();
    assert!(!overflow);
    assert_eq!(records.len(), 1, "{records:?}");
    let r = &records[0];
    assert_eq!((r.addr, r.pasid, r.write), (IOVA + PAGE, None, true));
}

#[test]
fn a_refused_read_fills_zeros_and_the_translated_page_still_arrives() {
    let mut s = setup(MockDriver::get());
    let pattern: Vec<u8> = (0..2 * PAGE).map(|i| (i * 13 + 1) as u8).collect();
    s.rig.mem.write(UVA, &pattern).unwrap();
    transfer(&mut s.edu, IOVA + PAGE, BUFFER_ADDRESS, PAGE, false);
    assert_eq!(&s.edu.model().buffer()[..], &pattern[PAGE as usize..]);
    ack(&mut s.edu);
    s.rig.ioas.iopt.unmap(IOVA + PAGE, PAGE).unwrap();
    // 256 bytes across the end of the mapped page into the unmapped one: QEMU's
    // address_space_rw reads the first half and zeros for the refused half, and goes on.
    transfer(&mut s.edu, IOVA + PAGE - 128, BUFFER_ADDRESS, 256, false);
    let buf = s.edu.model().buffer();
    assert_eq!(&buf[..128], &pattern[PAGE as usize - 128..PAGE as usize]);
    assert_eq!(&buf[128..256], &[0; 128]);
    assert_eq!(&buf[256..], &pattern[PAGE as usize + 256..]);
    assert_eq!(reg(&mut s.edu, DMA_COMMAND) & DMA_CMD_RUN, 0);
    assert_eq!(s.msi.count(), 2, "both transfers completed");
    match s.edu.model().dma_abort() {
        Some(DmaAbort::Iommu(DmaError::Fault(f))) => assert_eq!(f.iova, IOVA + PAGE),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_unbound_function_reaches_nothing() {
    let mut s = setup(MockDriver::get());
    s.rig.mem.write(UVA, &[1; 64]).unwrap();
    transfer(&mut s.edu, IOVA, BUFFER_ADDRESS, 64, false);
    assert_eq!(&s.edu.model().buffer()[..64], &[1; 64]);
    s.edu.dma().unbind();
    transfer(&mut s.edu, IOVA, BUFFER_ADDRESS, 64, false);
    assert_eq!(s.edu.model().dma_abort(), Some(DmaAbort::MasterAbort));
    assert_eq!(
        &s.edu.model().buffer()[..64],
        &[0; 64],
        "refused reads leave zeros, as QEMU's unassigned memory reads"
    );
    assert_eq!(reg(&mut s.edu, DMA_COMMAND) & DMA_CMD_RUN, 0, "completed");
}
