//! HWPT scenarios over the selftest mock driver: hw_info, paging and nest-parent HWPTs,
//! nested HWPTs with invalidation, dirty tracking.

use uiommu_client::{
    DirtyFlags, HwInfoData, Hwpt, HwptData, HwptFlags, InvalidateData, Iova, MapFlags, MappedBuffer,
};
use uiommu_uapi::Errno;
use uiommu_uapi::iommufd::*;
use uiommu_uapi::selftest::*;

use crate::common::{assert_errno, mock_scenario};

fn nested_data() -> HwptData {
    HwptData::Selftest(IommuHwptSelftest {
        iotlb: IOMMU_TEST_IOTLB_DEFAULT,
        pagetable_type: MOCK_IOMMUPT_DEFAULT,
    })
}

mock_scenario! {
    /// IOMMU_GET_HW_INFO of a mock device: the selftest type and register, the length, a
    /// zeroed tail, a wrong requested type, and an unknown device.
    fn hw_info_mock(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        let dev = fd.test().mock_domain(&ioas).unwrap();
        let info = fd.hw_info(dev.dev_id()).unwrap();
        assert_eq!(info.data_type, IOMMU_HW_INFO_TYPE_SELFTEST);
        assert_eq!(info.data_len as usize, size_of::<IommuTestHwInfo>());
        assert_eq!(info.max_pasid_log2, 0);
        let HwInfoData::Selftest(data) = info.data else { panic!("{:?}", info.data) };
        assert_eq!(data.test_reg, IOMMU_HW_INFO_SELFTEST_REGVAL);
        assert!(info.raw[size_of::<IommuTestHwInfo>()..].iter().all(|&b| b == 0), "tail zeroed");
        // A buffer shorter than the data: filled as far as it goes, full length reported.
        let short = fd.hw_info_of_type(dev.dev_id(), IOMMU_HW_INFO_TYPE_DEFAULT, 4).unwrap();
        assert_eq!(short.data_len as usize, size_of::<IommuTestHwInfo>());
        assert_eq!(short.raw, vec![0; 4], "flags is 0");
        fd.hw_info_of_type(dev.dev_id(), IOMMU_HW_INFO_TYPE_SELFTEST, 8).unwrap();
        assert_errno(
            fd.hw_info_of_type(dev.dev_id(), IOMMU_HW_INFO_TYPE_SELFTEST + 1, 8),
            Errno::EOPNOTSUPP,
        );
        assert_errno(fd.hw_info(ioas.id()), Errno::ENOENT);
        assert_errno(fd.hw_info(0), Errno::ENOENT);
    }
}

mock_scenario! {
    /// A PASID-capable mock device reports the mock's PASID width.
    fn hw_info_pasid_width(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        let dev = fd.test().mock_domain_flags(&ioas, MOCK_FLAGS_DEVICE_PASID).unwrap();
        assert_eq!(fd.hw_info(dev.dev_id()).unwrap().max_pasid_log2 as u32, MOCK_PASID_WIDTH);
    }
}

mock_scenario! {
    /// Paging HWPTs: allocation checks, attach by replace, destroy while attached (EBUSY).
    fn hwpt_paging_alloc_and_replace(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        let dev = fd.test().mock_domain(&ioas).unwrap();
        // dev_id must name a device.
        assert_errno(Hwpt::builder(ioas.id(), &ioas).alloc(), Errno::ENOENT);
        let hwpt = Hwpt::paging(dev.dev_id(), &ioas, HwptFlags::empty()).unwrap();
        assert_ne!(hwpt.id(), dev.hwpt_id());
        assert_errno(
            Hwpt::builder(dev.dev_id(), &ioas).raw_flags(1 << 30).alloc(),
            Errno::EOPNOTSUPP,
        );
        assert_eq!(dev.replace(&hwpt).unwrap(), hwpt.id());
        assert_errno(hwpt.destroy(), Errno::EBUSY);
        assert_errno(ioas.destroy(), Errno::EBUSY);
        // Mappings reach the attached HWPT.
        let buf = MappedBuffer::new(1 << 16).unwrap();
        let iova = ioas.map(&buf, Iova::Auto, MapFlags::RW).unwrap();
        fd.test().check_map(hwpt.id(), iova, &buf, 0, 1 << 16).unwrap();
        assert_ne!(dev.replace(&ioas).unwrap(), hwpt.id(), "back on an automatic domain");
        hwpt.destroy().unwrap();
    }
}

