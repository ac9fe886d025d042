//! The container file (`/dev/vfio/vfio`): API version, extensions and IOMMU selection
//! (`include/uapi/linux/vfio.h`, "IOCTLs for VFIO file descriptor").
//!
//! Every VFIO ioctl is `_IO(VFIO_TYPE, VFIO_BASE + n)`: no size or direction in the number;
//! the size travels in each struct's `argsz`.

use crate::ioctl::io;

crate::uapi_consts! {
    /// The VFIO API version `VFIO_GET_API_VERSION` returns.
    pub const VFIO_API_VERSION: u32 = 0;

    /// Extension and IOMMU type: the x86-style type1 IOMMU (VFIO_CHECK_EXTENSION, VFIO_SET_IOMMU).
    pub const VFIO_TYPE1_IOMMU: u32 = 1;
    /// Extension and IOMMU type: the POWER SPAPR TCE IOMMU, v1 (pre-registration not required).
    pub const VFIO_SPAPR_TCE_IOMMU: u32 = 2;
    /// Extension and IOMMU type: type1 v2 (unmaps may not split mappings; dirty tracking).
    #[allow(non_upper_case_globals)]
    pub const VFIO_TYPE1v2_IOMMU: u32 = 3;
    /// Extension: the IOMMU enforces DMA cache coherence; may change as groups come and go.
    pub const VFIO_DMA_CC_IOMMU: u32 = 4;
    /// Extension: POWER EEH error recovery is available (`VFIO_EEH_PE_OP`).
    pub const VFIO_EEH: u32 = 5;
    /// Extension and IOMMU type: SPAPR TCE v2 (memory pre-registration, dynamic DMA windows).
    #[allow(non_upper_case_globals)]
    pub const VFIO_SPAPR_TCE_v2_IOMMU: u32 = 7;
    /// Extension and IOMMU type: no IOMMU at all; no translation, no isolation, and no ioctls
    /// besides VFIO_CHECK_EXTENSION.
    pub const VFIO_NOIOMMU_IOMMU: u32 = 8;
    /// Extension: `VFIO_DMA_UNMAP_FLAG_ALL` is supported.
    pub const VFIO_UNMAP_ALL: u32 = 9;
    /// Extension: `VFIO_DMA_MAP_FLAG_VADDR`/`VFIO_DMA_UNMAP_FLAG_VADDR` are supported (not
    /// with mediated devices, so it may change as groups come and go).
    pub const VFIO_UPDATE_VADDR: u32 = 10;

    /// The ioctl type byte of VFIO: `';'`, shared with iommufd.
    pub const VFIO_TYPE: u8 = b';';
    /// The first VFIO command number.
    pub const VFIO_BASE: u8 = 100;

    /// `VFIO_GET_API_VERSION`: returns [`VFIO_API_VERSION`]. Always available.
    pub const VFIO_GET_API_VERSION: u32 = io(VFIO_TYPE, VFIO_BASE);
    /// `VFIO_CHECK_EXTENSION`: the argument is an extension number (by value); returns 0 if
    /// unsupported, a positive value if supported. Always available.
    pub const VFIO_CHECK_EXTENSION: u32 = io(VFIO_TYPE, VFIO_BASE + 1);
    /// `VFIO_SET_IOMMU`: the argument is an IOMMU type (by value). Needs a group in the
    /// container; enables that type's ioctls on the container.
    pub const VFIO_SET_IOMMU: u32 = io(VFIO_TYPE, VFIO_BASE + 2);
}
