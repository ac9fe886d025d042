//! `uiommu-core`.
