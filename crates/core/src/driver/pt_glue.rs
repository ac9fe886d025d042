//! What the drivers' page-table domains share in front of `pt`: its errors as the kernel's
//! errno, and a sized dirty-bit recorder for the generic table walker.

use uiommu_pt::{DirtyRecorder, PtError};
use uiommu_uapi::Errno;

/// The errno the kernel's io-pgtable code gives for a page-table error.
pub(crate) fn pt_errno(e: PtError) -> Errno {
    Errno(e.errno())
}

/// Passes a `dyn` recorder to the page table's generic walker.
pub(crate) struct DynRecorder<'a>(pub &'a mut dyn DirtyRecorder);

impl DirtyRecorder for DynRecorder<'_> {
    fn record(&mut self, iova: u64, len: u64) {
        self.0.record(iova, len);
    }
}
