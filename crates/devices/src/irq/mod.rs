//! A function's interrupts as VFIO presents them (`VFIO_PCI_*_IRQ_INDEX`): INTx, MSI, MSI-X,
//! and the ERR and REQ notifications, each vector delivered to a [`Trigger`] (the ABI backs
//! them with eventfds).
//!
//! MSI and MSI-X messages are memory writes: the function sends them only with Bus Master
//! Enable set (PCI 3.0 §6.8.1.3, PCIe 4.0 §7.5.1.1); one signalled without it is lost, as in
//! QEMU, where the write goes to the disabled bus-master address space. While MSI or MSI-X is
//! enabled the function does not use its INTx pin (§6.8.1.3, §6.8.2.3).

pub mod intx;
pub mod msi;
pub mod msix;

#[cfg(test)]
mod tests;

use crate::config::spec::{COMMAND_INTX_DISABLE, COMMAND_MASTER};
use crate::config::{CapLayout, ConfigSpace};
use intx::Intx;
use msi::Msi;
use msix::MsixTable;
use std::fmt::Debug;
use std::sync::Arc;

/// Where a vector is delivered: an eventfd in the ABI, a counter in tests.
pub trait Trigger: Send + Sync + Debug {
    /// Signals the vector.
    fn trigger(&self);
}

/// VFIO's interrupt indexes of a PCI device, in `VFIO_PCI_*_IRQ_INDEX` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IrqIndex {
    /// `VFIO_PCI_INTX_IRQ_INDEX`.
    Intx = 0,
    /// `VFIO_PCI_MSI_IRQ_INDEX`.
    Msi = 1,
    /// `VFIO_PCI_MSIX_IRQ_INDEX`.
    Msix = 2,
    /// `VFIO_PCI_ERR_IRQ_INDEX`: an uncorrectable error was detected.
    Err = 3,
    /// `VFIO_PCI_REQ_IRQ_INDEX`: the host requests the device back.
    Req = 4,
}

/// A vector's trigger slot.
type Slot = Option<Arc<dyn Trigger>>;

/// A function's interrupt state and the triggers its vectors go to.
#[derive(Debug)]
pub struct Interrupts {
    intx: Intx,
    has_intx: bool,
    express: bool,
    msi: Option<Msi>,
    msix: Option<MsixTable>,
    msi_triggers: Vec<Slot>,
    msix_triggers: Vec<Slot>,
    err: Slot,
    req: Slot,
}

impl Interrupts {
    /// The interrupts of a function with `layout`'s capabilities and interrupt pin `pin`.
    pub fn new(layout: &CapLayout, pin: u8) -> Self {
        let msi = layout.msi.map(|(at, decl)| Msi::new(at, decl));
        let msix = layout.msix.map(|(at, decl)| MsixTable::new(at, decl));
        Interrupts {
            intx: Intx::default(),
            has_intx: pin != 0,
            express: layout.express.is_some(),
            msi_triggers: vec![None; layout.msi.map_or(0, |(_, d)| d.vectors as usize)],
            msix_triggers: vec![None; layout.msix.map_or(0, |(_, d)| usize::from(d.vectors))],
            msi,
            msix,
            err: None,
            req: None,
        }
    }

    /// Vectors of `index` (`VFIO_DEVICE_GET_IRQ_INFO.count`), as Linux 7.3's
    /// `vfio_pci_get_irq_count` answers: ERR and REQ have one vector on every function (a
    /// conventional function's ERR trigger can be set but is never signalled).
    pub fn count(&self, index: IrqIndex) -> u32 {
        match index {
            IrqIndex::Intx => u32::from(self.has_intx),
            IrqIndex::Msi => self.msi_triggers.len() as u32,
            IrqIndex::Msix => self.msix_triggers.len() as u32,
            IrqIndex::Err => 1,
            IrqIndex::Req => 1,
        }
    }

    fn slot(&mut self, index: IrqIndex, vector: u32) -> Option<&mut Slot> {
        let v = vector as usize;
        match index {
            IrqIndex::Intx => None,
            IrqIndex::Msi => self.msi_triggers.get_mut(v),
            IrqIndex::Msix => self.msix_triggers.get_mut(v),
            IrqIndex::Err => (v == 0).then_some(&mut self.err),
            IrqIndex::Req => (v == 0).then_some(&mut self.req),
        }
    }

