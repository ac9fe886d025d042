//! The process's emulated PCI devices, created at first need from the list the launcher put in
//! [`DEVICES_ENV`]: each one probed on the process's IOMMU ([`config::iommu`]) and created by
//! its model, with where it sits (address, group, cdev) and its sysfs entries ([`tree`]).
//! An SR-IOV function's VFs are created with it and exist while its NumVFs covers them
//! ([`uiommu_abi::sriov`]): a VF's cdev, group node and group membership come and go with it.
//!
//! A list that does not parse, or a device that cannot be created, is reported once on stderr
//! and the process has no (or fewer) devices; the program itself runs on. With
//! [`config::LOG_FAULTS_ENV`] set, the IOMMU faults of the devices' DMA are printed on stderr.

use crate::config;
use std::cell::Cell;
use std::sync::{Arc, OnceLock};
use uiommu_abi::host::{
    DeviceSpec, DmaError, FaultLog, PhysDevice, SharedFunction, describe_fault,
};
use uiommu_abi::placement::{self, DEVICES_ENV, Placement};
use uiommu_abi::sriov::{Functions, SriovRole};
use uiommu_abi::sysfs::{self, Tree, VFIO_CDEV_MAJOR, VFIO_GROUP_MAJOR};
use uiommu_abi::{GroupMember, PciAddress, VfioGroup};

/// One emulated device.
pub struct Emulated {
    /// Where it sits: model, address, IOMMU group, cdev index.
    pub placement: Placement,
    /// The device its IOMMU probed for it.
    pub phys: Arc<PhysDevice>,
    /// The function, shared with every view of it.
    pub function: SharedFunction,
    /// What it is to SR-IOV.
    pub sriov: Option<SriovRole>,
}

impl Emulated {
    /// `(major, minor)` of its cdev, `/dev/vfio/devices/vfioN`.
    pub fn cdev_rdev(&self) -> (u32, u32) {
        (VFIO_CDEV_MAJOR, self.placement.cdev)
    }

    /// Where it sits, as vfio-pci reports it.
    pub fn address(&self) -> PciAddress {
        let bdf = self.placement.bdf;
        PciAddress {
            segment: bdf.domain,
            bus: bdf.bus,
            devfn: bdf.device << 3 | bdf.function,
        }
    }

    /// It as a member of its VFIO group, by its PCI name.
    fn member(&self) -> GroupMember {
        GroupMember {
            name: self.placement.bdf.to_string(),
            function: self.function.clone(),
            address: self.address(),
            sriov: self.sriov.clone(),
        }
    }

    /// Whether it exists now (a VF while its PF's NumVFs covers it).
    pub fn present(&self) -> bool {
        self.sriov.as_ref().is_none_or(SriovRole::present)
    }
}

/// What a device node's numbers stand for.
pub enum DeviceNode<'a> {
    /// `/dev/vfio/devices/vfioN`: one device.
    Cdev(&'a Emulated),
    /// `/dev/vfio/N`: IOMMU group N.
    Group(u32, &'a Arc<VfioGroup>),
}

/// A set of devices, their group nodes and their entries.
pub struct Registry {
    devices: Vec<Emulated>,
    /// The groups with their numbers, by the minor number of their node.
    groups: Vec<(u32, Arc<VfioGroup>)>,
    tree: Tree,
}

impl Registry {
    /// The devices of a [`DEVICES_ENV`] value, behind the process's IOMMU.
    pub fn from_list(text: &str) -> Registry {
        let placements = placement::parse_list(text).unwrap_or_else(|e| {
            eprintln!("uiommu: {DEVICES_ENV}: {e}; no device is emulated");
            Vec::new()
        });
        let mut functions = Functions::with_cells(crate::sriov_state::cell);
        let devices: Vec<Emulated> = placements
            .into_iter()
            .filter_map(|p| create(p, &mut functions))
            .collect();
        let members: Vec<_> = devices
            .iter()
            .map(|d| (d.placement, d.function.clone(), d.sriov.clone()))
            .collect();
        let groups = sysfs::groups(devices.iter().map(|d| &d.placement))
            .into_iter()
            .map(|g| {
                let members = devices.iter().filter(|d| d.placement.group == g);
                (g, VfioGroup::new(members.map(Emulated::member).collect()))
            })
            .collect();
        let mut tree = Tree::new(&members);
        for d in &devices {
            tree.add_debugfs(&d.phys, &d.placement.bdf.to_string());
        }
        Registry {
            tree,
            groups,
            devices,
        }
    }

    /// Every device, in the order configured.
    pub fn devices(&self) -> &[Emulated] {
        &self.devices
    }

    /// The device of cdev `/dev/vfio/devices/vfio{index}`, if it exists now.
    pub fn by_cdev(&self, index: u32) -> Option<&Emulated> {
        self.devices
            .iter()
            .find(|d| d.placement.cdev == index)
            .filter(|d| d.present())
    }

    /// The devices of IOMMU group `group` (`/dev/vfio/{group}`).
    pub fn in_group(&self, group: u32) -> impl Iterator<Item = &Emulated> {
        self.devices
            .iter()
            .filter(move |d| d.placement.group == group)
    }

    /// The VFIO group of `device`.
    pub fn group_of(&self, device: &Emulated) -> Option<&Arc<VfioGroup>> {
        let number = device.placement.group;
        self.groups
            .iter()
            .find(|(g, _)| *g == number)
            .map(|(_, g)| g)
    }

    /// What the device node numbered `(major, minor)` stands for (the `st_rdev` its `stat`
    /// shows).
    pub fn node(&self, major: u32, minor: u32) -> Option<DeviceNode<'_>> {
        match major {
            VFIO_CDEV_MAJOR => self.by_cdev(minor).map(DeviceNode::Cdev),
            VFIO_GROUP_MAJOR => self
                .groups
                .get(minor as usize)
                .map(|(n, g)| DeviceNode::Group(*n, g)),
            _ => None,
        }
    }

    /// The sysfs and `/dev` entries of the devices.
    pub fn tree(&self) -> &Tree {
        &self.tree
    }
}

