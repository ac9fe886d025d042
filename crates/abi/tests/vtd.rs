//! A context whose selftest devices sit behind a VT-d unit (`uiommu exec --driver vtd`):
//! `IOMMU_TEST_OP_MOCK_DOMAIN` gives a device of the unit, and the uAPI answers with the VT-d
//! model (`intel_iommu_hw_info`, `intel_iommu_domain_alloc_paging_flags`,
//! `intel_iommu_domain_alloc_nested`), while the mock-only test operations fail as the kernel's
//! selftest does for a domain that is not the mock's.

mod common;

use common::mock::*;
use common::*;
use std::sync::Arc;
use uiommu_core::context::Context;
use uiommu_core::driver::vtd::{VtdConfig, VtdDriver};
use uiommu_uapi::Errno;
use uiommu_uapi::iommufd::*;
use uiommu_uapi::selftest::*;
use zerocopy::FromBytes;

fn vtd_ctx() -> Arc<Context> {
    let unit = VtdDriver::new(VtdConfig::default());
    ctx_behind(unit)
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

fn nested_alloc<T: zerocopy::IntoBytes + zerocopy::Immutable>(
    ctx: &Context,
    dev: u32,
    parent: u32,
    data_type: u32,
    data: &T,
) -> Result<u32, Errno> {
    let mut cmd = IommuHwptAlloc {
        size: sz::<IommuHwptAlloc>(),
        dev_id: dev,
        pt_id: parent,
        data_type,
        data_len: size_of::<T>() as u32,
        data_uptr: data as *const T as u64,
        ..Default::default()
    };
    ioctl(ctx, IOMMU_HWPT_ALLOC, &mut cmd).map(|_| cmd.out_hwpt_id)
}

fn replace(ctx: &Context, stdev: u32, pt_id: u32) -> Result<u32, Errno> {
    let cmd = test_cmd(ctx, stdev, TestMockDomainReplace { pt_id })?;
    Ok(cmd.member::<TestMockDomainReplace>().pt_id)
}

fn s1(addr_width: u32) -> IommuHwptVtdS1 {
    IommuHwptVtdS1 {
        flags: 0,
        pgtbl_addr: 0x1000,
        addr_width,
        __reserved: 0,
    }
}

#[test]
fn mock_domain_device_reports_vtd_hw_info() {
    let ctx = vtd_ctx();
    let ioas = ioas_alloc(&ctx);
    let (_s, _h, idev) = mock_domain(&ctx, ioas).unwrap();
    let mut data = [0xffu8; 32];
    let mut cmd = IommuHwInfo {
        size: sz::<IommuHwInfo>(),
        dev_id: idev,
        data_len: 32,
        data_uptr: data.as_mut_ptr() as u64,
        ..Default::default()
    };
    ioctl(&ctx, IOMMU_GET_HW_INFO, &mut cmd).unwrap();
    assert_eq!(cmd.out_data_type, IOMMU_HW_INFO_TYPE_INTEL_VTD);
    assert_eq!(cmd.data_len, sz::<IommuHwInfoVtd>());
    let (info, tail) = IommuHwInfoVtd::read_from_prefix(&data).unwrap();
    let regs = VtdConfig::default();
    assert_eq!(info.flags, IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17);
    assert_eq!((info.cap_reg, info.ecap_reg), (regs.cap, regs.ecap));
    assert!(tail.iter().all(|&b| b == 0), "the caller's tail is cleared");
    assert_ne!(cmd.out_capabilities & IOMMU_HW_CAP_DIRTY_TRACKING, 0);
    // The selftest type is the mock's: VT-d has no such data.
    cmd.flags = IOMMU_HW_INFO_FLAG_INPUT_TYPE;
    cmd.out_data_type = IOMMU_HW_INFO_TYPE_SELFTEST;
    assert_eq!(
        ioctl(&ctx, IOMMU_GET_HW_INFO, &mut cmd),
        Err(Errno::EOPNOTSUPP)
    );
    cmd.out_data_type = IOMMU_HW_INFO_TYPE_INTEL_VTD;
    ioctl(&ctx, IOMMU_GET_HW_INFO, &mut cmd).unwrap();
}

#[test]
fn mock_domain_flags_keep_the_mock_checks() {
    let ctx = vtd_ctx();
    let ioas = ioas_alloc(&ctx);
    mock_domain_flags(
        &ctx,
        ioas,
        MOCK_FLAGS_DEVICE_PASID | MOCK_FLAGS_DEVICE_NO_DIRTY,
    )
    .unwrap();
    assert_eq!(mock_domain_flags(&ctx, ioas, 1 << 7), Err(Errno::EINVAL));
}

#[test]
fn paging_hwpt_alloc_and_mock_only_ops() {
    let ctx = vtd_ctx();
    let ioas = ioas_alloc(&ctx);
    let (stdev, auto, idev) = mock_domain(&ctx, ioas).unwrap();
    let hwpt = hwpt_alloc(&ctx, idev, ioas, 0).unwrap();
    assert_ne!(hwpt, auto);
    assert_eq!(replace(&ctx, stdev, hwpt), Ok(hwpt));
    let parent = hwpt_alloc(&ctx, idev, ioas, IOMMU_HWPT_ALLOC_NEST_PARENT).unwrap();
    assert_eq!(replace(&ctx, stdev, parent), Ok(parent));
    let dirty = hwpt_alloc(&ctx, idev, ioas, IOMMU_HWPT_ALLOC_DIRTY_TRACKING).unwrap();
    assert_eq!(replace(&ctx, stdev, dirty), Ok(dirty));
    // Back to the IOAS: the first auto domain went with its last device, so a new one.
    let auto2 = replace(&ctx, stdev, ioas).unwrap();
    assert!(![ioas, auto, hwpt, parent, dirty].contains(&auto2));
    // `get_md_pagetable`: a domain that is not the mock's is EINVAL.
    let buf = Buffer::new(4096);
    let check = TestCheckMap {
        iova: 0x10_0000,
        length: 4096,
        uptr: buf.addr(),
    };
    assert_eq!(test_cmd(&ctx, hwpt, check).err(), Some(Errno::EINVAL));
    assert_eq!(test_cmd(&ctx, auto2, check).err(), Some(Errno::EINVAL));
    let mark = TestDirty {
        iova: 0x10_0000,
        length: 4096,
        page_size: 4096,
        uptr: buf.addr(),
        ..Default::default()
    };
    assert_eq!(test_cmd(&ctx, dirty, mark).err(), Some(Errno::EINVAL));
}

#[test]
fn nested_hwpt_from_vtd_s1() {
    let ctx = vtd_ctx();
    let ioas = ioas_alloc(&ctx);
    let (stdev, _auto, idev) = mock_domain(&ctx, ioas).unwrap();
    let parent = hwpt_alloc(&ctx, idev, ioas, IOMMU_HWPT_ALLOC_NEST_PARENT).unwrap();
    let nested = nested_alloc(&ctx, idev, parent, IOMMU_HWPT_DATA_VTD_S1, &s1(48)).unwrap();
    assert_eq!(replace(&ctx, stdev, nested), Ok(nested));
    // A nested domain that is not the mock's has no mock IOTLB.
    let check = TestCheckIotlb { id: 0, iotlb: 0 };
    assert_eq!(test_cmd(&ctx, nested, check).err(), Some(Errno::EINVAL));
    // The unit has FS5LP: a 5-level guest table attaches too.
    let five = nested_alloc(&ctx, idev, parent, IOMMU_HWPT_DATA_VTD_S1, &s1(57)).unwrap();
    assert_eq!(replace(&ctx, stdev, five), Ok(five));
}

#[test]
fn bad_nested_hwpts_get_the_kernels_errno() {
    let ctx = vtd_ctx();
    let ioas = ioas_alloc(&ctx);
    let (stdev, auto, idev) = mock_domain(&ctx, ioas).unwrap();
    let parent = hwpt_alloc(&ctx, idev, ioas, IOMMU_HWPT_ALLOC_NEST_PARENT).unwrap();
    let paging = hwpt_alloc(&ctx, idev, ioas, 0).unwrap();
    // `iommufd_hwpt_nested_alloc`: the parent must be a nest parent and no auto domain.
    let data = s1(48);
    assert_eq!(
        nested_alloc(&ctx, idev, paging, IOMMU_HWPT_DATA_VTD_S1, &data),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        nested_alloc(&ctx, idev, auto, IOMMU_HWPT_DATA_VTD_S1, &data),
        Err(Errno::EINVAL)
    );
    // `intel_iommu_domain_alloc_nested`: only IOMMU_HWPT_DATA_VTD_S1.
    let selftest = IommuHwptSelftest::default();
    assert_eq!(
        nested_alloc(&ctx, idev, parent, IOMMU_HWPT_DATA_SELFTEST, &selftest),
        Err(Errno::EOPNOTSUPP)
    );
    // `intel_pasid_setup_nested`: a 3-level guest table is refused when the entry is set up.
    let bad = nested_alloc(&ctx, idev, parent, IOMMU_HWPT_DATA_VTD_S1, &s1(39)).unwrap();
    assert_eq!(replace(&ctx, stdev, bad), Err(Errno::EINVAL));
    // The device stays attached and can move on.
    assert_eq!(replace(&ctx, stdev, parent), Ok(parent));
}
