//! The device models a front end can create by name (`uiommu exec --device NAME`), as the
//! IOMMU models have theirs in `uiommu_core::driver`.

use crate::describe::{Capability, Description, SriovDecl};
use crate::function::{Function, PciFunction};
use std::sync::{Arc, Mutex};
use uiommu_core::iommu::PhysDevice;

/// A function shared between the front end's views of it (its device fd, its sysfs files)
/// and serialised as the hardware is: one access at a time.
pub type SharedFunction = Arc<Mutex<dyn PciFunction>>;

/// A device model the registry can create.
#[derive(Debug, Clone, Copy)]
pub struct DeviceModel {
    /// The name a user selects it by.
    pub name: &'static str,
    /// One line on what it is.
    pub summary: &'static str,
    /// What its functions declare.
    pub describe: fn() -> Description,
    create: fn(Description, Arc<PhysDevice>) -> SharedFunction,
}

impl DeviceModel {
    /// A new function of this model behind the IOMMU of `phys` (the device that IOMMU's
    /// `probe_device` made for it).
    pub fn create(&self, phys: Arc<PhysDevice>) -> SharedFunction {
        (self.create)((self.describe)(), phys)
    }

    /// The SR-IOV capability a physical function of this model with `total_vfs` VFs declares:
    /// its VFs follow it at Routing IDs +1, +2, … (First VF Offset 1, VF Stride 1, as on
    /// devices whose PF is function 0 of its slot), with the PF's own Device ID as VF Device
    /// ID: a VF is a function of the same model. An error for a conventional PCI model (no
    /// extended config space to hold the capability, PCIe r6.0 §9.3.3) or for 0 VFs.
    pub fn sriov(&self, total_vfs: u16) -> Result<SriovDecl, String> {
        let desc = (self.describe)();
        if !desc.is_express() {
            return Err(format!(
                "device model {:?} is conventional PCI: no extended config space for the SR-IOV capability",
                self.name
            ));
        }
        if total_vfs == 0 {
            return Err("an SR-IOV function has at least one VF (vfs=1 or more)".into());
        }
        Ok(SriovDecl {
            total_vfs,
            first_vf_offset: 1,
            vf_stride: 1,
            vf_device_id: desc.device_id,
        })
    }

    /// A virtual function of a PF of this model that declares `sriov`: the model's function
    /// with the VF Device ID and no INTx (a VF's Interrupt Pin is 0, PCIe r6.0 §9.3.4.1.12;
    /// vfio-pci then offers it no INTx either, `vfio_pci_get_irq_count`).
    pub fn create_vf(&self, phys: Arc<PhysDevice>, sriov: SriovDecl) -> SharedFunction {
        let mut desc = (self.describe)();
        desc.device_id = sriov.vf_device_id;
        desc.interrupt_pin = 0;
        (self.create)(desc, phys)
    }

    /// [`Self::create`], a physical function with the SR-IOV capability `sriov`.
    pub fn create_pf(&self, phys: Arc<PhysDevice>, sriov: SriovDecl) -> SharedFunction {
        let mut desc = (self.describe)();
        desc.capabilities.push(Capability::Sriov(sriov));
        (self.create)(desc, phys)
    }
}

/// Every device model.
pub const DEVICE_MODELS: &[DeviceModel] = &[
    DeviceModel {
        name: "edu",
        summary: "QEMU's educational device (1234:11e8): factorial, interrupts, a DMA engine",
        describe: crate::edu::description,
        create: |d, phys| {
            Arc::new(Mutex::new(Function::new(
                d,
                crate::edu::Edu::default(),
                phys,
            )))
        },
    },
    DeviceModel {
        name: "ioat",
        summary: "Intel I/OAT DMA engine v3.3 (8086:2021): one memcpy channel, MSI-X; PCIe, so an SR-IOV PF with vfs=N",
        describe: crate::ioat::description,
        create: |d, phys| {
            Arc::new(Mutex::new(Function::new(
                d,
                crate::ioat::Ioat::default(),
                phys,
            )))
        },
    },
];

/// The device model called `name`.
pub fn device_model(name: &str) -> Option<&'static DeviceModel> {
    DEVICE_MODELS.iter().find(|m| m.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use uiommu_core::iommu::DeviceSpec;

    #[test]
    fn every_model_is_created_by_name_with_its_identity() {
        let iommu = uiommu_core::driver::default_model().create();
        for m in DEVICE_MODELS {
            let phys = Arc::new(iommu.clone().probe_device(DeviceSpec::default()).unwrap());
            let f = device_model(m.name).expect("listed").create(phys);
            let f = f.lock().unwrap();
            let mut id = [0u8; 4];
            f.config_read(0, &mut id).unwrap();
            let d = f.description();
            assert_eq!(
                u32::from_le_bytes(id),
                u32::from(d.vendor_id) | u32::from(d.device_id) << 16
            );
        }
        assert!(device_model("nope").is_none());
    }

    #[test]
    fn only_an_express_model_takes_sr_iov() {
        let e = device_model("edu").unwrap().sriov(1).unwrap_err();
        assert!(e.contains("conventional PCI"), "{e}");
        let ioat = device_model("ioat").unwrap();
        assert!(ioat.sriov(0).is_err());
        let decl = ioat.sriov(2).unwrap();
        assert_eq!(
            (decl.total_vfs, decl.first_vf_offset, decl.vf_stride),
            (2, 1, 1)
        );
        let iommu = uiommu_core::driver::default_model().create();
        let phys = Arc::new(iommu.probe_device(DeviceSpec::default()).unwrap());
        let vf = ioat.create_vf(phys.clone(), decl);
        assert_eq!(vf.lock().unwrap().description().interrupt_pin, 0, "no INTx");
        assert!(vf.lock().unwrap().description().sriov().is_none());
        let f = ioat.create_pf(phys, decl);
        let f = f.lock().unwrap();
        let mut total = [0u8; 2];
        let at = crate::config::sriov::EXTENDED_START + crate::config::sriov::SRIOV_TOTAL_VF;
        f.config_read(at, &mut total).unwrap();
        assert_eq!(u16::from_le_bytes(total), 2);
    }
}
