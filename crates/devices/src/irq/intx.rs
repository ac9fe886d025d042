//! INTx: a level-triggered line, and the masking VFIO puts around it
//! (`drivers/vfio/pci/vfio_pci_intrs.c`).
//!
//! The function drives its internal level; the pin is asserted while the level is high and
//! the Command register's Interrupt Disable is clear (PCI 3.0 §6.2.2). When the pin asserts
//! and VFIO's context is not masked, VFIO masks it and signals the trigger
//! (`vfio_intx_handler`): a level interrupt is delivered once, and again only after the owner
//! unmasks. Unmasking with the pin still asserted leaves it masked and signals again
//! (`vfio_pci_intx_unmask_handler` returning 1 when `pci_check_and_unmask_intx` finds the
//! interrupt pending). The mask is state the ABI layer drives (`VFIO_IRQ_SET_ACTION_MASK`,
//! `UNMASK`); with no trigger set (INTx not enabled through VFIO) nothing is signalled or
//! masked.

use super::Trigger;
use std::sync::Arc;

/// The INTx line of a function and VFIO's state of it.
#[derive(Debug, Default)]
pub struct Intx {
    level: bool,
    disabled: bool,
    masked: bool,
    trigger: Option<Arc<dyn Trigger>>,
}

impl Intx {
    /// The function's internal level (Status.Interrupt Status).
    pub fn level(&self) -> bool {
        self.level
    }

    /// Whether the pin is asserted.
    pub fn asserted(&self) -> bool {
        self.level && !self.disabled
    }

    /// Whether VFIO has the line masked.
    pub fn masked(&self) -> bool {
        self.masked
    }

    /// The function raises (`true`) or lowers its level.
    pub fn set_level(&mut self, level: bool) {
        let was = self.asserted();
        self.level = level;
        self.on_pin_change(was);
    }

    /// Command.Interrupt Disable changed.
    pub fn set_disabled(&mut self, disabled: bool) {
        let was = self.asserted();
        self.disabled = disabled;
        self.on_pin_change(was);
    }

    fn on_pin_change(&mut self, was: bool) {
        if !was && self.asserted() {
            self.handle();
        }
    }

    /// `vfio_intx_handler`: an unmasked, enabled line masks itself and signals.
    fn handle(&mut self) {
        if let Some(trigger) = self.trigger.as_ref().filter(|_| !self.masked) {
            self.masked = true;
            trigger.trigger();
        }
    }

    /// `VFIO_IRQ_SET_ACTION_MASK`. Returns whether the mask changed.
    pub fn mask(&mut self) -> bool {
        let changed = self.trigger.is_some() && !self.masked;
        if changed {
            self.masked = true;
        }
        changed
    }

    /// `VFIO_IRQ_SET_ACTION_UNMASK`: a pin still asserted stays masked and signals again.
    pub fn unmask(&mut self) {
        let Some(trigger) = &self.trigger else { return };
        if self.masked {
            if self.asserted() {
                trigger.trigger();
            } else {
                self.masked = false;
            }
        }
    }

    /// `VFIO_IRQ_SET_ACTION_TRIGGER` with an eventfd (INTx enabled, unmasked: an asserted pin
    /// fires at once, as a level interrupt does when its handler is installed) or without one
    /// (disabled).
    pub fn set_trigger(&mut self, trigger: Option<Arc<dyn Trigger>>) {
        self.masked = false;
        self.trigger = trigger;
        if self.asserted() {
            self.handle();
        }
    }

    /// Reset: the level drops; VFIO's state is the host's and stays.
    pub fn reset(&mut self) {
        self.level = false;
        self.disabled = false;
    }
}
