//! The IOAT model behind the selftest mock IOMMU: identity, register semantics, descriptor
//! chains, completion writeback, interrupts, and requests the IOMMU refuses.

use super::channel::State;
use super::*;
use crate::PciFunction;
use crate::access::le_value;
use crate::config::spec as pci;
use crate::dma::{CopySide, DmaAbort};
use crate::irq::IrqIndex;
use crate::testing::{CountingTrigger, Rig};
use uiommu_core::dma::DmaError;
use uiommu_core::driver::mock::MockDriver;
use uiommu_core::iommu::translate::FaultReason;
use uiommu_uapi::UserMemory;

/// Descriptors at `IOVA`, data pages after them; user memory at `UVA`.
const IOVA: u64 = 0x0200_0000;
const UVA: u64 = 0x7f00_0000_0000;
const PAGE: u64 = 4096;
/// Where the descriptors are (IOVA), the source and destination buffers (16 pages each).
const DESCS: u64 = IOVA;
const SRC: u64 = IOVA + PAGE;
const DST: u64 = IOVA + 17 * PAGE;
/// The completion record.
const COMPLETION: u64 = IOVA + 33 * PAGE;
/// The MSI-X capability: the first in the list.
const MSIX_CAP: u16 = 0x40;

struct Setup {
    rig: Rig,
    f: Function<Ioat>,
    msix: Arc<CountingTrigger>,
}

/// The engine bound behind the mock, 34 pages mapped one area each, memory and bus
/// mastering on, MSI-X enabled with vector 0 unmasked and counted.
fn setup() -> Setup {
    let rig = Rig::new(MockDriver::get());
    let mut f = function(rig.probe());
    rig.bind(&mut f);
    for p in 0..34 {
        rig.map(IOVA + p * PAGE, UVA + p * PAGE, PAGE);
    }
    let command = pci::COMMAND_MEMORY | pci::COMMAND_MASTER;
    f.config_write(pci::COMMAND, &command.to_le_bytes())
        .unwrap();
    f.config_write(MSIX_CAP + 2, &pci::MSIX_FLAGS_ENABLE.to_le_bytes())
        .unwrap();
    f.bar_write(0, u64::from(MSIX_TABLE) + 12, &[0; 4]).unwrap();
    let msix = CountingTrigger::new();
    assert!(
        f.interrupts()
            .set_trigger(IrqIndex::Msix, 0, Some(msix.clone()))
    );
    write(&mut f, INTRCTRL, 1, INTRCTRL_MSIX_VECTOR_CONTROL.into());
    Setup { rig, f, msix }
}

fn read(f: &mut Function<Ioat>, offset: u64, len: usize) -> u64 {
    let mut b = vec![0; len];
    f.bar_read(0, offset, &mut b).unwrap();
    le_value(&b)
}

fn write(f: &mut Function<Ioat>, offset: u64, len: usize, v: u64) {
    f.bar_write(0, offset, &v.to_le_bytes()[..len]).unwrap();
}

/// A channel register.
fn chan(f: &mut Function<Ioat>, reg: u64, len: usize) -> u64 {
    read(f, CHANNEL_BASE + reg, len)
}

fn set_chan(f: &mut Function<Ioat>, reg: u64, len: usize, v: u64) {
    write(f, CHANNEL_BASE + reg, len, v);
}

fn status(f: &mut Function<Ioat>) -> u64 {
    chan(f, CHANSTS, 8) & CHANSTS_STATUS
}

/// A copy descriptor.
fn copy(src: u64, dst: u64, size: u32, ctl: u32, next: u64) -> Descriptor {
    Descriptor {
        size,
        ctl,
        src,
        dst,
        next,
    }
}

impl Setup {
    /// Descriptor `i` of the ring at `DESCS`, written to memory.
    fn put(&self, i: u64, d: Descriptor) {
        self.rig
            .mem
            .write(UVA + i * DESC_SIZE, &d.to_bytes())
            .unwrap();
    }

    /// The user address of an IOVA in the mapped window.
    fn uva(iova: u64) -> u64 {
        UVA + (iova - IOVA)
    }

