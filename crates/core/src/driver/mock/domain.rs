//! The selftest mock's domains (`drivers/iommu/iommufd/selftest.c`): paging domains over the
//! 2 KiB-granule AMD v1 mock format, and nested domains that only keep an IOTLB array.

use crate::driver::pt_glue::pt_errno;
use crate::driver::skeleton::invalidate::each_entry;
use crate::driver::skeleton::{PagingDomain, PagingHooks};
use crate::iommu::PhysDevice;
use crate::iommu::domain::{Domain, DomainType};
use crate::iommu::translate::Stage;
use crate::iommu::viommu_core::ViommuCore;
use crate::iotlb::Iotlb;
use std::any::Any;
use std::sync::PoisonError;
use std::sync::{Arc, Mutex};
use uiommu_pt::{AmdV1Mock, Config, PageTable};
use uiommu_uapi::copy::UserDataArray;
use uiommu_uapi::errno::Result;
use uiommu_uapi::selftest::{
    IOMMU_HWPT_INVALIDATE_DATA_SELFTEST, IOMMU_TEST_INVALIDATE_FLAG_ALL,
    IommuHwptInvalidateSelftest, MOCK_APERTURE_LAST, MOCK_APERTURE_START, MOCK_HUGE_PAGE_SIZE,
    MOCK_IOMMUPT_HUGE, MOCK_NESTED_DOMAIN_IOTLB_ID_MAX, MOCK_NESTED_DOMAIN_IOTLB_NUM,
};
use uiommu_uapi::{Errno, UserMemory, offset_of_end};

/// Host page size: huge mock domains must include it in their page sizes so that iommufd
/// accepts them.
const HOST_PAGE_SIZE: u64 = 4096;

/// What the mock keeps per paging domain: the aperture it reports.
#[derive(Debug)]
pub struct MockDomain {
    aperture: (u64, u64),
}

/// The mock has no IOTLB (`mock_iotlb_sync` frees at once) and no DMA path of its own.
impl PagingHooks for MockDomain {
    fn hw(&self, _dev: &PhysDevice) -> Option<(Arc<Iotlb>, u16)> {
        None
    }

    fn flush(&self, _iova: u64, _last: u64) {}

    fn aperture(&self) -> Option<(u64, u64)> {
        Some(self.aperture)
    }

    const DMA: bool = false;
}

/// A mock paging domain (`struct mock_iommu_domain`), with `mock_domain_set_dirty_tracking`'s
/// rules.
pub type MockPagingDomain = PagingDomain<MockDomain>;

impl MockPagingDomain {
    /// `mock_domain_alloc_pgtable`: `pagetable_type` is `MOCK_IOMMUPT_DEFAULT` (2 KiB pages,
    /// the mock aperture) or `MOCK_IOMMUPT_HUGE` (huge pages plus the host page size, the
    /// format's full aperture).
    pub fn new(pagetable_type: u32, dirty_tracking: bool) -> Result<Self> {
        // The domain and its top table (`mock_domain_alloc_pgtable`).
        crate::fail_nth::alloc()?;
        // The kernel configures 56-bit IOVA hardware with three levels from level 2.
        // A huge domain maps only huge pages and host pages: `iommu_map` splits every range
        // into the domain's page sizes, so no larger IOPTE ever appears.
        let mut cfg = Config::levels(3);
        let huge = pagetable_type == MOCK_IOMMUPT_HUGE;
        if huge {
            cfg.pgsize_bitmap = MOCK_HUGE_PAGE_SIZE | HOST_PAGE_SIZE;
        }
        let table = PageTable::new(AmdV1Mock::default(), cfg).map_err(pt_errno)?;
        let aperture = if huge {
            table.aperture()
        } else {
            (MOCK_APERTURE_START, MOCK_APERTURE_LAST)
        };
        let hooks = MockDomain { aperture };
        // The mock's table is not walked by a translation stage of its own.
        let stage = Stage::Second;
        Ok(Self::build(
            Box::new(table),
            stage,
            false,
            dirty_tracking,
            hooks,
        ))
    }
}

/// A mock nested domain (`struct mock_iommu_domain_nested`): no table, only the IOTLB values
/// the tests set and invalidate.
#[derive(Debug)]
pub struct MockNestedDomain {
    /// `iotlb[]`, each entry set from `iommu_hwpt_selftest.iotlb`.
    pub iotlb: Mutex<[u32; MOCK_NESTED_DOMAIN_IOTLB_NUM as usize]>,
    /// The vIOMMU the domain was allocated on, if any (`mock_viommu`).
    pub viommu: Option<Arc<ViommuCore>>,
}

