//! `uiommu-pt`.