    fn fill(&self, iova: u64, len: usize, seed: u8) -> Vec<u8> {
        let v: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(7) ^ seed).collect();
        self.rig.mem.write(Self::uva(iova), &v).unwrap();
        v
    }

    fn get(&self, iova: u64, len: usize) -> Vec<u8> {
        self.rig.mem.get(Self::uva(iova), len)
    }

    /// What the selftest driver does: CHAINADDR, CHANCTRL, then DMACOUNT.
    fn start(&mut self, chain: u64, ctrl: u16, count: u16) {
        set_chan(&mut self.f, CHAINADDR, 8, chain);
        set_chan(&mut self.f, CHANCTRL, 2, ctrl.into());
        set_chan(&mut self.f, DMACOUNT, 2, count.into());
    }
}

#[test]
fn identity_and_device_registers_are_the_skx_engines() {
    let mut s = setup();
    let f = &mut s.f;
    let mut id = [0u8; 4];
    f.config_read(pci::VENDOR_ID, &mut id).unwrap();
    assert_eq!(u32::from_le_bytes(id), 0x2021_8086);
    f.config_read(pci::REVISION_ID, &mut id).unwrap();
    assert_eq!(u32::from_le_bytes(id), 0x0880_0004);
    // BAR 0: 16 KiB of 64-bit memory.
    f.config_write(pci::BASE_ADDRESS_0, &[0xff; 4]).unwrap();
    f.config_read(pci::BASE_ADDRESS_0, &mut id).unwrap();
    assert_eq!(u32::from_le_bytes(id), 0xffff_c004);
    // MSI-X: one vector, table at 0x2000 and PBA at 0x3000 of BAR 0.
    let mut cap = [0u8; 12];
    for (i, b) in cap.iter_mut().enumerate() {
        f.config_read(MSIX_CAP + i as u16, std::slice::from_mut(b))
            .unwrap();
    }
    assert_eq!(cap[0], pci::CAP_ID_MSIX);
    assert_eq!(
        u16::from_le_bytes([cap[2], cap[3]]) & pci::MSIX_FLAGS_QSIZE,
        0
    );
    assert_eq!(le_value(&cap[4..8]), 0x2000);
    assert_eq!(le_value(&cap[8..12]), 0x3000);
    assert_eq!(
        f.description().reset_method(),
        Some(crate::ResetMethod::PowerManagement)
    );
    // What the drivers probe: one channel, 1 MiB per descriptor, version 3.3.
    assert_eq!(read(f, CHANCNT, 1), 1);
    assert_eq!(read(f, XFERCAP, 1), 20);
    assert_eq!(read(f, CBVER, 1), 0x33);
    assert_eq!(read(f, DMA_CAP, 4), 0, "copy only");
    assert_eq!(
        read(f, 0, 8),
        0x0800_1401,
        "CHANCNT, XFERCAP, GENCTRL, INTRCTRL"
    );
    // Halted from power-on; DMA_COMP reads version 2 rings.
    assert_eq!(status(f), State::Halted as u64);
    assert_eq!(chan(f, DMA_COMP, 2), 2);
    // Stored device registers.
    write(f, INTRDELAY, 2, 0xffff);
    assert_eq!(read(f, INTRDELAY, 2), 0x3fff);
    write(f, GENCTRL, 1, 1);
    assert_eq!(read(f, GENCTRL, 1), 1);
    // A function reset: power-on values.
    f.reset();
    f.config_write(pci::COMMAND, &pci::COMMAND_MEMORY.to_le_bytes())
        .unwrap();
    assert_eq!(read(f, GENCTRL, 1), 0);
    assert_eq!(read(f, INTRCTRL, 1), 0);
}

