//! VT-d nested domains (`drivers/iommu/intel/nested.c`): a guest's first-stage table, bound
//! from `struct iommu_hwpt_vtd_s1` into scalable-mode PASID entries with translation type
//! "nested" (VT-d spec §9.6: FSPTPTR, FSPM, SRE, WPE, EAFE; the SSPTPTR of the nest parent),
//! and their invalidation by `struct iommu_hwpt_vtd_s1_invalidate` (§6.5.2.4 PASID-based IOTLB
//! invalidation).
//!
//! The guest's table lives in guest memory: every table address it holds is a guest-physical
//! address, translated by the nest parent (the second stage) and read from the owning process's
//! memory. A walk is the nested 2-D walk of §3.8: each first-stage table read and the final
//! output go through the second stage.

use super::VtdDev;
use super::paging::{PagingInner, Table};
use super::regs::VtdConfig;
use super::tag::DomainTag;
use crate::iommu::PhysDevice;
use crate::iommu::domain::{Domain, DomainType};
use crate::iommu::translate::{DmaDomain, DmaFault, DmaMemory, FaultReason, Stage, Walked};
use crate::iotlb::Iotlb;
use crate::iotlb::s2cache::S2Cache;
use std::any::Any;
use std::sync::{Arc, PoisonError};
use uiommu_pt::{
    Access, Entry, Fault, Format, GuestMemory, GuestTables, PageTable, TableMemory, VtdSs,
    WalkFault, X86_64,
};
use uiommu_uapi::copy::UserDataArray;
use uiommu_uapi::errno::Result;
use uiommu_uapi::iommufd::{
    IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, IOMMU_VTD_INV_FLAGS_LEAF, IOMMU_VTD_S1_EAFE,
    IOMMU_VTD_S1_SRE, IommuHwptVtdS1, IommuHwptVtdS1Invalidate,
};
use uiommu_uapi::{Errno, UserMemory, offset_of_end};

/// `ADDR_WIDTH_4LEVEL`.
pub const ADDR_WIDTH_4LEVEL: u32 = 48;
/// `ADDR_WIDTH_5LEVEL`.
pub const ADDR_WIDTH_5LEVEL: u32 = 57;
/// `VTD_PAGE_SIZE`.
const VTD_PAGE_SIZE: u64 = 4096;

/// A VT-d nested domain (`struct dmar_domain` with `s2_domain` and `s1_cfg`).
#[derive(Debug)]
pub struct VtdNested {
    pub(crate) tag: Arc<DomainTag>,
    /// The nest parent.
    pub(crate) parent: Arc<PagingInner>,
    /// The guest's configuration.
    pub s1: IommuHwptVtdS1,
}

impl VtdNested {
    /// A nested domain over `parent` (a second-stage nest parent) from `s1`.
    pub(crate) fn new(parent: Arc<PagingInner>, s1: IommuHwptVtdS1) -> Result<Self> {
        let tag = DomainTag::new()?;
        parent
            .children
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::clone(&tag));
        Ok(VtdNested { tag, parent, s1 })
    }

    /// The domain ID.
    pub fn did(&self) -> u16 {
        self.tag.did
    }

    /// `intel_pasid_setup_nested`'s checks of the guest's configuration against the unit:
    /// 4-level always, 5-level only with FS5LP, supervisor requests only with SRS, the
    /// extended accessed flag only with EAFS; `EINVAL` otherwise.
    pub(crate) fn check_setup(&self, cfg: &VtdConfig) -> Result<()> {
        match self.s1.addr_width {
            ADDR_WIDTH_4LEVEL => {}
            ADDR_WIDTH_5LEVEL if cfg.fs5lp() => {}
            _ => return Err(Errno::EINVAL),
        }
        if self.s1.flags & IOMMU_VTD_S1_SRE != 0 && !cfg.srs() {
            return Err(Errno::EINVAL);
        }
        if self.s1.flags & IOMMU_VTD_S1_EAFE != 0 && !cfg.eafs() {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }

    fn levels(&self) -> u32 {
        if self.s1.addr_width == ADDR_WIDTH_5LEVEL {
            5
        } else {
            4
        }
    }
}

