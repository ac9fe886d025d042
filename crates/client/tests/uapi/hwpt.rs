//! HWPT scenarios over the selftest mock driver: hw_info, paging and nest-parent HWPTs,
//! nested HWPTs with invalidation, dirty tracking.

use uiommu_client::{
    DeviceId, DirtyFlags, HwInfoData, HwInfoType, Hwpt, HwptData, HwptFlags, InvalidateData, Iova,
    MapFlags, MappedBuffer,
};
use uiommu_uapi::Errno;
use uiommu_uapi::iommufd::*;
use uiommu_uapi::selftest::*;

use crate::common::{assert_errno, mock_iommu_scenario, mock_scenario};

fn nested_data() -> HwptData {
    HwptData::Selftest(IommuHwptSelftest {
        iotlb: IOMMU_TEST_IOTLB_DEFAULT,
        pagetable_type: MOCK_IOMMUPT_DEFAULT,
    })
}

mock_iommu_scenario! {
    /// IOMMU_GET_HW_INFO of a mock device: the selftest type and register, the length, a
    /// zeroed tail, a wrong requested type, and an unknown device.
    fn hw_info_mock(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        let dev = fd.test().mock_domain(&ioas).unwrap();
        let info = fd.hw_info(dev.dev_id()).unwrap();
        assert_eq!(info.data_type, HwInfoType::SELFTEST);
        assert_eq!(info.data_type.raw(), IOMMU_HW_INFO_TYPE_SELFTEST);
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
        assert_errno(fd.hw_info(DeviceId::from_raw(ioas.id().raw())), Errno::ENOENT);
        assert_errno(fd.hw_info(DeviceId::from_raw(0)), Errno::ENOENT);
    }
}

mock_scenario! {
    /// A PASID-capable mock device reports the mock's PASID width.
    fn hw_info_pasid_width(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        let dev = fd.test().mock_domain_flags(&ioas, MOCK_FLAGS_DEVICE_PASID).unwrap();
        let info = fd.hw_info(dev.dev_id()).unwrap();
        // A PASID-capable mock device has MOCK_PASID_WIDTH bits, or fewer behind an IOMMU
        // that has fewer.
        let iommu = info.data.pasid_bits().map_or(u32::MAX, u32::from);
        assert_eq!(info.max_pasid_log2 as u32, MOCK_PASID_WIDTH.min(iommu));
    }
}