impl MockNestedDomain {
    /// A nested domain whose IOTLB entries all read `iotlb`.
    pub fn new(iotlb: u32, viommu: Option<Arc<ViommuCore>>) -> Self {
        MockNestedDomain {
            iotlb: Mutex::new([iotlb; MOCK_NESTED_DOMAIN_IOTLB_NUM as usize]),
            viommu,
        }
    }
}

impl MockNestedDomain {
    /// One `iommu_hwpt_invalidate_selftest` request.
    fn invalidate(&self, inv: &IommuHwptInvalidateSelftest) -> Result<()> {
        if inv.flags & !IOMMU_TEST_INVALIDATE_FLAG_ALL != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        if inv.iotlb_id > MOCK_NESTED_DOMAIN_IOTLB_ID_MAX {
            return Err(Errno::EINVAL);
        }
        let mut iotlb = self.iotlb.lock().unwrap_or_else(PoisonError::into_inner);
        if inv.flags & IOMMU_TEST_INVALIDATE_FLAG_ALL != 0 {
            *iotlb = [0; MOCK_NESTED_DOMAIN_IOTLB_NUM as usize];
        } else {
            iotlb[inv.iotlb_id as usize] = 0;
        }
        Ok(())
    }
}

crate::impl_no_paging!(MockNestedDomain);

impl Domain for MockNestedDomain {
    fn domain_type(&self) -> DomainType {
        DomainType::Nested
    }

    /// `mock_domain_cache_invalidate_user`: each request clears one IOTLB entry, or all.
    fn cache_invalidate_user(
        &self,
        requests: &UserDataArray,
        mem: &dyn UserMemory,
    ) -> Option<(u32, Result<()>)> {
        let min_len = offset_of_end!(IommuHwptInvalidateSelftest, iotlb_id);
        Some(each_entry(
            requests,
            mem,
            IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
            min_len,
            |inv| self.invalidate(&inv),
        ))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iommu::{IoptDomain, Prot};
    use uiommu_uapi::selftest::{MOCK_IOMMUPT_DEFAULT, MOCK_PAGE_SIZE};

    #[test]
    fn default_domain_has_mock_geometry() {
        let d = MockPagingDomain::new(MOCK_IOMMUPT_DEFAULT, false).unwrap();
        assert_eq!(d.aperture(), (1 << 24, (1 << 31) - 1));
        assert_eq!(
            d.pgsize_bitmap() & d.pgsize_bitmap().wrapping_neg(),
            MOCK_PAGE_SIZE
        );
        let huge = MockPagingDomain::new(MOCK_IOMMUPT_HUGE, false).unwrap();
        assert_eq!(huge.pgsize_bitmap(), (1 << 20) | 4096);
    }

    #[test]
    fn huge_domains_map_only_their_page_sizes() {
        let d = MockPagingDomain::new(MOCK_IOMMUPT_HUGE, true).unwrap();
        let (iova, oa) = (4u64 << 20, 0x7f00_0040_0000u64);
        d.map(iova, oa, 2 << 20, Prot::RW).unwrap();
        d.set_dirty_tracking(true).unwrap();
        d.set_dirty(iova).unwrap();
        let mut bits = uiommu_pt::DirtyBitmap::new(iova, 20, 2);
        d.read_and_clear_dirty(iova, 2 << 20, false, &mut bits)
            .unwrap();
        assert!(
            bits.test(iova) && !bits.test(iova + (1 << 20)),
            "two 1 MiB leaves, not one 2 MiB"
        );
    }

    #[test]
    fn maps_translate_and_unmap() {
        let d = MockPagingDomain::new(MOCK_IOMMUPT_DEFAULT, false).unwrap();
        let iova = 1 << 24;
        let rw = Prot::RW;
        d.map(iova, 0x7f00_0000_0800, 2 * 2048, rw).unwrap();
        assert_eq!(d.iova_to_phys(iova + 2048 + 5), Some(0x7f00_0000_1005));
        assert_eq!(d.map(iova, 0x1000, 2048, rw), Err(Errno::EADDRINUSE));
        d.unmap(iova, 4096);
        assert_eq!(d.iova_to_phys(iova), None);
    }

    #[test]
    fn dirty_tracking_needs_the_flag() {
        let d = MockPagingDomain::new(MOCK_IOMMUPT_DEFAULT, false).unwrap();
        assert_eq!(d.set_dirty_tracking(true), Err(Errno::EINVAL));
        assert_eq!(d.set_dirty_tracking(false), Ok(()));
        let d = MockPagingDomain::new(MOCK_IOMMUPT_DEFAULT, true).unwrap();
        d.set_dirty_tracking(true).unwrap();
        assert!(d.tracking());
    }
}
