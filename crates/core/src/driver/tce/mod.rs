//! POWER TCE IOMMUs behind the legacy VFIO SPAPR TCE container API (seed 002;
//! `drivers/vfio/vfio_iommu_spapr_tce.c`, `arch/powerpc/platforms/powernv/pci-ioda*.c`).
//!
//! - [`group`]: a partitionable endpoint (PE) as an IOMMU group, with the PHB's window
//!   parameters ([`TceConfig`]) and the TVEs its DMA is translated by.
//! - [`table`]: the TCE table of one window, in pt's TCE format.
//! - [`container`], [`dma`], [`ops`]: the container backend, ioctl by ioctl, in the kernel's
//!   check order; [`prereg`]: v2 pre-registered memory.
//!
//! # How a SPAPR container comes to be
//!
//! uiommu's `/dev/vfio/vfio` is iommufd's VFIO compatibility container, as on a 7.3 kernel
//! built with `CONFIG_IOMMUFD_VFIO_CONTAINER`: type1 only, the SPAPR types are not offered
//! there (`VFIO_CHECK_EXTENSION` answers 0, `VFIO_SET_IOMMU` `EINVAL`). The SPAPR backend
//! exists on a POWER platform model instead: a process whose IOMMU platform is POWER gets a
//! legacy VFIO container (`drivers/vfio/container.c`) with this backend registered, and its
//! groups are PEs ([`TableGroup`]). The front end's container (`uiommu_abi::SpaprContainer`)
//! implements the container ioctls; a group joins it as `VFIO_GROUP_SET_CONTAINER` would.
//!
//! The default 32-bit window is created lazily by the first ioctl that needs it; attaching a
//! PE replaces the host's tables with the container's, so nothing the host mapped stays
//! reachable (seed 002: "clear all the tce" on attach); a v1 container holds one PE
//! (`EBUSY` for a second).

pub mod container;
pub mod dma;
pub mod group;
pub mod ops;
pub mod prereg;
pub mod table;

pub use container::{TceContainer, TceInfo, TceMm};
pub use dma::{DmaMap, DmaUnmap};
pub use group::{TableGroup, TceConfig};
pub use ops::{MemRange, WindowSpec};
pub use table::TceTable;
/// The access of a DMA, as [`TableGroup::translate`] takes it.
pub use uiommu_pt::Access;

/// `PAGE_SHIFT` of the host.
pub const PAGE_SHIFT: u32 = 12;
/// `IOMMU_PAGE_SHIFT_4K`: the page shift of the default window.
pub const IOMMU_PAGE_SHIFT_4K: u32 = 12;

/// A TCE's direction (`enum dma_data_direction`, `iommu_tce_direction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// The device reads memory (`TCE_PCI_READ`).
    ToDevice,
    /// The device writes memory (`TCE_PCI_WRITE`; the entry is made readable too).
    FromDevice,
    /// Both.
    Bidirectional,
}

#[cfg(test)]
mod tests;
