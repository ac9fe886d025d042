//! The uAPI over an AMD-Vi unit: a device of the unit bound to a context answers
//! `IOMMU_GET_HW_INFO` with EFR/EFR2 (`amd_iommufd_hw_info`), `IOMMU_HWPT_ALLOC` with 7.3's
//! table choice (`amd_iommu_domain_alloc_paging_flags`), `IOMMU_VIOMMU_ALLOC` for any type but
//! the default, and nested allocation and invalidation as 7.3 has them: not at all (the
//! vIOMMU's ops hold only `destroy`), or with the guest DTE's checks where the unit's
//! configuration wires `alloc_domain_nested`.

mod common;

use common::*;
use std::sync::Arc;
use uiommu_core::context::Context;
use uiommu_core::driver::amd::{AmdConfig, AmdDeviceConfig, AmdDriver};
use uiommu_uapi::Errno;
use uiommu_uapi::iommufd::*;
use zerocopy::FromBytes;

/// A context with an IOAS and a device of an AMD unit with `config`: (ctx, ioas, dev_id).
fn amd_ctx(config: AmdConfig) -> (Arc<Context>, u32, u32) {
    let ctx = ctx();
    let ioas = ioas_alloc(&ctx);
    let drv = AmdDriver::new(config);
    let phys = drv.create_device(AmdDeviceConfig {
        pasid_bits: 20,
        pri: false,
        ats: false,
    });
    let idev = uiommu_core::device::bind(&ctx, Arc::new(phys)).unwrap();
    let id = idev.id();
    (ctx, ioas, id)
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

fn nested_alloc(
    ctx: &Context,
    dev: u32,
    pt: u32,
    data_type: u32,
    dte: &[u64; 4],
) -> Result<u32, Errno> {
    let mut cmd = IommuHwptAlloc {
        size: sz::<IommuHwptAlloc>(),
        dev_id: dev,
        pt_id: pt,
        data_type,
        data_len: 32,
        data_uptr: dte.as_ptr() as u64,
        ..Default::default()
    };
    ioctl(ctx, IOMMU_HWPT_ALLOC, &mut cmd).map(|_| cmd.out_hwpt_id)
}

fn viommu_alloc(ctx: &Context, dev: u32, hwpt: u32, viommu_type: u32) -> Result<u32, Errno> {
    let mut cmd = IommuViommuAlloc {
        size: sz::<IommuViommuAlloc>(),
        type_: viommu_type,
        dev_id: dev,
        hwpt_id: hwpt,
        ..Default::default()
    };
    ioctl(ctx, IOMMU_VIOMMU_ALLOC, &mut cmd).map(|_| cmd.out_viommu_id)
}

fn invalidate(ctx: &Context, id: u32) -> (Result<i64, Errno>, u32) {
    let entry = [0u64; 4];
    let mut cmd = IommuHwptInvalidate {
        size: sz::<IommuHwptInvalidate>(),
        hwpt_id: id,
        data_uptr: entry.as_ptr() as u64,
        data_type: IOMMU_HWPT_INVALIDATE_DATA_VTD_S1,
        entry_len: 32,
        entry_num: 1,
        __reserved: 0,
    };
    let r = ioctl(ctx, IOMMU_HWPT_INVALIDATE, &mut cmd);
    (r, cmd.entry_num)
}

/// A guest DTE: V, GV, a GCR3 root at GPA 0x1000, guest DomainID 1.
fn gdte() -> [u64; 4] {
    [1 | (1 << 55) | (1 << 58), 1, 0, 0]
}

#[test]
fn hw_info_reports_efr_efr2_and_the_pasid_width() {
    let (ctx, _ioas, dev) = amd_ctx(AmdConfig::default());
    let mut data = [0xffu8; 24];
    let mut cmd = IommuHwInfo {
        size: sz::<IommuHwInfo>(),
        dev_id: dev,
        data_len: 24,
        data_uptr: data.as_mut_ptr() as u64,
        ..Default::default()
    };
    ioctl(&ctx, IOMMU_GET_HW_INFO, &mut cmd).unwrap();
    assert_eq!(cmd.out_data_type, IOMMU_HW_INFO_TYPE_AMD);
    assert_eq!(cmd.data_len, sz::<IommuHwInfoAmd>());
    assert_eq!(cmd.out_max_pasid_log2, 16);
    assert_ne!(cmd.out_capabilities & IOMMU_HW_CAP_DIRTY_TRACKING, 0);
    let (info, tail) = IommuHwInfoAmd::read_from_prefix(&data).unwrap();
    let c = AmdConfig::default();
    assert_eq!((info.efr, info.efr2), (c.efr, c.efr2));
    assert!(tail.iter().all(|&b| b == 0));
    cmd.flags = IOMMU_HW_INFO_FLAG_INPUT_TYPE;
    cmd.out_data_type = IOMMU_HW_INFO_TYPE_INTEL_VTD;
    assert_eq!(
        ioctl(&ctx, IOMMU_GET_HW_INFO, &mut cmd),
        Err(Errno::EOPNOTSUPP)
    );
    cmd.out_data_type = IOMMU_HW_INFO_TYPE_AMD;
    ioctl(&ctx, IOMMU_GET_HW_INFO, &mut cmd).unwrap();
}

#[test]
fn paging_allocation_errnos() {
    let (ctx, ioas, dev) = amd_ctx(AmdConfig::default());
    for flags in [
        0,
        IOMMU_HWPT_ALLOC_NEST_PARENT,
        IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
        IOMMU_HWPT_ALLOC_PASID,
    ] {
        hwpt_alloc(&ctx, dev, ioas, flags).unwrap();
    }
    assert_eq!(
        hwpt_alloc(
            &ctx,
            dev,
            ioas,
            IOMMU_HWPT_ALLOC_PASID | IOMMU_HWPT_ALLOC_DIRTY_TRACKING
        ),
        Err(Errno::EOPNOTSUPP)
    );
    let plain = AmdConfig {
        efr2: 0,
        ..AmdConfig::default()
    };
    let (ctx, ioas, dev) = amd_ctx(plain);
    assert_eq!(
        hwpt_alloc(&ctx, dev, ioas, IOMMU_HWPT_ALLOC_NEST_PARENT),
        Err(Errno::EOPNOTSUPP),
        "no GCR3TRPMode"
    );
}

#[test]
fn linux_7_3_allocates_no_amd_nested_domain() {
    let (ctx, ioas, dev) = amd_ctx(AmdConfig::default());
    let parent = hwpt_alloc(&ctx, dev, ioas, IOMMU_HWPT_ALLOC_NEST_PARENT).unwrap();
    let plain = hwpt_alloc(&ctx, dev, ioas, 0).unwrap();
    // On a bare nest parent: the driver has no `domain_alloc_nested`.
    assert_eq!(
        nested_alloc(&ctx, dev, parent, IOMMU_HWPT_DATA_AMD_GUEST, &gdte()),
        Err(Errno::EOPNOTSUPP)
    );
    // vIOMMU: any type but the default, over a nest parent only.
    assert_eq!(
        viommu_alloc(&ctx, dev, parent, IOMMU_VIOMMU_TYPE_DEFAULT),
        Err(Errno::EOPNOTSUPP)
    );
    assert_eq!(
        viommu_alloc(&ctx, dev, plain, IOMMU_VIOMMU_TYPE_ARM_SMMUV3),
        Err(Errno::EINVAL)
    );
    let viommu = viommu_alloc(&ctx, dev, parent, IOMMU_VIOMMU_TYPE_ARM_SMMUV3).unwrap();
    viommu_alloc(&ctx, dev, parent, 0x77).unwrap();
    // Its ops hold only `destroy`.
    assert_eq!(
        nested_alloc(&ctx, dev, viommu, IOMMU_HWPT_DATA_AMD_GUEST, &gdte()),
        Err(Errno::EOPNOTSUPP)
    );
    assert_eq!(invalidate(&ctx, viommu), (Err(Errno::EOPNOTSUPP), 0));
    assert_eq!(
        destroy(&ctx, parent),
        Err(Errno::EBUSY),
        "the vIOMMU holds it"
    );
}

#[test]
fn wired_nesting_checks_the_guest_dte() {
    let config = AmdConfig {
        viommu_nesting: true,
        ..AmdConfig::default()
    };
    let (ctx, ioas, dev) = amd_ctx(config);
    let parent = hwpt_alloc(&ctx, dev, ioas, IOMMU_HWPT_ALLOC_NEST_PARENT).unwrap();
    let viommu = viommu_alloc(&ctx, dev, parent, IOMMU_VIOMMU_TYPE_ARM_SMMUV3).unwrap();
    let nested = nested_alloc(&ctx, dev, viommu, IOMMU_HWPT_DATA_AMD_GUEST, &gdte()).unwrap();
    assert_eq!(
        nested_alloc(&ctx, dev, viommu, IOMMU_HWPT_DATA_VTD_S1, &gdte()),
        Err(Errno::EOPNOTSUPP)
    );
    type Edit = fn(&mut [u64; 4]);
    let cases: [(Edit, Errno); 5] = [
        (|g| g[0] |= 4 << 9, Errno::EINVAL),
        (|g| g[0] |= 1 << 12, Errno::EINVAL),
        (|g| g[0] &= !(7 << 58), Errno::EINVAL),
        (|g| g[0] |= 3 << 56, Errno::EINVAL),
        (|g| g[2] |= 1 << 54, Errno::EOPNOTSUPP),
    ];
    for (i, (edit, errno)) in cases.iter().enumerate() {
        let mut g = gdte();
        edit(&mut g);
        assert_eq!(
            nested_alloc(&ctx, dev, viommu, IOMMU_HWPT_DATA_AMD_GUEST, &g),
            Err(*errno),
            "case {i}"
        );
    }
    // No invalidation for AMD in 7.3, on the nested HWPT nor on the vIOMMU.
    assert_eq!(invalidate(&ctx, nested), (Err(Errno::EOPNOTSUPP), 0));
    assert_eq!(invalidate(&ctx, viommu), (Err(Errno::EOPNOTSUPP), 0));
    destroy(&ctx, nested).unwrap();
    destroy(&ctx, viommu).unwrap();
    destroy(&ctx, parent).unwrap();
}
