//! [`Viommu`], [`Vdevice`], [`Veventq`] and [`HwQueue`]: `IOMMU_VIOMMU_ALLOC`,
//! `IOMMU_VDEVICE_ALLOC`, `IOMMU_VEVENTQ_ALLOC` with its event fd, `IOMMU_HW_QUEUE_ALLOC`,
//! and `IOMMU_HWPT_INVALIDATE` on a vIOMMU.

mod veventq;

pub use veventq::{Vevent, Veventq};

use std::sync::Arc;

use uiommu_uapi::iommufd::*;
use uiommu_uapi::selftest::{IOMMU_VIOMMU_TYPE_SELFTEST, IommuViommuSelftest};
use zerocopy::{FromBytes, IntoBytes};

use crate::error::{Error, Result};
use crate::fault::owned_file;
use crate::hwpt::{Hwpt, InvalidateData, Invalidated, invalidate};
use crate::ids::{DeviceId, HwQueueId, VdeviceId, ViommuId};
use crate::object::{Keep, Object};
use crate::pt::{PageTable, sealed};

/// The kind of vIOMMU (`type`) with its driver data (`data_uptr`, `data_len`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViommuType {
    /// `IOMMU_VIOMMU_TYPE_DEFAULT`: no driver data.
    Default,
    /// `IOMMU_VIOMMU_TYPE_ARM_SMMUV3`: a vSMMU.
    ArmSmmuv3,
    /// `IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV`: a vSMMU with CMDQV; the data is an output.
    Tegra241Cmdqv,
    /// `IOMMU_VIOMMU_TYPE_SELFTEST`: the mock vIOMMU, echoing `in_data`.
    Selftest {
        /// `iommu_viommu_selftest.in_data`.
        in_data: u32,
    },
    /// Any type and data, for testing the kernel's checks.
    Raw {
        /// `type`.
        viommu_type: u32,
        /// The data.
        data: Vec<u8>,
    },
}

/// A virtual IOMMU: the host side of the IOMMU a VMM shows its guest, built on a nest-parent
/// HWPT (the stage 2, guest physical to host) for the IOMMU of a device.
///
/// ```no_run
/// use uiommu_client::{Hwpt, HwptFlags, Iommufd, VfioDevice, ViommuType, Viommu};
///
/// let fd = Iommufd::open()?;
/// let dev = VfioDevice::open_cdev(0)?;
/// let dev_id = dev.bind_iommufd(&fd)?;
/// let ioas = fd.alloc_ioas()?;
/// let s2 = Hwpt::paging(dev_id, &ioas, HwptFlags::NEST_PARENT)?;
/// let viommu = Viommu::alloc(dev_id, &s2, ViommuType::ArmSmmuv3)?;
/// let vdev = viommu.alloc_vdevice(dev_id, 0x8)?; // the guest's stream ID for it
/// # Ok::<(), uiommu_client::Error>(())
/// ```
#[derive(Debug)]
pub struct Viommu {
    obj: Arc<Object>,
    data: Vec<u8>,
}

impl sealed::Sealed for Viommu {
    fn object(&self) -> &Arc<Object> {
        &self.obj
    }
}
impl PageTable for Viommu {}

impl Viommu {
    /// ioctl(IOMMU_VIOMMU_ALLOC) backed by the IOMMU of `dev_id`, on nest parent `parent`.
    pub fn alloc(dev_id: DeviceId, parent: &Hwpt, kind: ViommuType) -> Result<Viommu> {
        let pobj = sealed::Sealed::object(parent).clone();
        let (viommu_type, mut data) = match kind {
            ViommuType::Default => (IOMMU_VIOMMU_TYPE_DEFAULT, Vec::new()),
            ViommuType::ArmSmmuv3 => (IOMMU_VIOMMU_TYPE_ARM_SMMUV3, Vec::new()),
            ViommuType::Tegra241Cmdqv => (
                IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV,
                IommuViommuTegra241Cmdqv::default().as_bytes().to_vec(),
            ),
            ViommuType::Selftest { in_data } => (
                IOMMU_VIOMMU_TYPE_SELFTEST,
                IommuViommuSelftest {
                    in_data,
                    ..Default::default()
                }
                .as_bytes()
                .to_vec(),
            ),
            ViommuType::Raw { viommu_type, data } => (viommu_type, data),
        };
        let mut cmd = IommuViommuAlloc {
            size: size_of::<IommuViommuAlloc>() as u32,
            type_: viommu_type,
            dev_id: dev_id.raw(),
            hwpt_id: pobj.id,
            data_len: data.len() as u32,
            data_uptr: if data.is_empty() {
                0
            } else {
                data.as_mut_ptr() as u64
            },
            ..Default::default()
        };
        let ctx = pobj.ctx.clone();
        ctx.ioctl("IOMMU_VIOMMU_ALLOC", IOMMU_VIOMMU_ALLOC, &mut cmd)?;
        Ok(Viommu {
            obj: Object::new(&ctx, cmd.out_viommu_id, vec![Keep::Object(pobj)]),
            data,
        })
    }

