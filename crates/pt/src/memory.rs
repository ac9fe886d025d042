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

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

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

/// Default reservation: 1 GiB of table memory (2^18 tables of 4 KiB).
const DEFAULT_BYTES_LG2: u32 = 30;
/// Smallest reservation tried when the system refuses a larger one.
const MIN_BYTES_LG2: u32 = 20;

/// Tables owned by uiommu: one flat, zero-allocated arena of `AtomicU64`.
///
/// The arena is reserved once and never moves, so a table is found from its
/// address with a shift and no lock. The reservation is virtual: the system
/// hands out zeroed pages only as tables are first written, so an unused
/// reservation costs address space, not memory. A table's "physical
/// address" is `(id + 1) << table_bytes_lg2`; address 0 is never a table.
/// When the reservation is used up, allocation fails with ENOMEM.
#[derive(Debug)]
pub struct OwnedTables {
    items_lg2: u32,
    words: Box<[AtomicU64]>,
    next: AtomicU64,
    free: Mutex<Vec<u64>>,
    capacity: u64,
}

impl OwnedTables {
    /// An arena of tables with `1 << items_lg2` entries each, 1 GiB reserved.
    pub fn new(items_lg2: u32) -> Self {
        Self::with_limit(items_lg2, (1u64 << DEFAULT_BYTES_LG2) >> (items_lg2 + 3))
    }

    /// An arena holding at most `limit` tables (fewer if the system refuses
    /// the reservation; see [`OwnedTables::capacity`]).
    pub fn with_limit(items_lg2: u32, limit: u64) -> Self {
        let per_table = 1usize << items_lg2;
        let mut tables = limit.clamp(1, 1 << 40) as usize;
        loop {
            match <[AtomicU64]>::new_box_zeroed_with_elems(tables.saturating_mul(per_table)) {
                Ok(words) => {
                    return OwnedTables {
                        items_lg2,
                        words,
                        next: AtomicU64::new(0),
                        free: Mutex::new(Vec::new()),
                        capacity: tables as u64,
                    };
                }
                Err(_) if tables * per_table * 8 > 1 << MIN_BYTES_LG2 => tables /= 2,
                Err(_) => {
                    return OwnedTables {
                        items_lg2,
                        words: Box::new([]),
                        next: AtomicU64::new(0),
                        free: Mutex::new(Vec::new()),
                        capacity: 0,
                    };
                }
            }
        }
    }

    /// Number of tables the arena can hold.
    pub fn capacity(&self) -> u64 {
        self.capacity
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
    fn slice(&self, id: u64) -> Option<&[AtomicU64]> {
        let start = (id as usize).checked_mul(1 << self.items_lg2)?;
        self.words.get(start..start + (1 << self.items_lg2))
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
        // Ids not yet allocated land in zeroed arena memory or outside it;
        // either way nothing beyond the arena is reached.
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
                let id = self.next.fetch_add(1, Ordering::Relaxed);
                if id >= self.capacity {
                    self.next.fetch_sub(1, Ordering::Relaxed);
                    return Err(PtError::NoMemory);
                }
                id
            }
        };
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
