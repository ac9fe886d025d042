//! VFIO container ioctls through `dispatch`: VFIO_GET_API_VERSION, VFIO_CHECK_EXTENSION,
//! VFIO_SET_IOMMU and unknown numbers (`vfio_compat.c`: `iommufd_vfio_ioctl`,
//! `iommufd_vfio_check_extension`, `iommufd_vfio_set_iommu`).

mod common;
#[path = "common/vfio.rs"]
mod vfio;

use common::*;
use uiommu_core::object::Ioas;
use uiommu_uapi::Errno;
use uiommu_uapi::iommufd::{
    IOMMU_OPTION, IOMMU_OPTION_HUGE_PAGES, IOMMU_OPTION_OP_GET, IOMMU_OPTION_OP_SET, IommuOption,
};
use uiommu_uapi::vfio::*;
use vfio::*;

fn huge_pages(ctx: &uiommu_core::context::Context, ioas: u32) -> u64 {
    let mut cmd = IommuOption {
        size: size_of::<IommuOption>() as u32,
        option_id: IOMMU_OPTION_HUGE_PAGES,
        op: IOMMU_OPTION_OP_GET,
        object_id: ioas,
        val64: 3,
        ..Default::default()
    };
    ioctl(ctx, IOMMU_OPTION, &mut cmd).unwrap();
    cmd.val64
}

#[test]
fn api_version_is_the_return_value() {
    let ctx = ctx();
    assert_eq!(
        ioctl_at(&ctx, VFIO_GET_API_VERSION, 0),
        Ok(i64::from(VFIO_API_VERSION))
    );
    // The argument is not looked at.
    assert_eq!(ioctl_at(&ctx, VFIO_GET_API_VERSION, u64::MAX), Ok(0));
}

#[test]
fn extensions_without_a_compat_ioas() {
    let ctx = ctx();
    for (ext, want) in [
        (VFIO_TYPE1_IOMMU, Ok(1)),
        (VFIO_TYPE1v2_IOMMU, Ok(1)),
        (VFIO_UNMAP_ALL, Ok(1)),
        // Not built (no CONFIG_VFIO_NOIOMMU).
        (VFIO_NOIOMMU_IOMMU, Ok(0)),
        // The reserved number of the removed TYPE1_NESTING IOMMU.
        (6, Ok(0)),
        (VFIO_UPDATE_VADDR, Ok(0)),
        (VFIO_SPAPR_TCE_IOMMU, Ok(0)),
        (VFIO_SPAPR_TCE_v2_IOMMU, Ok(0)),
        (VFIO_EEH, Ok(0)),
        (0, Ok(0)),
        (11, Ok(0)),
        (u32::MAX, Ok(0)),
        // Cache coherency is a property of the compatibility IOAS's domains.
        (VFIO_DMA_CC_IOMMU, Err(Errno::ENODEV)),
    ] {
        assert_eq!(
            check_extension(&ctx, u64::from(ext)),
            want,
            "extension {ext}"
        );
    }
    // The whole unsigned long is compared: high bits make it no extension at all.
    assert_eq!(check_extension(&ctx, (1 << 32) | 3), Ok(0));
    assert!(ctx.objects.ids().is_empty(), "nothing is created");
}

#[test]
fn extensions_with_a_compat_ioas() {
    // An IOAS with no HWPT: nothing fails to enforce coherency.
    let ctx = ctx();
    let ioas = ioas_alloc(&ctx);
    set_compat(&ctx, ioas);
    assert_eq!(check_extension(&ctx, u64::from(VFIO_DMA_CC_IOMMU)), Ok(1));
    // The selftest mock's domains do not enforce coherency.
    let (ctx, _) = compat(0);
    assert_eq!(check_extension(&ctx, u64::from(VFIO_DMA_CC_IOMMU)), Ok(0));
    assert_eq!(check_extension(&ctx, u64::from(VFIO_TYPE1v2_IOMMU)), Ok(1));
    assert_eq!(check_extension(&ctx, u64::from(VFIO_NOIOMMU_IOMMU)), Ok(0));
    // A mock HWPT on another IOAS does not count.
    let other = ioas_alloc(&ctx);
    set_compat(&ctx, other);
    assert_eq!(check_extension(&ctx, u64::from(VFIO_DMA_CC_IOMMU)), Ok(1));
}

#[test]
fn set_iommu_needs_a_compat_ioas() {
    let ctx = ctx();
    assert_eq!(
        set_iommu(&ctx, u64::from(VFIO_TYPE1v2_IOMMU)),
        Err(Errno::ENODEV)
    );
    assert_eq!(
        set_iommu(&ctx, u64::from(VFIO_TYPE1_IOMMU)),
        Err(Errno::ENODEV)
    );
    // The type is checked first.
    assert_eq!(
        set_iommu(&ctx, u64::from(VFIO_NOIOMMU_IOMMU)),
        Err(Errno::EINVAL)
    );
    assert!(ctx.objects.ids().is_empty(), "no IOAS is created");
    assert!(ctx.vfio_ioas().is_err());
}

#[test]
fn set_iommu_rejects_other_types() {
    let (ctx, ioas) = compat(0);
    for ty in [
        0,
        u64::from(VFIO_SPAPR_TCE_IOMMU),
        u64::from(VFIO_DMA_CC_IOMMU),
        u64::from(VFIO_SPAPR_TCE_v2_IOMMU),
        u64::from(VFIO_NOIOMMU_IOMMU),
        u64::from(VFIO_UNMAP_ALL),
        6,
        (1 << 32) | 1,
        u64::MAX,
    ] {
        assert_eq!(set_iommu(&ctx, ty), Err(Errno::EINVAL), "type {ty:#x}");
    }
    assert_eq!(huge_pages(&ctx, ioas), 1);
}