    /// Sets (or clears) the trigger of `vector` of `index`; `false` if there is no such
    /// vector. INTx's trigger also enables VFIO's masking of it ([`Intx::set_trigger`]).
    pub fn set_trigger(&mut self, index: IrqIndex, vector: u32, trigger: Slot) -> bool {
        if index == IrqIndex::Intx {
            if !self.has_intx || vector != 0 {
                return false;
            }
            self.intx.set_trigger(trigger);
            return true;
        }
        match self.slot(index, vector) {
            Some(slot) => {
                *slot = trigger;
                true
            }
            None => false,
        }
    }

    /// The INTx line and VFIO's mask of it.
    pub fn intx(&mut self) -> &mut Intx {
        &mut self.intx
    }

    /// The MSI capability's view, if the function has one.
    pub fn msi(&self) -> Option<&Msi> {
        self.msi.as_ref()
    }

    /// The MSI-X table, if the function has one.
    pub fn msix(&self) -> Option<&MsixTable> {
        self.msix.as_ref()
    }

    pub(crate) fn msix_mut(&mut self) -> Option<&mut MsixTable> {
        self.msix.as_mut()
    }

    fn fire(slot: Option<&Slot>) {
        if let Some(Some(t)) = slot {
            t.trigger();
        }
    }

    /// Whether the function signals by message: MSI-X or MSI enabled.
    pub fn messages_enabled(&self, cfg: &ConfigSpace) -> bool {
        self.msix.as_ref().is_some_and(|t| t.enabled(cfg))
            || self.msi.as_ref().is_some_and(|m| m.enabled(cfg))
    }

    /// The function signals message `vector` through MSI-X if enabled, else MSI; a masked
    /// vector becomes pending. Returns whether a message mechanism was enabled.
    pub fn signal(&mut self, cfg: &mut ConfigSpace, vector: u32) -> bool {
        let master = cfg.command() & COMMAND_MASTER != 0;
        if let Some(table) = self.msix.as_mut().filter(|t| t.enabled(cfg)) {
            let v = u16::try_from(vector).unwrap_or(u16::MAX);
            if table.signal(cfg, v) && master {
                Self::fire(self.msix_triggers.get(vector as usize));
            }
            return true;
        }
        if let Some(msi) = self.msi.filter(|m| m.enabled(cfg)) {
            if msi.signal(cfg, vector) && master {
                Self::fire(self.msi_triggers.get(vector as usize));
            }
            return true;
        }
        false
    }

    /// The function sets its INTx level (INTx is not used while messages are enabled).
    pub fn set_intx_level(&mut self, level: bool) {
        self.intx.set_level(level);
    }

    /// After software changed config space or the MSI-X table: the INTx pin follows
    /// Interrupt Disable and the message enables, and pending vectors now unmasked are sent.
    pub fn sync(&mut self, cfg: &mut ConfigSpace) {
        let messages = self.messages_enabled(cfg);
        let disabled = cfg.command() & COMMAND_INTX_DISABLE != 0 || messages;
        self.intx.set_disabled(disabled);
        let master = cfg.command() & COMMAND_MASTER != 0;
        if let Some(msi) = self.msi {
            let ready = msi.take_unmasked(cfg);
            for v in (0..32).filter(|v| ready & (1 << v) != 0 && master) {
                Self::fire(self.msi_triggers.get(v));
            }
        }
        if let Some(table) = &mut self.msix {
            for v in table.take_unmasked(cfg) {
                if master {
                    Self::fire(self.msix_triggers.get(usize::from(v)));
                }
            }
        }
    }

    /// Signals ERR (an uncorrectable error; PCI Express functions only).
    pub fn signal_err(&self) {
        if self.express {
            Self::fire(Some(&self.err));
        }
    }

    /// Signals REQ (the host asks for the device back).
    pub fn signal_req(&self) {
        Self::fire(Some(&self.req));
    }

    /// Reset: the INTx level drops, the MSI-X table returns to its power-on values. The
    /// triggers are the host's and stay.
    pub fn reset(&mut self) {
        self.intx.reset();
        if let Some(table) = &mut self.msix {
            table.reset();
        }
    }
}
