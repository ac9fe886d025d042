//! edu's config header and registers as QEMU presents them, on a function that is not bound
//! (its requests master-abort).

use super::*;
use crate::PciFunction;
use crate::config::spec as pci;
use crate::irq::IrqIndex;
use crate::testing::CountingTrigger;
use uiommu_core::driver::mock::MockDriver;
use uiommu_core::iommu::{DeviceSpec, IommuDriver};

fn edu() -> Function<Edu> {
    let phys = MockDriver::get()
        .probe_device(DeviceSpec::default())
        .unwrap();
    let mut f = function(phys.into());
    let command = pci::COMMAND_MEMORY | pci::COMMAND_MASTER;
    f.config_write(pci::COMMAND, &command.to_le_bytes())
        .unwrap();
    f
}

fn read(f: &mut Function<Edu>, offset: u64, len: usize) -> u64 {
    let mut b = vec![0; len];
    f.bar_read(0, offset, &mut b).unwrap();
    le_value(&b)
}

fn write(f: &mut Function<Edu>, offset: u64, len: usize, v: u64) {
    f.bar_write(0, offset, &v.to_le_bytes()[..len]).unwrap();
}

fn cfg(f: &Function<Edu>, at: u16, len: usize) -> u64 {
    let mut b = vec![0; len];
    f.config_read(at, &mut b).unwrap();
    le_value(&b)
}

#[test]
fn config_header_is_qemus() {
    let mut f = edu();
    assert_eq!(cfg(&f, pci::VENDOR_ID, 4), 0x11e8_1234);
    assert_eq!(
        cfg(&f, pci::REVISION_ID, 4),
        0x00ff_0010,
        "class 00ff, prog-if 0, rev 0x10"
    );
    assert_eq!(cfg(&f, pci::SUBSYSTEM_VENDOR_ID, 4), 0x1100_1af4);
    assert_eq!(cfg(&f, pci::INTERRUPT_PIN, 1), 1);
    assert_eq!(cfg(&f, pci::STATUS, 2), u64::from(pci::STATUS_CAP_LIST));
    // One MSI capability at 0x40: one vector, 64-bit, no masking; the end of the list.
    assert_eq!(cfg(&f, pci::CAPABILITY_LIST, 1), 0x40);
    assert_eq!(cfg(&f, 0x40, 4), 0x0080_0005);
    // BAR 0: 1 MiB of 32-bit memory; nothing else.
    f.config_write(pci::BASE_ADDRESS_0, &[0xff; 4]).unwrap();
    assert_eq!(cfg(&f, pci::BASE_ADDRESS_0, 4), 0xfff0_0000);
    f.config_write(pci::BASE_ADDRESS_0 + 4, &[0xff; 4]).unwrap();
    assert_eq!(cfg(&f, pci::BASE_ADDRESS_0 + 4, 4), 0);
    assert_eq!(f.interrupts().count(IrqIndex::Msi), 1);
    // 7.3's vfio_pci_get_irq_count gives ERR one vector on conventional PCI too.
    assert_eq!(f.interrupts().count(IrqIndex::Err), 1);
}

