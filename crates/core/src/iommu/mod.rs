//! The driver contract: what an IOMMU hardware model implements and what iommufd offers it
//! (the kernel's `struct iommu_ops` and domain ops, `include/linux/iommu.h`; the iommufd
//! driver hooks and helpers, `include/linux/iommufd.h`, `drivers/iommu/iommufd/driver.c`).
//!
//! A driver answers what its hardware can do ([`IommuDriver::hw_info`],
//! [`IommuDriver::capable`]), builds domains from the caller's driver data, and decides whether
//! a device may attach to a domain: `EINVAL` means "incompatible, try another domain", which
//! the auto-domain search relies on.
//!
//! - [`domain`]: domains and their paging operations, which an IOAS fills;
//! - [`translate`]: the hardware translation a domain models for the DMA engine;
//! - [`viommu`]: a driver's vIOMMU hooks; [`viommu_core`] and [`event_queue`]: the vIOMMU
//!   state iommufd keeps and lets the driver use (virtual devices, event reporting).
//!
//! Nothing here names a concrete model: the models (the `driver` module, above this one) and
//! everything else of the subsystem meet only through these traits.

pub mod domain;
pub mod event_queue;
pub mod translate;
pub mod viommu;
pub mod viommu_core;

pub use domain::{Domain, DomainType, IoptDomain, Prot};
use std::any::Any;
use std::fmt::Debug;
use std::sync::Arc;
use uiommu_uapi::UserMemory;
use uiommu_uapi::copy::UserData;
use uiommu_uapi::errno::Result;

/// Device capabilities a driver reports (`enum iommu_cap`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// DMA is cache coherent (`IOMMU_CAP_CACHE_COHERENCY`); required to bind.
    CacheCoherency,
    /// Domains can enforce coherency (`IOMMU_CAP_ENFORCE_CACHE_COHERENCY`).
    EnforceCacheCoherency,
    /// Dirty tracking (`IOMMU_CAP_DIRTY_TRACKING`).
    DirtyTracking,
    /// The device may use ATS (`IOMMU_CAP_PCI_ATS_SUPPORTED`).
    PciAtsSupported,
}

/// What `hw_info` reports: the driver's data and its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HwInfo {
    /// `IOMMU_HW_INFO_TYPE_*` of `data`.
    pub data_type: u32,
    /// The driver's `iommu_hw_info_*` struct, as bytes.
    pub data: Vec<u8>,
}

/// Driver data passed in by the caller, and the memory to read it from.
#[derive(Clone, Copy)]
pub struct DriverData<'a> {
    /// Type, address and length of the blob.
    pub data: UserData,
    /// The caller's memory.
    pub mem: &'a dyn UserMemory,
}

impl std::fmt::Debug for DriverData<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.data.fmt(f)
    }
}

/// `IOMMU_NO_PASID`: a request or attachment of the RID, without a PASID.
pub const NO_PASID: u32 = 0;

/// What a new device behind an IOMMU can do, as its firmware and capabilities describe it:
/// what [`IommuDriver::probe_device`] is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeviceSpec {
    /// PASID width of the function's PASID capability (0: none).
    pub pasid_bits: u8,
    /// The function cannot have its DMA dirty-tracked, whatever the IOMMU offers (the
    /// selftest's `MOCK_FLAGS_DEVICE_NO_DIRTY`); hardware models track dirtiness in the IOMMU
    /// and ignore it.
    pub no_dirty: bool,
}

/// A physical device behind an IOMMU: what the driver knows of it.
#[derive(Debug)]
pub struct PhysDevice {
    /// The driver of the IOMMU the device sits behind.
    pub driver: Arc<dyn IommuDriver>,
    /// The IOMMU group: devices that cannot be isolated from each other share one.
    pub group_id: u32,
    /// PASIDs the device supports, as a bit width (0: none).
    pub max_pasid_log2: u8,
    /// The driver's per-device state.
    pub state: Box<dyn Any + Send + Sync>,
}

impl PhysDevice {
    /// The driver's state as `T`, if it is one.
    pub fn state<T: 'static>(&self) -> Option<&T> {
        self.state.downcast_ref()
    }
}

/// A region a device cannot use for DMA (`iommu_get_resv_regions`), inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReservedRegion {
    /// First reserved IOVA.
    pub start: u64,
    /// Last reserved IOVA.
    pub last: u64,
    /// A software MSI window (`IOMMU_RESV_SW_MSI`), which iommufd may map itself.
    pub sw_msi: bool,
}

