//! Settings the launcher passes in the environment.

use std::sync::OnceLock;

/// The environment variable naming the IOMMU model.
pub const DRIVER_ENV: &str = "UIOMMU_DRIVER";

/// IOMMU models this build provides.
pub const DRIVERS: &[&str] = &["mock"];

/// The selected driver (unset means `mock`), or `None` if there is no such driver: that is
/// reported once on stderr, and opens of the nodes fail with `ENODEV`.
pub fn driver() -> Option<&'static str> {
    static DRIVER: OnceLock<Option<&'static str>> = OnceLock::new();
    *DRIVER.get_or_init(|| {
        let name = std::env::var(DRIVER_ENV).unwrap_or_else(|_| "mock".into());
        match DRIVERS.iter().find(|&&d| d == name) {
            Some(d) => Some(*d),
            None => {
                eprintln!(
                    "uiommu: unknown IOMMU driver {name:?} in {DRIVER_ENV} (known: {})",
                    DRIVERS.join(", ")
                );
                None
            }
        }
    })
}
