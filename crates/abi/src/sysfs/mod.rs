//! The sysfs and `/dev` entries of a process's emulated devices, laid out as Linux 7.3 shows a
//! device bound to vfio-pci:
//!
//! ```text
//! /sys/bus/pci/devices/BDF -> ../../../devices/pciDDDD:BB/BDF
//! /sys/devices/pciDDDD:BB/BDF/{vendor,device,subsystem_vendor,subsystem_device,class,
//!                              revision,config,resource,irq,numa_node}
//! /sys/devices/pciDDDD:BB/BDF/iommu_group -> ../../../kernel/iommu_groups/N
//! /sys/devices/pciDDDD:BB/BDF/driver -> ../../../bus/pci/drivers/vfio-pci
//! /sys/devices/pciDDDD:BB/BDF/vfio-dev/vfioI/dev            MAJOR:MINOR of the cdev
//! /sys/kernel/iommu_groups/N/{type,devices/BDF -> ../../../../devices/pciDDDD:BB/BDF}
//! /sys/bus/pci/drivers/vfio-pci/BDF -> ../../../../devices/pciDDDD:BB/BDF
//! /dev/vfio/N                 character device VFIO_GROUP_MAJOR:ordinal of the group
//! /dev/vfio/devices/vfioI     character device VFIO_CDEV_MAJOR:I
//! /dev/vfio/vfio              character device 10:196 (the misc device of the container)
//! /dev/iommu                  character device 10:256 (iommufd's misc device)
//! /sys/kernel/debug/PATH      the files the IOMMU driver shows for a device in debugfs
//!                             (IommuDriver::debugfs), read when opened
//! ```
//!
//! An SR-IOV function has more (see `sriov.rs`); a VF's entries exist while NumVFs covers it.
//!
//! A [`Tree`] holds these entries by absolute path, with every directory above them; a front
//! end shows the host's own entries around them (a directory that exists on the host lists its
//! real entries and these).

mod attrs;
mod sriov;

use crate::placement::Placement;
use crate::sriov::{SriovPf, SriovRole};
use std::collections::BTreeMap;
use std::sync::Arc;
use uiommu_core::iommu::PhysDevice;
use uiommu_devices::SharedFunction;

/// Where debugfs is mounted.
pub const DEBUGFS: &str = "/sys/kernel/debug";

/// The major number of `/dev/vfio/devices/vfioI`: a number of the dynamic range the kernel
/// gives vfio's cdevs (from 511 down), which no driver of a usual host holds.
pub const VFIO_CDEV_MAJOR: u32 = 511;

/// The major number of the group nodes `/dev/vfio/N` (the next of the dynamic range).
pub const VFIO_GROUP_MAJOR: u32 = 510;

/// `MISC_MAJOR` and `VFIO_MINOR`: `/dev/vfio/vfio`.
pub const VFIO_CONTAINER_RDEV: (u32, u32) = (10, 196);

/// `MISC_MAJOR` and the minor of `/dev/iommu`: iommufd registers a `MISC_DYNAMIC_MINOR` misc
/// device, and dynamic minors are allocated from `MISC_DYNAMIC_MINOR + 1` up
/// (`drivers/char/misc.c`).
pub const IOMMUFD_RDEV: (u32, u32) = (10, 256);

/// One entry.
#[derive(Debug, Clone)]
pub enum Node {
    /// A directory; its entries are the tree's paths below it.
    Dir,
    /// A read-only attribute with fixed text.
    Text(String),
    /// The `config` attribute of a function: its config space, of this size.
    Config(SharedFunction, usize),
    /// A symbolic link to this target.
    Link(String),
    /// A PF's `sriov_numvfs`: NumVFs when read, `sriov_numvfs_store` when written
    /// ([`SriovPf::store_num_vfs`]).
    NumVfs(Arc<SriovPf>),
    /// A character device node: `(major, minor)`.
    CharDev(u32, u32),
    /// A debugfs file of the IOMMU driver for a device: what the driver shows at `path`
    /// (below `/sys/kernel/debug`) for the device named `name`, when read.
    Debugfs {
        /// The device.
        device: Arc<PhysDevice>,
        /// Its `dev_name`.
        name: String,
        /// The file's path below `/sys/kernel/debug`.
        path: String,
    },
}

