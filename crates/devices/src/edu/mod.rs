//! QEMU's educational device (PCI 1234:11e8), register-compatible with `docs/specs/edu.rst`
//! and `hw/misc/edu.c` as QEMU presents it: BAR 0 of 1 MiB MMIO, INTx pin A and a one-vector
//! 64-bit MSI capability without per-vector masking (`msi_init(pdev, 0, 1, true, false)`),
//! conventional PCI (no PCI Express or PM capability).
//!
//! # Access rules (`edu_mmio_read`, `edu_mmio_write`)
//! Registers below 0x80 take 4-byte accesses only; from 0x80, 4 or 8 bytes. An access of
//! another size, or at an offset that is no register, reads all ones and writes nothing. A
//! 4-byte write of a 64-bit DMA register stores the value zero-extended. While a transfer
//! runs, the DMA registers ignore writes; a command without the start bit is ignored.
//!
//! # Timing: the work is done before the access that starts it returns
//! QEMU computes the factorial in a thread and runs a transfer from a timer 100 ms after the
//! command, so that a driver must poll the status or wait for the interrupt. Here a factorial
//! write and a command write complete the work before they return, with the state changes in
//! QEMU's order: the result is stored, then `STATUS_COMPUTING` clears, then the interrupt is
//! raised if asked for; a transfer moves its bytes, then the start bit clears, then the
//! interrupt is raised if asked for. A driver that polls or waits sees exactly what it sees
//! on QEMU, only sooner: there is no interval in which it could observe "computing" or
//! "running", and no interleaving with another access to depend on. The alternative, a
//! worker thread per function, would make every test and every trapped MMIO access racy for
//! no behaviour a driver may rely on (edu.rst promises only that the bits clear eventually).
//!
//! # Deviations from QEMU, where QEMU's behaviour is not a device's
//! - A transfer whose buffer range is not inside 0x40000..0x41000: QEMU logs a guest error
//!   and copies out of its own buffer's bounds. Here no byte moves and the command completes
//!   (start bit cleared, the interrupt raised if asked), the logged error kept as
//!   [`Edu::bad_range`].
//! - Reset: edu declares no reset method (no FLR, no PM capability), so, as on Linux with
//!   QEMU's edu, vfio-pci offers no `VFIO_DEVICE_RESET` ([`Description::reset_method`]).
//!   QEMU's edu has no reset handler either, and Linux leaves its registers as the last
//!   user left them; here the host returns the function to power-on values when the last
//!   device file closes, so that each user starts from the device a fresh VM would see.
//! - A refused read sets Received Master Abort in the Status register, the bus's rule for
//!   every function ([`Bus::dma_read`]); QEMU's PCI core keeps no such bit.
//!
//! # A request the IOMMU refuses: as QEMU
//! QEMU's `edu_dma_timer` ignores `pci_dma_read`/`pci_dma_write`'s result, so a transfer
//! whose request the IOMMU refuses (or that nothing claims: the function unbound, Bus Master
//! Enable clear) completes like any other: the start bit clears, then the interrupt is raised
//! if asked for. A refused read leaves zeros in the buffer, what QEMU's unassigned memory
//! reads (`edu/pci_dma.rs` cites QEMU's code); a refused write changes no memory. The IOMMU
//! records its fault (fault log, event queue) as for any request. The function keeps the
//! first refusal of the last transfer that had one as [`Edu::dma_abort`] for inspection,
//! which QEMU's edu does not. (edu has no ATS or PRI capability, so its faults are never page
//! requests.)

mod pci_dma;
pub mod regs;

#[cfg(test)]
mod tests;

use crate::access::{le_value, put_le};
use crate::bus::Bus;
use crate::describe::{Bar, BarKind, Capability, Description, MsiDecl};
use crate::dma::DmaAbort;
use crate::function::{Function, Model};
use regs::*;
use std::ops::Range;
use std::sync::Arc;
use uiommu_core::iommu::PhysDevice;