#[test]
fn registers_take_the_access_sizes_edu_c_does() {
    let mut f = edu();
    assert_eq!(read(&mut f, IDENTIFICATION, 4), 0x0100_00ed);
    assert_eq!(
        read(&mut f, IDENTIFICATION, 8),
        u64::MAX,
        "8 bytes below 0x80"
    );
    assert_eq!(read(&mut f, IDENTIFICATION, 2), 0xffff);
    assert_eq!(read(&mut f, 0x0c, 4), 0xffff_ffff, "no register there");
    assert_eq!(
        read(&mut f, BUFFER_ADDRESS, 4),
        0xffff_ffff,
        "the buffer is not in the BAR"
    );
    // Liveness: the inverse of what was written; other sizes are ignored.
    assert_eq!(read(&mut f, LIVENESS, 4), 0);
    write(&mut f, LIVENESS, 4, 0x1234_5678);
    assert_eq!(read(&mut f, LIVENESS, 4), 0xedcb_a987);
    write(&mut f, LIVENESS, 2, 0);
    assert_eq!(read(&mut f, LIVENESS, 4), 0xedcb_a987);
    // DMA registers: 4- or 8-byte; a 4-byte write stores the value zero-extended.
    write(&mut f, DMA_SOURCE, 8, 0x1_2345_6789);
    assert_eq!(read(&mut f, DMA_SOURCE, 8), 0x1_2345_6789);
    write(&mut f, DMA_SOURCE, 4, 0xabcd);
    assert_eq!(read(&mut f, DMA_SOURCE, 8), 0xabcd);
    assert_eq!(
        read(&mut f, DMA_SOURCE + 4, 4),
        0xffff_ffff,
        "not a register"
    );
    write(&mut f, DMA_COUNT, 2, 7);
    assert_eq!(read(&mut f, DMA_COUNT, 4), 0);
    // A command without the start bit is ignored.
    write(&mut f, DMA_COMMAND, 8, DMA_CMD_IRQ);
    assert_eq!(read(&mut f, DMA_COMMAND, 8), 0);
    // The BAR is 1 MiB; past it is not an access.
    assert!(f.bar_read(0, BAR0_SIZE - 4, &mut [0; 8]).is_err());
    assert!(f.bar_read(1, 0, &mut [0; 4]).is_err());
}

#[test]
fn factorial_completes_before_the_write_returns_and_raises_intx() {
    let mut f = edu();
    let intx = CountingTrigger::new();
    f.interrupts()
        .set_trigger(IrqIndex::Intx, 0, Some(intx.clone()));
    for (n, result) in [
        (0, 1),
        (5, 120),
        (12, 479_001_600),
        (13, 1_932_053_504),
        (34, 0),
    ] {
        write(&mut f, FACTORIAL, 4, n);
        assert_eq!(read(&mut f, STATUS, 4) & 1, 0, "never seen computing");
        assert_eq!(read(&mut f, FACTORIAL, 4), result, "{n}!");
    }
    write(&mut f, FACTORIAL, 4, u64::from(u32::MAX));
    assert_eq!(read(&mut f, FACTORIAL, 4), 0);
    assert_eq!(intx.count(), 0, "no interrupt without IRQFACT");
    // With IRQFACT: the factorial raises FACT_IRQ on INTx, VFIO masks it; the driver acks.
    write(
        &mut f,
        STATUS,
        4,
        u64::from(STATUS_IRQFACT | STATUS_COMPUTING),
    );
    assert_eq!(
        read(&mut f, STATUS, 4),
        u64::from(STATUS_IRQFACT),
        "COMPUTING is RO"
    );
    write(&mut f, FACTORIAL, 4, 4);
    assert_eq!(read(&mut f, FACTORIAL, 4), 24);
    assert_eq!(read(&mut f, INTERRUPT_STATUS, 4), u64::from(IRQ_FACTORIAL));
    assert_eq!((intx.count(), f.interrupts().intx().masked()), (1, true));
    assert_ne!(
        cfg(&f, pci::STATUS, 2) & u64::from(pci::STATUS_INTERRUPT),
        0
    );
    write(&mut f, INTERRUPT_ACK, 4, u64::from(IRQ_FACTORIAL));
    assert_eq!(
        cfg(&f, pci::STATUS, 2) & u64::from(pci::STATUS_INTERRUPT),
        0
    );
    f.interrupts().intx().unmask();
    assert!(!f.interrupts().intx().masked());
}

#[test]
fn raise_and_acknowledge_with_msi() {
    let mut f = edu();
    let msi = CountingTrigger::new();
    f.interrupts()
        .set_trigger(IrqIndex::Msi, 0, Some(msi.clone()));
    f.config_write(0x42, &pci::MSI_FLAGS_ENABLE.to_le_bytes())
        .unwrap();
    write(&mut f, INTERRUPT_RAISE, 4, 0x8000_0000);
    write(&mut f, INTERRUPT_RAISE, 4, 0x1);
    assert_eq!(msi.count(), 2, "a message per raise");
    assert_eq!(read(&mut f, INTERRUPT_STATUS, 4), 0x8000_0001);
    write(&mut f, INTERRUPT_ACK, 4, 0x8000_0000);
    assert_eq!(read(&mut f, INTERRUPT_STATUS, 4), 1);
    // Raising nothing while a cause is set sends another message, as edu_raise_irq does.
    write(&mut f, INTERRUPT_RAISE, 4, 0);
    assert_eq!(msi.count(), 3);
}

