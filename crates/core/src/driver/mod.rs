//! IOMMU drivers: the hardware models behind devices.

pub mod mock_domain;