impl Node {
    /// The bytes a read of the file gives (empty for what is not a regular file). An access
    /// the function refuses reads as all ones, as a config read that master-aborts.
    pub fn contents(&self) -> Vec<u8> {
        match self {
            Node::Text(t) => t.clone().into_bytes(),
            Node::NumVfs(pf) => format!("{}\n", pf.num_vfs()).into_bytes(),
            Node::Config(f, size) => {
                let f = f.lock().unwrap_or_else(|e| e.into_inner());
                let mut bytes = vec![0xffu8; *size];
                for (offset, dword) in (0u16..).step_by(4).zip(bytes.chunks_mut(4)) {
                    let _ = f.config_read(offset, dword);
                }
                bytes
            }
            Node::Debugfs { device, name, path } => device
                .driver
                .debugfs(device, name)
                .into_iter()
                .find(|f| f.path == *path)
                .map(|f| f.contents.into_bytes())
                .unwrap_or_default(),
            Node::Dir | Node::Link(_) | Node::CharDev(..) => Vec::new(),
        }
    }
}

/// A device of the tree: where it sits, its function, and what it is to SR-IOV.
pub type Member = (Placement, SharedFunction, Option<SriovRole>);

impl Node {
    /// Whether the file can be written (`S_IWUSR`): a PF's `sriov_numvfs`.
    pub fn writable(&self) -> bool {
        matches!(self, Node::NumVfs(_))
    }

    /// A write of `buf` to the file (`sysfs_kf_write`: an empty write stores nothing and
    /// answers 0; else the attribute's store): the bytes consumed, or the store's errno;
    /// `EACCES` for a file that cannot be written.
    pub fn store(&self, buf: &[u8]) -> uiommu_uapi::errno::Result<usize> {
        match self {
            _ if !self.writable() => Err(uiommu_uapi::Errno::EACCES),
            _ if buf.is_empty() => Ok(0),
            Node::NumVfs(pf) => pf.store_num_vfs(buf),
            _ => Err(uiommu_uapi::Errno::EACCES),
        }
    }
}

/// The entries, by absolute path (no trailing slash), each with the VF it belongs to, if
/// any: an entry of a VF exists while the VF does ([`SriovRole::present`]).
#[derive(Debug, Default)]
pub struct Tree {
    nodes: BTreeMap<String, (Node, Option<SriovRole>)>,
    /// The VF whose entries are being added.
    adding_for: Option<SriovRole>,
}

impl Tree {
    /// The entries of `devices`.
    pub fn new(devices: &[Member]) -> Tree {
        let mut t = Tree::default();
        for (p, f, role) in devices {
            t.adding_for = role.clone().filter(|r| matches!(r, SriovRole::Vf(..)));
            t.add_device(p, f);
            t.add_sriov(p, role.as_ref(), devices);
        }
        let groups = groups(devices.iter().map(|(p, _, _)| p));
        for (minor, g) in (0u32..).zip(&groups) {
            // A group of VFs only exists with them (its first VF's).
            let mut members = devices.iter().filter(|(p, _, _)| p.group == *g);
            t.adding_for = members
                .clone()
                .all(|(p, _, _)| p.physfn.is_some())
                .then(|| members.next().and_then(|(_, _, r)| r.clone()))
                .flatten();
            t.add(format!("/sys/kernel/iommu_groups/{g}/type"), text("DMA\n"));
            t.add(
                format!("/dev/vfio/{g}"),
                Node::CharDev(VFIO_GROUP_MAJOR, minor),
            );
        }
        t.adding_for = None;
        // Both open as uiommu's whatever the host has, with or without devices; programs
        // (QEMU among them) check that they exist first.
        let (major, minor) = VFIO_CONTAINER_RDEV;
        t.add("/dev/vfio/vfio".into(), Node::CharDev(major, minor));
        let (major, minor) = IOMMUFD_RDEV;
        t.add("/dev/iommu".into(), Node::CharDev(major, minor));
        t
    }

