//! Devices, HWPTs and the selftest mock through `dispatch`: the selftests' basic fixtures.

mod common;

use common::mock::*;
use common::*;
use uiommu_core::context::{Context, Node};
use uiommu_core::driver::default_model;
use uiommu_uapi::Errno;
use uiommu_uapi::iommufd::*;
use uiommu_uapi::selftest::*;

fn map_fixed(ctx: &Context, ioas: u32, buf: &Buffer, iova: u64) -> Result<i64, Errno> {
    let mut cmd = IommuIoasMap {
        size: sz::<IommuIoasMap>(),
        flags: IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
        ioas_id: ioas,
        user_va: buf.addr(),
        length: buf.len as u64,
        iova,
        ..Default::default()
    };
    ioctl(ctx, IOMMU_IOAS_MAP, &mut cmd)
}

fn unmap(ctx: &Context, ioas: u32, iova: u64, length: u64) -> Result<i64, Errno> {
    let mut cmd = IommuIoasUnmap {
        size: sz::<IommuIoasUnmap>(),
        ioas_id: ioas,
        iova,
        length,
    };
    ioctl(ctx, IOMMU_IOAS_UNMAP, &mut cmd)
}

fn hwpt_alloc(ctx: &Context, dev: u32, pt: u32, flags: u32) -> Result<u32, Errno> {
    let mut cmd = IommuHwptAlloc {
        size: sz::<IommuHwptAlloc>(),
        flags,
        dev_id: dev,
        pt_id: pt,
        ..Default::default()
    };
    ioctl(ctx, IOMMU_HWPT_ALLOC, &mut cmd).map(|_| cmd.out_hwpt_id)
}

fn check_map(ctx: &Context, hwpt: u32, iova: u64, buf: &Buffer) -> Result<IommuTestCmd, Errno> {
    test_cmd(
        ctx,
        hwpt,
        TestCheckMap {
            iova,
            length: buf.len as u64,
            uptr: buf.addr(),
        },
    )
}

fn check_refs(ctx: &Context, buf: &Buffer, refs: u32) -> Result<IommuTestCmd, Errno> {
    test_cmd(
        ctx,
        0,
        TestCheckRefs {
            length: buf.len as u64,
            uptr: buf.addr(),
            refs,
            ..Default::default()
        },
    )
}

const IOVA: u64 = MOCK_APERTURE_START;

#[test]
fn mock_domain_on_ioas_gets_an_auto_domain_filled_from_the_ioas() {
    let ctx = ctx();
    let ioas = ioas_alloc(&ctx);
    let (stdev, hwpt, idev) = mock_domain(&ctx, ioas).unwrap();
    assert_eq!(
        (stdev, idev, hwpt),
        (2, 3, 4),
        "IDs in the kernel's allocation order"
    );
    let buf = Buffer::new(2 * 4096);
    map_fixed(&ctx, ioas, &buf, IOVA).unwrap();
    check_map(&ctx, hwpt, IOVA, &buf).unwrap();
    check_refs(&ctx, &buf, 1).unwrap();
    // The IOAS now has the mock aperture reserved around it.
    assert_eq!(map_fixed(&ctx, ioas, &buf, 0x1000), Err(Errno::EINVAL));
    // In use: the IOAS by the HWPT, the HWPT and device by the mock device.
    assert_eq!(destroy(&ctx, ioas), Err(Errno::EBUSY));
    assert_eq!(destroy(&ctx, hwpt), Err(Errno::EBUSY));
    assert_eq!(destroy(&ctx, idev), Err(Errno::EBUSY));
    unmap(&ctx, ioas, IOVA, buf.len as u64).unwrap();
    check_refs(&ctx, &buf, 0).unwrap();
    // Destroying the mock device detaches it and takes the auto domain with it.
    destroy(&ctx, stdev).unwrap();
    assert_eq!(destroy(&ctx, hwpt), Err(Errno::ENOENT));
    destroy(&ctx, ioas).unwrap();
    assert!(ctx.objects.ids().is_empty());
}

