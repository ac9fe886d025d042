use super::*;
use uiommu_uapi::copy::UserData;
use uiommu_uapi::iommufd::IOMMU_HW_INFO_TYPE_DEFAULT;
use uiommu_uapi::selftest::{MOCK_IOMMUPT_HUGE, MOCK_PAGE_SIZE};
use uiommu_uapi::user::testing::TestMemory;
use zerocopy::IntoBytes;

const DATA: u64 = 0x10_0000;

fn selftest_data(mem: &TestMemory, cfg: IommuHwptSelftest, len: u32) -> DriverData<'_> {
    mem.put(DATA, cfg.as_bytes());
    DriverData {
        data: UserData {
            data_type: IOMMU_HWPT_DATA_SELFTEST,
            uptr: DATA,
            len,
        },
        mem,
    }
}

#[test]
fn devices_get_their_own_groups_and_pasid_width() {
    let drv = MockDriver::get();
    let a = drv.create_device(0).unwrap();
    let b = drv.create_device(MOCK_FLAGS_DEVICE_PASID).unwrap();
    assert_ne!(a.group_id, b.group_id);
    assert_eq!((a.max_pasid_log2, b.max_pasid_log2), (0, 20));
    assert_eq!(drv.create_device(1 << 1).err(), Some(Errno::EINVAL));
}

#[test]
fn hw_info_reports_the_selftest_register() {
    let drv = MockDriver::get();
    let dev = drv.create_device(0).unwrap();
    let info = drv
        .hw_info(&dev, IOMMU_HW_INFO_TYPE_DEFAULT)
        .unwrap()
        .unwrap();
    assert_eq!(info.data_type, IOMMU_HW_INFO_TYPE_SELFTEST);
    assert_eq!(&info.data[4..8], &0xdead_beefu32.to_ne_bytes());
    assert_eq!(drv.hw_info(&dev, 1).unwrap().err(), Some(Errno::EOPNOTSUPP));
}

#[test]
fn paging_alloc_rules() {
    let drv = MockDriver::get();
    let dev = drv.create_device(0).unwrap();
    let no_dirty = drv.create_device(MOCK_FLAGS_DEVICE_NO_DIRTY).unwrap();
    let d = drv.domain_alloc_paging(&dev, 0, None).unwrap();
    assert_eq!(
        d.pgsize_bitmap() & d.pgsize_bitmap().wrapping_neg(),
        MOCK_PAGE_SIZE
    );
    assert_eq!(
        drv.domain_alloc_paging(&dev, 1 << 2, None).err(),
        Some(Errno::EOPNOTSUPP)
    );
    assert_eq!(
        drv.domain_alloc_paging(&no_dirty, IOMMU_HWPT_ALLOC_DIRTY_TRACKING, None)
            .err(),
        Some(Errno::EOPNOTSUPP)
    );
    let mem = TestMemory::new();
    let huge = IommuHwptSelftest {
        iotlb: 0,
        pagetable_type: MOCK_IOMMUPT_HUGE,
    };
    let d = drv
        .domain_alloc_paging(&dev, 0, Some(selftest_data(&mem, huge, 8)))
        .unwrap();
    assert_eq!(d.pgsize_bitmap(), (1 << 20) | 4096);
    let bad = IommuHwptSelftest {
        iotlb: 0,
        pagetable_type: 7,
    };
    let err = drv.domain_alloc_paging(&dev, 0, Some(selftest_data(&mem, bad, 8)));
    assert_eq!(err.err(), Some(Errno::EOPNOTSUPP));
    // Longer than the struct: EINVAL from the driver-data copy.
    let err = drv.domain_alloc_paging(&dev, 0, Some(selftest_data(&mem, huge, 12)));
    assert_eq!(err.err(), Some(Errno::EINVAL));
}

#[test]
fn nested_alloc_and_attach_rules() {
    let drv = MockDriver::get();
    let dev = drv.create_device(0).unwrap();
    let parent = drv
        .domain_alloc_paging(&dev, IOMMU_HWPT_ALLOC_NEST_PARENT, None)
        .unwrap();
    let mem = TestMemory::new();
    let cfg = IommuHwptSelftest {
        iotlb: 0xbad_beef,
        pagetable_type: 0,
    };
    let nested = drv.domain_alloc_nested(&dev, &parent, 0, selftest_data(&mem, cfg, 4));
    let nested = nested.unwrap().unwrap();
    let iotlb = *nested
        .as_any()
        .downcast_ref::<MockNestedDomain>()
        .unwrap()
        .iotlb
        .lock()
        .unwrap();
    assert_eq!(iotlb, [0xbad_beef; 4]);
    let err = drv.domain_alloc_nested(&dev, &nested, 0, selftest_data(&mem, cfg, 8));
    assert_eq!(
        err.unwrap().err(),
        Some(Errno::EINVAL),
        "a nested parent is not paging"
    );

    let dirty = drv
        .domain_alloc_paging(&dev, IOMMU_HWPT_ALLOC_DIRTY_TRACKING, None)
        .unwrap();
    let no_dirty = drv.create_device(MOCK_FLAGS_DEVICE_NO_DIRTY).unwrap();
    assert_eq!(drv.attach_dev(&no_dirty, &dirty, None), Err(Errno::EINVAL));
    assert_eq!(drv.attach_dev(&dev, &dirty, None), Ok(()));
}

#[test]
fn pasid_1024_fails_every_second_attach() {
    let drv = MockDriver::get();
    let dev = drv.create_device(MOCK_FLAGS_DEVICE_PASID).unwrap();
    let d = drv
        .domain_alloc_paging(&dev, IOMMU_HWPT_ALLOC_PASID, None)
        .unwrap();
    assert_eq!(drv.set_dev_pasid(&dev, 1024, &d, None), Ok(()));
    assert_eq!(drv.set_dev_pasid(&dev, 1024, &d, None), Err(Errno::ENOMEM));
    assert_eq!(drv.set_dev_pasid(&dev, 1024, &d, None), Ok(()));
    assert_eq!(
        drv.set_dev_pasid(&dev, 1024, &drv.blocking_domain(), None),
        Ok(())
    );
    assert_eq!(drv.set_dev_pasid(&dev, 1024, &d, None), Ok(()));
    assert_eq!(drv.set_dev_pasid(&dev, 7, &d, None), Ok(()));
}