#[test]
fn channel_registers_take_any_width_and_their_semantics() {
    let mut s = setup();
    let f = &mut s.f;
    // CHAINADDR in two 32-bit halves, as Linux writes it; read whole.
    set_chan(f, CHAINADDR, 4, 0x89ab_cdc0);
    set_chan(f, CHAINADDR + 4, 4, 0x0123_4567);
    assert_eq!(chan(f, CHAINADDR, 8), 0x0123_4567_89ab_cdc0);
    assert_eq!(chan(f, CHAINADDR + 4, 4), 0x0123_4567);
    set_chan(f, CHANCMP, 8, COMPLETION);
    assert_eq!(chan(f, CHANCMP, 8), COMPLETION);
    // CHANCTRL keeps its defined bits only.
    set_chan(f, CHANCTRL, 2, 0xffff);
    assert_eq!(chan(f, CHANCTRL, 2), u64::from(CHANCTRL_RW));
    // CHANERR is write-1-to-clear; the mask is read-write.
    set_chan(f, CHANERR_MASK, 4, 0x30000);
    assert_eq!(chan(f, CHANERR_MASK, 4), 0x30000);
    s.start(DESCS + 8, 0, 1);
    assert_eq!(s.f.model().channel().errors(), CHANERR_CHAIN_ADDR_VALUE);
    assert_eq!(status(&mut s.f), State::Halted as u64);
    set_chan(&mut s.f, CHANERR, 4, 0);
    assert_eq!(
        chan(&mut s.f, CHANERR, 4),
        u64::from(CHANERR_CHAIN_ADDR_VALUE)
    );
    set_chan(&mut s.f, CHANERR, 4, u64::from(CHANERR_CHAIN_ADDR_VALUE));
    assert_eq!(chan(&mut s.f, CHANERR, 4), 0);
    // RESET: halted, registers back, and the command reads 0 at once.
    set_chan(&mut s.f, CHANCMD, 1, CHANCMD_RESET.into());
    assert_eq!(chan(&mut s.f, CHANCMD, 1), 0);
    assert_eq!(chan(&mut s.f, CHAINADDR, 8), 0);
    assert_eq!(chan(&mut s.f, CHANCTRL, 2), 0);
    assert_eq!(status(&mut s.f), State::Halted as u64);
    // Beyond the channel block: zeros.
    assert_eq!(read(&mut s.f, 0x100, 8), 0);
}

#[test]
fn a_chain_runs_to_dmacount_and_appends_from_the_last_next() {
    let mut s = setup();
    let data = s.fill(SRC, 3 * PAGE as usize, 1);
    for i in 0..3 {
        let off = i * PAGE;
        let d = copy(
            SRC + off,
            DST + off,
            PAGE as u32,
            0,
            DESCS + (i + 1) * DESC_SIZE,
        );
        s.put(i, d);
    }
    s.start(DESCS, 0, 2);
    assert_eq!(status(&mut s.f), State::Done as u64);
    let sts = chan(&mut s.f, CHANSTS, 8);
    assert_eq!(
        sts & CHANSTS_COMPLETED_ADDR,
        DESCS + DESC_SIZE,
        "the second completed"
    );
    assert_eq!(s.get(DST, 2 * PAGE as usize), data[..2 * PAGE as usize]);
    assert_eq!(s.get(DST + 2 * PAGE, 16), [0; 16], "the third not issued");
    // From done, a higher count continues with the third.
    set_chan(&mut s.f, DMACOUNT, 2, 3);
    assert_eq!(s.get(DST, 3 * PAGE as usize), data);
    let sts = chan(&mut s.f, CHANSTS, 8);
    assert_eq!(sts, DESCS + 2 * DESC_SIZE | State::Done as u64);
    assert_eq!(chan(&mut s.f, CDAR, 8), DESCS + 2 * DESC_SIZE);
    // SUSPEND, then a new chain from CHAINADDR counts from zero again.
    set_chan(&mut s.f, CHANCMD, 1, CHANCMD_SUSPEND.into());
    assert_eq!(status(&mut s.f), State::Suspended as u64);
    s.put(3, copy(SRC, DST + 3 * PAGE, 64, 0, DESCS + 3 * DESC_SIZE));
    s.start(DESCS + 3 * DESC_SIZE, 0, 1);
    assert_eq!(status(&mut s.f), State::Done as u64);
    assert_eq!(s.get(DST + 3 * PAGE, 64), data[..64]);
    // RESUME of a suspended, done channel leaves it done.
    set_chan(&mut s.f, CHANCMD, 1, CHANCMD_SUSPEND.into());
    set_chan(&mut s.f, CHANCMD, 1, CHANCMD_RESUME.into());
    assert_eq!(status(&mut s.f), State::Done as u64);
    assert_eq!(s.msix.count(), 0, "no descriptor asked for an interrupt");
}

