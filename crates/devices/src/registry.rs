//! The device models a front end can create by name (`uiommu exec --device NAME`), as the
//! IOMMU models have theirs in `uiommu_core::driver`.

use crate::function::PciFunction;
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
    create: fn(Arc<PhysDevice>) -> SharedFunction,
}

impl DeviceModel {
    /// A new function of this model behind the IOMMU of `phys` (the device that IOMMU's
    /// `probe_device` made for it).
    pub fn create(&self, phys: Arc<PhysDevice>) -> SharedFunction {
        (self.create)(phys)
    }
}

/// Every device model.
pub const DEVICE_MODELS: &[DeviceModel] = &[
    DeviceModel {
        name: "edu",
        summary: "QEMU's educational device (1234:11e8): factorial, interrupts, a DMA engine",
        create: |phys| Arc::new(Mutex::new(crate::edu::function(phys))),
    },
    DeviceModel {
        name: "ioat",
        summary: "Intel I/OAT DMA engine v3.3 (8086:2021): one memcpy channel, MSI-X",
        create: |phys| Arc::new(Mutex::new(crate::ioat::function(phys))),
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
}
