//! The process's emulated PCI devices, created at first need from the list the launcher put in
//! [`DEVICES_ENV`]: each one probed on the process's IOMMU ([`config::iommu`]) and created by
//! its model, with where it sits (address, group, cdev) and its sysfs entries ([`tree`]).
//!
//! A list that does not parse, or a device that cannot be created, is reported once on stderr
//! and the process has no (or fewer) devices; the program itself runs on.

use crate::config;
use std::cell::Cell;
use std::sync::{Arc, OnceLock};
use uiommu_abi::host::{DeviceSpec, PhysDevice, SharedFunction};
use uiommu_abi::placement::{self, DEVICES_ENV, Placement};
use uiommu_abi::sysfs::{Tree, VFIO_CDEV_MAJOR};

/// One emulated device.
pub struct Emulated {
    /// Where it sits: model, address, IOMMU group, cdev index.
    pub placement: Placement,
    /// The device its IOMMU probed for it.
    pub phys: Arc<PhysDevice>,
    /// The function, shared with every view of it.
    pub function: SharedFunction,
}

impl Emulated {
    /// `(major, minor)` of its cdev, `/dev/vfio/devices/vfioN`.
    pub fn cdev_rdev(&self) -> (u32, u32) {
        (VFIO_CDEV_MAJOR, self.placement.cdev)
    }
}

struct Registry {
    devices: Vec<Emulated>,
    tree: Tree,
}

thread_local! {
    /// Set while this thread creates the devices: a call they make that would look the
    /// registry up again sees no devices instead of waiting for itself.
    static CREATING: Cell<bool> = const { Cell::new(false) };
}

/// Whether the launcher configured any device (cheap: no device is created).
pub fn configured() -> bool {
    static ANY: OnceLock<bool> = OnceLock::new();
    *ANY.get_or_init(|| std::env::var_os(DEVICES_ENV).is_some_and(|v| !v.is_empty()))
}

fn registry() -> Option<&'static Registry> {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    if !configured() || CREATING.get() {
        return None;
    }
    Some(REGISTRY.get_or_init(|| {
        CREATING.set(true);
        let r = create();
        CREATING.set(false);
        r
    }))
}

fn create() -> Registry {
    let text = std::env::var(DEVICES_ENV).unwrap_or_default();
    let placements = placement::parse_list(&text).unwrap_or_else(|e| {
        eprintln!("uiommu: {DEVICES_ENV}: {e}; no device is emulated");
        Vec::new()
    });
    let devices: Vec<Emulated> = placements.into_iter().filter_map(create_one).collect();
    let pairs: Vec<_> = devices
        .iter()
        .map(|d| (d.placement, d.function.clone()))
        .collect();
    Registry {
        tree: Tree::new(&pairs),
        devices,
    }
}

fn create_one(placement: Placement) -> Option<Emulated> {
    let fail = |why: String| {
        eprintln!("uiommu: device {placement} not created: {why}");
        None
    };
    let Some(iommu) = config::iommu() else {
        return fail("no IOMMU model".into());
    };
    let phys = match iommu.probe_device(DeviceSpec::default()) {
        Ok(p) => Arc::new(p),
        Err(e) => return fail(format!("probe_device: errno {}", e.0)),
    };
    let function = placement.model.create(phys.clone());
    Some(Emulated {
        placement,
        phys,
        function,
    })
}

/// Every device, in the order configured.
pub fn all() -> &'static [Emulated] {
    registry().map_or(&[], |r| &r.devices)
}

/// The device of cdev `/dev/vfio/devices/vfio{index}`.
pub fn by_cdev(index: u32) -> Option<&'static Emulated> {
    all().iter().find(|d| d.placement.cdev == index)
}

/// The devices of IOMMU group `group` (`/dev/vfio/{group}`).
pub fn in_group(group: u32) -> impl Iterator<Item = &'static Emulated> {
    all().iter().filter(move |d| d.placement.group == group)
}

/// The sysfs and `/dev` entries of the devices, if any device is configured.
pub fn tree() -> Option<&'static Tree> {
    registry().map(|r| &r.tree).filter(|t| !t.is_empty())
}
