//! The recorded BAR mappings: address range → device file, BAR and offset, in a fixed array of
//! slots that the fault handler reads without allocating or locking.
//!
//! Writers (`mmap`, `munmap`) are serialised by a mutex the handler never takes. A reader
//! announces itself in a slot's `busy` count before it reads the slot's range, and leaves it
//! when done with the device; a writer that retires a slot clears its range first, then waits
//! for `busy` to drain before it drops the device reference, so a handler never uses a freed
//! device. Both sides use sequentially consistent operations, which makes the "announce, then
//! read" and "clear, then wait" pairs see each other.

use crate::device::OpenDevice;
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, PoisonError};

/// The most BAR mappings a process holds at once (a device has at most six BARs).
pub const SLOTS: usize = 64;

/// One recorded mapping; `start == 0` marks a free slot.
struct Slot {
    start: AtomicUsize,
    len: AtomicUsize,
    /// BAR << 56 | offset of `start` in the BAR.
    place: AtomicU64,
    dev: AtomicPtr<OpenDevice>,
    busy: AtomicUsize,
}

impl Slot {
    const fn new() -> Self {
        Slot {
            start: AtomicUsize::new(0),
            len: AtomicUsize::new(0),
            place: AtomicU64::new(0),
            dev: AtomicPtr::new(std::ptr::null_mut()),
            busy: AtomicUsize::new(0),
        }
    }
}

static TABLE: [Slot; SLOTS] = [const { Slot::new() }; SLOTS];
static WRITER: Mutex<()> = Mutex::new(());

/// A recorded mapping as `mmap` made it.
#[derive(Clone)]
pub struct Record {
    /// First address.
    pub start: usize,
    /// Length in bytes (whole pages).
    pub len: usize,
    /// The BAR.
    pub bar: u8,
    /// Offset of `start` in the BAR.
    pub offset: u64,
    /// The device file.
    pub dev: Arc<OpenDevice>,
}

/// Records `r`; `ENOMEM` when every slot is taken.
pub fn insert(r: Record) -> Result<(), crate::sys::Errno> {
    let _w = WRITER.lock().unwrap_or_else(PoisonError::into_inner);
    put(r)
}

fn put(r: Record) -> Result<(), crate::sys::Errno> {
    let slot = TABLE
        .iter()
        .find(|s| s.start.load(SeqCst) == 0)
        .ok_or(libc::ENOMEM)?;
    slot.len.store(r.len, SeqCst);
    slot.place.store(u64::from(r.bar) << 56 | r.offset, SeqCst);
    slot.dev.store(Arc::into_raw(r.dev).cast_mut(), SeqCst);
    slot.start.store(r.start, SeqCst);
    Ok(())
}

/// Takes `addr..addr + len` out of every record it overlaps (a record cut in the middle
/// becomes two; with every slot taken, the part past the hole is no longer served). True if
/// any record was touched.
pub fn remove(addr: usize, len: usize) -> bool {
    let end = addr.saturating_add(len);
    let _w = WRITER.lock().unwrap_or_else(PoisonError::into_inner);
    let mut touched = false;
    for slot in &TABLE {
        let s = slot.start.load(SeqCst);
        let e = s + slot.len.load(SeqCst);
        if s == 0 || e <= addr || end <= s {
            continue;
        }
        touched = true;
        let place = slot.place.load(SeqCst);
        slot.start.store(0, SeqCst);
        while slot.busy.load(SeqCst) != 0 {
            std::thread::yield_now();
        }
        let ptr = slot.dev.swap(std::ptr::null_mut(), SeqCst);
        // SAFETY: `ptr` came from `Arc::into_raw` in `put`, and the slot no longer publishes
        // it: no reader holds it (busy drained after the range was cleared).
        let dev = unsafe { Arc::from_raw(ptr) };
        let (bar, offset) = ((place >> 56) as u8, place & ((1 << 56) - 1));
        let piece = |from: usize, to: usize| Record {
            start: from,
            len: to - from,
            bar,
            offset: offset + (from - s) as u64,
            dev: Arc::clone(&dev),
        };
        // Pieces fit: the slot just freed takes the first of them.
        if s < addr {
            let _ = put(piece(s, addr));
        }
        if end < e {
            let _ = put(piece(end, e));
        }
    }
    touched
}

/// The record holding `addr`, from `addr` on (`offset` is `addr`'s in the BAR).
pub fn at(addr: usize) -> Option<Record> {
    let _w = WRITER.lock().unwrap_or_else(PoisonError::into_inner);
    TABLE.iter().find_map(|slot| {
        let s = slot.start.load(SeqCst);
        let len = slot.len.load(SeqCst);
        if s == 0 || addr < s || addr - s >= len {
            return None;
        }
        let place = slot.place.load(SeqCst);
        let ptr = slot.dev.load(SeqCst);
        // SAFETY: the slot holds one count of this `Arc` while its range is set, and only a
        // writer (excluded by `WRITER`) releases it: taking another count is sound.
        unsafe { Arc::increment_strong_count(ptr) };
        // SAFETY: the count just taken is the one this `Arc` owns.
        let dev = unsafe { Arc::from_raw(ptr) };
        Some(Record {
            start: addr,
            len: len - (addr - s),
            bar: (place >> 56) as u8,
            offset: (place & ((1 << 56) - 1)) + (addr - s) as u64,
            dev,
        })
    })
}

/// The parts of `addr..addr + len` that records hold, as `(start, len)`, ascending.
pub fn pieces(addr: usize, len: usize) -> Vec<(usize, usize)> {
    let _w = WRITER.lock().unwrap_or_else(PoisonError::into_inner);
    let end = addr.saturating_add(len);
    let mut out: Vec<(usize, usize)> = TABLE
        .iter()
        .filter_map(|slot| {
            let s = slot.start.load(SeqCst);
            let e = s.saturating_add(slot.len.load(SeqCst));
            let (from, to) = (s.max(addr), e.min(end));
            (s != 0 && from < to).then(|| (from, to - from))
        })
        .collect();
    out.sort_unstable();
    out
}

/// True if `addr..addr + len` overlaps a record.
pub fn overlaps(addr: usize, len: usize) -> bool {
    let end = addr.saturating_add(len);
    TABLE.iter().any(|slot| {
        let s = slot.start.load(SeqCst);
        s != 0 && s < end && addr < s + slot.len.load(SeqCst)
    })
}

/// Runs `f` with the device, BAR and BAR offset of the byte at `addr`, if a record holds it;
/// allocation- and lock-free (callable from a signal handler).
pub fn with<R>(addr: usize, f: impl FnOnce(&OpenDevice, u8, u64) -> R) -> Option<R> {
    for slot in &TABLE {
        slot.busy.fetch_add(1, SeqCst);
        let s = slot.start.load(SeqCst);
        if s != 0 && addr >= s && addr - s < slot.len.load(SeqCst) {
            let place = slot.place.load(SeqCst);
            let ptr = slot.dev.load(SeqCst);
            // SAFETY: the slot publishes `ptr` (a live `Arc`) while its range is set, and we
            // are counted in `busy`, so `remove` keeps it alive until we leave.
            let dev = unsafe { &*ptr };
            let off = (place & ((1 << 56) - 1)) + (addr - s) as u64;
            let r = f(dev, (place >> 56) as u8, off);
            slot.busy.fetch_sub(1, SeqCst);
            return Some(r);
        }
        slot.busy.fetch_sub(1, SeqCst);
    }
    None
}