#[test]
fn mapping_after_attach_pins_and_unmapping_unpins() {
    let ctx = ctx();
    let ioas = ioas_alloc(&ctx);
    let (_stdev, hwpt, _idev) = mock_domain(&ctx, ioas).unwrap();
    let buf = Buffer::new(4 * 4096);
    map_fixed(&ctx, ioas, &buf, IOVA).unwrap();
    let (_s2, hwpt2, _i2) = mock_domain(&ctx, ioas).unwrap();
    assert_eq!(hwpt2, hwpt, "a compatible device shares the auto domain");
    check_map(&ctx, hwpt, IOVA, &buf).unwrap();
    check_refs(&ctx, &buf, 1).unwrap();
    // The second mapping of the same memory pins it again.
    map_fixed(&ctx, ioas, &buf, IOVA + 0x10_0000).unwrap();
    check_refs(&ctx, &buf, 2).unwrap();
    assert_eq!(
        check_map(&ctx, hwpt, IOVA + 0x20_0000, &buf).err(),
        Some(Errno::EINVAL)
    );
    drop(ctx);
    // Closing the context released every pin.
    let ctx2 = common::ctx();
    assert_eq!(ctx2.objects.ids(), Vec::<u32>::new());
}

#[test]
fn a_device_without_dirty_tracking_gets_its_own_domain() {
    let ctx = ctx();
    let ioas = ioas_alloc(&ctx);
    let (_s, _hwpt, idev) = mock_domain(&ctx, ioas).unwrap();
    let dirty = hwpt_alloc(&ctx, idev, ioas, IOMMU_HWPT_ALLOC_DIRTY_TRACKING).unwrap();
    // A NO_DIRTY device cannot take the dirty-tracking domain (EINVAL from the driver), but
    // that is not an auto domain; it shares the first auto domain.
    let (_s2, hwpt2, idev2) = mock_domain_flags(&ctx, ioas, MOCK_FLAGS_DEVICE_NO_DIRTY).unwrap();
    assert_ne!(hwpt2, dirty);
    assert_eq!(
        hwpt_alloc(&ctx, idev2, ioas, IOMMU_HWPT_ALLOC_DIRTY_TRACKING),
        Err(Errno::EOPNOTSUPP)
    );
    assert_eq!(mock_domain(&ctx, dirty).map(|_| ()), Ok(()));
    assert_eq!(
        mock_domain_flags(&ctx, dirty, MOCK_FLAGS_DEVICE_NO_DIRTY).err(),
        Some(Errno::EINVAL)
    );
}

#[test]
fn hwpt_alloc_checks() {
    let ctx = ctx();
    let ioas = ioas_alloc(&ctx);
    let (_s, _hwpt, idev) = mock_domain(&ctx, ioas).unwrap();
    assert_eq!(
        hwpt_alloc(&ctx, idev, 99, 0),
        Err(Errno::EINVAL),
        "unknown pt_id"
    );
    assert_eq!(
        hwpt_alloc(&ctx, 99, ioas, 0),
        Err(Errno::ENOENT),
        "unknown device"
    );
    assert_eq!(hwpt_alloc(&ctx, idev, ioas, 1 << 7), Err(Errno::EOPNOTSUPP));
    assert_eq!(
        hwpt_alloc(
            &ctx,
            idev,
            ioas,
            IOMMU_HWPT_FAULT_ID_VALID | IOMMU_HWPT_ALLOC_NEST_PARENT
        ),
        Err(Errno::EOPNOTSUPP)
    );
    assert_eq!(
        hwpt_alloc(&ctx, idev, ioas, IOMMU_HWPT_FAULT_ID_VALID),
        Err(Errno::ENOENT)
    );
    let mut cmd = IommuHwptAlloc {
        size: sz::<IommuHwptAlloc>(),
        dev_id: idev,
        pt_id: ioas,
        data_len: 8,
        ..Default::default()
    };
    assert_eq!(
        ioctl(&ctx, IOMMU_HWPT_ALLOC, &mut cmd),
        Err(Errno::EINVAL),
        "NONE with data"
    );
    let ids_before = ctx.objects.ids();
    let parent = hwpt_alloc(&ctx, idev, ioas, IOMMU_HWPT_ALLOC_NEST_PARENT).unwrap();
    assert_eq!(ctx.objects.ids().len(), ids_before.len() + 1);
    // A paging HWPT cannot be nested in an auto domain's place.
    destroy(&ctx, parent).unwrap();
    assert_eq!(ctx.objects.ids(), ids_before);
}

