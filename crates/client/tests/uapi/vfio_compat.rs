//! The VFIO type1 container ioctls on `/dev/iommu` (iommufd's compatibility layer).

use uiommu_client::{DmaMapFlags, MappedBuffer, VfioContainer};
use uiommu_uapi::Errno;
use uiommu_uapi::vfio::*;

use crate::common::{IOVA, LEN, assert_errno, mock_iommu_scenario, scenario};

const RW: DmaMapFlags = DmaMapFlags::READ.union(DmaMapFlags::WRITE);

scenario! {
    /// API version and extensions; DMA_CC needs the compatibility IOAS.
    fn vfio_compat_version_extensions(fd) {
        let c = VfioContainer::from_iommufd(&fd);
        assert_eq!(c.api_version().unwrap(), VFIO_API_VERSION as i32);
        assert_eq!(c.check_extension(VFIO_TYPE1v2_IOMMU).unwrap(), 1);
        assert_eq!(c.check_extension(VFIO_TYPE1_IOMMU).unwrap(), 1);
        assert_eq!(c.check_extension(VFIO_UNMAP_ALL).unwrap(), 1);
        assert_eq!(c.check_extension(VFIO_SPAPR_TCE_IOMMU).unwrap(), 0);
        assert_eq!(c.check_extension(VFIO_UPDATE_VADDR).unwrap(), 0);
        assert_errno(c.check_extension(VFIO_DMA_CC_IOMMU), Errno::ENODEV);
        let ioas = fd.alloc_ioas().unwrap();
        fd.vfio_ioas_set(&ioas).unwrap();
        assert_eq!(c.check_extension(VFIO_DMA_CC_IOMMU).unwrap(), 1);
    }
}

scenario! {
    /// SET_IOMMU: only type1 and type1v2, and only with a compatibility IOAS; type1 turns off
    /// huge pages in it.
    fn vfio_compat_set_iommu(fd) {
        let c = VfioContainer::from_iommufd(&fd);
        assert_errno(c.set_iommu(VFIO_SPAPR_TCE_IOMMU), Errno::EINVAL);
        assert_errno(c.set_iommu(VFIO_TYPE1v2_IOMMU), Errno::ENODEV);
        let ioas = fd.alloc_ioas().unwrap();
        fd.vfio_ioas_set(&ioas).unwrap();
        c.set_iommu(VFIO_TYPE1v2_IOMMU).unwrap();
        assert!(ioas.huge_pages().unwrap());
        c.set_iommu(VFIO_TYPE1_IOMMU).unwrap();
        assert!(!ioas.huge_pages().unwrap());
    }
}

scenario! {
    /// MAP_DMA/UNMAP_DMA act on the compatibility IOAS; unmap reports the bytes.
    fn vfio_compat_map_unmap(fd) {
        let c = VfioContainer::from_iommufd(&fd);
        let buf = MappedBuffer::new(LEN).unwrap();
        assert_errno(c.map_dma(&buf, 0, LEN as u64, IOVA, RW), Errno::ENODEV);
        let ioas = fd.alloc_ioas().unwrap();
        fd.vfio_ioas_set(&ioas).unwrap();
        c.set_iommu(VFIO_TYPE1v2_IOMMU).unwrap();
        c.map_dma(&buf, 0, LEN as u64, IOVA, RW).unwrap();
        assert_errno(c.map_dma(&buf, 0, LEN as u64, IOVA, RW), Errno::EEXIST);
        assert_errno(c.map_dma(&buf, 0, LEN as u64, 0x900_0000, DmaMapFlags::VADDR), Errno::EINVAL);
        // The mapping is visible through the iommufd interface.
        assert_errno(ioas.unmap(IOVA, 4096), Errno::ENOENT);
        // type1v2 does not split mappings.
        assert_errno(c.unmap_dma(IOVA, 4096), Errno::ENOENT);
        assert_eq!(c.unmap_dma(IOVA, LEN as u64).unwrap(), LEN as u64);
        // Nothing there: success with 0 bytes, as VFIO reports it.
        assert_eq!(c.unmap_dma(IOVA, LEN as u64).unwrap(), 0);
    }
}

scenario! {
    /// type1 (v1) may unmap part of a mapping: the compat layer cuts it first.
    fn vfio_compat_type1_partial_unmap(fd) {
        let c = VfioContainer::from_iommufd(&fd);
        let ioas = fd.alloc_ioas().unwrap();
        fd.vfio_ioas_set(&ioas).unwrap();
        c.set_iommu(VFIO_TYPE1_IOMMU).unwrap();
        let buf = MappedBuffer::new(LEN).unwrap();
        c.map_dma(&buf, 0, LEN as u64, IOVA, RW).unwrap();
        assert_eq!(c.unmap_dma(IOVA + 4096, 4096).unwrap(), 4096);
        assert_eq!(ioas.unmap_all().unwrap(), LEN as u64 - 4096);
    }
}

