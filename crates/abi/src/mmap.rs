//! `mmap(2)` of an iommufd fd (`main.c`: `iommufd_fops_mmap`), after the generic checks the
//! front end makes (`do_mmap`: offset page aligned, length non-zero; the mapping shared and
//! not executable).

use std::sync::Arc;
use uiommu_core::context::Context;
use uiommu_core::ioas::PAGE_SIZE;
use uiommu_core::mmap::MmapHold;
use uiommu_uapi::errno::Result;

/// A mapping of a region of the context. It keeps the region's owner in use (so that object
/// cannot be destroyed: `EBUSY`) and the context alive, as a VMA does; drop it at `munmap`.
#[derive(Debug)]
pub struct Mapping {
    hold: MmapHold,
    _ctx: Arc<Context>,
}

impl Mapping {
    /// The host address of the region's memory: what `mmap` returns.
    pub fn addr(&self) -> u64 {
        self.hold.addr()
    }

    /// The mapping's length in bytes.
    pub fn len(&self) -> u64 {
        self.hold.len()
    }

    /// Whether the mapping is empty (never).
    pub fn is_empty(&self) -> bool {
        self.hold.is_empty()
    }
}

/// `mmap(NULL, length, …, MAP_SHARED, iommufd, offset)` once `do_mmap`'s and the shared/exec
/// checks passed: `offset` must be the exact start of a region registered by an object of
/// the context and `length` (rounded up to pages, as the VMA is) its exact length; `ENXIO`
/// otherwise, also while the owner is being destroyed.
pub fn mmap(ctx: &Context, offset: u64, length: u64) -> Result<Mapping> {
    let length = length
        .checked_next_multiple_of(PAGE_SIZE)
        .ok_or(uiommu_uapi::Errno::ENOMEM)?;
    let hold = ctx.mmap(offset, length)?;
    Ok(Mapping {
        hold,
        _ctx: ctx.arc(),
    })
}
