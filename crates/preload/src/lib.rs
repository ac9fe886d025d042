//! `uiommu-preload`.
