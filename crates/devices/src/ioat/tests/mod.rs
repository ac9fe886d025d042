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

mod chains;
mod errors;
mod registers;
