//! `--device` and `uiommu devices`: the emulated PCI devices of a process.

use uiommu_abi::host;
use uiommu_abi::placement::{self, Placement};

/// Prints each device model's name and summary, one per line.
pub fn list() {
    crate::exec::print_names(host::DEVICE_MODELS.iter().map(|m| (m.name, m.summary)));
}

/// The devices of the `--device` values, checked against the host: an address or group the
/// host's sysfs already shows would hide the host's own entry.
pub fn resolve(specs: &[String]) -> Result<Vec<Placement>, String> {
    let devices = placement::parse(specs.iter().map(String::as_str))?;
    for d in &devices {
        let bdf = d.bdf;
        if std::fs::symlink_metadata(format!("/sys/bus/pci/devices/{bdf}")).is_ok() {
            return Err(format!(
                "PCI address {bdf} is a device of this host; choose another with bdf="
            ));
        }
        let group = d.group;
        if std::fs::symlink_metadata(format!("/sys/kernel/iommu_groups/{group}")).is_ok() {
            return Err(format!(
                "IOMMU group {group} exists on this host; choose another with group="
            ));
        }
    }
    Ok(devices)
}
