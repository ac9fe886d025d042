//! A domain as its driver sees it (`domain->owner == ops`, then the domain's type): the
//! driver's blocking domain, one of its paging domains or one of its nested domains, or not
//! the driver's at all.

use super::BlockingDomain;
use crate::iommu::domain::Domain;

/// One of a driver's domains, paging domains of type `P` and nested ones of type `N`.
#[derive(Debug)]
pub enum Kind<'a, P, N> {
    /// The driver's blocking domain.
    Blocked,
    /// A paging domain.
    Paging(&'a P),
    /// A nested domain.
    Nested(&'a N),
}

impl<'a, P: 'static, N: 'static> Kind<'a, P, N> {
    /// What `domain` is to the driver called `driver`; `None` if it is not the driver's.
    pub fn of(domain: &'a dyn Domain, driver: &str) -> Option<Self> {
        let any = domain.as_any();
        if let Some(p) = any.downcast_ref::<P>() {
            Some(Kind::Paging(p))
        } else if let Some(n) = any.downcast_ref::<N>() {
            Some(Kind::Nested(n))
        } else if BlockingDomain::is_of(domain, driver) {
            Some(Kind::Blocked)
        } else {
            None
        }
    }
}
