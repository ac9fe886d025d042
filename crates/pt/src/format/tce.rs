//! POWER Translation Control Entries (TCE) for a DMA window.
//!
//! LoPAPR (Linux on Power Architecture Platform Reference), "Translation
//! Control Entry" format, and the IODA2 multi-level TCE tables that dynamic
//! DMA windows use (arch/powerpc/include/asm/tce.h,
//! platforms/powernv/pci-ioda-tce.c). A TCE is a big-endian doubleword: bit 0
//! read allowed, bit 1 write allowed, the real page number above. An entry with
//! neither permission is invalid. Indirect levels hold the next table's
//! address with both permissions set. Only the window's page size is mapped.
//!
//! Each window is its own [`PageTable`](crate::PageTable): its bus offset is
//! [`Config::va_start`](crate::Config::va_start), its size `va_lg2`.

use super::{Entry, Format, genmask};
use crate::table::Config;
use crate::{Access, Prot, PtError};

/// TCE bit layout (host order; stored big-endian).
pub mod spec {
    use super::genmask;
    /// Read from memory allowed (`TCE_PCI_READ`).
    pub const READ: u64 = 1 << 0;
    /// Write to memory allowed (`TCE_PCI_WRITE`).
    pub const WRITE: u64 = 1 << 1;
    /// Real page number bits (4 KiB units).
    pub const RPN: u64 = genmask(51, 12);
}

/// TCE tables of a window with `1 << PAGE_SHIFT` byte IOMMU pages.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tce<const PAGE_SHIFT: u32>;

/// A window of 4 KiB TCE pages.
pub type Tce4k = Tce<12>;
/// A window of 64 KiB TCE pages.
pub type Tce64k = Tce<16>;

impl<const P: u32> Tce<P> {
    /// A window at bus address `start` of `1 << size_lg2` bytes.
    pub fn window(start: u64, size_lg2: u32) -> Config {
        let levels = size_lg2.saturating_sub(P).div_ceil(9).max(1);
        Config {
            levels,
            va_lg2: size_lg2,
            va_start: start,
            ..Config::levels(levels)
        }
    }
}

impl<const P: u32> Format for Tce<P> {
    const NAME: &'static str = if P == 12 { "tce_4k" } else { "tce" };
    const GRANULE_LG2: u32 = P;
    const ITEMS_LG2: u32 = 9;
    const MAX_LEVELS: u32 = 5;
    const MAX_OA_LG2: u32 = 52;

    fn possible_sizes(&self, level: u32) -> u64 {
        if level == 0 { 1 << P } else { 0 }
    }

    #[inline(always)]
    fn decode(&self, level: u32, raw: u64) -> Entry {
        let e = u64::from_be(raw);
        if e & (spec::READ | spec::WRITE) == 0 {
            return Entry::Empty;
        }
        if level == 0 {
            Entry::Leaf {
                oa: e & spec::RPN & (u64::MAX << P),
                size_lg2: P,
            }
        } else {
            Entry::Table(e & spec::RPN)
        }
    }

    #[inline(always)]
    fn leaf(&self, _level: u32, oa: u64, _size_lg2: u32, attrs: u64) -> u64 {
        ((oa & spec::RPN) | attrs).to_be()
    }

    fn table(&self, _level: u32, pa: u64) -> u64 {
        ((pa & spec::RPN) | spec::READ | spec::WRITE).to_be()
    }

    fn attrs(&self, prot: Prot) -> Result<u64, PtError> {
        let mut bits = 0;
        if prot.contains(Prot::READ) {
            bits |= spec::READ;
        }
        if prot.contains(Prot::WRITE) {
            bits |= spec::WRITE;
        }
        Ok(bits)
    }

    fn permits(&self, _level: u32, raw: u64, _leaf: bool, access: Access) -> bool {
        let need = if access == Access::Write {
            spec::WRITE
        } else {
            spec::READ
        };
        u64::from_be(raw) & need != 0
    }
}
