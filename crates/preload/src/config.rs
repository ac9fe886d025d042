//! Settings the launcher passes in the environment.

use std::sync::OnceLock;

/// The environment variable naming the IOMMU model.
pub const DRIVER_ENV: &str = "UIOMMU_DRIVER";

/// IOMMU models this build provides.
pub const DRIVERS: &[&str] = &["mock"];

/// `Ok` if the selected driver exists (unset means `mock`); otherwise the reason, reported
/// once on stderr, and opens of the nodes fail with `ENODEV`.
pub fn driver() -> Result<&'static str, ()> {
    static DRIVER: OnceLock<Result<&'static str, ()>> = OnceLock::new();
    *DRIVER.get_or_init(|| {
        let name = std::env::var(DRIVER_ENV).unwrap_or_else(|_| "mock".into());
        match DRIVERS.iter().find(|&&d| d == name) {
            Some(d) => Ok(*d),
            None => {
                eprintln!(
                    "uiommu: unknown IOMMU driver {name:?} in {DRIVER_ENV} (known: {})",
                    DRIVERS.join(", ")
                );
                Err(())
            }
        }
    })
}
