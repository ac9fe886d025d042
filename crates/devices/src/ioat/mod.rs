//! An Intel I/OAT DMA engine (Crystal Beach DMA, version 3.3) with one channel that copies
//! memory, register-compatible with what Linux's `ioatdma` and the VFIO selftest driver
//! (`tools/testing/selftests/vfio/lib/drivers/ioat`) program: the Skylake-SP function
//! 8086:2021, BAR 0 of 16 KiB with the device registers at 0, the channel's at 0x80 and one
//! MSI-X vector (table at 0x2000, PBA at 0x3000), a Root Complex Integrated Endpoint with the
//! PCI Express and PM capabilities (`drivers/dma/ioat/registers.h` names the registers;
//! [`regs`] has them).
//!
//! # Device registers
//! CHANCNT reads 1, XFERCAP 20 (1 MiB per descriptor), CBVER 0x33, DMA_CAP 0 (copy only: no
//! XOR, P+Q, fill or DCA). GENCTRL, INTRDELAY's delay and CHWPREFLMT are stored. INTRCTRL:
//! MASTER_INT_EN and MSIX_VECTOR_CONTROL read-write, INT_STATUS set when a channel asks for
//! an interrupt and cleared by writing 1 (with ATTNSTATUS, the channel's bit), INT reading
//! INT_STATUS and MASTER_INT_EN. Other offsets of the device block read 0 and ignore writes.
//!
//! # Interrupts
//! When the channel asks for an interrupt ([`channel`]: a descriptor with INT_EN, or an
//! error with ERR_INT_EN, while INT_REARM is set), ATTNSTATUS bit 0 and INT_STATUS are set
//! and, with MSI-X enabled, vector 0 is signalled if INTRCTRL enables the vectors
//! (MSIX_VECTOR_CONTROL, which the selftest driver sets alone) or all interrupts
//! (MASTER_INT_EN, which Linux adds); without MSI-X, INTx is asserted under MASTER_INT_EN
//! until INT_STATUS is cleared. The channel's data moves only through the function's DMA
//! port, so every descriptor, byte and completion is translated by the IOMMU.
//!
//! # Deviations
//! - The chain runs inside the register write that issues it ([`channel`], "Timing").
//! - The PCI error registers in config space (CHANERR_INT at 0x180, DMAUNCERRSTS at 0x148)
//!   read 0: nothing modelled raises an internal or uncorrectable error.
//! - RESET completes at once; CHANCMD reads 0.

pub mod channel;
pub mod regs;

#[cfg(test)]
mod tests;

use crate::access::put_le;
use crate::bus::Bus;
use crate::describe::{Bar, BarKind, Capability, Description, ExpressDecl, MsixDecl};
use crate::function::{Function, Model};
use channel::Channel;
use regs::*;
use std::sync::Arc;
use uiommu_core::iommu::PhysDevice;

/// The engine: device registers and its channel.
#[derive(Debug, Clone, Default)]
pub struct Ioat {
    genctrl: u8,
    intrctrl: u8,
    attnstatus: u32,
    intrdelay: u16,
    chwpreflmt: u16,
    channel: Channel,
}

/// The IOAT function on the device `phys` its IOMMU probed.
pub fn function(phys: Arc<PhysDevice>) -> Function<Ioat> {
    Function::new(description(), Ioat::default(), phys)
}