#[test]
fn replace_moves_the_device_and_drops_the_auto_domain() {
    let ctx = ctx();
    let ioas = ioas_alloc(&ctx);
    let (stdev, auto, idev) = mock_domain(&ctx, ioas).unwrap();
    let manual = hwpt_alloc(&ctx, idev, ioas, 0).unwrap();
    let cmd = test_cmd(&ctx, stdev, TestMockDomainReplace { pt_id: manual }).unwrap();
    assert_eq!(cmd.member::<TestMockDomainReplace>().pt_id, manual);
    assert_eq!(
        destroy(&ctx, auto),
        Err(Errno::ENOENT),
        "the auto domain went with its device"
    );
    assert_eq!(destroy(&ctx, manual), Err(Errno::EBUSY));
    // Back to the IOAS: a fresh auto domain.
    let cmd = test_cmd(&ctx, stdev, TestMockDomainReplace { pt_id: ioas }).unwrap();
    let auto2 = cmd.member::<TestMockDomainReplace>().pt_id;
    assert_ne!(auto2, manual);
    destroy(&ctx, manual).unwrap();
    assert_eq!(
        test_cmd(&ctx, stdev, TestMockDomainReplace { pt_id: 99 }).err(),
        Some(Errno::ENOENT)
    );
    assert_eq!(
        test_cmd(&ctx, stdev, TestMockDomainReplace { pt_id: idev }).err(),
        Some(Errno::EINVAL)
    );
}

#[test]
fn nested_hwpt_and_invalidation() {
    let ctx = ctx();
    let ioas = ioas_alloc(&ctx);
    let (stdev, _auto, idev) = mock_domain(&ctx, ioas).unwrap();
    let parent = hwpt_alloc(&ctx, idev, ioas, IOMMU_HWPT_ALLOC_NEST_PARENT).unwrap();
    let data = IommuHwptSelftest {
        iotlb: IOMMU_TEST_IOTLB_DEFAULT,
        pagetable_type: 0,
    };
    let mut cmd = IommuHwptAlloc {
        size: sz::<IommuHwptAlloc>(),
        dev_id: idev,
        pt_id: parent,
        data_type: IOMMU_HWPT_DATA_SELFTEST,
        data_len: sz::<IommuHwptSelftest>(),
        data_uptr: &data as *const _ as u64,
        ..Default::default()
    };
    ioctl(&ctx, IOMMU_HWPT_ALLOC, &mut cmd).unwrap();
    let nested = cmd.out_hwpt_id;
    for i in 0..4 {
        test_cmd(
            &ctx,
            nested,
            TestCheckIotlb {
                id: i,
                iotlb: IOMMU_TEST_IOTLB_DEFAULT,
            },
        )
        .unwrap();
    }
    assert_eq!(
        destroy(&ctx, parent),
        Err(Errno::EBUSY),
        "the nested HWPT uses its parent"
    );
    // Invalidate entry 1, then a bad entry: entry_num reports what was done.
    let reqs = [
        IommuHwptInvalidateSelftest {
            flags: 0,
            iotlb_id: 1,
        },
        IommuHwptInvalidateSelftest {
            flags: 0,
            iotlb_id: 9,
        },
    ];
    let mut inv = IommuHwptInvalidate {
        size: sz::<IommuHwptInvalidate>(),
        hwpt_id: nested,
        data_uptr: reqs.as_ptr() as u64,
        data_type: IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
        entry_len: sz::<IommuHwptInvalidateSelftest>(),
        entry_num: 2,
        __reserved: 0,
    };
    assert_eq!(
        ioctl(&ctx, IOMMU_HWPT_INVALIDATE, &mut inv),
        Err(Errno::EINVAL)
    );
    assert_eq!(inv.entry_num, 1);
    test_cmd(&ctx, nested, TestCheckIotlb { id: 1, iotlb: 0 }).unwrap();
    test_cmd(
        &ctx,
        nested,
        TestCheckIotlb {
            id: 2,
            iotlb: IOMMU_TEST_IOTLB_DEFAULT,
        },
    )
    .unwrap();
    // Invalidating a paging HWPT is EINVAL, with entry_num zeroed.
    inv.hwpt_id = parent;
    inv.entry_num = 1;
    assert_eq!(
        ioctl(&ctx, IOMMU_HWPT_INVALIDATE, &mut inv),
        Err(Errno::EINVAL)
    );
    assert_eq!(inv.entry_num, 0);
    // Attach the device to the nested domain, then back.
    test_cmd(&ctx, stdev, TestMockDomainReplace { pt_id: nested }).unwrap();
    assert_eq!(destroy(&ctx, nested), Err(Errno::EBUSY));
    test_cmd(&ctx, stdev, TestMockDomainReplace { pt_id: parent }).unwrap();
    destroy(&ctx, nested).unwrap();
}

