//! A context whose selftest devices sit behind an Arm SMMUv3 (`uiommu exec --driver smmuv3`):
//! through `dispatch`, `IOMMU_GET_HW_INFO` reports the SMMU's ID registers
//! (`arm_smmu_hw_info`), HWPTs are the SMMU's (`arm_smmu_domain_alloc_paging_flags`), and a
//! vSMMU (`IOMMU_VIOMMU_TYPE_ARM_SMMUV3`) takes nested STEs, vDEVICEs with vSIDs, CMDQ
//! invalidations and a vEVENTQ.

mod common;

use common::mock::*;
use common::*;
use std::sync::Arc;
use uiommu_core::context::Context;
use uiommu_core::driver::smmuv3::{SmmuConfig, SmmuDriver};
use uiommu_uapi::Errno;
use uiommu_uapi::iommufd::*;
use uiommu_uapi::selftest::*;
use zerocopy::FromBytes;

/// STE word 0: V and Config (§5.2).
const STE_V: u64 = 1;
const fn ste_cfg(cfg: u64) -> u64 {
    STE_V | (cfg << 1)
}
const CFG_BYPASS: u64 = 4;
const CFG_S1_TRANS: u64 = 5;
const CFG_S2_TRANS: u64 = 6;
/// CMDQ opcodes (§4).
const CMD_TLBI_NH_ASID: u64 = 0x11;
const CMD_TLBI_NSNH_ALL: u64 = 0x30;
const CMD_CFGI_STE: u64 = 0x03;
const CMD_CFGI_CD_ALL: u64 = 0x06;

