//! The [`Format`] trait: everything the walker needs to know about one
//! hardware page-table format, and the formats themselves.
//!
//! Levels are numbered from the leaf: level 0 holds the smallest pages, level
//! `top_level` is the root. A table at every level has `1 << ITEMS_LG2` 64-bit
//! entries and each entry at level `l` spans `1 << item_lg2(l)` bytes of IOVA.
//!
//! Every method is a pure function of constants and its arguments; the walker
//! is generic over the format, so each format gets its own monomorphized copy
//! with no dynamic dispatch on the hot path.

pub mod amdv1;
pub mod arm_lpae;
pub mod tce;
pub mod vtdss;
pub mod x86_64;

use crate::{Access, Prot, PtError};

/// What an entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// Not present.
    Empty,
    /// Points at the next-level table at this physical address.
    Table(u64),
    /// Translates a page.
    Leaf {
        /// Output address of the page start (aligned to `size_lg2`).
        oa: u64,
        /// log2 of the page size; above the level's item size for a
        /// contiguous run of entries (AMD v1 page-size encoding, Arm contiguous bit).
        size_lg2: u32,
    },
}

/// One page-table format: entry encoding, geometry, permissions, A/D bits.
pub trait Format: Copy + Send + Sync + core::fmt::Debug + 'static {
    /// Short name, for benchmarks and messages.
    const NAME: &'static str;
    /// log2 of the level-0 item (the smallest page).
    const GRANULE_LG2: u32;
    /// log2 of the number of entries in a table.
    const ITEMS_LG2: u32;
    /// Highest supported number of levels.
    const MAX_LEVELS: u32;
    /// Widest output address the entries can hold.
    const MAX_OA_LG2: u32;

    /// log2 of the IOVA span of one entry at `level`.
    #[inline(always)]
    fn item_lg2(level: u32) -> u32 {
        Self::GRANULE_LG2 + level * Self::ITEMS_LG2
    }

    /// Page sizes (bitmap of `1 << lg2`) a leaf at `level` may have.
    fn possible_sizes(&self, level: u32) -> u64;

    /// Decodes entry `e` found at `level`.
    fn decode(&self, level: u32, e: u64) -> Entry;

    /// Encodes one entry of a leaf of `1 << size_lg2` bytes at `level`. `oa` is
    /// the output address of this entry's own item (for a contiguous run, the
    /// page start plus the entry's offset in the run). `attrs` comes from
    /// [`Format::attrs`].
    fn leaf(&self, level: u32, oa: u64, size_lg2: u32, attrs: u64) -> u64;

    /// Encodes a pointer to a table at physical address `pa`, stored at `level`.
    fn table(&self, level: u32, pa: u64) -> u64;

    /// Leaf attribute bits for `prot` (the kernel's `pt_iommu_set_prot`).
    fn attrs(&self, prot: Prot) -> Result<u64, PtError>;

    /// Whether a present entry (table pointer or leaf) lets `access` through.
    fn permits(&self, level: u32, e: u64, leaf: bool, access: Access) -> bool;

    /// Value a hardware walk leaves in entry `e` after `access` through it:
    /// access flag set and, for a leaf written, dirty set. `e` if unchanged.
    fn walked(&self, level: u32, e: u64, leaf: bool, access: Access) -> u64 {
        let _ = (level, leaf, access);
        e
    }

    /// Whether the kernel offers dirty tracking (read-and-clear) on this format.
    fn dirty_tracking(&self) -> bool {
        false
    }

    /// Whether the hardware has marked leaf entry `e` written.
    fn is_dirty(&self, e: u64) -> bool {
        let _ = e;
        false
    }

    /// Leaf entry `e` with the written mark cleared.
    fn clean(&self, e: u64) -> u64 {
        e
    }

    /// Leaf entry `e` with the written mark set.
    fn dirtied(&self, e: u64) -> u64 {
        e
    }
}

/// Bits `hi..=lo` of a 64-bit word.
pub(crate) const fn genmask(hi: u32, lo: u32) -> u64 {
    (u64::MAX >> (63 - hi)) & (u64::MAX << lo)
}