#[test]
fn hw_info_reports_the_mock_register() {
    let ctx = ctx();
    let ioas = ioas_alloc(&ctx);
    let (_s, _h, idev) = mock_domain(&ctx, ioas).unwrap();
    let mut data = [0xffu8; 16];
    let mut cmd = IommuHwInfo {
        size: sz::<IommuHwInfo>(),
        dev_id: idev,
        data_len: 16,
        data_uptr: data.as_mut_ptr() as u64,
        ..Default::default()
    };
    ioctl(&ctx, IOMMU_GET_HW_INFO, &mut cmd).unwrap();
    assert_eq!(cmd.out_data_type, IOMMU_HW_INFO_TYPE_SELFTEST);
    assert_eq!(cmd.data_len, 8);
    assert_eq!(&data[4..8], &IOMMU_HW_INFO_SELFTEST_REGVAL.to_ne_bytes());
    assert_eq!(&data[8..], &[0; 8], "the caller's tail is cleared");
    assert_eq!(
        cmd.out_capabilities,
        IOMMU_HW_CAP_DIRTY_TRACKING | IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED
    );
    cmd.flags = IOMMU_HW_INFO_FLAG_INPUT_TYPE;
    cmd.out_data_type = IOMMU_HW_INFO_TYPE_INTEL_VTD;
    assert_eq!(
        ioctl(&ctx, IOMMU_GET_HW_INFO, &mut cmd),
        Err(Errno::EOPNOTSUPP)
    );
    cmd.flags = 2;
    assert_eq!(
        ioctl(&ctx, IOMMU_GET_HW_INFO, &mut cmd),
        Err(Errno::EOPNOTSUPP)
    );
}

/// IOMMU_HWPT_SET_DIRTY_TRACKING(enable) on `hwpt`.
fn enable_dirty_tracking(ctx: &Context, hwpt: u32) {
    let mut on = IommuHwptSetDirtyTracking {
        size: sz::<IommuHwptSetDirtyTracking>(),
        flags: IOMMU_HWPT_DIRTY_TRACKING_ENABLE,
        hwpt_id: hwpt,
        __reserved: 0,
    };
    ioctl(ctx, IOMMU_HWPT_SET_DIRTY_TRACKING, &mut on).unwrap();
}