mock_iommu_scenario! {
    /// Paging HWPTs: allocation checks, attach by replace, destroy while attached (EBUSY).
    fn hwpt_paging_alloc_and_replace(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        let dev = fd.test().mock_domain(&ioas).unwrap();
        // dev_id must name a device.
        assert_errno(Hwpt::builder(DeviceId::from_raw(ioas.id().raw()), &ioas).alloc(), Errno::ENOENT);
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

mock_iommu_scenario! {
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

mock_iommu_scenario! {
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

mock_iommu_scenario! {
    /// A device without dirty support cannot get a dirty-tracking HWPT.
    fn hwpt_dirty_unsupported_device(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        let dev = fd.test().mock_domain_flags(&ioas, MOCK_FLAGS_DEVICE_NO_DIRTY).unwrap();
        assert_errno(Hwpt::paging(dev.dev_id(), &ioas, HwptFlags::DIRTY_TRACKING), Errno::EOPNOTSUPP);
        let info = fd.hw_info(dev.dev_id()).unwrap();
        assert!(!info.capabilities.contains(uiommu_client::HwCaps::DIRTY_TRACKING));
    }
}

mock_iommu_scenario! {
    /// IOMMU_GET_HW_INFO decoded: capabilities of the mock (dirty tracking, no ATS), the
    /// requested type honoured only with INPUT_TYPE, buffers shorter or longer than the
    /// data, a zero-length query for the size, unknown flags and reserved bytes.
    fn hw_info_typed_decode_and_lengths(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        let dev = fd.test().mock_domain(&ioas).unwrap();
        let id = dev.dev_id();
        let info = fd.hw_info(id).unwrap();
        assert_eq!(
            info.capabilities,
            uiommu_client::HwCaps::DIRTY_TRACKING | uiommu_client::HwCaps::PCI_ATS_NOT_SUPPORTED
        );
        let typed = fd.hw_info_of_type(id, IOMMU_HW_INFO_TYPE_SELFTEST, 8).unwrap();
        assert_eq!(typed.data, info.data);
        let HwInfoData::Selftest(d) = typed.data else { panic!("{:?}", typed.data) };
        assert_eq!((d.flags, d.test_reg), (0, IOMMU_HW_INFO_SELFTEST_REGVAL));
        // A type the driver does not have.
        for t in [IOMMU_HW_INFO_TYPE_INTEL_VTD, IOMMU_HW_INFO_TYPE_ARM_SMMUV3, IOMMU_HW_INFO_TYPE_NONE + 0x100] {
            assert_errno(fd.hw_info_of_type(id, t, 8), Errno::EOPNOTSUPP);
        }
        // Longer than the data: zero tail, the real length written back.
        let long = fd.hw_info_of_type(id, IOMMU_HW_INFO_TYPE_DEFAULT, 100).unwrap();
        assert_eq!(long.data_len, 8);
        assert_eq!(long.raw.len(), 100);
        assert!(long.raw[8..].iter().all(|&b| b == 0));
        assert_eq!(&long.raw[4..8], &IOMMU_HW_INFO_SELFTEST_REGVAL.to_ne_bytes());
        // Shorter: a prefix.
        let short = fd.hw_info_of_type(id, IOMMU_HW_INFO_TYPE_SELFTEST, 6).unwrap();
        assert_eq!(short.data_len, 8);
        assert_eq!(&short.raw[4..6], &IOMMU_HW_INFO_SELFTEST_REGVAL.to_ne_bytes()[..2]);
        assert_eq!(short.data, HwInfoData::Unknown, "too short to decode");
        // No buffer at all: just the length. Garbage in in_data_type without INPUT_TYPE is
        // ignored.
        let mut cmd = IommuHwInfo {
            size: size_of::<IommuHwInfo>() as u32,
            dev_id: id.raw(),
            out_data_type: 0x1234_5678,
            ..Default::default()
        };
        fd.raw_command("IOMMU_GET_HW_INFO", IOMMU_GET_HW_INFO, zerocopy::IntoBytes::as_mut_bytes(&mut cmd)).unwrap();
        assert_eq!((cmd.data_len, cmd.out_data_type), (8, IOMMU_HW_INFO_TYPE_SELFTEST));
        let mut bad = IommuHwInfo { size: size_of::<IommuHwInfo>() as u32, dev_id: id.raw(), flags: 1 << 5, ..Default::default() };
        assert_errno(fd.raw_command("IOMMU_GET_HW_INFO", IOMMU_GET_HW_INFO, zerocopy::IntoBytes::as_mut_bytes(&mut bad)), Errno::EOPNOTSUPP);
        bad.flags = 0;
        bad.__reserved[1] = 1;
        assert_errno(fd.raw_command("IOMMU_GET_HW_INFO", IOMMU_GET_HW_INFO, zerocopy::IntoBytes::as_mut_bytes(&mut bad)), Errno::EOPNOTSUPP);
    }
}

mock_iommu_scenario! {
    /// Dirty bitmaps at unaligned user addresses read the same bits; NO_CLEAR leaves them,
    /// a plain read clears them; a coarser page_size folds pages together; length, page
    /// size and flag checks.
    fn hwpt_dirty_unaligned_bitmaps(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        ioas.set_huge_pages(false).unwrap();
        let dev = fd.test().mock_domain(&ioas).unwrap();
        let hwpt = Hwpt::paging(dev.dev_id(), &ioas, HwptFlags::DIRTY_TRACKING).unwrap();
        dev.replace(&hwpt).unwrap();
        let page = 4096u64;
        let pages = 128u64;
        let len = pages * page;
        let buf = MappedBuffer::new(len as usize).unwrap();
        let iova = ioas.map(&buf, Iova::Fixed(MOCK_APERTURE_START), MapFlags::RW).unwrap();
        hwpt.set_dirty_tracking(true).unwrap();
        let pattern = [0x8000_0000_0000_0001u64, 0x0000_0000_f000_0010];
        assert_eq!(fd.test().dirty(hwpt.id(), iova, len, page, &pattern).unwrap(), 7);
        let want: Vec<u8> = pattern.iter().flat_map(|w| w.to_ne_bytes()).collect();
        for shift in [1usize, 3, 7] {
            // Backed by u64 words, so `shift` really misaligns the bitmap.
            let mut words = [0u64; 3];
            let raw = zerocopy::IntoBytes::as_mut_bytes(&mut words);
            hwpt.get_dirty_bitmap_bytes(iova, len, page, DirtyFlags::NO_CLEAR, &mut raw[shift..shift + 16])
                .unwrap();
            assert_eq!(&raw[shift..shift + 16], &want[..], "bitmap at offset {shift}");
            assert!(raw[..shift].iter().all(|&b| b == 0), "nothing before the bitmap");
            assert!(raw[shift + 16..].iter().all(|&b| b == 0), "nothing after the bitmap");
        }
        // Two pages per bit: pages 0, 63, 68 and 92..95 are bits 0, 31, 34, 46 and 47.
        let coarse = hwpt.get_dirty_bitmap(iova, len, 2 * page, DirtyFlags::NO_CLEAR).unwrap();
        assert_eq!(coarse, vec![(1 << 0) | (1 << 31) | (1 << 34) | (0b11 << 46)]);
        // A clearing read at an odd address, then the bits are gone.
        let mut words = [0u64; 3];
        let raw = &mut zerocopy::IntoBytes::as_mut_bytes(&mut words)[..17];
        hwpt.get_dirty_bitmap_bytes(iova, len, page, DirtyFlags::empty(), &mut raw[1..]).unwrap();
        assert_eq!(&raw[1..], &want[..]);
        assert_eq!(hwpt.get_dirty_bitmap(iova, len, page, DirtyFlags::empty()).unwrap(), vec![0, 0]);
        // Checks.
        assert_errno(hwpt.get_dirty_bitmap(iova, 0, page, DirtyFlags::empty()), Errno::EINVAL);
        assert_errno(hwpt.get_dirty_bitmap(iova, len, 0, DirtyFlags::empty()), Errno::EINVAL);
        // IOVA and length are checked against the IOAS alignment and, as a mask, the page
        // size: neither needs the page size to be a power of two.
        assert_errno(hwpt.get_dirty_bitmap(iova + page, len, 2 * page, DirtyFlags::empty()), Errno::EINVAL);
        assert_errno(hwpt.get_dirty_bitmap(iova, len - 2048, page, DirtyFlags::empty()), Errno::EINVAL);
        assert!(hwpt.get_dirty_bitmap(iova, len, 3 * page, DirtyFlags::NO_CLEAR).is_ok());
        assert_errno(
            hwpt.get_dirty_bitmap(iova, len, page, DirtyFlags::from_bits_retain(1 << 4)),
            Errno::EOPNOTSUPP,
        );
        assert_errno(hwpt.get_dirty_bitmap(u64::MAX - page + 1, 2 * page, page, DirtyFlags::empty()), Errno::EOVERFLOW);
        hwpt.set_dirty_tracking(false).unwrap();
        dev.replace(&ioas).unwrap();
    }
}

mock_iommu_scenario! {
    /// IOMMU_HWPT_INVALIDATE writes entry_num back on every path: 0 for argument errors
    /// (NULL array, zero, short, longer-than-the-driver's or oversized entry_len, reserved
    /// bits, a wrong object), the entries handled before a bad one, all of them on success.
    fn hwpt_invalidate_entry_num_writeback(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        let dev = fd.test().mock_domain(&ioas).unwrap();
        let parent = Hwpt::paging(dev.dev_id(), &ioas, HwptFlags::NEST_PARENT).unwrap();
        let nested = Hwpt::nested(dev.dev_id(), &parent, nested_data()).unwrap();
        let raw = |entry_len: u32, entry_num: u32, bytes: &[u8]| {
            nested.invalidate(&InvalidateData::Raw {
                data_type: IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
                entry_len,
                entry_num,
                bytes,
            })
        };
        for (len, num, bytes) in [(8u32, 2u32, &[][..]), (0, 1, &[0u8; 8][..]), (4097, 1, &vec![0u8; 4097][..])] {
            let r = raw(len, num, bytes);
            assert_errno(r.result, Errno::EINVAL);
            assert_eq!(r.handled, 0, "entry_len {len}");
        }
        // Shorter than the mock's struct.
        let r = raw(4, 1, &[0u8; 4]);
        assert_errno(r.result, Errno::EINVAL);
        assert_eq!(r.handled, 0);
        // Entries longer than the driver's struct are refused, even with zero tails.
        let r = raw(16, 2, &[0u8; 32]);
        assert_errno(r.result, Errno::EINVAL);
        assert_eq!(r.handled, 0);
        fd.test().check_iotlb(nested.id(), 0, IOMMU_TEST_IOTLB_DEFAULT).unwrap();
        // A bad third entry: the first two are handled and reported.
        let reqs = [
            IommuHwptInvalidateSelftest { flags: 0, iotlb_id: 1 },
            IommuHwptInvalidateSelftest { flags: 0, iotlb_id: 2 },
            IommuHwptInvalidateSelftest { flags: 0, iotlb_id: MOCK_NESTED_DOMAIN_IOTLB_ID_MAX + 6 },
        ];
        let r = nested.invalidate(&InvalidateData::Selftest(&reqs));
        assert_errno(r.result, Errno::EINVAL);
        assert_eq!(r.handled, 2);
        fd.test().check_iotlb(nested.id(), 1, 0).unwrap();
        fd.test().check_iotlb(nested.id(), 2, 0).unwrap();
        fd.test().check_iotlb(nested.id(), 3, IOMMU_TEST_IOTLB_DEFAULT).unwrap();
        // __reserved, an IOAS and a missing object, through raw bytes.
        let entry = [IommuHwptInvalidateSelftest { flags: 0, iotlb_id: 0 }];
        let mut cmd = IommuHwptInvalidate {
            size: size_of::<IommuHwptInvalidate>() as u32,
            hwpt_id: nested.id().raw(),
            data_uptr: entry.as_ptr() as u64,
            data_type: IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
            entry_len: size_of::<IommuHwptInvalidateSelftest>() as u32,
            entry_num: 1,
            __reserved: 1,
        };
        let run = |c: &mut IommuHwptInvalidate| {
            fd.raw_command("IOMMU_HWPT_INVALIDATE", IOMMU_HWPT_INVALIDATE, zerocopy::IntoBytes::as_mut_bytes(c))
        };
        assert_errno(run(&mut cmd), Errno::EOPNOTSUPP);
        assert_eq!(cmd.entry_num, 0);
        cmd.__reserved = 0;
        cmd.entry_num = 1;
        cmd.hwpt_id = ioas.id().raw();
        assert_errno(run(&mut cmd), Errno::EINVAL);
        assert_eq!(cmd.entry_num, 0);
        cmd.entry_num = 1;
        cmd.hwpt_id = 999;
        assert_errno(run(&mut cmd), Errno::ENOENT);
        assert_eq!(cmd.entry_num, 0);
        cmd.entry_num = 1;
        cmd.hwpt_id = nested.id().raw();
        run(&mut cmd).unwrap();
        assert_eq!(cmd.entry_num, 1);
        fd.test().check_iotlb(nested.id(), 0, 0).unwrap();
    }
}