scenario! {
    /// UNMAP_DMA with FLAG_ALL: iova and size must be 0; other flags are EINVAL.
    fn vfio_compat_unmap_all(fd) {
        let c = VfioContainer::from_iommufd(&fd);
        let ioas = fd.alloc_ioas().unwrap();
        fd.vfio_ioas_set(&ioas).unwrap();
        c.set_iommu(VFIO_TYPE1v2_IOMMU).unwrap();
        let buf = MappedBuffer::new(LEN).unwrap();
        c.map_dma(&buf, 0, LEN as u64, IOVA, RW).unwrap();
        c.map_dma(&buf, 0, LEN as u64, 2 * IOVA, RW).unwrap();
        assert_errno(c.unmap_dma_flags(VFIO_DMA_UNMAP_FLAG_ALL, IOVA, 0), Errno::EINVAL);
        assert_errno(
            c.unmap_dma_flags(VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, IOVA, LEN as u64),
            Errno::EINVAL,
        );
        assert_eq!(c.unmap_all().unwrap(), 2 * LEN as u64);
        assert_eq!(c.unmap_all().unwrap(), 0);
    }
}

scenario! {
    /// GET_INFO: page sizes, DMA_AVAIL (U32_MAX) then IOVA_RANGE, and the argsz dance.
    fn vfio_compat_get_info(fd) {
        let c = VfioContainer::from_iommufd(&fd);
        assert_errno(c.get_info(), Errno::ENODEV);
        let ioas = fd.alloc_ioas().unwrap();
        fd.vfio_ioas_set(&ioas).unwrap();
        let fixed = size_of::<VfioIommuType1Info>() as u32;
        // Too small for the caps: argsz raised, CAPS set, no cap_offset.
        let raw = c.get_info_raw(fixed).unwrap();
        let argsz = u32::from_ne_bytes(raw[..4].try_into().unwrap());
        let flags = u32::from_ne_bytes(raw[4..8].try_into().unwrap());
        let cap_offset = u32::from_ne_bytes(raw[16..20].try_into().unwrap());
        assert_eq!(argsz, fixed + 16 + 32, "DMA_AVAIL (16) + IOVA_RANGE with one range (32)");
        assert_eq!(flags, VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS);
        assert_eq!(cap_offset, 0);
        let info = c.get_info().unwrap();
        assert_eq!(info.iova_pgsizes, !0xfffu64, "no domain: every size from PAGE_SIZE up");
        assert_eq!(info.caps, vec![(VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, 1), (VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, 1)]);
        assert_eq!(info.dma_avail, Some(u32::MAX));
        assert_eq!(info.iova_ranges, Some(vec![VfioIovaRange { start: 0, end: u64::MAX }]));
        // Below offsetofend(iova_pgsizes) is EINVAL.
        assert_errno(c.get_info_raw(8), Errno::EINVAL);
    }
}

scenario! {
    /// Container ioctls iommufd does not implement are ENOTTY.
    fn vfio_compat_unsupported_enotty(fd) {
        let c = VfioContainer::from_iommufd(&fd);
        let ioas = fd.alloc_ioas().unwrap();
        fd.vfio_ioas_set(&ioas).unwrap();
        assert_errno(c.dirty_pages(true), Errno::ENOTTY);
    }
}

mock_iommu_scenario! {
    /// GET_INFO with a mock domain on the compatibility IOAS: the page sizes follow the
    /// domain, the IOVA_RANGE capability lists the aperture split by reserved ranges, and
    /// the reply grows with the number of ranges.
    fn vfio_compat_get_info_with_domain(fd) {
        use uiommu_uapi::selftest::{MOCK_APERTURE_LAST, MOCK_APERTURE_START, MOCK_PAGE_SIZE};
        let c = VfioContainer::from_iommufd(&fd);
        let ioas = fd.alloc_ioas().unwrap();
        fd.vfio_ioas_set(&ioas).unwrap();
        c.set_iommu(VFIO_TYPE1v2_IOMMU).unwrap();
        let _dev = fd.test().mock_domain(&ioas).unwrap();
        let info = c.get_info().unwrap();
        assert_eq!(info.flags, VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS);
        assert_eq!(info.iova_pgsizes & (MOCK_PAGE_SIZE * 2 - 1), 0, "no size below the CPU page: {:#x}", info.iova_pgsizes);
        assert_ne!(info.iova_pgsizes, 0);
        assert_eq!(
            info.iova_ranges,
            Some(vec![VfioIovaRange { start: MOCK_APERTURE_START, end: MOCK_APERTURE_LAST }])
        );
        let mid = MOCK_APERTURE_START + 0x100_0000;
        fd.test().add_reserved(&ioas, mid, 0x1000).unwrap();
        let fixed = size_of::<VfioIommuType1Info>() as u32;
        let raw = c.get_info_raw(fixed).unwrap();
        let argsz = u32::from_ne_bytes(raw[..4].try_into().unwrap());
        assert_eq!(argsz, fixed + 16 + 16 + 2 * 16, "DMA_AVAIL + IOVA_RANGE with two ranges");
        let info = c.get_info().unwrap();
        assert_eq!(
            info.iova_ranges,
            Some(vec![
                VfioIovaRange { start: MOCK_APERTURE_START, end: mid - 1 },
                VfioIovaRange { start: mid + 0x1000, end: MOCK_APERTURE_LAST },
            ])
        );
        assert_eq!(info.caps.len(), 2);
        // Maps through the container reach the domain.
        let buf = MappedBuffer::new(LEN).unwrap();
        c.map_dma(&buf, 0, LEN as u64, MOCK_APERTURE_START, RW).unwrap();
        fd.test().check_map(_dev.hwpt_id(), MOCK_APERTURE_START, &buf, 0, LEN as u64).unwrap();
        assert_errno(c.map_dma(&buf, 0, LEN as u64, mid, RW), Errno::EINVAL);
        assert_eq!(c.unmap_all().unwrap(), LEN as u64);
    }
}
