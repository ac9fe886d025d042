//! MSI as its capability in config space says (PCI 3.0 §6.8.1): enable and the number of
//! vectors enabled from Message Control, per-vector Mask Bits, and the Pending Bits the
//! function sets for a masked vector and clears when it sends the message.

use crate::config::ConfigSpace;
use crate::config::spec::*;
use crate::describe::MsiDecl;

/// The MSI capability of a function, at its offset.
#[derive(Debug, Clone, Copy)]
pub struct Msi {
    at: u16,
    decl: MsiDecl,
}

impl Msi {
    /// The capability at `at`, as `decl` declared it.
    pub fn new(at: u16, decl: MsiDecl) -> Self {
        Msi { at, decl }
    }

    /// Message Control.MSI Enable.
    pub fn enabled(&self, cfg: &ConfigSpace) -> bool {
        cfg.word(self.at + MSI_FLAGS) & MSI_FLAGS_ENABLE != 0
    }

    /// Vectors software enabled: 2^MME, at most what the function is capable of
    /// (§6.8.1.3: a larger MME is undefined; the function uses what it has).
    pub fn enabled_vectors(&self, cfg: &ConfigSpace) -> u32 {
        let mme = (cfg.word(self.at + MSI_FLAGS) & MSI_FLAGS_QSIZE) >> MSI_FLAGS_QSIZE_SHIFT;
        (1u32 << mme).min(self.decl.vectors)
    }

    fn data_offset(&self) -> u16 {
        if self.decl.address_64 {
            MSI_DATA_64
        } else {
            MSI_DATA_32
        }
    }

    fn mask_offset(&self) -> Option<u16> {
        self.decl
            .per_vector_mask
            .then(|| self.at + self.data_offset() + 4)
    }

    /// The Mask Bits (0 without per-vector masking).
    pub fn mask_bits(&self, cfg: &ConfigSpace) -> u32 {
        self.mask_offset().map_or(0, |m| cfg.dword(m))
    }

    /// The Pending Bits (0 without per-vector masking).
    pub fn pending_bits(&self, cfg: &ConfigSpace) -> u32 {
        self.mask_offset()
            .map_or(0, |m| cfg.dword(m + MSI_PENDING_AFTER_MASK))
    }

    fn set_pending_bits(&self, cfg: &mut ConfigSpace, bits: u32) {
        if let Some(m) = self.mask_offset() {
            cfg.set_dword(m + MSI_PENDING_AFTER_MASK, bits);
        }
    }

    /// The message address.
    pub fn address(&self, cfg: &ConfigSpace) -> u64 {
        let hi = if self.decl.address_64 {
            cfg.dword(self.at + MSI_ADDRESS_HI)
        } else {
            0
        };
        (u64::from(hi) << 32) | u64::from(cfg.dword(self.at + MSI_ADDRESS_LO))
    }

    /// The message data of `vector`: the low MME bits of Message Data carry the vector
    /// number (§6.8.1.5).
    pub fn data(&self, cfg: &ConfigSpace, vector: u32) -> u16 {
        let data = cfg.word(self.at + self.data_offset());
        let low = self.enabled_vectors(cfg) - 1;
        (data & !(low as u16)) | (vector as u16 & low as u16)
    }

    /// The function signals `vector`: `true` to send the message now; a masked vector sets
    /// its pending bit instead. Nothing for a vector not enabled.
    pub fn signal(&self, cfg: &mut ConfigSpace, vector: u32) -> bool {
        if !self.enabled(cfg) || vector >= self.enabled_vectors(cfg) {
            return false;
        }
        let bit = 1u32 << vector;
        if self.mask_bits(cfg) & bit != 0 {
            let pending = self.pending_bits(cfg) | bit;
            self.set_pending_bits(cfg, pending);
            return false;
        }
        true
    }

    /// After a config write: the pending vectors now unmasked, whose messages are sent (their
    /// pending bits cleared), as a bit set.
    pub fn take_unmasked(&self, cfg: &mut ConfigSpace) -> u32 {
        if !self.enabled(cfg) {
            return 0;
        }
        let pending = self.pending_bits(cfg);
        let ready = pending & !self.mask_bits(cfg);
        if ready != 0 {
            self.set_pending_bits(cfg, pending & !ready);
        }
        ready
    }
}
