//! `uiommu-uapi`.
