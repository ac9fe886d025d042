//! Settings the launcher passes in the environment.

use std::sync::{Arc, OnceLock};
use uiommu_core::driver::smmuv3::{SmmuConfig, SmmuDriver};
use uiommu_core::driver::vtd::{VtdConfig, VtdDriver};
use uiommu_core::selftest::TestIommu;

/// The environment variable naming the IOMMU model.
pub const DRIVER_ENV: &str = "UIOMMU_DRIVER";

/// IOMMU models this build provides: the IOMMU the devices of `IOMMU_TEST_OP_MOCK_DOMAIN` sit
/// behind. `mock` is the kernel's selftest mock driver; `vtd` is one VT-d unit in scalable
/// mode with [`VtdConfig::default`]'s registers, `smmuv3` one Arm SMMUv3 with
/// [`SmmuConfig::default`]'s, shared by every context of the process.
pub const DRIVERS: &[&str] = &["mock", "vtd", "smmuv3"];

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

/// The IOMMU behind the selftest devices of a context opened now.
pub fn test_iommu() -> TestIommu {
    static VTD: OnceLock<Arc<VtdDriver>> = OnceLock::new();
    static SMMUV3: OnceLock<Arc<SmmuDriver>> = OnceLock::new();
    match driver() {
        Some("vtd") => TestIommu::Vtd(Arc::clone(
            VTD.get_or_init(|| VtdDriver::new(VtdConfig::default())),
        )),
        Some("smmuv3") => TestIommu::Smmuv3(Arc::clone(
            SMMUV3.get_or_init(|| SmmuDriver::new(SmmuConfig::default())),
        )),
        _ => TestIommu::Mock,
    }
}