/// The DMA engine's registers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DmaRegisters {
    /// Source address.
    pub source: u64,
    /// Destination address.
    pub destination: u64,
    /// Bytes to transfer.
    pub count: u64,
    /// Command.
    pub command: u64,
}

/// The edu device's registers and buffer.
#[derive(Debug, Clone)]
pub struct Edu {
    liveness: u32,
    factorial: u32,
    status: u32,
    irq_status: u32,
    dma: DmaRegisters,
    buffer: Box<[u8; BUFFER_SIZE]>,
    bad_range: Option<(u64, u64)>,
    dma_abort: Option<DmaAbort>,
}

impl Default for Edu {
    fn default() -> Self {
        Edu {
            liveness: 0,
            factorial: 0,
            status: 0,
            irq_status: 0,
            dma: DmaRegisters::default(),
            buffer: Box::new([0; BUFFER_SIZE]),
            bad_range: None,
            dma_abort: None,
        }
    }
}

/// The edu function (`pci_edu_realize`, `edu_class_init`) on the device `phys` its IOMMU
/// probed.
pub fn function(phys: Arc<PhysDevice>) -> Function<Edu> {
    Function::new(description(), Edu::default(), phys)
}

/// What edu declares: QEMU's IDs, BAR 0, pin A, MSI.
pub fn description() -> Description {
    let mut bars = [None; 6];
    bars[0] = Some(Bar {
        size: BAR0_SIZE,
        kind: BarKind::Memory32 {
            prefetchable: false,
        },
    });
    Description {
        vendor_id: VENDOR_ID,
        device_id: DEVICE_ID,
        subsystem_vendor_id: SUBSYSTEM_VENDOR_ID,
        subsystem_id: SUBSYSTEM_ID,
        class_code: CLASS_CODE,
        revision: REVISION,
        bars,
        rom_size: None,
        interrupt_pin: 1,
        capabilities: vec![Capability::Msi(MsiDecl {
            vectors: 1,
            address_64: true,
            per_vector_mask: false,
        })],
    }
}

impl Edu {
    /// The DMA buffer.
    pub fn buffer(&self) -> &[u8; BUFFER_SIZE] {
        &self.buffer
    }

    /// The DMA registers.
    pub fn dma_registers(&self) -> DmaRegisters {
        self.dma
    }

    /// The last transfer refused for a buffer range outside the buffer: (start, count).
    pub fn bad_range(&self) -> Option<(u64, u64)> {
        self.bad_range
    }

    /// The first request refused in the last transfer that had one, kept until reset for
    /// inspection (QEMU's edu keeps nothing).
    pub fn dma_abort(&self) -> Option<DmaAbort> {
        self.dma_abort
    }

    /// Whether an access of `len` bytes at `offset` is one edu takes.
    fn size_ok(offset: u64, len: usize) -> bool {
        len == 4 || (offset >= WIDE_REGISTERS && len == 8)
    }

    fn read_register(&self, offset: u64) -> u64 {
        match offset {
            IDENTIFICATION => IDENTIFICATION_VALUE.into(),
            LIVENESS => self.liveness.into(),
            FACTORIAL => self.factorial.into(),
            STATUS => self.status.into(),
            INTERRUPT_STATUS => self.irq_status.into(),
            DMA_SOURCE => self.dma.source,
            DMA_DESTINATION => self.dma.destination,
            DMA_COUNT => self.dma.count,
            DMA_COMMAND => self.dma.command,
            _ => !0,
        }
    }

    fn write_register(&mut self, bus: &mut Bus, offset: u64, value: u64) {
        let running = self.dma.command & DMA_CMD_RUN != 0;
        match offset {
            LIVENESS => self.liveness = !(value as u32),
            FACTORIAL if self.status & STATUS_COMPUTING == 0 => self.factorial(bus, value as u32),
            STATUS if value as u32 & STATUS_IRQFACT != 0 => self.status |= STATUS_IRQFACT,
            STATUS => self.status &= !STATUS_IRQFACT,
            INTERRUPT_RAISE => self.raise(bus, value as u32),
            INTERRUPT_ACK => self.lower(bus, value as u32),
            DMA_SOURCE if !running => self.dma.source = value,
            DMA_DESTINATION if !running => self.dma.destination = value,
            DMA_COUNT if !running => self.dma.count = value,
            DMA_COMMAND if !running && value & DMA_CMD_RUN != 0 => {
                self.dma.command = value;
                self.transfer(bus);
            }
            _ => {}
        }
    }

