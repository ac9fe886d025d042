//! Where tables live: the [`TableMemory`] seam.
//!
//! The walker never touches table memory directly. It names a table by its
//! (guest-)physical address, resolves it once per level with
//! [`TableMemory::table`], and reads and writes 64-bit entries through the
//! resolved handle. Two kinds of memory implement it:
//!
//! - [`OwnedTables`]: tables uiommu allocates for paging domains. Entries are
//!   `AtomicU64`, so concurrent walks and updates on disjoint ranges are sound.
//! - [`GuestTables`]: tables that a guest owns in its own memory (a nested
//!   stage-1 table), reached through a [`GuestMemory`]. An absent page is a
//!   [`Fault`], never a panic. Hardware-set access and dirty bits are written
//!   back with compare-and-exchange, like the IOMMU's atomic updates.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use zerocopy::FromZeros;

use crate::PtError;

/// A table entry could not be read or written: the table address is not backed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// Address of the entry that faulted.
    pub addr: u64,
}

impl From<Fault> for PtError {
    fn from(f: Fault) -> PtError {
        PtError::Fault(f.addr)
    }
}

/// Memory holding page tables.
///
/// `Table` is a cheap handle to one table, valid while `self` is borrowed. The
/// number of 64-bit entries in a table is `1 << items_lg2`, fixed by the format.
pub trait TableMemory: Sync {
    /// A resolved table.
    type Table<'a>: Copy
    where
        Self: 'a;