#[test]
fn type1v2_keeps_large_pages_and_type1_disables_them() {
    let (ctx, ioas) = compat(0);
    let ids = ctx.objects.ids();
    assert_eq!(set_iommu(&ctx, u64::from(VFIO_TYPE1v2_IOMMU)), Ok(0));
    assert_eq!(huge_pages(&ctx, ioas), 1);
    assert_eq!(set_iommu(&ctx, u64::from(VFIO_TYPE1_IOMMU)), Ok(0));
    assert_eq!(huge_pages(&ctx, ioas), 0);
    assert_eq!(
        ctx.get::<Ioas>(ioas).unwrap().iopt.iova_alignment(),
        vfio::PAGE
    );
    // Again, and back to v2: accepted; v2 does not turn large pages back on.
    assert_eq!(set_iommu(&ctx, u64::from(VFIO_TYPE1_IOMMU)), Ok(0));
    assert_eq!(set_iommu(&ctx, u64::from(VFIO_TYPE1v2_IOMMU)), Ok(0));
    assert_eq!(huge_pages(&ctx, ioas), 0);
    assert_eq!(ctx.objects.ids(), ids, "nothing is created");
}

#[test]
fn type1_after_mappings_in_a_domain_is_einval() {
    let (ctx, ioas) = compat(VFIO_TYPE1v2_IOMMU);
    let buf = Buffer::new(2 * 4096);
    map_buf(&ctx, &buf, 0, 1 << 24, 2 * vfio::PAGE).unwrap();
    assert_eq!(
        set_iommu(&ctx, u64::from(VFIO_TYPE1_IOMMU)),
        Err(Errno::EINVAL)
    );
    assert_eq!(huge_pages(&ctx, ioas), 1, "unchanged");
    assert_eq!(areas(&ctx, ioas), [(1 << 24, 2 * vfio::PAGE)]);
}

#[test]
fn type1_over_an_unaligned_mapping_is_eaddrinuse() {
    // No domain: byte-granular mappings are possible, and disabling large pages raises the
    // alignment to PAGE_SIZE, which they do not meet.
    let ctx = ctx();
    let ioas = ioas_alloc(&ctx);
    set_compat(&ctx, ioas);
    let buf = Buffer::new(4096);
    map_buf(&ctx, &buf, 0, 0x10_0000, 100).unwrap();
    assert_eq!(
        set_iommu(&ctx, u64::from(VFIO_TYPE1_IOMMU)),
        Err(Errno::EADDRINUSE)
    );
    assert_eq!(huge_pages(&ctx, ioas), 1, "unchanged");
    assert_eq!(set_iommu(&ctx, u64::from(VFIO_TYPE1v2_IOMMU)), Ok(0));
    // After unmapping it, TYPE1 works.
    let mut all = unmap_cmd(VFIO_DMA_UNMAP_FLAG_ALL, 0, 0);
    ioctl(&ctx, VFIO_IOMMU_UNMAP_DMA, &mut all).unwrap();
    assert_eq!(all.size, 100);
    assert_eq!(set_iommu(&ctx, u64::from(VFIO_TYPE1_IOMMU)), Ok(0));
}

#[test]
fn huge_pages_option_after_type1_can_be_turned_back_on() {
    let (ctx, ioas) = compat(VFIO_TYPE1_IOMMU);
    let mut cmd = IommuOption {
        size: size_of::<IommuOption>() as u32,
        option_id: IOMMU_OPTION_HUGE_PAGES,
        op: IOMMU_OPTION_OP_SET,
        object_id: ioas,
        val64: 1,
        ..Default::default()
    };
    ioctl(&ctx, IOMMU_OPTION, &mut cmd).unwrap();
    assert_eq!(huge_pages(&ctx, ioas), 1);
}

#[test]
fn compat_ioas_destroyed_is_enodev() {
    let ctx = ctx();
    let ioas = ioas_alloc(&ctx);
    set_compat(&ctx, ioas);
    assert_eq!(set_iommu(&ctx, u64::from(VFIO_TYPE1v2_IOMMU)), Ok(0));
    ctx.destroy(ioas).unwrap();
    assert_eq!(
        set_iommu(&ctx, u64::from(VFIO_TYPE1v2_IOMMU)),
        Err(Errno::ENODEV)
    );
    assert_eq!(
        check_extension(&ctx, u64::from(VFIO_DMA_CC_IOMMU)),
        Err(Errno::ENODEV)
    );
}

#[test]
fn unknown_numbers_are_enotty() {
    let (ctx, _) = compat(VFIO_TYPE1v2_IOMMU);
    let mut junk = [0u8; 64];
    let at = junk.as_mut_ptr() as u64;
    for cmd in [
        VFIO_IOMMU_DIRTY_PAGES,
        VFIO_GROUP_GET_STATUS,
        VFIO_GROUP_SET_CONTAINER,
        VFIO_DEVICE_GET_INFO,
        VFIO_IOMMU_ENABLE,
        VFIO_IOMMU_DISABLE,
        VFIO_EEH_PE_OP,
        // The right number with another type byte.
        VFIO_GET_API_VERSION ^ (1 << 8),
        0,
    ] {
        assert_eq!(ioctl_at(&ctx, cmd, at), Err(Errno::ENOTTY), "cmd {cmd:#x}");
    }
    assert!(junk.iter().all(|&b| b == 0), "nothing written");
    // SPAPR's GET_INFO shares type1's number, so it is answered as type1's.
    assert_eq!(VFIO_IOMMU_SPAPR_TCE_GET_INFO, VFIO_IOMMU_GET_INFO);
}