impl Drop for VtdNested {
    /// `intel_nested_domain_free`: off the parent's list.
    fn drop(&mut self) {
        self.parent
            .children
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|t| !Arc::ptr_eq(t, &self.tag));
    }
}

crate::impl_no_paging!(VtdNested);

/// Guest-physical memory as the nested walk sees it: through the second stage, then the
/// owning process's memory. Table reads use the parent's cache of second-stage translations;
/// accessed/dirty updates of first-stage entries are writes through a full second-stage walk.
struct ThroughStage2<'a> {
    s2: &'a PageTable<VtdSs>,
    cache: &'a S2Cache,
    mem: &'a DmaMemory,
}

impl ThroughStage2<'_> {
    fn host(&self, gpa: u64, access: Access) -> std::result::Result<u64, Fault> {
        let cacheable = access == Access::Read;
        if cacheable && let Some(hpa) = self.cache.lookup(gpa) {
            return Ok(hpa);
        }
        let epoch = self.cache.begin();
        let hpa = self
            .s2
            .translate(gpa, access)
            .map(|t| t.phys)
            .map_err(|_| Fault { addr: gpa })?;
        if cacheable {
            self.cache.fill(epoch, gpa, hpa);
        }
        Ok(hpa)
    }
}

impl GuestMemory for ThroughStage2<'_> {
    fn read_u64(&self, gpa: u64) -> std::result::Result<u64, Fault> {
        let hpa = self.host(gpa, Access::Read)?;
        let mut b = [0u8; 8];
        self.mem
            .read(hpa, &mut b)
            .map_err(|_| Fault { addr: gpa })?;
        Ok(u64::from_le_bytes(b))
    }

    /// Compare and store through [`UserMemory`], which has no atomic exchange: atomic against
    /// other walks of this engine only as far as the memory's own accesses are.
    fn compare_exchange_u64(
        &self,
        gpa: u64,
        old: u64,
        new: u64,
    ) -> std::result::Result<std::result::Result<u64, u64>, Fault> {
        let hpa = self.host(gpa, Access::Write)?;
        let mut b = [0u8; 8];
        self.mem
            .read(hpa, &mut b)
            .map_err(|_| Fault { addr: gpa })?;
        let cur = u64::from_le_bytes(b);
        if cur != old {
            return Ok(Err(cur));
        }
        self.mem
            .write(hpa, &new.to_le_bytes())
            .map_err(|_| Fault { addr: gpa })?;
        Ok(Ok(old))
    }
}

/// The hardware walk of the guest's first-stage table (§3.6, x86-64 paging entries §9.7) at
/// `root` with `levels` levels: every entry on the path must permit `access`, accessed and
/// dirty bits are set with compare-and-exchange through the second stage. Returns the
/// guest-physical output address and the page size.
///
/// The walk of [`PageTable::translate`] over [`GuestTables`], inlined here because a guest
/// table has no `PageTable` of its own to keep: building one per walk would cost more than
/// the walk.
fn walk_first_stage<G: GuestMemory>(
    tables: &GuestTables<G>,
    root: u64,
    levels: u32,
    iova: u64,
    access: Access,
) -> std::result::Result<(u64, u32), WalkFault> {
    let fmt = X86_64;
    let items_lg2 = <X86_64 as Format>::ITEMS_LG2;
    let top = levels - 1;
    let width = X86_64::item_lg2(top) + items_lg2;
    if width < 64 && iova >> width != 0 {
        return Err(WalkFault::OutOfRange);
    }
    let mut table = tables.table(root, items_lg2)?;
    let mut level = top;
    loop {
        let index = ((iova >> X86_64::item_lg2(level)) & ((1 << items_lg2) - 1)) as usize;
        let mut e = tables.load(table, index)?;
        let decoded = fmt.decode(level, e);
        let leaf = match decoded {
            Entry::Empty => return Err(WalkFault::NotPresent { level }),
            Entry::Table(_) if level == 0 => return Err(WalkFault::NotPresent { level }),
            Entry::Leaf { .. } => true,
            Entry::Table(_) => false,
        };
        if !fmt.permits(level, e, leaf, access) {
            return Err(WalkFault::Permission { level });
        }
        loop {
            let new = fmt.walked(level, e, leaf, access);
            if new == e {
                break;
            }
            match tables.compare_exchange(table, index, e, new)? {
                Ok(_) => break,
                Err(cur) if fmt.decode(level, cur) == decoded => e = cur,
                Err(_) => return Err(WalkFault::NotPresent { level }),
            }
        }
        match decoded {
            Entry::Leaf { oa, size_lg2 } => {
                return Ok((oa | (iova & ((1u64 << size_lg2) - 1)), size_lg2));
            }
            Entry::Table(pa) => {
                table = tables.table(pa, items_lg2)?;
                level -= 1;
            }
            Entry::Empty => return Err(WalkFault::NotPresent { level }),
        }
    }
}

