//! Settings the launcher passes in the environment.

use std::sync::{Arc, OnceLock};
use uiommu_abi::host::{self, IommuDriver, Model};

/// The environment variable naming the IOMMU model.
pub const DRIVER_ENV: &str = "UIOMMU_DRIVER";

/// Set to `1`, each fault the IOMMU records for an emulated device's DMA is also printed on
/// stderr, as a kernel prints it to its log (`DMAR: [DMA Write NO_PASID] …`).
pub const LOG_FAULTS_ENV: &str = "UIOMMU_LOG_FAULTS";

/// Set to `1`, each `IOMMU_HWPT_ALLOC` and `IOMMU_HWPT_INVALIDATE` is printed on stderr with
/// its arguments and uiommu's answer ([`crate::hwpt_log`]).
pub const LOG_HWPT_ENV: &str = "UIOMMU_LOG_HWPT";

/// The environment variable choosing what `/dev/vfio/vfio` is: `type1`, the legacy container
/// of a kernel built with `CONFIG_VFIO_CONTAINER` (`drivers/vfio/container.c` with the type1
/// backend); unset or `iommufd`, iommufd's compatibility container
/// (`CONFIG_IOMMUFD_VFIO_CONTAINER`). `/dev/iommu` is iommufd either way.
pub const VFIO_CONTAINER_ENV: &str = "UIOMMU_VFIO_CONTAINER";

/// Whether [`VFIO_CONTAINER_ENV`] asks for the legacy type1 container (read once). Another
/// value than `type1` or `iommufd` is reported once on stderr and leaves the default.
pub fn legacy_container() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| match std::env::var(VFIO_CONTAINER_ENV) {
        Ok(v) if v == "type1" => true,
        Ok(v) if v == "iommufd" || v.is_empty() => false,
        Err(_) => false,
        Ok(v) => {
            eprintln!(
                "uiommu: unknown VFIO container {v:?} in {VFIO_CONTAINER_ENV} (known: iommufd, type1)"
            );
            false
        }
    })
}

/// Whether [`LOG_HWPT_ENV`] asks for the HWPT calls on stderr (read once: every ioctl asks).
pub fn log_hwpt() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| flag(LOG_HWPT_ENV))
}

/// Whether [`LOG_FAULTS_ENV`] asks for the faults on stderr.
pub fn log_faults() -> bool {
    flag(LOG_FAULTS_ENV)
}

/// Whether the environment variable `name` is `1`.
fn flag(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| v == "1")
}

/// The selected model (unset means the default, the selftest mock), or `None` if there is no
/// such model: that is reported once on stderr, and opens of the nodes fail with `ENODEV`.
pub fn model() -> Option<&'static Model> {
    static MODEL: OnceLock<Option<&'static Model>> = OnceLock::new();
    *MODEL.get_or_init(|| match std::env::var(DRIVER_ENV) {
        Err(_) => Some(host::default_model()),
        Ok(name) => host::model(&name).or_else(|| {
            let known: Vec<_> = host::MODELS.iter().map(|m| m.name).collect();
            eprintln!(
                "uiommu: unknown IOMMU driver {name:?} in {DRIVER_ENV} (known: {})",
                known.join(", ")
            );
            None
        }),
    })
}

/// The IOMMU the devices of a context opened now sit behind: one instance of the selected
/// model, shared by every context of the process.
pub fn iommu() -> Option<Arc<dyn IommuDriver>> {
    static IOMMU: OnceLock<Option<Arc<dyn IommuDriver>>> = OnceLock::new();
    IOMMU.get_or_init(|| model().map(Model::create)).clone()
}
