//! The NumVFs of the emulated SR-IOV functions, shared by every process of a `uiommu exec`
//! run ([`uiommu_abi::sriov::shared`]): the launcher makes a file of one page and names it
//! in [`STATE_ENV`]; each process maps it shared, and the count of its `N`th PF (in the order
//! of the device list) is the `N`th 16-bit word. Without the variable (the library preloaded by
//! hand), or if the file cannot be mapped, each process keeps its own counts.

use crate::sys;
use std::ffi::CString;
use std::sync::atomic::AtomicU16;
use std::sync::{Arc, OnceLock};
use uiommu_abi::sriov::shared::{NumVfsCell, STATE_ENV, STATE_SIZE as SIZE};

/// The shared counts, mapped at the first call.
fn cells() -> Option<&'static [AtomicU16]> {
    static CELLS: OnceLock<Option<&'static [AtomicU16]>> = OnceLock::new();
    *CELLS.get_or_init(|| {
        let path = CString::new(std::env::var_os(STATE_ENV)?.into_encoded_bytes()).ok()?;
        let fd = sys::open_raw(&path, libc::O_RDWR | libc::O_CLOEXEC, 0).ok()?;
        let prot = libc::PROT_READ | libc::PROT_WRITE;
        let addr = sys::mmap_raw(SIZE, prot, libc::MAP_SHARED, fd);
        sys::close_raw(fd);
        Some(sys::atomics_at(addr.ok()?, SIZE / 2))
    })
}

/// The shared NumVFs of the PF of index `index`, if there is one.
pub fn cell(index: usize) -> Option<Arc<dyn NumVfsCell>> {
    let c: &'static AtomicU16 = cells()?.get(index)?;
    Some(Arc::new(c))
}
