//! Where a PF's NumVFs is kept. In Linux it is the device's, one for every process; here a
//! front end may keep it in memory every process of a run shares (the preload library maps a
//! file the launcher makes), so that a program `execve` starts, or a forked child, sees the
//! VFs another process enabled — a shell's `echo 1 > sriov_numvfs` followed by `ls`. Without
//! that, it is the process's own (a forked child starts from its parent's count).
//!
//! Only the count is shared: the VF token, its users and the PF's config space are each
//! process's (every object of the front end is), and a process syncs its PF's config space
//! (NumVFs, SR-IOV Control) with the count when it next looks at it ([`super::SriovPf::sync`]).

use std::sync::atomic::{AtomicU16, Ordering};

/// The environment variable naming the file of the shared counts: the launcher makes it,
/// zeroed, [`STATE_SIZE`] bytes; the count of the `N`th PF of the device list is its `N`th
/// native-endian 16-bit word.
pub const STATE_ENV: &str = "UIOMMU_SRIOV_STATE";

/// The file's size: a page, room for 2048 PFs.
pub const STATE_SIZE: usize = 4096;

/// A PF's NumVFs.
pub trait NumVfsCell: Send + Sync {
    /// The count.
    fn load(&self) -> u16;
    /// Sets `new` if the count is `current`; whether it was.
    fn exchange(&self, current: u16, new: u16) -> bool;
}

impl NumVfsCell for AtomicU16 {
    fn load(&self) -> u16 {
        AtomicU16::load(self, Ordering::SeqCst)
    }

    fn exchange(&self, current: u16, new: u16) -> bool {
        self.compare_exchange(current, new, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }
}

/// A cell in memory the front end mapped for the process's life (a shared mapping).
impl NumVfsCell for &'static AtomicU16 {
    fn load(&self) -> u16 {
        NumVfsCell::load(*self)
    }

    fn exchange(&self, current: u16, new: u16) -> bool {
        NumVfsCell::exchange(*self, current, new)
    }
}
