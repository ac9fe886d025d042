//! `IOMMU_HWPT_INVALIDATE`: the request array and what the kernel reports back, for nested
//! HWPTs and vIOMMUs alike.

use uiommu_uapi::iommufd::*;
use uiommu_uapi::selftest::{
    IOMMU_HWPT_INVALIDATE_DATA_SELFTEST, IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST,
    IommuHwptInvalidateSelftest, IommuViommuInvalidateSelftest,
};
use zerocopy::IntoBytes;

use crate::error::Result;
use crate::iommufd::Iommufd;

/// What `IOMMU_HWPT_INVALIDATE` reports: the entries handled (`entry_num` written back,
/// even on failure) and the result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalidated {
    /// Entries the driver handled before stopping.
    pub handled: u32,
    /// The ioctl's result.
    pub result: Result<()>,
}

impl Invalidated {
    /// The handled count if the ioctl succeeded.
    pub fn into_result(self) -> Result<u32> {
        self.result.map(|()| self.handled)
    }
}

/// The request array of `IOMMU_HWPT_INVALIDATE` (`data_type`, `entry_len`, `entry_num`).
#[derive(Debug, Clone, Copy)]
pub enum InvalidateData<'a> {
    /// `IOMMU_HWPT_INVALIDATE_DATA_VTD_S1` on a nested VT-d HWPT.
    VtdS1(&'a [IommuHwptVtdS1Invalidate]),
    /// `IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3` on a vSMMU: CMDQ commands.
    ArmSmmuv3(&'a [IommuViommuArmSmmuv3Invalidate]),
    /// `IOMMU_HWPT_INVALIDATE_DATA_SELFTEST` on a nested mock HWPT.
    Selftest(&'a [IommuHwptInvalidateSelftest]),
    /// `IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST` on a mock vIOMMU.
    ViommuSelftest(&'a [IommuViommuInvalidateSelftest]),
    /// Anything, for testing the kernel's checks.
    Raw {
        /// `data_type`.
        data_type: u32,
        /// `entry_len`.
        entry_len: u32,
        /// `entry_num`.
        entry_num: u32,
        /// The array (`data_uptr`); an empty slice passes a NULL pointer.
        bytes: &'a [u8],
    },
}

impl InvalidateData<'_> {
    fn parts(&self) -> (u32, u32, u32, &[u8]) {
        fn arr<T: IntoBytes + zerocopy::Immutable>(t: u32, a: &[T]) -> (u32, u32, u32, &[u8]) {
            (t, size_of::<T>() as u32, a.len() as u32, a.as_bytes())
        }
        match *self {
            InvalidateData::VtdS1(a) => arr(IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, a),
            InvalidateData::ArmSmmuv3(a) => arr(IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3, a),
            InvalidateData::Selftest(a) => arr(IOMMU_HWPT_INVALIDATE_DATA_SELFTEST, a),
            InvalidateData::ViommuSelftest(a) => arr(IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST, a),
            InvalidateData::Raw {
                data_type,
                entry_len,
                entry_num,
                bytes,
            } => (data_type, entry_len, entry_num, bytes),
        }
    }
}

/// ioctl(IOMMU_HWPT_INVALIDATE) on object `id` (a nested HWPT or a vIOMMU).
pub(crate) fn invalidate(ctx: &Iommufd, id: u32, data: &InvalidateData<'_>) -> Invalidated {
    // `hwpt_id` takes a nested HWPT or a vIOMMU: the callers pass their own, typed, ID.
    let (data_type, entry_len, entry_num, bytes) = data.parts();
    let mut cmd = IommuHwptInvalidate {
        size: size_of::<IommuHwptInvalidate>() as u32,
        hwpt_id: id,
        data_uptr: if bytes.is_empty() {
            0
        } else {
            bytes.as_ptr() as u64
        },
        data_type,
        entry_len,
        entry_num,
        __reserved: 0,
    };
    let result = ctx
        .ioctl("IOMMU_HWPT_INVALIDATE", IOMMU_HWPT_INVALIDATE, &mut cmd)
        .map(|_| ());
    Invalidated {
        handled: cmd.entry_num,
        result,
    }
}
