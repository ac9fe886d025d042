//! [`PageTable`]: what a device, PASID or HWPT can be attached to or built on — an IOAS, a
//! HWPT, or (for nested HWPTs) a vIOMMU. The `pt_id` of the uAPI.

use std::sync::Arc;

use crate::object::Object;

pub(crate) mod sealed {
    use super::*;

    pub trait Sealed {
        fn object(&self) -> &Arc<Object>;
    }
}

/// An object whose ID can be a `pt_id`: [`Ioas`](crate::Ioas), [`Hwpt`](crate::Hwpt),
/// [`Viommu`](crate::Viommu). Attaching through a `PageTable` makes the attached handle keep
/// it alive.
///
/// ```no_run
/// use uiommu_client::{Iommufd, PageTable};
///
/// let fd = Iommufd::open()?;
/// let ioas = fd.alloc_ioas()?;
/// assert_eq!(ioas.pt_id(), ioas.id());
/// # Ok::<(), uiommu_client::Error>(())
/// ```
pub trait PageTable: sealed::Sealed {
    /// The object ID.
    fn pt_id(&self) -> u32 {
        self.object().id
    }
}
