//! `--device` and `uiommu devices`: the emulated PCI devices of a process.

use uiommu_abi::host;
use uiommu_abi::placement::{self, Placement};

/// Prints each device model's name and summary, one per line.
pub fn list() {
    crate::exec::print_names(host::DEVICE_MODELS.iter().map(|m| (m.name, m.summary)));
}

/// The devices of the `--device` values, checked against the host: an address, group or
/// cdev the host already has would hide the host's own entry. Default cdev indexes skip
/// the host's.
pub fn resolve(specs: &[String]) -> Result<Vec<Placement>, String> {
    let host_cdev = |n: u32| {
        std::fs::symlink_metadata(format!("/dev/vfio/devices/vfio{n}")).is_ok()
            || std::fs::symlink_metadata(format!("/sys/class/vfio-dev/vfio{n}")).is_ok()
    };
    let devices = placement::parse_on_host(specs.iter().map(String::as_str), &host_cdev)?;
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
        let cdev = d.cdev;
        if host_cdev(cdev) {
            return Err(format!(
                "VFIO device vfio{cdev} exists on this host; choose another with cdev="
            ));
        }
    }
    Ok(devices)
}