mock_scenario! {
    /// Nested HWPTs: data checks, IOTLB state, invalidation with the handled count written
    /// back, and the nest parent pinned by its children.
    fn hwpt_nested_invalidate(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        let dev = fd.test().mock_domain(&ioas).unwrap();
        let id = dev.dev_id();
        assert_errno(
            Hwpt::builder(id, &ioas)
                .raw_flags(IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_FAULT_ID_VALID)
                .alloc(),
            Errno::EOPNOTSUPP,
        );
        let parent = Hwpt::paging(id, &ioas, HwptFlags::NEST_PARENT).unwrap();
        let not_parent = Hwpt::paging(id, &ioas, HwptFlags::empty()).unwrap();
        // No data on a HWPT parent asks for a paging HWPT there: not supported.
        assert_errno(Hwpt::nested(id, &parent, HwptData::None), Errno::EOPNOTSUPP);
        // Type NONE with data is EINVAL.
        assert_errno(
            Hwpt::nested(id, &parent, HwptData::Raw { data_type: IOMMU_HWPT_DATA_NONE, bytes: vec![0; 8] }),
            Errno::EINVAL,
        );
        assert_errno(
            Hwpt::nested(id, &parent, HwptData::Raw { data_type: IOMMU_HWPT_DATA_SELFTEST + 1, bytes: vec![0; 8] }),
            Errno::EOPNOTSUPP,
        );
        assert_errno(
            Hwpt::nested(id, &parent, HwptData::Raw { data_type: IOMMU_HWPT_DATA_SELFTEST, bytes: vec![0; 3] }),
            Errno::EINVAL,
        );
        assert_errno(Hwpt::nested(id, &not_parent, nested_data()), Errno::EINVAL);
        let nested = Hwpt::nested(id, &parent, nested_data()).unwrap();
        assert_errno(Hwpt::nested(id, &nested, nested_data()), Errno::EINVAL);
        assert_errno(parent.destroy(), Errno::EBUSY);
        for i in 0..MOCK_NESTED_DOMAIN_IOTLB_NUM {
            fd.test().check_iotlb(nested.id(), i, IOMMU_TEST_IOTLB_DEFAULT).unwrap();
        }

        // The parent cannot be invalidated.
        let one = [IommuHwptInvalidateSelftest { flags: 0, iotlb_id: 0 }];
        let r = parent.invalidate(&InvalidateData::Selftest(&one));
        assert_errno(r.result, Errno::EINVAL);
        assert_eq!(r.handled, 0);
        // A zero-length array checks only the type.
        assert_eq!(nested.invalidate(&InvalidateData::Selftest(&[])).into_result().unwrap(), 0);
        let bad_type = InvalidateData::Raw {
            data_type: IOMMU_HWPT_INVALIDATE_DATA_SELFTEST_INVALID,
            entry_len: 8,
            entry_num: 1,
            bytes: &[0; 8],
        };
        let r = nested.invalidate(&bad_type);
        assert_errno(r.result, Errno::EINVAL);
        assert_eq!(r.handled, 0);
        // Unknown flags in the second entry: one handled, then EOPNOTSUPP.
        let reqs = [
            IommuHwptInvalidateSelftest { flags: 0, iotlb_id: 1 },
            IommuHwptInvalidateSelftest { flags: 1 << 7, iotlb_id: 2 },
        ];
        let r = nested.invalidate(&InvalidateData::Selftest(&reqs));
        assert_errno(r.result, Errno::EOPNOTSUPP);
        assert_eq!(r.handled, 1);
        fd.test().check_iotlb(nested.id(), 1, 0).unwrap();
        fd.test().check_iotlb(nested.id(), 2, IOMMU_TEST_IOTLB_DEFAULT).unwrap();
        // An ID past the last entry: EINVAL, none handled.
        let r = nested.invalidate(&InvalidateData::Selftest(&[IommuHwptInvalidateSelftest {
            flags: 0,
            iotlb_id: MOCK_NESTED_DOMAIN_IOTLB_ID_MAX + 1,
        }]));
        assert_errno(r.result, Errno::EINVAL);
        assert_eq!(r.handled, 0);
        // FLAG_ALL clears every entry.
        let all = [IommuHwptInvalidateSelftest { flags: IOMMU_TEST_INVALIDATE_FLAG_ALL, iotlb_id: 0 }];
        assert_eq!(nested.invalidate(&InvalidateData::Selftest(&all)).into_result().unwrap(), 1);
        for i in 0..MOCK_NESTED_DOMAIN_IOTLB_NUM {
            fd.test().check_iotlb(nested.id(), i, 0).unwrap();
        }
        // The device can use the nested HWPT, then go back.
        dev.replace(&nested).unwrap();
        dev.replace(&ioas).unwrap();
    }
}

