//! `hw_info` of a driver with one data type (`iommu_ops.hw_info`): the default type or the
//! driver's own get the driver's struct, any other type is `EOPNOTSUPP`.

use crate::iommu::HwInfo;
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;
use uiommu_uapi::iommufd::IOMMU_HW_INFO_TYPE_DEFAULT;
use zerocopy::{Immutable, IntoBytes};

/// `info` as `data_type` if `requested` asks for it or for the default.
pub fn hw_info<T: IntoBytes + Immutable>(
    requested: u32,
    data_type: u32,
    info: impl FnOnce() -> T,
) -> Option<Result<HwInfo>> {
    if requested != IOMMU_HW_INFO_TYPE_DEFAULT && requested != data_type {
        return Some(Err(Errno::EOPNOTSUPP));
    }
    Some(Ok(HwInfo {
        data_type,
        data: info().as_bytes().to_vec(),
    }))
}
