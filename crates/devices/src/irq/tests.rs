//! Interrupt delivery of a function of [`every_feature`] whose model signals what BAR 2 is
//! told: MSI-X and MSI masking and pending bits, INTx with VFIO's auto-mask, Bus Master
//! Enable, and reset.

use super::*;
use crate::access::le_value;
use crate::bus::Bus;
use crate::config::spec::*;
use crate::function::{Function, Model, PciFunction};
use crate::testing::{CountingTrigger, every_feature};
use uiommu_core::driver::mock::MockDriver;
use uiommu_core::iommu::{DeviceSpec, IommuDriver};

/// BAR 2 offset 0: signal message vector N; offset 4: set the INTx level.
#[derive(Debug, Default)]
struct Signaller;

impl Model for Signaller {
    fn bar_read(&mut self, _bus: &mut Bus, _bar: u8, _offset: u64, data: &mut [u8]) {
        data.fill(0);
    }
    fn bar_write(&mut self, bus: &mut Bus, _bar: u8, offset: u64, data: &[u8]) {
        let v = le_value(data);
        match offset {
            0 => {
                bus.signal(v as u32);
            }
            _ => bus.set_intx(v != 0),
        }
    }
    fn reset(&mut self, _bus: &mut Bus) {}
}

const MSI: u16 = 0x48;
const MSIX: u16 = 0x60;

fn function() -> Function<Signaller> {
    let phys = MockDriver::get()
        .probe_device(DeviceSpec::default())
        .unwrap();
    let mut f = Function::new(every_feature(), Signaller, phys.into());
    cfg_write(&mut f, COMMAND, COMMAND_MEMORY | COMMAND_MASTER);
    f
}

fn cfg_write(f: &mut impl PciFunction, at: u16, v: u16) {
    f.config_write(at, &v.to_le_bytes()).unwrap();
}

fn cfg_word(f: &impl PciFunction, at: u16) -> u16 {
    let mut b = [0; 2];
    f.config_read(at, &mut b).unwrap();
    u16::from_le_bytes(b)
}

fn signal(f: &mut impl PciFunction, vector: u32) {
    f.bar_write(2, 0, &vector.to_le_bytes()).unwrap();
}

fn set_intx(f: &mut impl PciFunction, level: bool) {
    f.bar_write(2, 4, &u32::from(level).to_le_bytes()).unwrap();
}

/// Writes entry `v`'s Vector Control.
fn msix_mask(f: &mut impl PciFunction, v: u64, masked: bool) {
    let ctrl = u32::from(masked).to_le_bytes();
    f.bar_write(4, v * 16 + 12, &ctrl).unwrap();
}

fn pba(f: &mut impl PciFunction) -> u64 {
    let mut b = [0; 8];
    f.bar_read(4, 0x800, &mut b).unwrap();
    u64::from_le_bytes(b)
}

#[test]
fn msix_masked_vectors_are_pending_and_fire_on_unmask() {
    let mut f = function();
    let t3 = CountingTrigger::new();
    assert!(
        f.interrupts()
            .set_trigger(IrqIndex::Msix, 3, Some(t3.clone()))
    );
    assert!(!f.interrupts().set_trigger(IrqIndex::Msix, 16, None));
    // Disabled: nothing happens, nothing pends.
    signal(&mut f, 3);
    assert_eq!((t3.count(), pba(&mut f)), (0, 0));
    // Enabled, but every entry is masked at reset: pending.
    cfg_write(&mut f, MSIX + 2, MSIX_FLAGS_ENABLE);
    signal(&mut f, 3);
    assert_eq!((t3.count(), pba(&mut f)), (0, 1 << 3));
    // Unmasking the entry sends it and clears the PBA bit.
    msix_mask(&mut f, 3, false);
    assert_eq!((t3.count(), pba(&mut f)), (1, 0));
    signal(&mut f, 3);
    assert_eq!(t3.count(), 2);
    // Function Mask holds every vector; clearing it sends what pended.
    cfg_write(&mut f, MSIX + 2, MSIX_FLAGS_ENABLE | MSIX_FLAGS_MASKALL);
    signal(&mut f, 3);
    signal(&mut f, 3);
    assert_eq!((t3.count(), pba(&mut f)), (2, 1 << 3));
    cfg_write(&mut f, MSIX + 2, MSIX_FLAGS_ENABLE);
    assert_eq!(
        (t3.count(), pba(&mut f)),
        (3, 0),
        "one message for the pending bit"
    );
    // The PBA is read-only; the table keeps its entries' writable bits only.
    f.bar_write(4, 0x800, &u64::MAX.to_le_bytes()).unwrap();
    assert_eq!(pba(&mut f), 0);
    f.bar_write(4, 3 * 16, &u64::MAX.to_le_bytes()).unwrap();
    f.bar_write(4, 3 * 16 + 8, &u64::MAX.to_le_bytes()).unwrap();
    let table = f.bus().irqs.msix().unwrap();
    assert_eq!(table.message(3), (0xffff_ffff_ffff_fffc, u32::MAX));
    assert!(table.masked(&f.bus().config, 3));
    // Reset masks every entry again and forgets the enable.
    f.reset();
    cfg_write(&mut f, COMMAND, COMMAND_MEMORY | COMMAND_MASTER);
    cfg_write(&mut f, MSIX + 2, MSIX_FLAGS_ENABLE);
    signal(&mut f, 3);
    assert_eq!((t3.count(), pba(&mut f)), (3, 1 << 3));
    msix_mask(&mut f, 3, false);
    assert_eq!(
        (t3.count(), pba(&mut f)),
        (4, 0),
        "the trigger is the host's and stays"
    );
}

