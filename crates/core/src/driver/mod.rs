//! The IOMMU hardware models and the one registry that creates them by name.
//!
//! Every model implements the contract of [`crate::iommu`] and nothing else of the subsystem
//! names it: a context holds the model its devices sit behind as an
//! `Arc<dyn IommuDriver>` made here ([`create`]), so a new model is one module and one row of
//! [`MODELS`]. The POWER TCE model ([`tce`]) is a VFIO SPAPR container backend, not an
//! iommufd driver, and has no row.

pub mod amd;
mod group_id;
pub mod mock;
mod pt_glue;
pub mod skeleton;
pub mod smmuv3;
pub mod tce;
pub mod vtd;

use crate::iommu::IommuDriver;
use std::sync::Arc;

/// A model the registry can create.
#[derive(Debug, Clone, Copy)]
pub struct Model {
    /// The name a user selects it by (`uiommu exec --driver NAME`).
    pub name: &'static str,
    /// One line on what it is.
    pub summary: &'static str,
    create: fn() -> Arc<dyn IommuDriver>,
}

impl Model {
    /// A new instance: one IOMMU unit with the model's default registers (the mock is the
    /// one selftest IOMMU, as in the kernel).
    pub fn create(&self) -> Arc<dyn IommuDriver> {
        (self.create)()
    }
}

/// Every model, the default first.
pub const MODELS: &[Model] = &[
    Model {
        name: "mock",
        summary: "the kernel's iommufd selftest mock IOMMU (selftest.c)",
        create: || mock::MockDriver::get(),
    },
    Model {
        name: "vtd",
        summary: "an Intel VT-d unit in scalable mode, first and second stage, nested",
        create: || vtd::VtdDriver::new(vtd::VtdConfig::default()),
    },
    Model {
        name: "smmuv3",
        summary: "an Arm SMMUv3, stage 1 and 2, vSMMU with nested STEs and a vEVENTQ",
        create: || smmuv3::SmmuDriver::new(smmuv3::SmmuConfig::default()),
    },
    Model {
        name: "amd",
        summary: "an AMD-Vi unit, v1 host and v2 guest tables, as Linux 7.3 wires it",
        create: || amd::AmdDriver::new(amd::AmdConfig::default()),
    },
];

/// The model called `name`.
pub fn model(name: &str) -> Option<&'static Model> {
    MODELS.iter().find(|m| m.name == name)
}

/// The default model: the selftest mock, as on a kernel with `CONFIG_IOMMUFD_TEST`.
pub fn default_model() -> &'static Model {
    &MODELS[0]
}

/// A new instance of the model called `name`.
pub fn create(name: &str) -> Option<Arc<dyn IommuDriver>> {
    model(name).map(Model::create)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_model_is_created_by_its_own_name() {
        for m in MODELS {
            let driver = create(m.name).expect("listed");
            assert_eq!(driver.name(), m.name);
        }
        assert!(create("nope").is_none());
        assert_eq!(default_model().name, "mock");
    }
}