#[test]
fn an_unbound_function_master_aborts_and_the_transfer_completes_as_on_qemu() {
    let mut f = edu();
    let intx = CountingTrigger::new();
    f.interrupts()
        .set_trigger(IrqIndex::Intx, 0, Some(intx.clone()));
    write(&mut f, DMA_SOURCE, 8, 0x1000);
    write(&mut f, DMA_DESTINATION, 8, BUFFER_ADDRESS);
    write(&mut f, DMA_COUNT, 8, 16);
    write(&mut f, DMA_COMMAND, 8, DMA_CMD_RUN | DMA_CMD_IRQ);
    assert_eq!(f.model().dma_abort(), Some(DmaAbort::MasterAbort));
    // QEMU ignores the request's result: the start bit clears, the interrupt is raised.
    assert_eq!(read(&mut f, DMA_COMMAND, 8), DMA_CMD_IRQ);
    assert_eq!(read(&mut f, INTERRUPT_STATUS, 4), u64::from(IRQ_DMA));
    assert_eq!(intx.count(), 1);
    // The refused bytes read zero (QEMU's unassigned memory), not the bus's all ones.
    assert_eq!(&f.model().buffer()[..17], &[0; 17]);
    assert_ne!(
        cfg(&f, pci::STATUS, 2) & u64::from(pci::STATUS_REC_MASTER_ABORT),
        0
    );
    // Done: the registers take writes again.
    write(&mut f, DMA_SOURCE, 8, 0x2000);
    assert_eq!(read(&mut f, DMA_SOURCE, 8), 0x2000);
    // A refused write completes too; the first refusal of the transfer is kept until reset.
    write(&mut f, DMA_SOURCE, 8, BUFFER_ADDRESS);
    write(&mut f, DMA_DESTINATION, 8, 0xfff0);
    write(&mut f, DMA_COUNT, 8, 0x20);
    write(&mut f, DMA_COMMAND, 8, DMA_CMD_RUN | DMA_CMD_TO_RAM);
    assert_eq!(read(&mut f, DMA_COMMAND, 8), DMA_CMD_TO_RAM);
    assert_eq!(f.model().dma_abort(), Some(DmaAbort::MasterAbort));
    f.reset();
    assert_eq!(
        read(&mut f, DMA_COMMAND, 8),
        u64::MAX,
        "memory decode is off after reset"
    );
    f.config_write(pci::COMMAND, &pci::COMMAND_MEMORY.to_le_bytes())
        .unwrap();
    assert_eq!(read(&mut f, DMA_COMMAND, 8), 0);
    assert_eq!(f.model().dma_abort(), None);
    // Without Bus Master Enable, nothing claims the request either; the transfer completes.
    write(&mut f, DMA_DESTINATION, 8, BUFFER_ADDRESS);
    write(&mut f, DMA_COUNT, 8, 16);
    write(&mut f, DMA_COMMAND, 8, DMA_CMD_RUN);
    assert_eq!(f.model().dma_abort(), Some(DmaAbort::MasterAbort));
    assert_eq!(read(&mut f, DMA_COMMAND, 8), 0);
}

#[test]
fn a_transfer_outside_the_buffer_moves_nothing_and_completes() {
    let mut f = edu();
    write(&mut f, DMA_SOURCE, 8, BUFFER_ADDRESS + 4000);
    write(&mut f, DMA_DESTINATION, 8, 0x1000);
    write(&mut f, DMA_COUNT, 8, 200);
    write(
        &mut f,
        DMA_COMMAND,
        8,
        DMA_CMD_RUN | DMA_CMD_TO_RAM | DMA_CMD_IRQ,
    );
    assert_eq!(f.model().bad_range(), Some((BUFFER_ADDRESS + 4000, 200)));
    assert_eq!(f.model().dma_abort(), None, "no request was made");
    assert_eq!(read(&mut f, DMA_COMMAND, 8), DMA_CMD_TO_RAM | DMA_CMD_IRQ);
    assert_eq!(read(&mut f, INTERRUPT_STATUS, 4), u64::from(IRQ_DMA));
}
