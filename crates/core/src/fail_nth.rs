//! Fault injection by count, as the kernel's `fail-nth` (`Documentation/fault-injection/
//! fault-injection.rst`, `lib/fault-inject.c`: `should_fail_ex`).
//!
//! Each thread has a counter, set through its `/proc/<pid>/task/<tid>/fail-nth` file. While it
//! is non-zero, every injection point the thread passes decrements it, and the point that
//! brings it to zero fails as its allocation would (`ENOMEM`). Reading the file back tells
//! whether the failure happened (0) or the work finished first. The points sit where the
//! kernel allocates on the same paths: objects, areas and pages, IOPTE tables, pins, domains.

use std::cell::Cell;
use uiommu_uapi::{Errno, errno::Result};

thread_local! {
    /// `current->fail_nth`.
    static FAIL_NTH: Cell<u32> = const { Cell::new(0) };
}

/// Sets this thread's counter (a write of the `fail-nth` file); 0 disarms it.
pub fn set(n: u32) {
    FAIL_NTH.with(|c| c.set(n));
}

/// This thread's counter (a read of the `fail-nth` file).
pub fn get() -> u32 {
    FAIL_NTH.with(Cell::get)
}

/// `should_fail`: whether the injection point now passed fails.
pub fn should_fail() -> bool {
    FAIL_NTH.with(|c| match c.get() {
        0 => false,
        n => {
            c.set(n - 1);
            n == 1
        }
    })
}

/// An allocation at an injection point: `ENOMEM` when it is the one to fail.
pub fn alloc() -> Result<()> {
    if should_fail() {
        return Err(Errno::ENOMEM);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nth_point_fails_once() {
        set(3);
        assert_eq!((alloc(), alloc()), (Ok(()), Ok(())));
        assert_eq!(alloc(), Err(Errno::ENOMEM));
        assert_eq!(get(), 0);
        assert_eq!(alloc(), Ok(()));
        set(5);
        alloc().unwrap();
        assert_eq!(get(), 4, "not reached: the count is left");
        set(0);
        assert!(!should_fail());
    }
}
