//! VFIO: the device cdev with iommufd ([`VfioDevice`]), and the legacy container and group
//! interface ([`VfioContainer`], [`VfioGroup`]) with the type1 IOMMU — served by
//! `/dev/vfio/vfio` or, through the iommufd compatibility layer, by `/dev/iommu` itself.

mod container;
mod device;
mod feature;
mod group;
mod pci;
mod spapr;

pub use container::{DmaMapFlags, Type1Info, VfioContainer};
pub use device::{DeviceInfo, IrqAction, IrqData, IrqInfo, MmioRegion, RegionInfo, VfioDevice};
pub use feature::{
    DmaBufOpenFlags, FeatureFlags, MigState, MigrationFile, MigrationFlags, PrecopyFlags,
    PrecopyInfo,
};
pub use group::VfioGroup;
pub use pci::{DrmPlaneType, GfxPlane, GfxPlaneKind, HotResetFlags, HotResetInfo, IoeventfdData};
pub use spapr::{EehOp, EehPeState, SpaprTceInfo};

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::error::{Error, Result};

/// Opens a VFIO node read-write with `O_CLOEXEC`.
fn open_rw(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| Error::open(path, &e))
}
