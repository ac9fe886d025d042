//! Pinned-page accounting against `RLIMIT_MEMLOCK` (`pages.c`: `iopt_pages_update_pinned`,
//! `incr_user_locked_vm`, `update_mm_locked_vm`; `ioas.c`: `iommufd_option_rlimit_mode`).
//!
//! The kernel charges a pages object's pins to its creator: per user (`user_struct::locked_vm`,
//! `IOMMU_OPTION_RLIMIT_MODE` 0) or per process (`mm_struct::locked_vm`, mode 1), and not at all
//! when the creator has `CAP_IPC_LOCK`. The front end picks the [`PinAccount`] that matches the
//! context's mode when it maps; the pages object keeps it for its whole life, as the kernel keeps
//! `source_user`/`source_mm`.

use std::sync::atomic::{AtomicU64, Ordering};
use uiommu_uapi::{Errno, errno::Result};

/// Where pinned pages are charged.
pub trait PinAccount: Send + Sync {
    /// Charges `npages` more pinned pages; `ENOMEM` (and nothing charged) past the limit.
    fn charge(&self, npages: u64) -> Result<()>;
    /// Returns `npages` previously charged.
    fn uncharge(&self, npages: u64);
}

/// The `IOMMU_OPTION_RLIMIT_MODE` values (`iommufd_option_rlimit_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RlimitMode {
    /// 0: charged to the user, shared by all its processes (`IOPT_PAGES_ACCOUNT_USER`).
    #[default]
    User,
    /// 1: charged to the process, as VFIO type1 does (`IOPT_PAGES_ACCOUNT_MM`).
    Process,
}

impl RlimitMode {
    /// Parses a `val64` of `IOMMU_OPTION_OP_SET`: 0 or 1, else `EINVAL`.
    pub fn from_val64(val: u64) -> Result<Self> {
        match val {
            0 => Ok(Self::User),
            1 => Ok(Self::Process),
            _ => Err(Errno::EINVAL),
        }
    }

    /// The `val64` that `IOMMU_OPTION_OP_GET` reports.
    pub fn val64(self) -> u64 {
        match self {
            Self::User => 0,
            Self::Process => 1,
        }
    }
}

/// A `locked_vm` counter with a limit in pages: one per user or one per process.
///
/// The check is `locked + npages > limit` → `ENOMEM`, as in `incr_user_locked_vm` and
/// `__account_locked_vm`. The limit is read on every charge so the front end can follow
/// `setrlimit`: from a source the front end gives ([`LockedVm::with_source`]), read only when
/// pages are charged as the kernel reads `RLIMIT_MEMLOCK` then, or as last set.
#[derive(Debug)]
pub struct LockedVm {
    locked: AtomicU64,
    limit: AtomicU64,
    source: Option<fn() -> u64>,
}

impl LockedVm {
    /// A counter at zero with `limit_pages` (`RLIMIT_MEMLOCK >> PAGE_SHIFT`).
    pub fn new(limit_pages: u64) -> Self {
        Self {
            locked: AtomicU64::new(0),
            limit: AtomicU64::new(limit_pages),
            source: None,
        }
    }

    /// A counter at zero whose limit in pages is `source()`, called at each charge.
    pub fn with_source(source: fn() -> u64) -> Self {
        Self {
            locked: AtomicU64::new(0),
            limit: AtomicU64::new(0),
            source: Some(source),
        }
    }

    /// Pages charged now.
    pub fn locked(&self) -> u64 {
        self.locked.load(Ordering::SeqCst)
    }

    /// Changes the limit; pages already charged stay charged. A counter with a source keeps
    /// reading the source.
    pub fn set_limit(&self, limit_pages: u64) {
        self.limit.store(limit_pages, Ordering::SeqCst);
    }
}

impl PinAccount for LockedVm {
    fn charge(&self, npages: u64) -> Result<()> {
        let limit = match self.source {
            Some(source) => source(),
            None => self.limit.load(Ordering::SeqCst),
        };
        self.locked
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |cur| {
                cur.checked_add(npages).filter(|&new| new <= limit)
            })
            .map(|_| ())
            .map_err(|_| Errno::ENOMEM)
    }

    fn uncharge(&self, npages: u64) {
        // A mismatch would be our bug; saturate rather than wrap (the kernel WARNs and skips).
        let _ = self
            .locked
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |cur| {
                Some(cur.saturating_sub(npages))
            });
    }
}

/// No accounting: a creator with `CAP_IPC_LOCK` (`IOPT_PAGES_ACCOUNT_NONE`).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoAccount;

impl PinAccount for NoAccount {
    fn charge(&self, _npages: u64) -> Result<()> {
        Ok(())
    }
    fn uncharge(&self, _npages: u64) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_is_inclusive_and_failure_charges_nothing() {
        let vm = LockedVm::new(4);
        vm.charge(3).unwrap();
        assert_eq!(vm.charge(2), Err(Errno::ENOMEM));
        assert_eq!(vm.locked(), 3);
        vm.charge(1).unwrap();
        vm.uncharge(4);
        assert_eq!(vm.locked(), 0);
        vm.set_limit(0);
        assert_eq!(vm.charge(1), Err(Errno::ENOMEM));
        assert_eq!(vm.charge(0), Ok(()));
    }

    #[test]
    fn a_source_is_read_at_each_charge() {
        static LIMIT: AtomicU64 = AtomicU64::new(3);
        let vm = LockedVm::with_source(|| LIMIT.load(Ordering::SeqCst));
        vm.charge(3).unwrap();
        assert_eq!(vm.charge(1), Err(Errno::ENOMEM));
        LIMIT.store(4, Ordering::SeqCst);
        vm.charge(1).unwrap();
        assert_eq!(vm.locked(), 4);
    }

    #[test]
    fn rlimit_mode_values() {
        assert_eq!(RlimitMode::from_val64(1), Ok(RlimitMode::Process));
        assert_eq!(RlimitMode::from_val64(2), Err(Errno::EINVAL));
        assert_eq!(RlimitMode::User.val64(), 0);
    }
}