    /// Resolves the table at physical address `pa`.
    fn table(&self, pa: u64, items_lg2: u32) -> Result<Self::Table<'_>, Fault>;
    /// Loads entry `index` (acquire: a table it points at is fully visible).
    fn load(&self, t: Self::Table<'_>, index: usize) -> Result<u64, Fault>;
    /// Stores entry `index` (release).
    fn store(&self, t: Self::Table<'_>, index: usize, val: u64) -> Result<(), Fault>;
    /// Replaces entry `index` with `new` if it still holds `old`; `Err(current)` otherwise.
    fn compare_exchange(
        &self,
        t: Self::Table<'_>,
        index: usize,
        old: u64,
        new: u64,
    ) -> Result<Result<u64, u64>, Fault>;
}

/// Table memory that can allocate and free tables (paging domains).
pub trait TableAlloc: TableMemory {
    /// Allocates a zeroed table and returns its physical address.
    fn alloc(&self) -> Result<u64, PtError>;
    /// Returns a table to the allocator. The caller guarantees no walker can
    /// reach it any more (unlinked and, if it was ever visible, IOTLB invalidated).
    fn free(&self, pa: u64);
}

/// Tables in the first chunk; chunk `k` holds `FIRST_CHUNK << k` tables.
const FIRST_CHUNK_LG2: u32 = 4;
const CHUNKS: usize = 24;

/// Tables owned by uiommu: an arena of zeroed `AtomicU64` tables.
///
/// Storage grows in chunks that double in size and never move, so a resolved
/// table stays valid without locks. Chunk memory is zero-allocated: pages of a
/// chunk not yet used by a table stay untouched. A table's "physical address"
/// is `(id + 1) << table_bytes_lg2`; address 0 is never a table.
#[derive(Debug)]
pub struct OwnedTables {
    items_lg2: u32,
    chunks: [OnceLock<Box<[AtomicU64]>>; CHUNKS],
    next: AtomicU64,
    free: Mutex<Vec<u64>>,
    limit: u64,
}

impl OwnedTables {
    /// An empty arena of tables with `1 << items_lg2` entries each.
    pub fn new(items_lg2: u32) -> Self {
        Self::with_limit(items_lg2, u64::MAX)
    }

    /// Like [`OwnedTables::new`], failing allocations with ENOMEM past `limit` tables.
    pub fn with_limit(items_lg2: u32, limit: u64) -> Self {
        let max = ((1u64 << CHUNKS) - 1) << FIRST_CHUNK_LG2;
        OwnedTables {
            items_lg2,
            chunks: std::array::from_fn(|_| OnceLock::new()),
            next: AtomicU64::new(0),
            free: Mutex::new(Vec::new()),
            limit: limit.min(max),
        }
    }

    /// Number of tables currently allocated (not on the free list).
    pub fn tables_in_use(&self) -> u64 {
        let free = self.free.lock().map(|f| f.len() as u64).unwrap_or(0);
        self.next.load(Ordering::Relaxed) - free
    }

    fn table_bytes_lg2(&self) -> u32 {
        self.items_lg2 + 3
    }

    #[inline(always)]
    fn locate(id: u64) -> (usize, usize) {
        let n = id + (1 << FIRST_CHUNK_LG2);
        let k = 63 - n.leading_zeros() - FIRST_CHUNK_LG2;
        (k as usize, (n - ((1u64 << FIRST_CHUNK_LG2) << k)) as usize)
    }

    fn slice(&self, id: u64) -> Option<&[AtomicU64]> {
        let (k, off) = Self::locate(id);
        let chunk = self.chunks.get(k)?.get()?;
        let items = 1usize << self.items_lg2;
        chunk.get(off * items..(off + 1) * items)
    }

    fn init_chunk(&self, id: u64) -> Result<(), PtError> {
        let (k, _) = Self::locate(id);
        let slot = self.chunks.get(k).ok_or(PtError::NoMemory)?;
        if slot.get().is_none() {
            let elems = (1usize << (FIRST_CHUNK_LG2 as usize + k)) << self.items_lg2;
            let chunk =
                <[AtomicU64]>::new_box_zeroed_with_elems(elems).map_err(|_| PtError::NoMemory)?;
            // A racing initializer may win; its chunk is equally zeroed.
            let _ = slot.set(chunk);
        }
        Ok(())
    }
}

impl TableMemory for OwnedTables {
    type Table<'a> = &'a [AtomicU64];

    #[inline(always)]
    fn table(&self, pa: u64, items_lg2: u32) -> Result<&[AtomicU64], Fault> {
        let shift = self.table_bytes_lg2();
        let fault = Fault { addr: pa };
        if items_lg2 != self.items_lg2 || pa & ((1 << shift) - 1) != 0 || pa == 0 {
            return Err(fault);
        }
        // Ids past the allocated ones land in unused, zeroed chunk memory or
        // in no chunk at all; either way nothing outside the arena is reached.
        self.slice((pa >> shift) - 1).ok_or(fault)
    }

    #[inline(always)]
    fn load(&self, t: &[AtomicU64], index: usize) -> Result<u64, Fault> {
        match t.get(index) {
            Some(e) => Ok(e.load(Ordering::Acquire)),
            None => Err(Fault {
                addr: index as u64 * 8,
            }),
        }
    }

    #[inline(always)]
    fn store(&self, t: &[AtomicU64], index: usize, val: u64) -> Result<(), Fault> {
        match t.get(index) {
            Some(e) => {
                e.store(val, Ordering::Release);
                Ok(())
            }
            None => Err(Fault {
                addr: index as u64 * 8,
            }),
        }
    }

    #[inline(always)]
    fn compare_exchange(
        &self,
        t: &[AtomicU64],
        index: usize,
        old: u64,
        new: u64,
    ) -> Result<Result<u64, u64>, Fault> {
        match t.get(index) {
            Some(e) => Ok(e.compare_exchange(old, new, Ordering::AcqRel, Ordering::Acquire)),
            None => Err(Fault {
                addr: index as u64 * 8,
            }),
        }
    }
}

impl TableAlloc for OwnedTables {
    fn alloc(&self) -> Result<u64, PtError> {
        let reused = self.free.lock().map_err(|_| PtError::NoMemory)?.pop();
        let id = match reused {
            Some(id) => id,
            None => {
                let id = self.next.load(Ordering::Relaxed);
                if id >= self.limit {
                    return Err(PtError::NoMemory);
                }
                self.init_chunk(id)?;
                // Publish the id only once its chunk exists, so `table` never
                // resolves an id without storage.
                self.next.fetch_add(1, Ordering::AcqRel)
            }
        };
        if self.slice(id).is_none() {
            // Lost a race for `next` to a chunk boundary: make sure storage exists.
            self.init_chunk(id)?;
        }
        Ok((id + 1) << self.table_bytes_lg2())
    }

    fn free(&self, pa: u64) {
        let shift = self.table_bytes_lg2();
        let Some(id) = (pa >> shift).checked_sub(1) else {
            return;
        };
        if let Some(t) = self.slice(id) {
            for e in t {
                e.store(0, Ordering::Relaxed);
            }
            if let Ok(mut f) = self.free.lock() {
                f.push(id);
            }
        }
    }
}

/// Guest-physical memory as seen by a table walker (e.g. through stage 2).
///
/// Implementations translate the address themselves; for a nested walk this is
/// where each stage-1 table address goes through the stage-2 table.
pub trait GuestMemory: Sync {
    /// Reads the little-endian 64-bit word at `gpa`.
    fn read_u64(&self, gpa: u64) -> Result<u64, Fault>;
    /// Atomically replaces the word at `gpa` with `new` if it holds `old`.
    fn compare_exchange_u64(&self, gpa: u64, old: u64, new: u64)
    -> Result<Result<u64, u64>, Fault>;
}

/// Tables in guest memory, walked in place (read-only except hardware A/D updates).
#[derive(Debug, Clone, Copy)]
pub struct GuestTables<G> {
    /// The guest memory the tables live in.
    pub mem: G,
}

impl<G: GuestMemory> TableMemory for GuestTables<G> {
    type Table<'a>
        = (u64, u32)
    where
        Self: 'a;

    fn table(&self, pa: u64, items_lg2: u32) -> Result<(u64, u32), Fault> {
        // Tables are naturally aligned to their size in every supported format.
        if pa & ((8u64 << items_lg2) - 1) != 0 {
            return Err(Fault { addr: pa });
        }
        Ok((pa, items_lg2))
    }

    fn load(&self, t: (u64, u32), index: usize) -> Result<u64, Fault> {
        self.mem.read_u64(entry_addr(t, index)?)
    }

    fn store(&self, t: (u64, u32), index: usize, _val: u64) -> Result<(), Fault> {
        // Only hardware A/D updates write guest tables, and those use
        // compare-and-exchange; a plain store is a walker bug, refused.
        Err(Fault {
            addr: entry_addr(t, index)?,
        })
    }

    fn compare_exchange(
        &self,
        t: (u64, u32),
        index: usize,
        old: u64,
        new: u64,
    ) -> Result<Result<u64, u64>, Fault> {
        self.mem
            .compare_exchange_u64(entry_addr(t, index)?, old, new)
    }
}

fn entry_addr((base, items_lg2): (u64, u32), index: usize) -> Result<u64, Fault> {
    if (index as u64) >> items_lg2 != 0 {
        return Err(Fault { addr: base });
    }
    Ok(base + index as u64 * 8)
}

impl<G: GuestMemory> GuestMemory for &G {
    fn read_u64(&self, gpa: u64) -> Result<u64, Fault> {
        (**self).read_u64(gpa)
    }
    fn compare_exchange_u64(
        &self,
        gpa: u64,
        old: u64,
        new: u64,
    ) -> Result<Result<u64, u64>, Fault> {
        (**self).compare_exchange_u64(gpa, old, new)
    }
}