    /// The vIOMMU ID (`out_viommu_id`).
    pub fn id(&self) -> ViommuId {
        ViommuId::from_raw(self.obj.id)
    }

    /// `IOMMU_DESTROY` now rather than on drop.
    pub fn destroy(&self) -> Result<()> {
        self.obj.destroy()
    }

    /// The driver data as the kernel left it.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The data of a mock vIOMMU (`iommu_viommu_selftest`, with `out_data` and the mmap
    /// window filled in).
    pub fn selftest_data(&self) -> Option<IommuViommuSelftest> {
        IommuViommuSelftest::read_from_bytes(&self.data).ok()
    }

    /// The data of a Tegra241 CMDQV vIOMMU.
    pub fn tegra241_data(&self) -> Option<IommuViommuTegra241Cmdqv> {
        IommuViommuTegra241Cmdqv::read_from_bytes(&self.data).ok()
    }

    /// Maps the region the driver offered in its output data (the mock's page pair, a
    /// Tegra241 VINTF page) by `mmap(2)` of the iommufd; `None` if the data offers none.
    pub fn mmap(&self) -> Option<Result<ViommuMapping>> {
        let (offset, length) = if let Some(d) = self.selftest_data() {
            (d.out_mmap_offset, d.out_mmap_length)
        } else if let Some(d) = self.tegra241_data() {
            (d.out_vintf_mmap_offset, d.out_vintf_mmap_length)
        } else {
            return None;
        };
        if length == 0 {
            return None;
        }
        Some(self.mmap_region(offset, length as usize))
    }

    /// `mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, iommufd, offset)`: a region
    /// of this vIOMMU, given its offset and length from the driver data.
    pub fn mmap_region(&self, offset: u64, length: usize) -> Result<ViommuMapping> {
        self.mmap_raw(
            offset,
            length,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
        )
    }

    /// `mmap(2)` of the iommufd with any protection and flags, for testing the kernel's
    /// checks (a private mapping is `EINVAL`, an executable one `EPERM`, an offset or length
    /// other than the region's `ENXIO`).
    pub fn mmap_raw(
        &self,
        offset: u64,
        length: usize,
        prot: i32,
        flags: i32,
    ) -> Result<ViommuMapping> {
        use std::os::fd::AsFd;
        let region =
            crate::ioctl::Region::map(length, prot, flags, Some(self.obj.ctx.as_fd()), offset)
                .map_err(|e| Error::os("mmap iommufd", e))?;
        Ok(ViommuMapping {
            region,
            _viommu: self.obj.clone(),
        })
    }

    /// ioctl(IOMMU_VDEVICE_ALLOC): device `dev_id` as this vIOMMU sees it, with virtual ID
    /// `virt_id`.
    pub fn alloc_vdevice(&self, dev_id: DeviceId, virt_id: u64) -> Result<Vdevice> {
        let mut cmd = IommuVdeviceAlloc {
            size: size_of::<IommuVdeviceAlloc>() as u32,
            viommu_id: self.obj.id,
            dev_id: dev_id.raw(),
            virt_id,
            ..Default::default()
        };
        self.obj
            .ctx
            .ioctl("IOMMU_VDEVICE_ALLOC", IOMMU_VDEVICE_ALLOC, &mut cmd)?;
        Ok(Vdevice {
            obj: Object::new(
                &self.obj.ctx,
                cmd.out_vdevice_id,
                vec![Keep::Object(self.obj.clone())],
            ),
            virt_id,
        })
    }

    /// ioctl(IOMMU_VEVENTQ_ALLOC): a queue of `veventq_type` events, at most `depth` pending.
    pub fn alloc_veventq(&self, veventq_type: u32, depth: u32) -> Result<Veventq> {
        let mut cmd = IommuVeventqAlloc {
            size: size_of::<IommuVeventqAlloc>() as u32,
            viommu_id: self.obj.id,
            type_: veventq_type,
            veventq_depth: depth,
            ..Default::default()
        };
        self.obj
            .ctx
            .ioctl("IOMMU_VEVENTQ_ALLOC", IOMMU_VEVENTQ_ALLOC, &mut cmd)?;
        Ok(Veventq {
            file: owned_file(cmd.out_veventq_fd),
            obj: Object::new(
                &self.obj.ctx,
                cmd.out_veventq_id,
                vec![Keep::Object(self.obj.clone())],
            ),
            veventq_type,
        })
    }

