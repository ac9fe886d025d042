//! The paging domain of every hardware model: a table of any `pt` format ([`IoTable`]) with
//! the iommu_domain_ops the kernel drivers share — map, unmap with the IOTLB flush of what
//! went away, page sizes, aperture, `iova_to_phys`, dirty tracking and read-and-clear — and
//! the DMA engine's walk of the table. The model adds its tag and its hardware's
//! invalidation and fault reporting through [`PagingHooks`].

use super::table::IoTable;
use crate::driver::pt_glue::pt_errno;
use crate::iommu::PhysDevice;
use crate::iommu::domain::{DirtyRecorder, IoptDomain, Prot};
use crate::iommu::domain::{Domain, DomainType};
use crate::iommu::translate::{DmaDomain, DmaFault, DmaMemory, FaultReason, Stage, Walked};
use crate::iotlb::Iotlb;
use std::any::Any;
use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use uiommu_pt::{Access, Gather};
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;

/// What a model adds to its paging domains: the per-domain state its hardware tags cached
/// translations with, and what the hardware does around the shared operations.
pub trait PagingHooks: Debug + Send + Sync + 'static {
    /// The IOTLB of the unit `dev` sits behind and this domain's tag in it
    /// ([`DmaDomain::hw`]).
    fn hw(&self, dev: &PhysDevice) -> Option<(Arc<Iotlb>, u16)>;

    /// Entries of `iova..=last` went away (unmapped, or dirty bits cleared): the IOTLB
    /// invalidation the driver issues, including what nested domains over this one cached.
    fn flush(&self, iova: u64, last: u64);

    /// [`DmaDomain::page_requests`].
    fn page_requests(&self, _dev: &PhysDevice) -> bool {
        false
    }

    /// [`DmaDomain::record_fault`].
    fn record_fault(&self, _dev: &PhysDevice, _fault: &DmaFault) {}

    /// `set_dirty_tracking` of a domain allocated without dirty tracking (iommufd only asks
    /// a domain with `dirty_ops`): the driver's answer. Turning tracking off always works
    /// unless the driver says otherwise.
    fn untracked(enable: bool) -> Result<()> {
        if enable { Err(Errno::EINVAL) } else { Ok(()) }
    }

    /// The aperture where the model's is narrower than the table's.
    fn aperture(&self) -> Option<(u64, u64)> {
        None
    }

    /// Whether devices DMA through the domain's table ([`Domain::dma`]); a model without
    /// a DMA path says no.
    const DMA: bool = true;
}

/// A paging domain's state, shared with the nested domains over it.
#[derive(Debug)]
pub struct Paging<H> {
    /// The table.
    pub table: Box<dyn IoTable>,
    /// The translation stage the table is walked as (faults report it).
    pub stage: Stage,
    pgsize_bitmap: u64,
    /// Allocated with `IOMMU_HWPT_ALLOC_NEST_PARENT`.
    pub nest_parent: bool,
    /// Allocated with dirty tracking (`domain->dirty_ops`).
    pub dirty_ops: bool,
    /// Dirty tracking enabled.
    tracking: AtomicBool,
    /// The model's part.
    pub hooks: H,
}

impl<H: PagingHooks> Paging<H> {
    /// The page sizes (the table's, as allocated).
    pub fn pgsize_bitmap(&self) -> u64 {
        self.pgsize_bitmap
    }

    /// Whether dirty tracking is on.
    pub fn tracking(&self) -> bool {
        self.tracking.load(Ordering::Acquire)
    }

    /// The walk of the table for a DMA `access`, faults reported at the table's stage.
    pub fn walk(&self, iova: u64, access: Access) -> std::result::Result<Walked, FaultReason> {
        self.table
            .translate(iova, access)
            .map(|t| Walked {
                phys: t.phys,
                page_lg2: t.page_lg2,
            })
            .map_err(|f| FaultReason::from_walk(self.stage, f))
    }

    /// After entries of `iova..iova+len` went away.
    fn flush(&self, iova: u64, len: u64) {
        self.hooks
            .flush(iova, iova.saturating_add(len.saturating_sub(1)));
    }

    fn release(&self, mut gather: Gather) {
        self.table.release(&mut gather);
    }
}

/// A paging domain of the model whose hooks are `H`.
#[derive(Debug)]
pub struct PagingDomain<H> {
    /// The state nested domains share.
    pub inner: Arc<Paging<H>>,
}

