//! The device cdev (`/dev/vfio/devices/vfioN`) with iommufd (`include/uapi/linux/vfio.h`):
//! bind the device to an iommufd, then attach it (or one of its PASIDs) to an IOAS or HWPT.
//! These ioctls are only allowed on cdev fds.

use super::container::{VFIO_BASE, VFIO_TYPE};
use crate::ioctl::io;

crate::uapi_structs! {
    /// `struct vfio_device_bind_iommufd` — ioctl(VFIO_DEVICE_BIND_IOMMUFD): bind the device to
    /// an iommufd. The device cannot be used before; closing the fd unbinds.
    pub struct VfioDeviceBindIommufd = "vfio_device_bind_iommufd" {
        /// `sizeof(struct vfio_device_bind_iommufd)`, or up to `out_devid` for callers that
        /// predate the token.
        pub argsz: u32,
        /// 0 or `VFIO_DEVICE_BIND_FLAG_TOKEN`.
        pub flags: u32,
        /// The iommufd to bind to.
        pub iommufd: i32,
        /// Out: the device ID in that iommufd, used by iommufd commands.
        pub out_devid: u32,
        /// With `VFIO_DEVICE_BIND_FLAG_TOKEN`: user pointer to the 16-byte VF token UUID
        /// (as set with `VFIO_DEVICE_FEATURE_PCI_VF_TOKEN` on the PF); ignored otherwise.
        pub token_uuid_ptr: u64,
    }

    /// `struct vfio_device_attach_iommufd_pt` — ioctl(VFIO_DEVICE_ATTACH_IOMMUFD_PT): attach
    /// the device, or one PASID of it, to an IOAS or HWPT of the bound iommufd. Attaching
    /// while attached replaces the HWPT. EBUSY while the device or a group sibling resets.
    pub struct VfioDeviceAttachIommufdPt = "vfio_device_attach_iommufd_pt" {
        /// `sizeof(struct vfio_device_attach_iommufd_pt)`, or up to `pt_id` without PASID.
        pub argsz: u32,
        /// 0 or `VFIO_DEVICE_ATTACH_PASID`.
        pub flags: u32,
        /// In: IOAS or HWPT ID; out: the IOAS ID given, or the HWPT attached (the one given
        /// or one created automatically for the IOAS).
        pub pt_id: u32,
        /// The PASID, with `VFIO_DEVICE_ATTACH_PASID`.
        pub pasid: u32,
    }

    /// `struct vfio_device_detach_iommufd_pt` — ioctl(VFIO_DEVICE_DETACH_IOMMUFD_PT): detach
    /// the device, or one PASID of it; it then blocks DMA.
    pub struct VfioDeviceDetachIommufdPt = "vfio_device_detach_iommufd_pt" {
        /// `sizeof(struct vfio_device_detach_iommufd_pt)`, or up to `flags` without PASID.
        pub argsz: u32,
        /// 0 or `VFIO_DEVICE_DETACH_PASID`.
        pub flags: u32,
        /// The PASID, with `VFIO_DEVICE_DETACH_PASID`.
        pub pasid: u32,
    }
}

crate::uapi_consts! {
    /// `vfio_device_bind_iommufd.flags`: `token_uuid_ptr` is valid.
    pub const VFIO_DEVICE_BIND_FLAG_TOKEN: u32 = 1 << 0;
    /// `vfio_device_attach_iommufd_pt.flags`: attach `pasid` rather than the whole device.
    pub const VFIO_DEVICE_ATTACH_PASID: u32 = 1 << 0;
    /// `vfio_device_detach_iommufd_pt.flags`: detach `pasid` rather than the whole device.
    pub const VFIO_DEVICE_DETACH_PASID: u32 = 1 << 0;

    /// `VFIO_DEVICE_BIND_IOMMUFD`: takes a [`VfioDeviceBindIommufd`].
    pub const VFIO_DEVICE_BIND_IOMMUFD: u32 = io(VFIO_TYPE, VFIO_BASE + 18);
    /// `VFIO_DEVICE_ATTACH_IOMMUFD_PT`: takes a [`VfioDeviceAttachIommufdPt`].
    pub const VFIO_DEVICE_ATTACH_IOMMUFD_PT: u32 = io(VFIO_TYPE, VFIO_BASE + 19);
    /// `VFIO_DEVICE_DETACH_IOMMUFD_PT`: takes a [`VfioDeviceDetachIommufdPt`].
    pub const VFIO_DEVICE_DETACH_IOMMUFD_PT: u32 = io(VFIO_TYPE, VFIO_BASE + 20);
}