#[test]
fn a_descriptor_that_points_at_itself_runs_count_times() {
    let mut s = setup();
    // The selftest driver's memcpy_storm: one descriptor, next = itself.
    s.fill(SRC, 8 * PAGE as usize, 3);
    s.put(0, copy(SRC, DST, 8 * PAGE as u32, 0, DESCS));
    s.start(DESCS, CHANCTRL_INT_REARM | CHANCTRL_ANY_ERR_ABORT_EN, 1000);
    assert_eq!(status(&mut s.f), State::Done as u64);
    assert_eq!(s.get(DST, 8 * PAGE as usize), s.get(SRC, 8 * PAGE as usize));
    // 65535 counts wrap nothing: the count is compared modulo 2^16.
    set_chan(&mut s.f, CHANCMD, 1, CHANCMD_SUSPEND.into());
    s.start(DESCS, 0, u16::MAX);
    assert_eq!(status(&mut s.f), State::Done as u64);
}

#[test]
fn the_completion_is_written_and_int_en_signals_msix_once_per_rearm() {
    let mut s = setup();
    s.fill(SRC, 64, 5);
    set_chan(&mut s.f, CHANCMP, 8, COMPLETION);
    let ctl = CTL_COMPL_WRITE | CTL_INT_EN;
    s.put(0, copy(SRC, DST, 64, ctl, DESCS + DESC_SIZE));
    s.put(1, copy(SRC, DST + 64, 64, ctl, DESCS + 2 * DESC_SIZE));
    s.start(DESCS, CHANCTRL_INT_REARM, 2);
    let done = (DESCS + DESC_SIZE) | State::Done as u64;
    assert_eq!(s.get(COMPLETION, 8), done.to_le_bytes());
    assert_eq!(
        s.msix.count(),
        1,
        "the first INT_EN disarms; the second is not granted"
    );
    assert_eq!(
        chan(&mut s.f, CHANCTRL, 2) & u64::from(CHANCTRL_INT_REARM),
        0
    );
    assert_eq!(read(&mut s.f, ATTNSTATUS, 4), 1);
    let intr = read(&mut s.f, INTRCTRL, 1) as u8;
    assert_eq!(intr, INTRCTRL_MSIX_VECTOR_CONTROL | INTRCTRL_INT_STATUS);
    // Re-armed, the next descriptor's interrupt goes out.
    s.put(2, copy(SRC, DST, 64, CTL_INT_EN, DESCS));
    set_chan(&mut s.f, CHANCTRL, 2, CHANCTRL_INT_REARM.into());
    set_chan(&mut s.f, DMACOUNT, 2, 3);
    assert_eq!(s.msix.count(), 2);
    // Without MSIX_VECTOR_CONTROL or MASTER_INT_EN, no message.
    write(&mut s.f, INTRCTRL, 1, INTRCTRL_INT_STATUS.into());
    assert_eq!(read(&mut s.f, ATTNSTATUS, 4), 0);
    set_chan(&mut s.f, CHANCTRL, 2, CHANCTRL_INT_REARM.into());
    set_chan(&mut s.f, DMACOUNT, 2, 4);
    assert_eq!(s.msix.count(), 2);
    assert_eq!(read(&mut s.f, INTRCTRL, 1) as u8, INTRCTRL_INT_STATUS);
}

#[test]
fn without_msix_the_interrupt_is_intx_under_master_int_en() {
    let mut s = setup();
    let intx = CountingTrigger::new();
    s.f.interrupts()
        .set_trigger(IrqIndex::Intx, 0, Some(intx.clone()));
    s.f.config_write(MSIX_CAP + 2, &0u16.to_le_bytes()).unwrap();
    write(&mut s.f, INTRCTRL, 1, INTRCTRL_MASTER_INT_EN.into());
    s.put(0, copy(SRC, DST, 64, CTL_INT_EN, DESCS));
    s.start(DESCS, CHANCTRL_INT_REARM, 1);
    assert_eq!(intx.count(), 1);
    let intr = read(&mut s.f, INTRCTRL, 1) as u8;
    assert_eq!(intr & INTRCTRL_INT, INTRCTRL_INT);
    let mut st = [0u8; 2];
    s.f.config_read(pci::STATUS, &mut st).unwrap();
    assert_ne!(
        u16::from_le_bytes(st) & pci::STATUS_INTERRUPT,
        0,
        "asserted"
    );
    // Clearing INT_STATUS deasserts the line.
    write(
        &mut s.f,
        INTRCTRL,
        1,
        (INTRCTRL_MASTER_INT_EN | INTRCTRL_INT_STATUS).into(),
    );
    s.f.config_read(pci::STATUS, &mut st).unwrap();
    assert_eq!(u16::from_le_bytes(st) & pci::STATUS_INTERRUPT, 0);
    assert_eq!(s.msix.count(), 0);
}

