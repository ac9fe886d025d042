//! The SR-IOV entries of a device directory, as `drivers/pci/iov.c` makes them
//! (`sriov_pf_dev_attrs`, `pci_iov_sysfs_link`):
//!
//! ```text
//! PF_DIR/{sriov_totalvfs,sriov_offset,sriov_stride,sriov_vf_device,sriov_drivers_autoprobe,
//!         sriov_vf_total_msix}                 read-only
//! PF_DIR/sriov_numvfs                          read-write (Node::NumVfs)
//! PF_DIR/virtfnI -> ../VF_BDF                  while VF I exists
//! VF_DIR/physfn -> ../PF_BDF
//! /sys/module/vfio_pci/parameters/enable_sriov Y (see crate::sriov)
//! ```
//!
//! A VF's own directory is an ordinary device's bound to vfio-pci (its `driver` link: the
//! `driver_override` vfio-pci's bus notifier gives it), of the VF's existence.

use super::{Member, Node, Tree, link, text};
use crate::placement::Placement;
use crate::sriov::SriovRole;

impl Tree {
    /// The SR-IOV entries of the device at `p`, which is `role` (none: no entries).
    pub(super) fn add_sriov(&mut self, p: &Placement, role: Option<&SriovRole>, all: &[Member]) {
        let dir = device_dir(p);
        match role {
            None => {}
            Some(SriovRole::Vf(..)) => {
                if let Some(pf) = p.physfn {
                    self.add(format!("{dir}/physfn"), link(&format!("../{pf}")));
                }
            }
            Some(SriovRole::Pf(pf)) => {
                let d = pf.decl();
                // `sriov_*_show` (`%u\n`, the VF Device ID `%x\n`); vfio-pci has no
                // `sriov_get_vf_total_msix`, so that one is 0; autoprobe is on by default
                // (`pci_iov_init`'s `drivers_autoprobe = true`).
                for (name, value) in [
                    ("sriov_totalvfs", format!("{}\n", d.total_vfs)),
                    ("sriov_offset", format!("{}\n", d.first_vf_offset)),
                    ("sriov_stride", format!("{}\n", d.vf_stride)),
                    ("sriov_vf_device", format!("{:x}\n", d.vf_device_id)),
                    ("sriov_drivers_autoprobe", "1\n".to_string()),
                    ("sriov_vf_total_msix", "0\n".to_string()),
                ] {
                    self.add(format!("{dir}/{name}"), Node::Text(value));
                }
                self.add(format!("{dir}/sriov_numvfs"), Node::NumVfs(pf.clone()));
                self.add(
                    "/sys/module/vfio_pci/parameters/enable_sriov".into(),
                    text("Y\n"),
                );
                for (vf, _, vf_role) in all.iter().filter(|(v, ..)| v.physfn == Some(p.bdf)) {
                    let Some(SriovRole::Vf(_, i)) = vf_role else {
                        continue;
                    };
                    self.adding_for = vf_role.clone();
                    self.add(format!("{dir}/virtfn{i}"), link(&format!("../{}", vf.bdf)));
                }
                self.adding_for = None;
            }
        }
    }
}

/// The directory of the device at `p`: `/sys/devices/pciDDDD:BB/BDF`.
pub(super) fn device_dir(p: &Placement) -> String {
    format!(
        "/sys/devices/pci{:04x}:{:02x}/{}",
        p.bdf.domain, p.bdf.bus, p.bdf
    )
}