    /// ioctl(IOMMU_HW_QUEUE_ALLOC): HW queue `index` of type `queue_type`, its memory at
    /// `nesting_parent_iova..+length` of the nest parent.
    pub fn alloc_hw_queue(
        &self,
        queue_type: u32,
        index: u32,
        nesting_parent_iova: u64,
        length: u64,
    ) -> Result<HwQueue> {
        let mut cmd = IommuHwQueueAlloc {
            size: size_of::<IommuHwQueueAlloc>() as u32,
            viommu_id: self.obj.id,
            type_: queue_type,
            index,
            nesting_parent_iova,
            length,
            ..Default::default()
        };
        self.obj
            .ctx
            .ioctl("IOMMU_HW_QUEUE_ALLOC", IOMMU_HW_QUEUE_ALLOC, &mut cmd)?;
        Ok(HwQueue {
            obj: Object::new(
                &self.obj.ctx,
                cmd.out_hw_queue_id,
                vec![Keep::Object(self.obj.clone())],
            ),
        })
    }

    /// ioctl(IOMMU_HWPT_INVALIDATE) on this vIOMMU (device caches, CMDQ commands).
    pub fn invalidate(&self, data: &InvalidateData<'_>) -> Invalidated {
        invalidate(&self.obj.ctx, self.obj.id, data)
    }
}

/// A region of a [`Viommu`] mapped into the process (hardware pages a guest may drive
/// directly, such as a command queue interface); unmapped on drop.
///
/// While it is mapped the kernel holds the vIOMMU (`IOMMU_DESTROY` of it is `EBUSY`), and
/// the mapping keeps the [`Viommu`]'s object, so dropping the handle first is harmless.
///
/// ```no_run
/// # fn f(viommu: &uiommu_client::Viommu) -> uiommu_client::Result<()> {
/// if let Some(m) = viommu.mmap() {
///     let m = m?;
///     println!("{} bytes, first word {:#x}", m.len(), m.read_u32(0));
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ViommuMapping {
    // Unmapped first, then the vIOMMU may go.
    region: crate::ioctl::Region,
    _viommu: Arc<Object>,
}

impl ViommuMapping {
    /// The user virtual address of the mapping.
    pub fn addr(&self) -> u64 {
        self.region.addr()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.region.len()
    }

    /// Whether the mapping is empty (never: `mmap` refuses length 0).
    pub fn is_empty(&self) -> bool {
        self.region.len() == 0
    }

    /// Copies bytes from `offset` into `out`. Panics if out of bounds.
    pub fn read(&self, offset: usize, out: &mut [u8]) {
        self.region.read(offset, out);
    }

    /// Copies `data` to `offset`. Panics if out of bounds.
    pub fn write(&self, offset: usize, data: &[u8]) {
        self.region.write(offset, data);
    }

    /// The native-endian 32-bit word at `offset`.
    pub fn read_u32(&self, offset: usize) -> u32 {
        let mut b = [0u8; 4];
        self.read(offset, &mut b);
        u32::from_ne_bytes(b)
    }
}

/// A virtual device of a [`Viommu`].
///
/// ```no_run
/// # fn f(viommu: &uiommu_client::Viommu) -> uiommu_client::Result<()> {
/// # let dev_id = uiommu_client::DeviceId::from_raw(1);
/// let vdev = viommu.alloc_vdevice(dev_id, 0x42)?;
/// assert_eq!(vdev.virt_id(), 0x42);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Vdevice {
    obj: Arc<Object>,
    virt_id: u64,
}

impl Vdevice {
    /// The vDEVICE ID (`out_vdevice_id`).
    pub fn id(&self) -> VdeviceId {
        VdeviceId::from_raw(self.obj.id)
    }
    /// The virtual ID given at allocation (`virt_id`).
    pub fn virt_id(&self) -> u64 {
        self.virt_id
    }
    /// `IOMMU_DESTROY` now rather than on drop.
    pub fn destroy(&self) -> Result<()> {
        self.obj.destroy()
    }
}

/// A hardware queue of a [`Viommu`].
///
/// ```no_run
/// # fn f(viommu: &uiommu_client::Viommu) -> uiommu_client::Result<()> {
/// use uiommu_client::uapi::selftest::IOMMU_HW_QUEUE_TYPE_SELFTEST;
/// let q = viommu.alloc_hw_queue(IOMMU_HW_QUEUE_TYPE_SELFTEST, 0, 0x10_0000, 4096)?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct HwQueue {
    obj: Arc<Object>,
}

impl HwQueue {
    /// The HW queue ID (`out_hw_queue_id`).
    pub fn id(&self) -> HwQueueId {
        HwQueueId::from_raw(self.obj.id)
    }
    /// `IOMMU_DESTROY` now rather than on drop.
    pub fn destroy(&self) -> Result<()> {
        self.obj.destroy()
    }
}
