//! IO page tables for uiommu.
//!
//! One walker, generic over a hardware [`Format`] and a [`TableMemory`],
//! implements the operations of the kernel's generic page table
//! (drivers/iommu/generic_pt): [`PageTable::map`], [`PageTable::unmap`],
//! [`PageTable::iova_to_phys`], [`PageTable::read_and_clear_dirty`], and the
//! DMA-side [`PageTable::translate`]. Every range operation walks once,
//! keeping its position in each table while it moves along the range. A
//! table the walker does not own (a guest's stage 1 in guest memory) is walked
//! in place from its root with [`RootWalk`], by the same code.
//!
//! Formats (in [`format`]): x86-64 ([`X86_64`], VT-d first stage and AMD v2),
//! VT-d second stage ([`VtdSs`]), AMD v1 ([`AmdV1`], and the selftest mock's
//! 2 KiB-granule variant [`AmdV1Mock`]), Arm LPAE stage 1 and 2 at 4K, 16K and
//! 64K granules ([`ArmLpae`]), and POWER TCE ([`Tce`]).
//!
//! # Concurrency
//!
//! All operations take `&self`. In [`OwnedTables`] every entry is an
//! `AtomicU64`: loads acquire, stores release, a new table is linked with a
//! compare-and-exchange (the loser frees its copy), and hardware-style
//! access/dirty updates are compare-and-exchange loops. Hence:
//!
//! - walks (`iova_to_phys`, `translate`, dirty reads) may run with anything;
//!   a walk concurrent with an update of its own IOVA sees the old or the new
//!   translation;
//! - updates (`map`, `unmap`, `read_and_clear_dirty`) on disjoint IOVA ranges
//!   may run together: they share at most the table entries that point to
//!   tables, which are only ever linked (never unlinked) by a range that does
//!   not cover the whole table;
//! - updates on overlapping ranges must be serialized by the caller (the
//!   kernel's rule too: the IOAS holds a range lock);
//! - tables unlinked by an update are returned in a [`Gather`] and only freed
//!   by [`PageTable::release`] once the caller has invalidated the IOTLB.

mod dirty;
mod dump;
mod error;
pub mod format;
mod freelist;
mod map;
mod memory;
pub mod pgsize;
mod prot;
mod table;
mod unmap;
mod walk;

pub use dirty::{DirtyBitmap, DirtyRecorder};
pub use dump::PATH_LEN;
pub use error::{PtError, errno};
pub use format::amdv1::{AmdV1, AmdV1Fmt, AmdV1Mock};
pub use format::arm_lpae::{Arm4kS1, Arm4kS2, Arm16kS1, Arm16kS2, Arm64kS1, Arm64kS2, ArmLpae};
pub use format::tce::{Tce, Tce4k, Tce64k};
pub use format::vtdss::VtdSs;
pub use format::x86_64::X86_64;
pub use format::{Entry, Format};
pub use freelist::Gather;
pub use memory::{Fault, GuestMemory, GuestTables, OwnedTables, TableAlloc, TableMemory};
pub use prot::{Access, Prot};
pub use table::{Config, PageTable};
pub use walk::{RootWalk, Translation, WalkFault};
