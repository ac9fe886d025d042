//! Container-level ioctls: extensions and IOMMU type selection (`vfio_compat.c`:
//! `iommufd_vfio_check_extension`, `iommufd_vfio_set_iommu`, `iommufd_vfio_cc_iommu`).

use super::compat_ioas;
use uiommu_core::context::Context;
use uiommu_core::hwpt::HwptPaging;
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;
use uiommu_uapi::vfio::{VFIO_DMA_CC_IOMMU, VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU, VFIO_UNMAP_ALL};

/// `VFIO_CHECK_EXTENSION` (`iommufd_vfio_check_extension`): 1 for TYPE1, TYPE1v2 and
/// UNMAP_ALL; `VFIO_DMA_CC_IOMMU` asks the compatibility IOAS (`ENODEV` without one); 0 for
/// everything else — NOIOMMU (not built), the reserved TYPE1_NESTING number, UPDATE_VADDR
/// (deliberately not offered by iommufd), the SPAPR types and EEH.
pub(super) fn check_extension(ctx: &Context, arg: u64) -> Result<i64> {
    let Ok(ext) = u32::try_from(arg) else {
        // The kernel compares the whole `unsigned long`: no extension is that large.
        return Ok(0);
    };
    if [VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU, VFIO_UNMAP_ALL].contains(&ext) {
        Ok(1)
    } else if ext == VFIO_DMA_CC_IOMMU {
        cc_iommu(ctx)
    } else {
        Ok(0)
    }
}

/// `iommufd_vfio_cc_iommu`: 1 unless a paging HWPT of the compatibility IOAS does not enforce
/// cache coherency (`ENODEV` without a compatibility IOAS).
fn cc_iommu(ctx: &Context) -> Result<i64> {
    let ioas = compat_ioas(ctx)?;
    let all = ioas
        .paging_hwpts()
        .iter()
        .all(|h| enforces_cache_coherency(h));
    Ok(i64::from(all))
}

/// `hwpt_paging->enforce_cache_coherency`: set only when the domain's
/// `enforce_cache_coherency` op succeeds. No domain of this build has that op (the selftest
/// mock has none), so no HWPT enforces coherency.
fn enforces_cache_coherency(_hwpt: &HwptPaging) -> bool {
    false
}

/// `VFIO_SET_IOMMU` (`iommufd_vfio_set_iommu`): only TYPE1 and TYPE1v2 (`EINVAL` otherwise,
/// NOIOMMU included), and only once a compatibility IOAS exists (`ENODEV`, VFIO's "no group
/// in the container"). Nothing is created. TYPE1 may unmap inside a mapping, so it disables
/// large pages on the IOAS for good (`iopt_disable_large_pages`: `EINVAL` if a domain already
/// holds mappings, `EADDRINUSE` if a mapping is not page aligned); TYPE1v2 changes nothing.
/// Setting again, or switching type, is allowed.
pub(super) fn set_iommu(ctx: &Context, arg: u64) -> Result<()> {
    let is = |t: u32| arg == u64::from(t);
    if !is(VFIO_TYPE1_IOMMU) && !is(VFIO_TYPE1v2_IOMMU) {
        return Err(Errno::EINVAL);
    }
    let ioas = compat_ioas(ctx)?;
    if is(VFIO_TYPE1_IOMMU) {
        ioas.iopt.set_huge_pages(false)?;
    }
    Ok(())
}
