//! A paging domain's table with its format erased: every `pt` format behind one object-safe
//! trait, so that one paging domain serves tables whose format a model picks at allocation
//! (first or second stage, v1 or v2, a granule).

use crate::driver::pt_glue::DynRecorder;
use std::fmt::Debug;
use uiommu_pt::{
    Access, DirtyRecorder, Format, Gather, PATH_LEN, PageTable, Prot, PtError, Translation,
    WalkFault,
};

/// A page table of some format, in memory uiommu owns.
pub trait IoTable: Send + Sync + Debug {
    /// Page sizes it maps with.
    fn pgsize_bitmap(&self) -> u64;
    /// First and last translatable IOVA.
    fn aperture(&self) -> (u64, u64);
    /// Number of levels.
    fn levels(&self) -> u32;
    /// [`PageTable::map`].
    fn map(&self, iova: u64, oa: u64, len: u64, prot: Prot, g: &mut Gather) -> Result<(), PtError>;
    /// [`PageTable::unmap`].
    fn unmap(&self, iova: u64, len: u64, g: &mut Gather) -> u64;
    /// [`PageTable::iova_to_phys`].
    fn iova_to_phys(&self, iova: u64) -> Option<u64>;
    /// [`PageTable::translate`].
    fn translate(&self, iova: u64, access: Access) -> Result<Translation, WalkFault>;
    /// [`PageTable::read_and_clear_dirty`].
    fn read_and_clear_dirty(
        &self,
        iova: u64,
        len: u64,
        no_clear: bool,
        out: &mut dyn DirtyRecorder,
        g: &mut Gather,
    ) -> Result<(), PtError>;
    /// [`PageTable::release`].
    fn release(&self, g: &mut Gather);
    /// [`PageTable::set_dirty`].
    fn set_dirty(&self, iova: u64) -> Result<(), PtError>;
    /// [`PageTable::root`]: the address of the top-level table.
    fn root(&self) -> u64;
    /// [`PageTable::for_each_leaf`].
    fn for_each_leaf(&self, f: &mut dyn FnMut(u64, &[u64; PATH_LEN])) -> Result<(), PtError>;
}

impl<F: Format + Send + Sync + Debug> IoTable for PageTable<F> {
    fn pgsize_bitmap(&self) -> u64 {
        PageTable::pgsize_bitmap(self)
    }
    fn aperture(&self) -> (u64, u64) {
        PageTable::aperture(self)
    }
    fn levels(&self) -> u32 {
        PageTable::levels(self)
    }
    fn map(&self, iova: u64, oa: u64, len: u64, prot: Prot, g: &mut Gather) -> Result<(), PtError> {
        PageTable::map(self, iova, oa, len, prot, g)
    }
    fn unmap(&self, iova: u64, len: u64, g: &mut Gather) -> u64 {
        PageTable::unmap(self, iova, len, g)
    }
    fn iova_to_phys(&self, iova: u64) -> Option<u64> {
        PageTable::iova_to_phys(self, iova)
    }
    fn translate(&self, iova: u64, access: Access) -> Result<Translation, WalkFault> {
        PageTable::translate(self, iova, access)
    }
    fn read_and_clear_dirty(
        &self,
        iova: u64,
        len: u64,
        no_clear: bool,
        out: &mut dyn DirtyRecorder,
        g: &mut Gather,
    ) -> Result<(), PtError> {
        PageTable::read_and_clear_dirty(self, iova, len, no_clear, &mut DynRecorder(out), g)
    }
    fn release(&self, g: &mut Gather) {
        PageTable::release(self, g)
    }
    fn set_dirty(&self, iova: u64) -> Result<(), PtError> {
        PageTable::set_dirty(self, iova)
    }
    fn root(&self) -> u64 {
        PageTable::root(self)
    }
    fn for_each_leaf(&self, f: &mut dyn FnMut(u64, &[u64; PATH_LEN])) -> Result<(), PtError> {
        PageTable::for_each_leaf(self, f)
    }
}