mock_scenario! {
    /// Dirty tracking: needs the HWPT flag; bits injected by the mock read back, and are
    /// cleared unless NO_CLEAR.
    fn hwpt_dirty_tracking(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        // IOPTEs no larger than a CPU page, so one bit per 4 KiB page is exact.
        ioas.set_huge_pages(false).unwrap();
        let dev = fd.test().mock_domain(&ioas).unwrap();
        let plain = Hwpt::paging(dev.dev_id(), &ioas, HwptFlags::empty()).unwrap();
        assert_errno(plain.set_dirty_tracking(true), Errno::EOPNOTSUPP);
        let hwpt = Hwpt::paging(dev.dev_id(), &ioas, HwptFlags::DIRTY_TRACKING).unwrap();
        dev.replace(&hwpt).unwrap();
        let page = 4096u64;
        let len = 64 * page as usize;
        let buf = MappedBuffer::new(len).unwrap();
        let iova = ioas.map(&buf, Iova::Fixed(MOCK_APERTURE_START), MapFlags::RW).unwrap();
        hwpt.set_dirty_tracking(true).unwrap();
        let clean = hwpt.get_dirty_bitmap(iova, len as u64, page, DirtyFlags::empty()).unwrap();
        assert_eq!(clean, vec![0]);
        let pattern = [0x8000_0000_0000_0005u64];
        let n = fd.test().dirty(hwpt.id(), iova, len as u64, page, &pattern).unwrap();
        assert_eq!(n, 3);
        let got = hwpt.get_dirty_bitmap(iova, len as u64, page, DirtyFlags::NO_CLEAR).unwrap();
        assert_eq!(got, pattern);
        let got = hwpt.get_dirty_bitmap(iova, len as u64, page, DirtyFlags::empty()).unwrap();
        assert_eq!(got, pattern);
        let got = hwpt.get_dirty_bitmap(iova, len as u64, page, DirtyFlags::empty()).unwrap();
        assert_eq!(got, vec![0], "read-and-clear");
        // Unaligned IOVA or length.
        assert_errno(hwpt.get_dirty_bitmap(iova + 1, len as u64, page, DirtyFlags::empty()), Errno::EINVAL);
        hwpt.set_dirty_tracking(false).unwrap();
        dev.replace(&ioas).unwrap();
    }
}

mock_scenario! {
    /// A device without dirty support cannot get a dirty-tracking HWPT.
    fn hwpt_dirty_unsupported_device(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        let dev = fd.test().mock_domain_flags(&ioas, MOCK_FLAGS_DEVICE_NO_DIRTY).unwrap();
        assert_errno(Hwpt::paging(dev.dev_id(), &ioas, HwptFlags::DIRTY_TRACKING), Errno::EOPNOTSUPP);
        let info = fd.hw_info(dev.dev_id()).unwrap();
        assert!(!info.capabilities.contains(uiommu_client::HwCaps::DIRTY_TRACKING));
    }
}
