//! Typed object IDs. The uAPI names every object by a `__u32` in one ID space per iommufd
//! context; the client gives each kind its own newtype so that an IOAS ID cannot be passed
//! where a device ID is expected. [`ObjectId`] is the untyped form, for the commands that take
//! any object (`IOMMU_DESTROY`, `IOMMU_OPTION`, `IOMMU_TEST_CMD`'s `id`).
//!
//! ```compile_fail
//! use uiommu_client::{DeviceId, IoasId};
//! fn wants_device(_: DeviceId) {}
//! wants_device(IoasId::from_raw(1)); // an IOAS is not a device
//! ```
//!
//! ```
//! use uiommu_client::{IoasId, ObjectId, PtId};
//! let ioas = IoasId::from_raw(3);
//! assert_eq!(ioas.raw(), 3);
//! assert_eq!(ObjectId::from(ioas), ObjectId::from_raw(3));
//! assert_eq!(PtId::from(ioas).raw(), 3);
//! assert_eq!(ioas.to_string(), "3");
//! ```

macro_rules! ids {
    ($($(#[$m:meta])* $name:ident $(=> $($into:ident),+)?;)*) => {
        $(
            $(#[$m])*
            #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
            pub struct $name(u32);

            impl $name {
                /// From the raw uAPI number (for IDs received from elsewhere, and for testing
                /// the kernel's checks with IDs that name nothing).
                pub const fn from_raw(raw: u32) -> Self {
                    $name(raw)
                }

                /// The raw uAPI number.
                pub const fn raw(self) -> u32 {
                    self.0
                }
            }

            impl ::core::fmt::Display for $name {
                fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    ::core::fmt::Display::fmt(&self.0, f)
                }
            }

            impl From<$name> for ObjectId {
                fn from(id: $name) -> ObjectId {
                    ObjectId(id.0)
                }
            }

            $($(
                impl From<$name> for $into {
                    fn from(id: $name) -> $into {
                        $into(id.0)
                    }
                }
            )+)?
        )*
    };
}

/// Any object of an iommufd context, untyped: the `id` of `IOMMU_DESTROY`, the `object_id` of
/// `IOMMU_OPTION` (0: the context itself), the `id` of `IOMMU_TEST_CMD`. Every typed ID
/// converts into it; a raw `u32` does too, since these commands take any number.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct ObjectId(u32);

impl ObjectId {
    /// From the raw uAPI number.
    pub const fn from_raw(raw: u32) -> Self {
        ObjectId(raw)
    }

    /// The raw uAPI number.
    pub const fn raw(self) -> u32 {
        self.0
    }
}

impl From<u32> for ObjectId {
    fn from(raw: u32) -> ObjectId {
        ObjectId(raw)
    }
}

impl core::fmt::Display for ObjectId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(&self.0, f)
    }
}

ids! {
    /// An IOAS (`out_ioas_id` of `IOMMU_IOAS_ALLOC`; `ioas_id` elsewhere).
    IoasId => PtId;
    /// A HW page table (`out_hwpt_id` of `IOMMU_HWPT_ALLOC`; the `pt_id` an attach writes
    /// back; `hwpt_id` elsewhere).
    HwptId => PtId;
    /// A device bound to the context (`out_devid` of `VFIO_DEVICE_BIND_IOMMUFD`,
    /// `out_idev_id` of the selftest's `IOMMU_TEST_OP_MOCK_DOMAIN`): the `dev_id` of
    /// `IOMMU_HWPT_ALLOC`, `IOMMU_GET_HW_INFO`, `IOMMU_VIOMMU_ALLOC`, `IOMMU_VDEVICE_ALLOC`.
    DeviceId;
    /// A vIOMMU (`out_viommu_id` of `IOMMU_VIOMMU_ALLOC`), also usable as a `pt_id` for nested
    /// HWPTs.
    ViommuId => PtId;
    /// A vDEVICE (`out_vdevice_id` of `IOMMU_VDEVICE_ALLOC`).
    VdeviceId;
    /// A vEVENTQ (`out_veventq_id` of `IOMMU_VEVENTQ_ALLOC`).
    VeventqId;
    /// A HW queue (`out_hw_queue_id` of `IOMMU_HW_QUEUE_ALLOC`).
    HwQueueId;
    /// A fault queue (`out_fault_id` of `IOMMU_FAULT_QUEUE_ALLOC`; `fault_id` of
    /// `IOMMU_HWPT_ALLOC`).
    FaultQueueId;
    /// A page table something can be attached to or built on: the `pt_id` of
    /// `IOMMU_HWPT_ALLOC`, `VFIO_DEVICE_ATTACH_IOMMUFD_PT` and the selftest's attach
    /// operations — an IOAS, a HWPT or a vIOMMU. [`IoasId`], [`HwptId`] and [`ViommuId`]
    /// convert into it.
    PtId;
    /// A selftest mock device object (`out_stdev_id` of `IOMMU_TEST_OP_MOCK_DOMAIN`): the
    /// `id` of the selftest's per-device operations, destroyed to unbind the device. Not a
    /// [`DeviceId`].
    MockDeviceId;
}