fn smmu_ctx() -> Arc<Context> {
    let smmu = SmmuDriver::new(SmmuConfig::default());
    ctx_behind(smmu)
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

fn nested_alloc(ctx: &Context, dev: u32, pt: u32, flags: u32, ste: [u64; 2]) -> Result<u32, Errno> {
    let data = IommuHwptArmSmmuv3 {
        ste: ste.map(u64::to_le),
    };
    let mut cmd = IommuHwptAlloc {
        size: sz::<IommuHwptAlloc>(),
        flags,
        dev_id: dev,
        pt_id: pt,
        data_type: IOMMU_HWPT_DATA_ARM_SMMUV3,
        data_len: sz::<IommuHwptArmSmmuv3>(),
        data_uptr: &data as *const IommuHwptArmSmmuv3 as u64,
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

fn vdevice_alloc(ctx: &Context, viommu: u32, dev: u32, virt_id: u64) -> Result<u32, Errno> {
    let mut cmd = IommuVdeviceAlloc {
        size: sz::<IommuVdeviceAlloc>(),
        viommu_id: viommu,
        dev_id: dev,
        virt_id,
        ..Default::default()
    };
    ioctl(ctx, IOMMU_VDEVICE_ALLOC, &mut cmd).map(|_| cmd.out_vdevice_id)
}

fn veventq_alloc(ctx: &Context, viommu: u32, veventq_type: u32) -> Result<u32, Errno> {
    let mut cmd = IommuVeventqAlloc {
        size: sz::<IommuVeventqAlloc>(),
        viommu_id: viommu,
        type_: veventq_type,
        veventq_depth: 8,
        ..Default::default()
    };
    ioctl(ctx, IOMMU_VEVENTQ_ALLOC, &mut cmd).map(|_| cmd.out_veventq_id)
}

/// IOMMU_HWPT_INVALIDATE of `id` with CMDQ commands: the outcome and `entry_num` after.
fn cmdq(ctx: &Context, id: u32, cmds: &[[u64; 2]]) -> (Result<i64, Errno>, u32) {
    let entries: Vec<IommuViommuArmSmmuv3Invalidate> = cmds
        .iter()
        .map(|c| IommuViommuArmSmmuv3Invalidate {
            cmd: c.map(u64::to_le),
        })
        .collect();
    let mut cmd = IommuHwptInvalidate {
        size: sz::<IommuHwptInvalidate>(),
        hwpt_id: id,
        data_uptr: entries.as_ptr() as u64,
        data_type: IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3,
        entry_len: sz::<IommuViommuArmSmmuv3Invalidate>(),
        entry_num: cmds.len() as u32,
        __reserved: 0,
    };
    let r = ioctl(ctx, IOMMU_HWPT_INVALIDATE, &mut cmd);
    (r, cmd.entry_num)
}

fn replace(ctx: &Context, stdev: u32, pt_id: u32) -> Result<u32, Errno> {
    let cmd = test_cmd(ctx, stdev, TestMockDomainReplace { pt_id })?;
    Ok(cmd.member::<TestMockDomainReplace>().pt_id)
}

#[test]
fn mock_domain_device_reports_the_smmu_id_registers() {
    let ctx = smmu_ctx();
    let ioas = ioas_alloc(&ctx);
    let (_s, _h, idev) = mock_domain(&ctx, ioas).unwrap();
    let mut data = [0xffu8; 48];
    let mut cmd = IommuHwInfo {
        size: sz::<IommuHwInfo>(),
        dev_id: idev,
        data_len: 48,
        data_uptr: data.as_mut_ptr() as u64,
        ..Default::default()
    };
    ioctl(&ctx, IOMMU_GET_HW_INFO, &mut cmd).unwrap();
    assert_eq!(cmd.out_data_type, IOMMU_HW_INFO_TYPE_ARM_SMMUV3);
    assert_eq!(cmd.data_len, sz::<IommuHwInfoArmSmmuv3>());
    let (info, tail) = IommuHwInfoArmSmmuv3::read_from_prefix(&data).unwrap();
    let regs = SmmuConfig::default();
    assert_eq!(
        (info.flags, info.idr, info.iidr, info.aidr),
        (0, regs.idr, regs.iidr, regs.aidr)
    );
    assert!(tail.iter().all(|&b| b == 0), "the caller's tail is cleared");
    assert_ne!(cmd.out_capabilities & IOMMU_HW_CAP_DIRTY_TRACKING, 0);
    cmd.flags = IOMMU_HW_INFO_FLAG_INPUT_TYPE;
    cmd.out_data_type = IOMMU_HW_INFO_TYPE_INTEL_VTD;
    assert_eq!(
        ioctl(&ctx, IOMMU_GET_HW_INFO, &mut cmd),
        Err(Errno::EOPNOTSUPP)
    );
}

#[test]
fn paging_hwpts_are_the_smmus() {
    let ctx = smmu_ctx();
    let ioas = ioas_alloc(&ctx);
    let (stdev, _auto, idev) = mock_domain(&ctx, ioas).unwrap();
    for flags in [
        0,
        IOMMU_HWPT_ALLOC_NEST_PARENT,
        IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
    ] {
        let hwpt = hwpt_alloc(&ctx, idev, ioas, flags).unwrap();
        assert_eq!(replace(&ctx, stdev, hwpt), Ok(hwpt));
    }
    let both = IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_DIRTY_TRACKING;
    assert_eq!(hwpt_alloc(&ctx, idev, ioas, both), Err(Errno::EOPNOTSUPP));
    // Nesting goes through a vSMMU: a nest parent alone takes no STE.
    let parent = hwpt_alloc(&ctx, idev, ioas, IOMMU_HWPT_ALLOC_NEST_PARENT).unwrap();
    assert_eq!(
        nested_alloc(&ctx, idev, parent, 0, [ste_cfg(CFG_BYPASS), 0]),
        Err(Errno::EOPNOTSUPP)
    );
}

#[test]
fn a_vsmmu_takes_nested_stes_vdevices_commands_and_a_veventq() {
    let ctx = smmu_ctx();
    let ioas = ioas_alloc(&ctx);
    let (stdev, auto, idev) = mock_domain(&ctx, ioas).unwrap();
    let parent = hwpt_alloc(&ctx, idev, ioas, IOMMU_HWPT_ALLOC_NEST_PARENT).unwrap();
    assert_eq!(
        viommu_alloc(&ctx, idev, auto, IOMMU_VIOMMU_TYPE_ARM_SMMUV3),
        Err(Errno::EINVAL),
        "not a nest parent"
    );
    assert_eq!(
        viommu_alloc(&ctx, idev, parent, IOMMU_VIOMMU_TYPE_SELFTEST),
        Err(Errno::EOPNOTSUPP)
    );
    let viommu = viommu_alloc(&ctx, idev, parent, IOMMU_VIOMMU_TYPE_ARM_SMMUV3).unwrap();
    // A stage-1 STE needs the vDEVICE before the attach; bypass does not.
    let s1 = nested_alloc(&ctx, idev, viommu, 0, [ste_cfg(CFG_S1_TRANS), 0]).unwrap();
    let bypass = nested_alloc(&ctx, idev, viommu, 0, [ste_cfg(CFG_BYPASS), 0]).unwrap();
    assert_eq!(replace(&ctx, stdev, s1), Err(Errno::ENOENT));
    assert_eq!(replace(&ctx, stdev, bypass), Ok(bypass));
    vdevice_alloc(&ctx, viommu, idev, 0x42).unwrap();
    assert_eq!(replace(&ctx, stdev, s1), Ok(s1));
    // Illegal STEs are EIO; flags are EOPNOTSUPP.
    assert_eq!(
        nested_alloc(&ctx, idev, viommu, 0, [ste_cfg(CFG_S2_TRANS), 0]),
        Err(Errno::EIO)
    );
    assert_eq!(
        nested_alloc(
            &ctx,
            idev,
            viommu,
            0,
            [ste_cfg(CFG_S1_TRANS) | 1 << 6, 1 << 19]
        ),
        Err(Errno::EIO)
    );
    assert_eq!(
        nested_alloc(&ctx, idev, viommu, IOMMU_HWPT_ALLOC_PASID, [0, 0]),
        Err(Errno::EOPNOTSUPP)
    );
    // CMDQ: entry_num says how many were handled.
    let cd_all = [CMD_CFGI_CD_ALL | 0x42 << 32, 0];
    let ok = [
        [CMD_TLBI_NSNH_ALL, 0],
        [CMD_TLBI_NH_ASID | 7 << 48, 0],
        cd_all,
    ];
    assert_eq!(cmdq(&ctx, viommu, &ok), (Ok(0), 3));
    let ste = [CMD_CFGI_STE | 0x42 << 32, 0];
    assert_eq!(
        cmdq(&ctx, viommu, &[cd_all, ste, cd_all]),
        (Err(Errno::EIO), 1)
    );
    assert_eq!(
        cmdq(&ctx, viommu, &[[CMD_CFGI_CD_ALL | 0x43 << 32, 0]]),
        (Err(Errno::EIO), 0)
    );
    // Not on a nested HWPT: the SMMU's nested domains take no user invalidation.
    assert_eq!(cmdq(&ctx, s1, &ok).0, Err(Errno::EOPNOTSUPP));
    veventq_alloc(&ctx, viommu, IOMMU_VEVENTQ_TYPE_ARM_SMMUV3).unwrap();
    assert_eq!(
        veventq_alloc(&ctx, viommu, IOMMU_VEVENTQ_TYPE_ARM_SMMUV3),
        Err(Errno::EEXIST)
    );
}