#[test]
fn dirty_tracking_round_trip() {
    let ctx = ctx();
    let ioas = ioas_alloc(&ctx);
    let (_s, _a, idev) = mock_domain(&ctx, ioas).unwrap();
    let hwpt = hwpt_alloc(&ctx, idev, ioas, IOMMU_HWPT_ALLOC_DIRTY_TRACKING).unwrap();
    let buf = Buffer::new(8 * 4096);
    map_fixed(&ctx, ioas, &buf, IOVA).unwrap();
    let page = MOCK_PAGE_SIZE;
    let pages = buf.len as u64 / page;
    // As the selftests do: ordinary memory maps as 4 KiB IOPTEs, so with 2 KiB bitmap pages
    // marking bit i (i % 4 == 0) dirties the PTE holding bits i and i + 1.
    let marks = [0b0001_0001u8, 0b0001_0001];
    let mark = |ctx: &Context| {
        test_cmd(
            ctx,
            hwpt,
            TestDirty {
                iova: IOVA,
                length: pages * page,
                page_size: page,
                uptr: marks.as_ptr() as u64,
                ..Default::default()
            },
        )
    };
    assert_eq!(mark(&ctx).err(), Some(Errno::EINVAL), "tracking is off");
    enable_dirty_tracking(&ctx, hwpt);
    let cmd = mark(&ctx).unwrap();
    assert_eq!(cmd.member::<TestDirty>().out_nr_dirty, 4);
    let read = |ctx: &Context, flags: u32| {
        let mut bitmap = [0u64; 1];
        let mut get = IommuHwptGetDirtyBitmap {
            size: sz::<IommuHwptGetDirtyBitmap>(),
            hwpt_id: hwpt,
            flags,
            iova: IOVA,
            length: pages * page,
            page_size: page,
            data: bitmap.as_mut_ptr() as u64,
            ..Default::default()
        };
        ioctl(ctx, IOMMU_HWPT_GET_DIRTY_BITMAP, &mut get).unwrap();
        bitmap[0]
    };
    let want = 0x3333u64;
    assert_eq!(read(&ctx, IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR), want);
    assert_eq!(read(&ctx, 0), want);
    assert_eq!(read(&ctx, 0), 0, "cleared by the previous read");
}