/// The IOMMU fault behind the channel's last data error, on `side` at `iova`.
fn assert_fault(s: &Setup, side: CopySide, iova: u64) {
    let abort = s.f.model().channel().dma_abort().expect("a refusal");
    assert_eq!(abort.side, side);
    match abort.abort {
        DmaAbort::Iommu(DmaError::Fault(f)) => {
            assert_eq!(f.iova, iova);
            assert!(matches!(f.reason, FaultReason::NotPresent { .. }), "{f:?}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_unmapped_source_is_an_iommu_fault_and_read_data_err() {
    let mut s = setup();
    let data = s.fill(SRC, 2 * PAGE as usize, 9);
    s.rig.ioas.iopt.unmap(SRC + PAGE, PAGE).unwrap();
    s.put(0, copy(SRC, DST, 2 * PAGE as u32, CTL_INT_EN, DESCS));
    s.start(DESCS, CHANCTRL_INT_REARM | CHANCTRL_ANY_ERR_ABORT_EN, 1);
    assert_eq!(status(&mut s.f), State::Halted as u64);
    assert_eq!(chan(&mut s.f, CHANERR, 4), u64::from(CHANERR_READ_DATA));
    assert_eq!(chan(&mut s.f, CDAR, 8), DESCS, "the failed descriptor");
    assert_fault(&s, CopySide::Source, SRC + PAGE);
    // The page before the refused one was copied; nothing after.
    assert_eq!(s.get(DST, PAGE as usize), data[..PAGE as usize]);
    assert_eq!(s.get(DST + PAGE, 8), [0; 8]);
    assert_eq!(s.msix.count(), 0, "no ERR_INT_EN");
    // The refused read set Received Master Abort, as any refused read does.
    let mut st = [0u8; 2];
    s.f.config_read(pci::STATUS, &mut st).unwrap();
    assert_ne!(u16::from_le_bytes(st) & pci::STATUS_REC_MASTER_ABORT, 0);
    // Cleared and reset, the channel runs again.
    set_chan(&mut s.f, CHANERR, 4, u64::from(CHANERR_READ_DATA));
    set_chan(&mut s.f, CHANCMD, 1, CHANCMD_RESET.into());
    s.put(0, copy(SRC, DST, 64, 0, DESCS));
    s.start(DESCS, 0, 1);
    assert_eq!(status(&mut s.f), State::Done as u64);
}

#[test]
fn an_unmapped_destination_is_write_data_err_and_err_int_en_interrupts() {
    let mut s = setup();
    s.fill(SRC, 64, 2);
    s.rig.ioas.iopt.unmap(DST, PAGE).unwrap();
    set_chan(&mut s.f, CHANCMP, 8, COMPLETION);
    s.put(0, copy(SRC, DST, 64, 0, DESCS));
    let ctrl = CHANCTRL_INT_REARM | CHANCTRL_ERR_INT_EN | CHANCTRL_ERR_COMPLETION_EN;
    s.start(DESCS, ctrl, 1);
    assert_eq!(chan(&mut s.f, CHANERR, 4), u64::from(CHANERR_WRITE_DATA));
    assert_fault(&s, CopySide::Destination, DST);
    assert_eq!(s.msix.count(), 1, "ERR_INT_EN");
    let halted = State::Halted as u64;
    assert_eq!(
        s.get(COMPLETION, 8),
        halted.to_le_bytes(),
        "ERR_COMPLETION_EN"
    );
}

#[test]
fn descriptor_fetch_length_operation_and_completion_errors() {
    let mut s = setup();
    let cases: [(Descriptor, u32); 3] = [
        (copy(SRC, DST, 0, 0, DESCS), CHANERR_LENGTH),
        (copy(SRC, DST, (1 << 20) + 1, 0, DESCS), CHANERR_LENGTH),
        (
            copy(SRC, DST, 64, 0x87 << CTL_OP_SHIFT, DESCS),
            CHANERR_CONTROL,
        ),
    ];
    for (d, err) in cases {
        set_chan(&mut s.f, CHANCMD, 1, CHANCMD_RESET.into());
        set_chan(&mut s.f, CHANERR, 4, u64::from(u32::MAX));
        s.put(0, d);
        s.start(DESCS, 0, 1);
        assert_eq!(chan(&mut s.f, CHANERR, 4), u64::from(err), "{d:?}");
        assert_eq!(status(&mut s.f), State::Halted as u64);
    }
    // A null descriptor moves nothing and completes.
    set_chan(&mut s.f, CHANCMD, 1, CHANCMD_RESET.into());
    set_chan(&mut s.f, CHANERR, 4, u64::from(u32::MAX));
    s.put(0, copy(0, 0, 1, CTL_NULL | CTL_COMPL_WRITE, DESCS + 1));
    set_chan(&mut s.f, CHANCMP, 8, COMPLETION);
    s.start(DESCS, 0, 1);
    assert_eq!(status(&mut s.f), State::Done as u64);
    assert_eq!(s.get(COMPLETION, 8), (DESCS | 1).to_le_bytes());
    // A misaligned next halts the channel before it is fetched.
    set_chan(&mut s.f, DMACOUNT, 2, 2);
    assert_eq!(
        chan(&mut s.f, CHANERR, 4),
        u64::from(CHANERR_NEXT_DESC_ALIGN)
    );
    // A chain in unmapped memory: the fetch is refused.
    set_chan(&mut s.f, CHANCMD, 1, CHANCMD_RESET.into());
    set_chan(&mut s.f, CHANERR, 4, u64::from(u32::MAX));
    s.start(IOVA + 64 * PAGE, 0, 1);
    assert_eq!(chan(&mut s.f, CHANERR, 4), u64::from(CHANERR_NEXT_ADDR));
    // A completion address the IOMMU refuses.
    set_chan(&mut s.f, CHANCMD, 1, CHANCMD_RESET.into());
    set_chan(&mut s.f, CHANERR, 4, u64::from(u32::MAX));
    s.put(0, copy(SRC, DST, 64, CTL_COMPL_WRITE, DESCS));
    set_chan(&mut s.f, CHANCMP, 8, IOVA + 64 * PAGE);
    s.start(DESCS, 0, 1);
    assert_eq!(
        chan(&mut s.f, CHANERR, 4),
        u64::from(CHANERR_COMPLETION_ADDR)
    );
}

#[test]
fn a_copy_crosses_pages_whose_memory_is_not_contiguous() {
    let mut s = setup();
    // Page 40 of IOVA space maps user memory far from page 41's.
    let (far, near) = (UVA + (1 << 30), UVA + (2 << 30));
    s.rig.map(IOVA + 40 * PAGE, far, PAGE);
    s.rig.map(IOVA + 41 * PAGE, near, PAGE);
    let data = s.fill(SRC, 2 * PAGE as usize, 4);
    s.put(
        0,
        copy(SRC + 100, IOVA + 40 * PAGE + 50, PAGE as u32 + 10, 0, DESCS),
    );
    s.start(DESCS, 0, 1);
    assert_eq!(status(&mut s.f), State::Done as u64);
    let n = PAGE as usize - 50;
    assert_eq!(s.rig.mem.get(far + 50, n), data[100..100 + n]);
    assert_eq!(s.rig.mem.get(near, 60), data[100 + n..100 + n + 60]);
}

#[test]
fn without_bus_master_enable_the_fetch_master_aborts() {
    let mut s = setup();
    s.f.config_write(pci::COMMAND, &pci::COMMAND_MEMORY.to_le_bytes())
        .unwrap();
    s.put(0, copy(SRC, DST, 64, 0, DESCS));
    s.start(DESCS, 0, 1);
    assert_eq!(chan(&mut s.f, CHANERR, 4), u64::from(CHANERR_NEXT_ADDR));
    let abort = s.f.model().channel().dma_abort().unwrap();
    assert_eq!(abort.abort, DmaAbort::MasterAbort);
}