impl Domain for VtdNested {
    fn domain_type(&self) -> DomainType {
        DomainType::Nested
    }

    /// `intel_nested_cache_invalidate_user`: each entry is checked and, if valid, sent as
    /// PASID-based IOTLB invalidations to every PASID the domain is used at. The count is of
    /// the entries handled before the first error.
    fn cache_invalidate_user(
        &self,
        requests: &UserDataArray,
        mem: &dyn UserMemory,
    ) -> Option<(u32, Result<()>)> {
        if requests.data_type != IOMMU_HWPT_INVALIDATE_DATA_VTD_S1 {
            return Some((0, Err(Errno::EINVAL)));
        }
        let min_len = offset_of_end!(IommuHwptVtdS1Invalidate, __reserved);
        let mut done = 0;
        for i in 0..requests.entry_num {
            let inv: IommuHwptVtdS1Invalidate =
                match requests.read_entry(&mem, IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, i, min_len) {
                    Ok(inv) => inv,
                    Err(e) => return Some((done, Err(e))),
                };
            if inv.flags & !IOMMU_VTD_INV_FLAGS_LEAF != 0 || inv.__reserved != 0 {
                return Some((done, Err(Errno::EOPNOTSUPP)));
            }
            if inv.addr % VTD_PAGE_SIZE != 0 || (inv.npages == u64::MAX && inv.addr != 0) {
                return Some((done, Err(Errno::EINVAL)));
            }
            if inv.npages == u64::MAX {
                self.tag.flush_pasids(None);
            } else if inv.npages != 0 {
                let len = inv.npages.saturating_mul(VTD_PAGE_SIZE);
                let last = inv.addr.saturating_add(len - 1);
                self.tag.flush_pasids(Some((inv.addr, last)));
            }
            done += 1;
        }
        Some((done, Ok(())))
    }

    fn dma(&self) -> Option<&dyn DmaDomain> {
        Some(self)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl DmaDomain for VtdNested {
    fn hw(&self, dev: &PhysDevice) -> Option<(Arc<Iotlb>, u16)> {
        dev.state::<VtdDev>()
            .map(|d| (Arc::clone(&d.unit.iotlb), self.tag.did))
    }

    /// The nested walk: the guest's first-stage table read through the second stage, then
    /// the guest-physical output through the second stage. The page cached is the smaller of
    /// the two stages' pages.
    fn walk(
        &self,
        _pasid: u32,
        iova: u64,
        access: Access,
        mem: &DmaMemory,
    ) -> std::result::Result<Walked, FaultReason> {
        let Table::Second(s2) = &self.parent.table else {
            return Err(FaultReason::Unsupported);
        };
        let guest = GuestTables {
            mem: ThroughStage2 {
                s2,
                cache: &self.parent.s2_cache,
                mem,
            },
        };
        let (gpa, s1_lg2) =
            walk_first_stage(&guest, self.s1.pgtbl_addr, self.levels(), iova, access)
                .map_err(|f| FaultReason::from_walk(Stage::First, f))?;
        let t2 = s2
            .translate(gpa, access)
            .map_err(|f| FaultReason::from_walk(Stage::Second, f))?;
        Ok(Walked {
            phys: t2.phys,
            page_lg2: s1_lg2.min(t2.page_lg2),
        })
    }

    fn page_requests(&self, dev: &PhysDevice) -> bool {
        dev.state::<VtdDev>()
            .is_some_and(VtdDev::takes_page_requests)
    }

    fn record_fault(&self, dev: &PhysDevice, fault: &DmaFault) {
        if let Some(d) = dev.state::<VtdDev>() {
            d.unit.record(d.source_id, fault);
        }
    }
}