fn create(placement: Placement, functions: &mut Functions) -> Option<Emulated> {
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
    let (function, sriov) = match functions.create(&placement, phys.clone()) {
        Ok(made) => made,
        Err(e) => return fail(e),
    };
    let at = placement.bdf.to_string();
    let host = config::log_faults().then(|| {
        let at = at.clone();
        let log: FaultLog = Arc::new(move |e| {
            if let DmaError::Fault(f) = e {
                eprintln!("uiommu: {at}: IOMMU fault recorded: {}", describe_fault(f));
            }
        });
        log
    });
    let log = crate::trace::dma_log(at, host.clone()).or(host);
    if log.is_some() {
        function.lock().unwrap().dma().set_fault_log(log);
    }
    Some(Emulated {
        placement,
        phys,
        function,
        sriov,
    })
}

thread_local! {
    /// Set while this thread creates the devices: a call they make that would look the
    /// registry up again sees no devices instead of waiting for itself.
    static CREATING: Cell<bool> = const { Cell::new(false) };
}

/// The process's devices, created at the first call (`None` if none is configured).
pub fn registry() -> Option<&'static Registry> {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    if CREATING.get() {
        return None;
    }
    Some(REGISTRY.get_or_init(|| {
        /// Clears [`CREATING`] however the creation ends.
        struct Creating;
        impl Drop for Creating {
            fn drop(&mut self) {
                CREATING.set(false);
            }
        }
        CREATING.set(true);
        let _creating = Creating;
        Registry::from_list(&std::env::var(DEVICES_ENV).unwrap_or_default())
    }))
}

/// The process's sysfs and `/dev` entries: `/dev/iommu` and `/dev/vfio/vfio` always, and
/// those of its devices.
pub fn tree() -> Option<&'static Tree> {
    registry().map(Registry::tree).filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_numbers_name_the_devices_and_groups() {
        let r = Registry::from_list("edu,group=42;edu");
        assert_eq!(r.devices().len(), 2);
        let Some(DeviceNode::Cdev(d)) = r.node(VFIO_CDEV_MAJOR, 1) else {
            panic!("no vfio1");
        };
        assert_eq!(d.placement.bdf.to_string(), "0000:00:11.0");
        assert_eq!(d.cdev_rdev(), (511, 1));
        let mut id = [0u8; 4];
        d.function.lock().unwrap().config_read(0, &mut id).unwrap();
        assert_eq!(u32::from_le_bytes(id), 0x11e8_1234);
        let members = |minor| match r.node(VFIO_GROUP_MAJOR, minor) {
            Some(DeviceNode::Group(_, g)) => format!("{g:?}"),
            _ => panic!("no group {minor}"),
        };
        assert!(members(0).contains("[\"0000:00:10.0\"]"), "{}", members(0));
        assert!(members(1).contains("[\"0000:00:11.0\"]"), "{}", members(1));
        assert!(r.node(VFIO_GROUP_MAJOR, 2).is_none());
        assert!(r.node(1, 1).is_none());
        assert_eq!(r.in_group(42).count(), 1);
        assert!(!r.tree().is_empty());
    }

    #[test]
    fn a_bad_list_gives_no_device() {
        let r = Registry::from_list("edu,bdf=nope");
        assert!(r.devices().is_empty());
        assert!(r.tree().get("/sys/bus/pci/devices").is_none());
        assert!(r.tree().get("/dev/iommu").is_some());
    }
}