/// A range that runs past the top of the address space wraps as the kernel's `unsigned
/// long` arithmetic does: every marked page counts, none is mapped, nothing overflows.
#[test]
fn dirty_marks_wrap_past_the_top_of_the_address_space() {
    let ctx = ctx();
    let ioas = ioas_alloc(&ctx);
    let (_s, _a, idev) = mock_domain(&ctx, ioas).unwrap();
    let hwpt = hwpt_alloc(&ctx, idev, ioas, IOMMU_HWPT_ALLOC_DIRTY_TRACKING).unwrap();
    enable_dirty_tracking(&ctx, hwpt);
    let marks = [0xffu8; 2];
    let cmd = test_cmd(
        &ctx,
        hwpt,
        TestDirty {
            iova: 0xffff_ffff_ffff_c000,
            length: 0x10000,
            page_size: 0x1000,
            uptr: marks.as_ptr() as u64,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(cmd.member::<TestDirty>().out_nr_dirty, 16);
}

/// A mock device that goes away with a PASID still attached (by IOMMU_DESTROY, or with the
/// context) leaves no pinned page and no locked-VM charge once the context is closed.
#[test]
fn a_closed_context_leaves_no_pin_behind_a_pasid_attachment() {
    for destroy_first in [false, true] {
        let process = process(1 << 30);
        let (registry, user) = (process.registry.clone(), process.user_locked.clone());
        let ctx = Context::new(process, Node::Iommu, default_model().create());
        let ioas = ioas_alloc(&ctx);
        let (_, _, idev) = mock_domain_flags(&ctx, ioas, MOCK_FLAGS_DEVICE_PASID).unwrap();
        let hwpt = hwpt_alloc(&ctx, idev, ioas, IOMMU_HWPT_ALLOC_PASID).unwrap();
        let (stdev, _, _) = mock_domain_flags(&ctx, hwpt, MOCK_FLAGS_DEVICE_PASID).unwrap();
        test_cmd(
            &ctx,
            stdev,
            TestPasidAttach {
                pasid: 2,
                pt_id: hwpt,
            },
        )
        .unwrap();
        let buf = Buffer::new(4 * 4096);
        map_fixed(&ctx, ioas, &buf, IOVA).unwrap();
        assert_eq!(registry.refs(buf.addr()), 1);
        assert_eq!(user.locked(), 4);
        if destroy_first {
            destroy(&ctx, stdev).unwrap();
        }
        drop(ctx);
        assert_eq!(
            registry.refs(buf.addr()),
            0,
            "destroy first: {destroy_first}"
        );
        assert_eq!(user.locked(), 0, "destroy first: {destroy_first}");
    }
}

#[test]
fn pasid_attach_replace_detach() {
    let ctx = ctx();
    let ioas = ioas_alloc(&ctx);
    let (stdev, _auto, idev) = mock_domain_flags(&ctx, ioas, MOCK_FLAGS_DEVICE_PASID).unwrap();
    let no_pasid = hwpt_alloc(&ctx, idev, ioas, 0).unwrap();
    let pasid_ok = hwpt_alloc(&ctx, idev, ioas, IOMMU_HWPT_ALLOC_PASID).unwrap();
    let attach = |pasid, pt_id| test_cmd(&ctx, stdev, TestPasidAttach { pasid, pt_id });
    let check = |pasid, hwpt_id| test_cmd(&ctx, stdev, TestPasidCheck { pasid, hwpt_id });
    // The RID's auto domain is not PASID-capable: no PASID may attach.
    assert_eq!(attach(100, pasid_ok).err(), Some(Errno::EINVAL));
    test_cmd(&ctx, stdev, TestMockDomainReplace { pt_id: pasid_ok }).unwrap();
    assert_eq!(
        attach(100, no_pasid).err(),
        Some(Errno::EINVAL),
        "HWPT not PASID-capable"
    );
    attach(100, pasid_ok).unwrap();
    check(100, pasid_ok).unwrap();
    assert_eq!(attach(100, pasid_ok).err(), Some(Errno::EBUSY));
    assert_eq!(
        attach(1 << 20, pasid_ok).err(),
        Some(Errno::EINVAL),
        "beyond the PASID width"
    );
    // While a PASID is attached, the RID cannot move to a non-PASID HWPT.
    assert_eq!(
        test_cmd(&ctx, stdev, TestMockDomainReplace { pt_id: no_pasid }).err(),
        Some(Errno::EINVAL)
    );
    test_cmd(&ctx, stdev, TestPasidDetach { pasid: 100 }).unwrap();
    check(100, 0).unwrap();
    // Replacing to an IOAS makes an auto domain, which is not PASID-capable.
    attach(7, pasid_ok).unwrap();
    let replace = |pasid, pt_id| test_cmd(&ctx, stdev, TestPasidReplace { pasid, pt_id });
    assert_eq!(replace(7, ioas).err(), Some(Errno::EINVAL));
    // PASID 1024: every second attach fails in the mock driver, and rollback leaves it clean.
    let pasid_ok2 = hwpt_alloc(&ctx, idev, ioas, IOMMU_HWPT_ALLOC_PASID).unwrap();
    attach(1024, pasid_ok).unwrap();
    assert_eq!(replace(1024, pasid_ok2).err(), Some(Errno::ENOMEM));
    check(1024, pasid_ok).unwrap();
    replace(1024, pasid_ok2).unwrap();
    check(1024, pasid_ok2).unwrap();
}

#[test]
fn mock_device_flags_are_checked_after_the_object_before_the_target() {
    let ctx = ctx();
    let ioas = ioas_alloc(&ctx);
    let before = ctx.objects.ids();
    uiommu_abi::host::fail_nth::set(1);
    assert_eq!(
        mock_domain_flags(&ctx, 99, 1 << 7),
        Err(Errno::ENOMEM),
        "the object before the device flags"
    );
    assert_eq!(
        mock_domain_flags(&ctx, 99, 1 << 7),
        Err(Errno::EINVAL),
        "unknown device flags before the target"
    );
    assert_eq!(
        mock_domain_flags(&ctx, 99, MOCK_FLAGS_DEVICE_PASID),
        Err(Errno::ENOENT)
    );
    assert_eq!(ctx.objects.ids(), before);
    let (_s, _hwpt, idev) = mock_domain_flags(&ctx, ioas, MOCK_FLAGS_DEVICE_PASID).unwrap();
    assert_eq!(ctx.objects.ids().len(), before.len() + 3);
    assert!(ctx.objects.ids().contains(&idev));
}