/// What the engine declares: Intel's IDs, BAR 0 (64-bit), pin A; MSI-X (one vector in
/// BAR 0), PCI Express (no FLR), PM (its D3hot reset is the function's reset method).
pub fn description() -> Description {
    let mut bars = [None; 6];
    bars[0] = Some(Bar {
        size: BAR0_SIZE,
        kind: BarKind::Memory64 {
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
        capabilities: vec![
            Capability::Msix(MsixDecl {
                vectors: 1,
                table_bar: 0,
                table_offset: MSIX_TABLE,
                pba_bar: 0,
                pba_offset: MSIX_PBA,
            }),
            Capability::Express(ExpressDecl {
                flr: false,
                max_payload: 0,
            }),
            Capability::PowerManagement {
                no_soft_reset: false,
            },
        ],
    }
}

impl Ioat {
    /// The channel.
    pub fn channel(&self) -> &Channel {
        &self.channel
    }

    /// INTRCTRL as read.
    fn intrctrl(&self) -> u8 {
        let mut v = self.intrctrl;
        if v & INTRCTRL_INT_STATUS != 0 && v & INTRCTRL_MASTER_INT_EN != 0 {
            v |= INTRCTRL_INT;
        }
        v
    }

    /// The aligned 8 bytes of the device block at `at`.
    fn qword(&self, at: u64) -> u64 {
        match at {
            0x00 => {
                u64::from(CHANNEL_COUNT)
                    | u64::from(XFERCAP_LOG2) << 8
                    | u64::from(self.genctrl) << 16
                    | u64::from(self.intrctrl()) << 24
                    | u64::from(self.attnstatus) << 32
            }
            0x08 => u64::from(VERSION) | u64::from(self.intrdelay) << 32,
            0x48 => u64::from(self.chwpreflmt) << 32,
            _ => 0,
        }
    }

    fn device_read(&self, offset: u64, data: &mut [u8]) {
        let q = self.qword(offset & !7);
        put_le(data, q >> (8 * (offset & 7)));
    }

    /// A write to the device block: each register takes the bytes of it the access covers.
    fn device_write(&mut self, bus: &mut Bus, offset: u64, data: &[u8]) {
        let byte = |at: u64| {
            at.checked_sub(offset)
                .and_then(|i| data.get(i as usize).copied())
        };
        if let Some(v) = byte(GENCTRL) {
            self.genctrl = v;
        }
        if let Some(v) = byte(INTRCTRL) {
            let rw = INTRCTRL_MASTER_INT_EN | INTRCTRL_MSIX_VECTOR_CONTROL;
            self.intrctrl = (self.intrctrl & !rw) | (v & rw);
            if v & INTRCTRL_INT_STATUS != 0 {
                self.intrctrl &= !INTRCTRL_INT_STATUS;
                self.attnstatus = 0;
            }
            self.update_intx(bus);
        }
        let word = |at: u64| Some(u16::from_le_bytes([byte(at)?, byte(at + 1)?]));
        if let Some(v) = word(INTRDELAY) {
            self.intrdelay = v & INTRDELAY_MASK;
        }
        if let Some(v) = word(CHWPREFLMT) {
            self.chwpreflmt = v;
        }
    }

    /// The channel asks for an interrupt: attention, then the message or the line.
    fn attention(&mut self, bus: &mut Bus) {
        self.attnstatus |= 1;
        self.intrctrl |= INTRCTRL_INT_STATUS;
        if bus.irqs.msix().is_some_and(|t| t.enabled(&bus.config)) {
            let enabled = INTRCTRL_MSIX_VECTOR_CONTROL | INTRCTRL_MASTER_INT_EN;
            if self.intrctrl & enabled != 0 {
                bus.signal(0);
            }
        } else {
            self.update_intx(bus);
        }
    }

    /// INTx follows INT (INT_STATUS under MASTER_INT_EN) while messages are off.
    fn update_intx(&self, bus: &mut Bus) {
        if !bus.messages_enabled() {
            bus.set_intx(self.intrctrl() & INTRCTRL_INT != 0);
        }
    }
}

impl Model for Ioat {
    fn bar_read(&mut self, _bus: &mut Bus, _bar: u8, offset: u64, data: &mut [u8]) {
        match offset {
            o if o < CHANNEL_BASE => self.device_read(o, data),
            o if o < CHANNEL_BASE + CHANNEL_SIZE => self.channel.read(o - CHANNEL_BASE, data),
            _ => data.fill(0),
        }
    }

    fn bar_write(&mut self, bus: &mut Bus, _bar: u8, offset: u64, data: &[u8]) {
        if offset < CHANNEL_BASE {
            return self.device_write(bus, offset, data);
        }
        let at = offset - CHANNEL_BASE;
        if at < CHANNEL_SIZE && self.channel.write(bus, XFERCAP_LOG2, at, data) {
            self.attention(bus);
        }
    }

    /// Power-on values; the chain runs synchronously, so nothing is in flight.
    fn reset(&mut self, _bus: &mut Bus) {
        *self = Ioat::default();
    }
}