    fn add_device(&mut self, p: &Placement, f: &SharedFunction) {
        let bdf = p.bdf.to_string();
        let host = format!("pci{:04x}:{:02x}", p.bdf.domain, p.bdf.bus);
        let dir = sriov::device_dir(p);
        let desc = f
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .description()
            .clone();
        for (name, value) in attrs::text(&desc, p.cdev) {
            self.add(format!("{dir}/{name}"), Node::Text(value));
        }
        let size = attrs::config_size(&desc);
        self.add(format!("{dir}/config"), Node::Config(f.clone(), size));
        let group = p.group;
        self.add(
            format!("{dir}/iommu_group"),
            link(&format!("../../../kernel/iommu_groups/{group}")),
        );
        self.add(
            format!("{dir}/driver"),
            link("../../../bus/pci/drivers/vfio-pci"),
        );
        let cdev = p.cdev;
        self.add(
            format!("{dir}/vfio-dev/vfio{cdev}/dev"),
            text(&format!("{VFIO_CDEV_MAJOR}:{cdev}\n")),
        );
        self.add(
            format!("/dev/vfio/devices/vfio{cdev}"),
            Node::CharDev(VFIO_CDEV_MAJOR, cdev),
        );
        self.add(
            format!("/sys/bus/pci/devices/{bdf}"),
            link(&format!("../../../devices/{host}/{bdf}")),
        );
        self.add(
            format!("/sys/bus/pci/drivers/vfio-pci/{bdf}"),
            link(&format!("../../../../devices/{host}/{bdf}")),
        );
        self.add(
            format!("/sys/kernel/iommu_groups/{group}/devices/{bdf}"),
            link(&format!("../../../../devices/{host}/{bdf}")),
        );
    }

    /// The debugfs files the IOMMU driver shows for `device`, named `name` (its BDF).
    pub fn add_debugfs(&mut self, device: &Arc<PhysDevice>, name: &str) {
        for f in device.driver.debugfs(device, name) {
            let node = Node::Debugfs {
                device: Arc::clone(device),
                name: name.to_string(),
                path: f.path.clone(),
            };
            self.add(format!("{DEBUGFS}/{}", f.path), node);
        }
    }

    /// Adds `node` at `path` and a directory at each of its ancestors but `/`, all of the VF
    /// being added for (a directory another device also has is not the VF's).
    fn add(&mut self, path: String, node: Node) {
        let mut end = path.len();
        let gate = self.adding_for.clone();
        while let Some(i) = path[..end].rfind('/').filter(|&i| i > 0) {
            self.nodes
                .entry(path[..i].to_string())
                .and_modify(|(_, g)| {
                    if gate.is_none() {
                        *g = None;
                    }
                })
                .or_insert_with(|| (Node::Dir, gate.clone()));
            end = i;
        }
        self.nodes.insert(path, (node, gate));
    }

    /// The entry at `path` (absolute, normalised, no trailing slash), if it exists now.
    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes
            .get(path)
            .filter(|(_, g)| exists(g))
            .map(|(n, _)| n)
    }

    /// The entries directly in directory `dir` that exist now, by name.
    pub fn children(&self, dir: &str) -> Vec<(&str, &Node)> {
        let prefix = format!("{dir}/");
        self.nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(_, (_, g))| exists(g))
            .map(|(k, (n, _))| (&k[prefix.len()..], n))
            .filter(|(name, _)| !name.contains('/'))
            .collect()
    }

    /// Whether the tree has no entry.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

/// The groups of `devices`, each once, in order: the minor number of `/dev/vfio/N` is the
/// group's index here.
pub fn groups<'a>(devices: impl IntoIterator<Item = &'a Placement>) -> Vec<u32> {
    let mut groups: Vec<u32> = Vec::new();
    for p in devices {
        if !groups.contains(&p.group) {
            groups.push(p.group);
        }
    }
    groups
}

/// Whether an entry of the VF `gate` (none: of no VF) exists now.
fn exists(gate: &Option<SriovRole>) -> bool {
    gate.as_ref().is_none_or(SriovRole::present)
}

fn text(s: &str) -> Node {
    Node::Text(s.to_string())
}

fn link(target: &str) -> Node {
    Node::Link(target.to_string())
}

#[cfg(test)]
mod tests;
