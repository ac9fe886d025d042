//! [`PageTable`]: what a device, PASID or HWPT can be attached to or built on — an IOAS, a
//! HWPT, or (for nested HWPTs) a vIOMMU. The `pt_id` of the uAPI.

use std::sync::Arc;

use crate::ids::PtId;
use crate::object::Object;

pub(crate) mod sealed {
    use super::*;

    pub trait Sealed {
        fn object(&self) -> &Arc<Object>;
    }
}

/// An object whose ID can be a `pt_id`: [`Ioas`](crate::Ioas), [`Hwpt`](crate::Hwpt),
/// [`Viommu`](crate::Viommu). Attaching through a `PageTable` makes the attached handle keep
/// it alive (until it is attached elsewhere or detached).
///
/// ```no_run
/// use uiommu_client::{Iommufd, PageTable, PtId};
///
/// let fd = Iommufd::open()?;
/// let ioas = fd.alloc_ioas()?;
/// assert_eq!(ioas.as_pt_id(), PtId::from(ioas.id()));
/// # Ok::<(), uiommu_client::Error>(())
/// ```
pub trait PageTable: sealed::Sealed {
    /// This object's own ID, in the form a `pt_id` field takes (the ID of the IOAS, HWPT or
    /// vIOMMU itself, not of anything it is built on).
    fn as_pt_id(&self) -> PtId {
        PtId::from_raw(self.object().id)
    }
}
