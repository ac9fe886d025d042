//! The vSMMU (`arm_vsmmu_init`, `struct arm_vsmmu`, `arm_vsmmu_ops`): a virtual SMMU of one
//! SMMU over a stage-2 nest parent, whose VMID its guest's invalidations are confined to,
//! with nested domains from guest STEs ([`super::nested`]), CMDQ invalidation
//! ([`super::cmdq`]) and vDEVICEs carrying virtual stream IDs; what those share is
//! [`VsmmuShared`].

use super::SmmuMaster;
use super::cmdq;
use super::nested::{SmmuNested, validate_vste};
use super::paging::{SmmuPaging, StageId};
use super::unit::Unit;
use super::vsmmu_shared::VsmmuShared;
use crate::iommu::domain::Domain;
use crate::iommu::viommu::{ViommuInit, ViommuOps};
use crate::iommu::{DriverData, PhysDevice};
use std::sync::Arc;
use uiommu_uapi::copy::{UserDataArray, read_user_data};
use uiommu_uapi::errno::Result;
use uiommu_uapi::iommufd::{IOMMU_HWPT_DATA_ARM_SMMUV3, IommuHwptArmSmmuv3};
use uiommu_uapi::{Errno, UserMemory, offset_of_end};

/// A vSMMU.
#[derive(Debug)]
pub struct Vsmmu {
    pub(crate) shared: Arc<VsmmuShared>,
}

impl Vsmmu {
    /// `arm_vsmmu_init`: the parent must be a stage-2 domain of this SMMU (`EINVAL`).
    pub(crate) fn new(unit: &Arc<Unit>, init: &ViommuInit<'_>) -> Result<Self> {
        let parent = init
            .parent
            .as_any()
            .downcast_ref::<SmmuPaging>()
            .ok_or(Errno::EINVAL)?;
        if !Arc::ptr_eq(parent.unit(), unit) {
            return Err(Errno::EINVAL);
        }
        let StageId::S2 { vmid } = parent.stage_id() else {
            return Err(Errno::EINVAL);
        };
        Ok(Vsmmu {
            shared: Arc::new(VsmmuShared {
                unit: Arc::clone(unit),
                parent: Arc::clone(&parent.inner),
                vmid,
                core: Arc::clone(init.core),
            }),
        })
    }

    /// The VMID the vSMMU's invalidations are confined to.
    pub fn vmid(&self) -> u16 {
        self.shared.vmid
    }
}

impl ViommuOps for Vsmmu {
    /// `arm_vsmmu_alloc_domain_nested`: no flags; the STE read as `iommu_hwpt_arm_smmuv3`
    /// and validated.
    fn alloc_domain_nested(
        &self,
        flags: u32,
        data: DriverData<'_>,
    ) -> Option<Result<Arc<dyn Domain>>> {
        Some((|| {
            if flags != 0 {
                return Err(Errno::EOPNOTSUPP);
            }
            let arg: IommuHwptArmSmmuv3 = read_user_data(
                &data.mem,
                &data.data,
                IOMMU_HWPT_DATA_ARM_SMMUV3,
                offset_of_end!(IommuHwptArmSmmuv3, ste),
            )?;
            let mut words = arg.ste.map(u64::from_le);
            let enable_ats = validate_vste(&mut words)?;
            Ok(Arc::new(SmmuNested::new(&self.shared, words, enable_ats)?) as Arc<dyn Domain>)
        })())
    }

    /// `arm_vsmmu_cache_invalidate`.
    fn cache_invalidate(
        &self,
        requests: &UserDataArray,
        mem: &dyn UserMemory,
    ) -> Option<(u32, Result<()>)> {
        Some(cmdq::invalidate(&self.shared, requests, mem))
    }

    /// `arm_vsmmu_vdevice_init`: a device with exactly one stream.
    fn vdevice_init(&self, dev: &Arc<PhysDevice>, _virt_id: u64) -> Result<()> {
        dev.state::<SmmuMaster>().ok_or(Errno::EOPNOTSUPP)?;
        Ok(())
    }
}
