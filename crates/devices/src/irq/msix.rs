//! The MSI-X table and Pending Bit Array of a function (PCI 3.0 §6.8.2), in its BAR.
//!
//! An entry is four dwords: Message Address (bits 1:0 read-only 0), Message Upper Address,
//! Message Data, Vector Control (bit 0 Mask, set at reset; the rest reserved, read 0). The
//! PBA is read-only to software: the function sets a vector's bit when it has a message for
//! a masked vector (Function Mask or the entry's Mask) and clears it when it sends the
//! message after the vector is unmasked (§6.8.2.9, §6.8.2.10).

use crate::config::ConfigSpace;
use crate::config::spec::*;
use crate::describe::MsixDecl;

/// Writable bits of an entry's four dwords.
const ENTRY_WRITABLE: [u32; 4] = [!0x3, !0, !0, MSIX_ENTRY_CTRL_MASKBIT];

/// A function's MSI-X table and PBA, and where its capability is.
#[derive(Debug, Clone)]
pub struct MsixTable {
    cap: u16,
    decl: MsixDecl,
    entries: Vec<[u32; 4]>,
    pending: Vec<u64>,
}

impl MsixTable {
    /// The table of the capability at `cap`, at its power-on values.
    pub fn new(cap: u16, decl: MsixDecl) -> Self {
        let n = usize::from(decl.vectors);
        MsixTable {
            cap,
            decl,
            entries: vec![[0, 0, 0, MSIX_ENTRY_CTRL_MASKBIT]; n],
            pending: vec![0; n.div_ceil(64)],
        }
    }

    /// Power-on values: every vector masked, nothing pending.
    pub fn reset(&mut self) {
        *self = MsixTable::new(self.cap, self.decl);
    }

    /// Message Control.MSI-X Enable.
    pub fn enabled(&self, cfg: &ConfigSpace) -> bool {
        cfg.word(self.cap + MSIX_FLAGS) & MSIX_FLAGS_ENABLE != 0
    }

    fn function_masked(&self, cfg: &ConfigSpace) -> bool {
        cfg.word(self.cap + MSIX_FLAGS) & MSIX_FLAGS_MASKALL != 0
    }

    /// Whether `vector` is masked, by the function or its entry.
    pub fn masked(&self, cfg: &ConfigSpace, vector: u16) -> bool {
        self.function_masked(cfg)
            || self.entries[usize::from(vector)][3] & MSIX_ENTRY_CTRL_MASKBIT != 0
    }

    /// Whether `vector`'s PBA bit is set.
    pub fn pending(&self, vector: u16) -> bool {
        self.pending[usize::from(vector / 64)] & (1 << (vector % 64)) != 0
    }

    fn set_pending(&mut self, vector: u16, on: bool) {
        let word = &mut self.pending[usize::from(vector / 64)];
        let bit = 1u64 << (vector % 64);
        *word = if on { *word | bit } else { *word & !bit };
    }

    /// The message address and data of `vector`.
    pub fn message(&self, vector: u16) -> (u64, u32) {
        let e = self.entries[usize::from(vector)];
        ((u64::from(e[1]) << 32) | u64::from(e[0]), e[2])
    }

    /// The function signals `vector`: `true` to send the message now; a masked vector sets
    /// its pending bit. Nothing while MSI-X is disabled or for a vector beyond the table.
    pub fn signal(&mut self, cfg: &ConfigSpace, vector: u16) -> bool {
        if !self.enabled(cfg) || vector >= self.decl.vectors {
            return false;
        }
        if self.masked(cfg, vector) {
            self.set_pending(vector, true);
            return false;
        }
        true
    }

    /// The pending vectors now unmasked, whose messages are sent (their PBA bits cleared).
    pub fn take_unmasked(&mut self, cfg: &ConfigSpace) -> Vec<u16> {
        if !self.enabled(cfg) {
            return Vec::new();
        }
        let ready: Vec<u16> = (0..self.decl.vectors)
            .filter(|&v| self.pending(v) && !self.masked(cfg, v))
            .collect();
        for &v in &ready {
            self.set_pending(v, false);
        }
        ready
    }

    /// Whether `offset..offset + len` of BAR `bar` is the table; the offset in it if so.
    pub fn table_offset(&self, bar: u8, offset: u64, len: usize) -> Option<u64> {
        let size = u64::from(self.decl.vectors) * MSIX_ENTRY_SIZE;
        within(
            bar,
            offset,
            len,
            self.decl.table_bar,
            self.decl.table_offset,
            size,
        )
    }

    /// Whether `offset..offset + len` of BAR `bar` is the PBA; the offset in it if so.
    pub fn pba_offset(&self, bar: u8, offset: u64, len: usize) -> Option<u64> {
        let size = self.pending.len() as u64 * 8;
        within(
            bar,
            offset,
            len,
            self.decl.pba_bar,
            self.decl.pba_offset,
            size,
        )
    }

    /// A read of the table at `offset`.
    pub fn read_table(&self, offset: u64, data: &mut [u8]) {
        for (i, b) in data.iter_mut().enumerate() {
            let at = offset + i as u64;
            let entry = self.entries[(at / MSIX_ENTRY_SIZE) as usize];
            let dword = entry[(at % MSIX_ENTRY_SIZE / 4) as usize];
            *b = (dword >> (8 * (at % 4))) as u8;
        }
    }

    /// A write of the table at `offset`; the writable bits of each byte change.
    pub fn write_table(&mut self, offset: u64, data: &[u8]) {
        for (i, &v) in data.iter().enumerate() {
            let at = offset + i as u64;
            let (e, d) = (
                (at / MSIX_ENTRY_SIZE) as usize,
                (at % MSIX_ENTRY_SIZE / 4) as usize,
            );
            let shift = 8 * (at % 4);
            let writable = (ENTRY_WRITABLE[d] >> shift) & 0xff;
            let dword = &mut self.entries[e][d];
            *dword = (*dword & !(writable << shift)) | ((u32::from(v) & writable) << shift);
        }
    }

    /// A read of the PBA at `offset`.
    pub fn read_pba(&self, offset: u64, data: &mut [u8]) {
        for (i, b) in data.iter_mut().enumerate() {
            let at = offset + i as u64;
            *b = (self.pending[(at / 8) as usize] >> (8 * (at % 8))) as u8;
        }
    }
}

/// The offset of `offset..offset + len` in `base..base + size` of BAR `want`.
fn within(bar: u8, offset: u64, len: usize, want: u8, base: u32, size: u64) -> Option<u64> {
    let rel = offset.checked_sub(u64::from(base))?;
    (bar == want && rel + len as u64 <= size).then_some(rel)
}
