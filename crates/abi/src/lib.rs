//! `uiommu-abi`.
