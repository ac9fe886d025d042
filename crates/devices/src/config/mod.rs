//! A function's configuration space with PCI's register semantics.
//!
//! Every bit is one of: read-only (the power-on value, or what the function itself sets),
//! read-write, write-1-to-clear (PCI 3.0 §6.2.3: writing 1 clears, writing 0 leaves it), or a
//! strobe that acts when written with 1 and always reads 0 (Device Control's Initiate
//! Function Level Reset, PCIe 4.0 §7.5.3.4). The kind of every bit comes from masks built
//! once from the function's declarations ([`build`]); BAR size probing (§6.2.5.1) falls out of
//! the masks too: a BAR's address bits below its size and its type bits are read-only, so
//! writing all ones reads back the size mask with the type bits.
//!
//! An access may have any of the sizes vfio-pci's config region takes (1, 2, 4) at any offset
//! inside the space; each byte follows its own masks.

pub mod build;
pub mod spec;
pub mod sriov;

#[cfg(test)]
mod tests;

use crate::access::{AccessError, check};
pub use build::CapLayout;

/// Config access sizes (`vfio_pci_config_rw`).
const SIZES: &[usize] = &[1, 2, 4];

/// The per-bit kind masks of a config space, one byte each per config byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Masks {
    /// Read-write bits.
    pub writable: Vec<u8>,
    /// Write-1-to-clear bits.
    pub clear_on_one: Vec<u8>,
    /// Bits that report a written 1 and read as 0.
    pub strobe: Vec<u8>,
}

impl Masks {
    pub(crate) fn new(size: usize) -> Self {
        Masks {
            writable: vec![0; size],
            clear_on_one: vec![0; size],
            strobe: vec![0; size],
        }
    }
}

/// What a write did beyond storing bits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    /// A strobe bit was written with 1 (Initiate Function Level Reset).
    pub strobed: bool,
}

/// The configuration space of one function.
#[derive(Debug, Clone)]
pub struct ConfigSpace {
    bytes: Vec<u8>,
    power_on: Vec<u8>,
    masks: Masks,
}

impl ConfigSpace {
    pub(crate) fn new(power_on: Vec<u8>, masks: Masks) -> Self {
        debug_assert_eq!(power_on.len(), masks.writable.len());
        ConfigSpace {
            bytes: power_on.clone(),
            power_on,
            masks,
        }
    }

    /// Size of the space: 256 bytes, or 4 KiB for PCI Express.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Never empty; for symmetry with [`Self::len`].
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// A configuration read of `data.len()` bytes at `offset`.
    pub fn read(&self, offset: u16, data: &mut [u8]) -> Result<(), AccessError> {
        check(u64::from(offset), data.len(), self.len() as u64, SIZES)?;
        let at = usize::from(offset);
        data.copy_from_slice(&self.bytes[at..at + data.len()]);
        Ok(())
    }

    /// A configuration write of `data` at `offset`, bit by bit as the masks say.
    pub fn write(&mut self, offset: u16, data: &[u8]) -> Result<Written, AccessError> {
        check(u64::from(offset), data.len(), self.len() as u64, SIZES)?;
        let mut written = Written::default();
        for (i, &v) in data.iter().enumerate() {
            let at = usize::from(offset) + i;
            let (rw, w1c) = (self.masks.writable[at], self.masks.clear_on_one[at]);
            let old = self.bytes[at];
            self.bytes[at] = ((old & !rw) | (v & rw)) & !(v & w1c);
            written.strobed |= v & self.masks.strobe[at] != 0;
        }
        Ok(written)
    }

    /// Every register back to its power-on value (a conventional or function level reset).
    pub fn reset(&mut self) {
        self.bytes.copy_from_slice(&self.power_on);
    }

    // The function's own side: it reads and sets its registers whatever their software
    // access is (status bits, pending bits, Interrupt Status).

    /// The byte at `offset`.
    pub fn byte(&self, offset: u16) -> u8 {
        self.bytes[usize::from(offset)]
    }

    /// The little-endian word at `offset`.
    pub fn word(&self, offset: u16) -> u16 {
        let at = usize::from(offset);
        u16::from_le_bytes([self.bytes[at], self.bytes[at + 1]])
    }

    /// The little-endian dword at `offset`.
    pub fn dword(&self, offset: u16) -> u32 {
        let at = usize::from(offset);
        let b = &self.bytes[at..at + 4];
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }

    /// Stores `value` at `offset` as the hardware does, bypassing the software masks.
    pub fn set_dword(&mut self, offset: u16, value: u32) {
        let at = usize::from(offset);
        self.bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
    }

    /// Sets (`on`) or clears the bits `bits` of the word at `offset`, as the hardware does.
    pub fn set_word_bits(&mut self, offset: u16, bits: u16, on: bool) {
        let w = self.word(offset);
        let w = if on { w | bits } else { w & !bits };
        let at = usize::from(offset);
        self.bytes[at..at + 2].copy_from_slice(&w.to_le_bytes());
    }

    /// The Command register.
    pub fn command(&self) -> u16 {
        self.word(spec::COMMAND)
    }
}
