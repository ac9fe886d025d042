//! The blocking domain every driver has (`blocked_domain` of `struct iommu_ops`): attached, it
//! blocks all DMA. One type for all models, tagged with its driver's name so that a driver
//! owns only its own (`domain->owner == ops`).

use crate::iommu::domain::{Domain, DomainType};
use std::any::Any;

/// A blocking domain of the driver named `driver`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockingDomain {
    driver: &'static str,
}

crate::impl_no_paging!(BlockingDomain);

impl BlockingDomain {
    /// The blocking domain of the driver called `driver` (`IommuDriver::name`).
    pub const fn of(driver: &'static str) -> Self {
        BlockingDomain { driver }
    }

    /// Whether `domain` is the blocking domain of the driver called `driver`.
    pub fn is_of(domain: &dyn Domain, driver: &str) -> bool {
        domain
            .as_any()
            .downcast_ref::<BlockingDomain>()
            .is_some_and(|b| b.driver == driver)
    }
}

impl Domain for BlockingDomain {
    fn domain_type(&self) -> DomainType {
        DomainType::Blocked
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
