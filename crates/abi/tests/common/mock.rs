//! IOMMU_TEST_CMD helpers.
#![allow(dead_code)]

use super::ioctl;
use uiommu_core::context::Context;
use uiommu_uapi::Errno;
use uiommu_uapi::selftest::*;

/// Runs a test command built from `member` on object `id`; returns the command as written back.
pub fn test_cmd<T: TestCmdMember>(
    ctx: &Context,
    id: u32,
    member: T,
) -> Result<IommuTestCmd, Errno> {
    let mut cmd = IommuTestCmd::new(id, member);
    ioctl(ctx, IOMMU_TEST_CMD, &mut cmd).map(|_| cmd)
}

/// IOMMU_TEST_OP_MOCK_DOMAIN on `pt_id`: (stdev_id, hwpt_id, idev_id).
pub fn mock_domain(ctx: &Context, pt_id: u32) -> Result<(u32, u32, u32), Errno> {
    mock_domain_flags(ctx, pt_id, 0)
}

/// IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS.
pub fn mock_domain_flags(ctx: &Context, pt_id: u32, flags: u32) -> Result<(u32, u32, u32), Errno> {
    let cmd = test_cmd(
        ctx,
        pt_id,
        TestMockDomainFlags {
            dev_flags: flags,
            ..Default::default()
        },
    )?;
    let m = cmd.member::<TestMockDomainFlags>();
    Ok((m.out_stdev_id, m.out_hwpt_id, m.out_idev_id))
}
