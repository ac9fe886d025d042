//! The group file (`/dev/vfio/$GROUP`): status, container membership and device fds
//! (`include/uapi/linux/vfio.h`, "IOCTLs for GROUP file descriptors").

use super::container::{VFIO_BASE, VFIO_TYPE};
use crate::ioctl::io;

crate::uapi_structs! {
    /// `struct vfio_group_status` — ioctl(VFIO_GROUP_GET_STATUS): whether the group is usable
    /// and whether it is in a container.
    pub struct VfioGroupStatus = "vfio_group_status" {
        /// In: the size of the caller's struct (at least up to `flags`).
        pub argsz: u32,
        /// Out: `VFIO_GROUP_FLAGS_*`.
        pub flags: u32,
    }
}

crate::uapi_consts! {
    /// `vfio_group_status.flags`: every device of the group is bound to a VFIO driver or
    /// otherwise safe, so the group can be used.
    pub const VFIO_GROUP_FLAGS_VIABLE: u32 = 1 << 0;
    /// `vfio_group_status.flags`: the group is in a container that has an IOMMU set.
    pub const VFIO_GROUP_FLAGS_CONTAINER_SET: u32 = 1 << 1;

    /// `VFIO_GROUP_GET_STATUS`: fills a [`VfioGroupStatus`]. Always available.
    pub const VFIO_GROUP_GET_STATUS: u32 = io(VFIO_TYPE, VFIO_BASE + 3);
    /// `VFIO_GROUP_SET_CONTAINER`: the argument points to an `__s32` container fd; a group
    /// belongs to at most one container.
    pub const VFIO_GROUP_SET_CONTAINER: u32 = io(VFIO_TYPE, VFIO_BASE + 4);
    /// `VFIO_GROUP_UNSET_CONTAINER`: leave the container; all device fds must be closed. The
    /// last group leaving disables the container's IOMMU and drops its state.
    pub const VFIO_GROUP_UNSET_CONTAINER: u32 = io(VFIO_TYPE, VFIO_BASE + 5);
    /// `VFIO_GROUP_GET_DEVICE_FD`: the argument points to a NUL-terminated device name as
    /// listed in the group's sysfs `devices` directory; returns a new device fd.
    pub const VFIO_GROUP_GET_DEVICE_FD: u32 = io(VFIO_TYPE, VFIO_BASE + 6);
}