impl<H: PagingHooks> PagingDomain<H> {
    /// A domain over `table`, walked as `stage`.
    pub fn build(
        table: Box<dyn IoTable>,
        stage: Stage,
        nest_parent: bool,
        dirty_ops: bool,
        hooks: H,
    ) -> Self {
        PagingDomain {
            inner: Arc::new(Paging {
                pgsize_bitmap: table.pgsize_bitmap(),
                table,
                stage,
                nest_parent,
                dirty_ops,
                tracking: AtomicBool::new(false),
                hooks,
            }),
        }
    }

    /// The model's part.
    pub fn hooks(&self) -> &H {
        &self.inner.hooks
    }

    /// Allocated as a nest parent.
    pub fn is_nest_parent(&self) -> bool {
        self.inner.nest_parent
    }

    /// Whether dirty tracking is on.
    pub fn tracking(&self) -> bool {
        self.inner.tracking()
    }

    /// Marks `iova` dirty as the hardware would on a device write.
    pub fn set_dirty(&self, iova: u64) -> Result<()> {
        self.inner.table.set_dirty(iova).map_err(pt_errno)
    }
}

impl<H: PagingHooks> IoptDomain for PagingDomain<H> {
    fn pgsize_bitmap(&self) -> u64 {
        self.inner.pgsize_bitmap
    }

    fn aperture(&self) -> (u64, u64) {
        let hooks = &self.inner.hooks;
        hooks
            .aperture()
            .unwrap_or_else(|| self.inner.table.aperture())
    }

    /// Not-present entries are never cached by the models (no caching mode, no NpCache):
    /// a map invalidates nothing.
    fn map(&self, iova: u64, oa: u64, len: u64, prot: Prot) -> Result<()> {
        let mut gather = Gather::default();
        let r = self.inner.table.map(iova, oa, len, prot, &mut gather);
        self.inner.release(gather);
        r.map_err(pt_errno)
    }

    /// Unmaps, flushes the IOTLB, then frees the tables that went away.
    fn unmap(&self, iova: u64, len: u64) {
        let mut gather = Gather::default();
        self.inner.table.unmap(iova, len, &mut gather);
        self.inner.flush(iova, len);
        self.inner.release(gather);
    }

    fn has_dirty_tracking(&self) -> bool {
        self.inner.dirty_ops
    }

    /// Dirty tracking on or off in the entries that point at the domain (SSADE, `DTE[HAD]`,
    /// CD.HD).
    fn set_dirty_tracking(&self, enable: bool) -> Result<()> {
        if !self.inner.dirty_ops {
            return H::untracked(enable);
        }
        self.inner.tracking.store(enable, Ordering::Release);
        Ok(())
    }

    /// The table's dirty bits; cleared ones are invalidated so that the next write walks and
    /// sets them again.
    fn read_and_clear_dirty(
        &self,
        iova: u64,
        len: u64,
        no_clear: bool,
        out: &mut dyn DirtyRecorder,
    ) -> Result<()> {
        if !self.inner.dirty_ops {
            return Err(Errno::EOPNOTSUPP);
        }
        let mut gather = Gather::default();
        let r = self
            .inner
            .table
            .read_and_clear_dirty(iova, len, no_clear, out, &mut gather)
            .map_err(pt_errno);
        if !no_clear && r.is_ok() {
            self.inner.flush(iova, len);
        }
        self.inner.release(gather);
        r
    }
}

impl<H: PagingHooks> Domain for PagingDomain<H> {
    fn domain_type(&self) -> DomainType {
        DomainType::Paging
    }

    fn iova_to_phys(&self, iova: u64) -> Option<u64> {
        self.inner.table.iova_to_phys(iova)
    }

    fn dma(&self) -> Option<&dyn DmaDomain> {
        if H::DMA { Some(self) } else { None }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl<H: PagingHooks> DmaDomain for PagingDomain<H> {
    fn hw(&self, dev: &PhysDevice) -> Option<(Arc<Iotlb>, u16)> {
        self.inner.hooks.hw(dev)
    }

    fn walk(
        &self,
        _pasid: u32,
        iova: u64,
        access: Access,
        _mem: &DmaMemory,
    ) -> std::result::Result<Walked, FaultReason> {
        self.inner.walk(iova, access)
    }

    fn page_requests(&self, dev: &PhysDevice) -> bool {
        self.inner.hooks.page_requests(dev)
    }

    fn record_fault(&self, dev: &PhysDevice, fault: &DmaFault) {
        self.inner.hooks.record_fault(dev, fault);
    }
}