#[test]
fn msi_per_vector_masks_hold_messages_as_pending_bits() {
    let mut f = function();
    let triggers: Vec<_> = (0..4).map(|_| CountingTrigger::new()).collect();
    for (v, t) in triggers.iter().enumerate() {
        assert!(
            f.interrupts()
                .set_trigger(IrqIndex::Msi, v as u32, Some(t.clone()))
        );
    }
    // Enable with 2 vectors (MME = 1); vector 2 is not enabled.
    cfg_write(
        &mut f,
        MSI + 2,
        MSI_FLAGS_ENABLE | (1 << MSI_FLAGS_QSIZE_SHIFT),
    );
    signal(&mut f, 1);
    signal(&mut f, 2);
    assert_eq!(
        triggers.iter().map(|t| t.count()).collect::<Vec<_>>(),
        [0, 1, 0, 0]
    );
    // Mask vector 1: its message pends in Pending Bits (RO to software).
    f.config_write(0x58, &2u32.to_le_bytes()).unwrap();
    signal(&mut f, 1);
    assert_eq!((triggers[1].count(), cfg_word(&f, 0x5c)), (1, 2));
    f.config_write(0x5c, &0u32.to_le_bytes()).unwrap();
    assert_eq!(cfg_word(&f, 0x5c), 2);
    f.config_write(0x58, &0u32.to_le_bytes()).unwrap();
    assert_eq!((triggers[1].count(), cfg_word(&f, 0x5c)), (2, 0));
    // Without Bus Master Enable a message is a memory write that is never sent.
    cfg_write(&mut f, COMMAND, COMMAND_MEMORY);
    signal(&mut f, 0);
    assert_eq!(triggers[0].count(), 0);
    let msi = *f.interrupts().msi().unwrap();
    assert!(msi.enabled(&f.bus().config));
}

#[test]
fn intx_masks_itself_when_it_fires_and_unmask_refires_while_asserted() {
    let mut f = function();
    let t = CountingTrigger::new();
    assert!(
        f.interrupts()
            .set_trigger(IrqIndex::Intx, 0, Some(t.clone()))
    );
    set_intx(&mut f, true);
    assert_eq!(t.count(), 1);
    assert!(f.interrupts().intx().masked(), "auto-masked on fire");
    assert_ne!(cfg_word(&f, STATUS) & STATUS_INTERRUPT, 0);
    // Still asserted: unmask leaves it masked and signals again.
    f.interrupts().intx().unmask();
    assert_eq!((t.count(), f.interrupts().intx().masked()), (2, true));
    // Deasserted, then unmasked: a new assertion fires.
    set_intx(&mut f, false);
    f.interrupts().intx().unmask();
    assert!(!f.interrupts().intx().masked());
    set_intx(&mut f, true);
    assert_eq!(t.count(), 3);
    // A masked line does not signal; unmask delivers it.
    set_intx(&mut f, false);
    f.interrupts().intx().unmask();
    assert!(f.interrupts().intx().mask());
    set_intx(&mut f, true);
    assert_eq!(t.count(), 3);
    f.interrupts().intx().unmask();
    assert_eq!(t.count(), 4);
    // Interrupt Disable keeps the pin low; clearing it with the level high asserts it.
    set_intx(&mut f, false);
    f.interrupts().intx().unmask();
    let enabled = COMMAND_MEMORY | COMMAND_MASTER;
    cfg_write(&mut f, COMMAND, enabled | COMMAND_INTX_DISABLE);
    set_intx(&mut f, true);
    assert_eq!(t.count(), 4);
    assert_ne!(
        cfg_word(&f, STATUS) & STATUS_INTERRUPT,
        0,
        "status shows the level"
    );
    cfg_write(&mut f, COMMAND, enabled);
    assert_eq!(t.count(), 5);
    // Enabling MSI takes the pin away too.
    set_intx(&mut f, false);
    f.interrupts().intx().unmask();
    cfg_write(&mut f, MSI + 2, MSI_FLAGS_ENABLE);
    set_intx(&mut f, true);
    assert_eq!(t.count(), 5);
}

#[test]
fn initiate_flr_resets_the_function() {
    let mut f = function();
    cfg_write(&mut f, MSIX + 2, MSIX_FLAGS_ENABLE);
    set_intx(&mut f, true);
    cfg_write(&mut f, 0x74, EXP_DEVCTL_BCR_FLR);
    assert_eq!(cfg_word(&f, COMMAND), 0);
    assert_eq!(cfg_word(&f, MSIX + 2), 15);
    assert_eq!(cfg_word(&f, 0x74), EXP_DEVCTL_DEFAULT);
    assert_eq!(cfg_word(&f, STATUS) & STATUS_INTERRUPT, 0);
    assert_eq!(f.interrupts().count(IrqIndex::Err), 1);
    assert_eq!(f.interrupts().count(IrqIndex::Msix), 16);
}