/// An IOMMU driver.
pub trait IommuDriver: Send + Sync + Debug {
    /// A short name (`mock`, `vtd`, `smmuv3`, …).
    fn name(&self) -> &'static str;

    /// `probe_device`: a new device behind this IOMMU, in a group the driver chooses.
    /// `EINVAL` for a specification the hardware cannot describe.
    fn probe_device(self: Arc<Self>, spec: DeviceSpec) -> Result<PhysDevice>;

    /// `device_iommu_capable`.
    fn capable(&self, dev: &PhysDevice, cap: Capability) -> bool;

    /// `hw_info`: the driver's data of type `requested` (`IOMMU_HW_INFO_TYPE_DEFAULT` for the
    /// driver's own). `None` if the driver has no data at all.
    fn hw_info(&self, dev: &PhysDevice, requested: u32) -> Option<Result<HwInfo>>;

    /// `domain_alloc_paging_flags`: a paging domain for `dev` with `IOMMU_HWPT_ALLOC_*` flags
    /// (`IOMMU_HWPT_FAULT_ID_VALID` already removed) and optional driver data.
    fn domain_alloc_paging(
        &self,
        dev: &PhysDevice,
        flags: u32,
        data: Option<DriverData<'_>>,
    ) -> Result<Arc<dyn Domain>>;

    /// `domain_alloc_nested`: a nested domain over `parent`, from driver data. `None` if the
    /// driver does not support nesting.
    fn domain_alloc_nested(
        &self,
        _dev: &PhysDevice,
        _parent: &Arc<dyn Domain>,
        _flags: u32,
        _data: DriverData<'_>,
    ) -> Option<Result<Arc<dyn Domain>>> {
        None
    }

    /// `attach_dev`: make `domain` the device's RID domain (`old` is the previous one).
    fn attach_dev(
        &self,
        dev: &PhysDevice,
        domain: &Arc<dyn Domain>,
        old: Option<&Arc<dyn Domain>>,
    ) -> Result<()>;

    /// `set_dev_pasid`: make `domain` the domain of `pasid` on the device. `domain` is the
    /// blocking domain when a PASID is detached.
    fn set_dev_pasid(
        &self,
        dev: &PhysDevice,
        pasid: u32,
        domain: &Arc<dyn Domain>,
        old: Option<&Arc<dyn Domain>>,
    ) -> Result<()>;

    /// The domain that blocks all DMA.
    fn blocking_domain(&self) -> Arc<dyn Domain>;

    /// Reserved IOVA regions of the device.
    fn reserved_regions(&self, _dev: &PhysDevice) -> Vec<ReservedRegion> {
        Vec::new()
    }

    /// Whether `domain` was made by this driver (`domain->owner == ops`).
    fn owns(&self, domain: &dyn Domain) -> bool;

    /// The guest owns the PASID table (`iommu_ops.user_pasid_table`): faults on a PASID with
    /// no attachment of its own go to the nested domain of the RID.
    fn user_pasid_table(&self) -> bool {
        false
    }

    /// `get_viommu_size` (with `viommu_init`) is non-zero for `viommu_type` on `dev`.
    fn viommu_supported(&self, _dev: &PhysDevice, _viommu_type: u32) -> bool {
        false
    }

    /// `viommu_init`: the driver's vIOMMU state over the nest parent.
    fn viommu_init(&self, _init: &viommu::ViommuInit<'_>) -> Result<Box<dyn viommu::ViommuOps>> {
        Err(uiommu_uapi::Errno::EOPNOTSUPP)
    }

    /// The debugfs files the driver creates for `dev`, whose device name (`dev_name`, a PCI
    /// device's BDF) is `name`, each with what a read of it shows now. None by default.
    fn debugfs(&self, _dev: &PhysDevice, _name: &str) -> Vec<DebugfsFile> {
        Vec::new()
    }
}

/// A file of the driver's in debugfs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebugfsFile {
    /// Its path below `/sys/kernel/debug`, e.g. `iommu/intel/0000:00:10.0/domain_translation_struct`.
    pub path: String,
    /// Its text.
    pub contents: String,
}

/// Whether two devices sit behind the same IOMMU instance (`iommufd_device_get_iommu_dev`
/// compared).
pub fn same_iommu(a: &Arc<dyn IommuDriver>, b: &Arc<dyn IommuDriver>) -> bool {
    std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b))
}
