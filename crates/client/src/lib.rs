//! `uiommu-client`.