    /// `edu_fact_thread`'s work: n! modulo 2^32 (0 from 34! on, which has 32 factors of 2),
    /// then `STATUS_COMPUTING` clears, then the interrupt if `STATUS_IRQFACT` asks for it.
    fn factorial(&mut self, bus: &mut Bus, n: u32) {
        self.status |= STATUS_COMPUTING;
        let mut result: u32 = 1;
        for k in (1..=n).rev() {
            result = result.wrapping_mul(k);
            if result == 0 {
                break;
            }
        }
        self.factorial = result;
        self.status &= !STATUS_COMPUTING;
        if self.status & STATUS_IRQFACT != 0 {
            self.raise(bus, IRQ_FACTORIAL);
        }
    }

    /// `edu_raise_irq`: the MSI message if MSI is enabled, else INTx asserted.
    fn raise(&mut self, bus: &mut Bus, causes: u32) {
        self.irq_status |= causes;
        if self.irq_status != 0 {
            if bus.messages_enabled() {
                bus.signal(0);
            } else {
                bus.set_intx(true);
            }
        }
    }

    /// `edu_lower_irq`: INTx deasserts when no cause is left.
    fn lower(&mut self, bus: &mut Bus, causes: u32) {
        self.irq_status &= !causes;
        if self.irq_status == 0 && !bus.messages_enabled() {
            bus.set_intx(false);
        }
    }

    /// The buffer bytes of a transfer at device address `start` (`edu_check_range`).
    fn buffer_range(start: u64, count: u64) -> Option<Range<usize>> {
        let end = start.checked_add(count)?;
        let limit = BUFFER_ADDRESS + BUFFER_SIZE as u64;
        (start >= BUFFER_ADDRESS && end <= limit)
            .then(|| (start - BUFFER_ADDRESS) as usize..(end - BUFFER_ADDRESS) as usize)
    }

    /// `edu_dma_timer`'s work, done now: the transfer, then the start bit clears, then the
    /// interrupt if the command asks for it, whether or not the IOMMU refused the requests.
    fn transfer(&mut self, bus: &mut Bus) {
        let to_ram = self.dma.command & DMA_CMD_TO_RAM != 0;
        let (device_side, ram) = if to_ram {
            (self.dma.source, self.dma.destination)
        } else {
            (self.dma.destination, self.dma.source)
        };
        let iova = ram & DMA_ADDRESS_MASK;
        match Self::buffer_range(device_side, self.dma.count) {
            None => self.bad_range = Some((device_side, self.dma.count)),
            Some(range) => {
                let buf = &mut self.buffer[range];
                let refused = if to_ram {
                    pci_dma::write(bus, iova, buf)
                } else {
                    pci_dma::read(bus, iova, buf)
                };
                if refused.is_some() {
                    self.dma_abort = refused;
                }
            }
        }
        self.dma.command &= !DMA_CMD_RUN;
        if self.dma.command & DMA_CMD_IRQ != 0 {
            self.raise(bus, IRQ_DMA);
        }
    }
}

impl Model for Edu {
    fn bar_read(&mut self, _bus: &mut Bus, _bar: u8, offset: u64, data: &mut [u8]) {
        let value = if Self::size_ok(offset, data.len()) {
            self.read_register(offset)
        } else {
            !0
        };
        put_le(data, value);
    }

    fn bar_write(&mut self, bus: &mut Bus, _bar: u8, offset: u64, data: &[u8]) {
        if Self::size_ok(offset, data.len()) {
            self.write_register(bus, offset, le_value(data));
        }
    }

    /// Power-on values; with the work done synchronously, no transfer is in flight to stop.
    fn reset(&mut self, _bus: &mut Bus) {
        *self = Edu::default();
    }
}
