//! What a vSMMU (`struct arm_vsmmu`) shares with its nested domains and its CMDQ: the SMMU,
//! the stage-2 nest parent and its VMID, and the core's vIOMMU with the vDEVICEs that carry
//! the guest's virtual stream IDs.

use super::paging::PagingInner;
use super::unit::Unit;
use crate::iommu::viommu_core::ViommuCore;
use std::sync::Arc;

/// What the vSMMU's nested domains and commands share.
#[derive(Debug)]
pub struct VsmmuShared {
    /// The SMMU (`vsmmu->smmu`).
    pub unit: Arc<Unit>,
    /// The stage-2 parent (`vsmmu->s2_parent`).
    pub(crate) parent: Arc<PagingInner>,
    /// The parent's VMID (`vsmmu->vmid`).
    pub vmid: u16,
    /// The core's vIOMMU: virtual devices and vEVENTQs.
    pub core: Arc<ViommuCore>,
}
