//! Dirty tracking on any HWPT ID: `IOMMU_HWPT_SET_DIRTY_TRACKING` and
//! `IOMMU_HWPT_GET_DIRTY_BITMAP`.

use uiommu_uapi::iommufd::*;

use crate::error::{Error, Result};
use crate::ids::HwptId;
use crate::iommufd::Iommufd;

/// ioctl(IOMMU_HWPT_SET_DIRTY_TRACKING) on any HWPT ID.
pub(crate) fn set_dirty_tracking(ctx: &Iommufd, hwpt_id: HwptId, enable: bool) -> Result<()> {
    let mut cmd = IommuHwptSetDirtyTracking {
        size: size_of::<IommuHwptSetDirtyTracking>() as u32,
        flags: if enable {
            IOMMU_HWPT_DIRTY_TRACKING_ENABLE
        } else {
            0
        },
        hwpt_id: hwpt_id.raw(),
        __reserved: 0,
    };
    ctx.ioctl(
        "IOMMU_HWPT_SET_DIRTY_TRACKING",
        IOMMU_HWPT_SET_DIRTY_TRACKING,
        &mut cmd,
    )?;
    Ok(())
}

/// ioctl(IOMMU_HWPT_GET_DIRTY_BITMAP) on any HWPT ID, with raw flags.
pub(crate) fn get_dirty_bitmap(
    ctx: &Iommufd,
    hwpt_id: HwptId,
    iova: u64,
    length: u64,
    page_size: u64,
    flags: u32,
) -> Result<Vec<u64>> {
    let op = "IOMMU_HWPT_GET_DIRTY_BITMAP";
    let pages = length.checked_div(page_size).unwrap_or(0);
    let words = usize::try_from(pages.div_ceil(64)).map_err(|_| Error::Protocol {
        op,
        what: "bitmap too large".into(),
    })?;
    let mut bitmap = vec![0u64; words.max(1)];
    let mut cmd = IommuHwptGetDirtyBitmap {
        size: size_of::<IommuHwptGetDirtyBitmap>() as u32,
        hwpt_id: hwpt_id.raw(),
        flags,
        iova,
        length,
        page_size,
        data: bitmap.as_mut_ptr() as u64,
        ..Default::default()
    };
    ctx.ioctl(op, IOMMU_HWPT_GET_DIRTY_BITMAP, &mut cmd)?;
    bitmap.truncate(words);
    Ok(bitmap)
}
