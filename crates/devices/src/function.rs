//! The PCI function interface the ABI layer serves as vfio-pci serves a device, and the
//! generic function that implements it over a device model's registers.

use crate::access::{AccessError, check};
use crate::bus::Bus;
use crate::config::build::build;
use crate::config::spec::{COMMAND_IO, COMMAND_MEMORY};
use crate::describe::{BarKind, Description};
use crate::dma::DmaPort;
use crate::irq::Interrupts;
use std::fmt::Debug;
use std::sync::Arc;
use uiommu_core::iommu::PhysDevice;

/// BAR access sizes.
const BAR_SIZES: &[usize] = &[1, 2, 4, 8];

/// A PCI function as a host reaches it.
pub trait PciFunction: Send + Debug {
    /// Identity and layout.
    fn description(&self) -> &Description;
    /// A config read of 1, 2 or 4 bytes at any offset.
    fn config_read(&self, offset: u16, data: &mut [u8]) -> Result<(), AccessError>;
    /// A config write of 1, 2 or 4 bytes at any offset, with the registers' side effects.
    fn config_write(&mut self, offset: u16, data: &[u8]) -> Result<(), AccessError>;
    /// A read of 1, 2, 4 or 8 bytes of BAR `bar`, with the register's side effects.
    fn bar_read(&mut self, bar: u8, offset: u64, data: &mut [u8]) -> Result<(), AccessError>;
    /// A write of 1, 2, 4 or 8 bytes of BAR `bar`, with the register's side effects.
    fn bar_write(&mut self, bar: u8, offset: u64, data: &[u8]) -> Result<(), AccessError>;
    /// Function Level Reset (PCIe 4.0 §6.6.2): registers back to their power-on values, DMA
    /// stopped, interrupts deasserted.
    fn reset(&mut self);
    /// The interrupts and their triggers.
    fn interrupts(&mut self) -> &mut Interrupts;
    /// The DMA port, to bind and unbind.
    fn dma(&mut self) -> &mut DmaPort;
}

/// A device model: the registers behind its BARs. Config space, MSI-X structures, interrupt
/// delivery and DMA are its [`Function`]'s, reached through the [`Bus`].
pub trait Model: Send + Debug {
    /// A read of `data.len()` bytes at `offset` of BAR `bar` (in range, of an allowed size,
    /// and not an MSI-X structure).
    fn bar_read(&mut self, bus: &mut Bus, bar: u8, offset: u64, data: &mut [u8]);
    /// A write of `data` at `offset` of BAR `bar`.
    fn bar_write(&mut self, bus: &mut Bus, bar: u8, offset: u64, data: &[u8]);
    /// Registers back to power-on values; any work in progress stops.
    fn reset(&mut self, bus: &mut Bus);
}

/// A PCI function: config space built from a [`Description`], and a [`Model`]'s registers.
#[derive(Debug)]
pub struct Function<M> {
    desc: Description,
    bus: Bus,
    model: M,
}

impl<M: Model> Function<M> {
    /// The function `model` declares in `desc`, on the device `phys` its IOMMU probed.
    pub fn new(desc: Description, model: M, phys: Arc<PhysDevice>) -> Self {
        let (config, layout) = build(&desc);
        let irqs = Interrupts::new(&layout, desc.interrupt_pin);
        let bus = Bus {
            config,
            irqs,
            dma: DmaPort::new(phys),
        };
        Function { desc, bus, model }
    }

    /// The model.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// Config space, interrupts and DMA port.
    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// Checks that BAR `bar` is implemented and the access fits it.
    fn bar_access(&self, bar: u8, offset: u64, len: usize) -> Result<(), AccessError> {
        let size = self
            .desc
            .bars
            .get(usize::from(bar))
            .copied()
            .flatten()
            .ok_or(AccessError::NoBar(bar))?
            .size;
        check(offset, len, size, BAR_SIZES)
    }

    /// Whether the function decodes BAR `bar` now (Command's I/O or Memory Space enable).
    fn decodes(&self, bar: u8) -> bool {
        let kind = self.desc.bars[usize::from(bar)].map(|b| b.kind);
        let enable = match kind {
            Some(BarKind::Io) => COMMAND_IO,
            _ => COMMAND_MEMORY,
        };
        self.bus.config.command() & enable != 0
    }
}

impl<M: Model> PciFunction for Function<M> {
    fn description(&self) -> &Description {
        &self.desc
    }

    fn config_read(&self, offset: u16, data: &mut [u8]) -> Result<(), AccessError> {
        self.bus.config.read(offset, data)
    }

    fn config_write(&mut self, offset: u16, data: &[u8]) -> Result<(), AccessError> {
        let written = self.bus.config.write(offset, data)?;
        if written.strobed {
            self.reset();
        } else {
            self.bus.irqs.sync(&mut self.bus.config);
        }
        Ok(())
    }

    /// A BAR the function does not decode now (its space disabled in Command) does not claim
    /// the access: the read master-aborts to all ones (PCI 3.0 §6.2.2).
    fn bar_read(&mut self, bar: u8, offset: u64, data: &mut [u8]) -> Result<(), AccessError> {
        self.bar_access(bar, offset, data.len())?;
        if !self.decodes(bar) {
            data.fill(0xff);
            return Ok(());
        }
        if let Some(table) = self.bus.irqs.msix() {
            if let Some(at) = table.table_offset(bar, offset, data.len()) {
                table.read_table(at, data);
                return Ok(());
            }
            if let Some(at) = table.pba_offset(bar, offset, data.len()) {
                table.read_pba(at, data);
                return Ok(());
            }
        }
        self.model.bar_read(&mut self.bus, bar, offset, data);
        Ok(())
    }

    /// A write to the MSI-X table may unmask a pending vector; the PBA is read-only.
    fn bar_write(&mut self, bar: u8, offset: u64, data: &[u8]) -> Result<(), AccessError> {
        self.bar_access(bar, offset, data.len())?;
        if !self.decodes(bar) {
            return Ok(());
        }
        if let Some(table) = self.bus.irqs.msix_mut() {
            if let Some(at) = table.table_offset(bar, offset, data.len()) {
                table.write_table(at, data);
                self.bus.irqs.sync(&mut self.bus.config);
                return Ok(());
            }
            if table.pba_offset(bar, offset, data.len()).is_some() {
                return Ok(());
            }
        }
        self.model.bar_write(&mut self.bus, bar, offset, data);
        Ok(())
    }

    fn reset(&mut self) {
        self.model.reset(&mut self.bus);
        self.bus.config.reset();
        self.bus.irqs.reset();
        self.bus.irqs.sync(&mut self.bus.config);
    }

    fn interrupts(&mut self) -> &mut Interrupts {
        &mut self.bus.irqs
    }

    fn dma(&mut self) -> &mut DmaPort {
        &mut self.bus.dma
    }
}
