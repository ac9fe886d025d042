//! [`Hwpt`]: HW page tables — `IOMMU_HWPT_ALLOC` (paging, nest parent, dirty tracking,
//! nested with driver data, fault reporting), `IOMMU_HWPT_SET_DIRTY_TRACKING`,
//! `IOMMU_HWPT_GET_DIRTY_BITMAP` and `IOMMU_HWPT_INVALIDATE`.

mod dirty;
mod invalidate;

pub(crate) use dirty::{get_dirty_bitmap, set_dirty_tracking};
pub(crate) use invalidate::invalidate;
pub use invalidate::{InvalidateData, Invalidated};

use std::sync::Arc;

use uiommu_uapi::iommufd::*;
use uiommu_uapi::selftest::{IOMMU_HWPT_DATA_SELFTEST, IommuHwptSelftest};
use zerocopy::IntoBytes;

use crate::error::{Error, Result};
use crate::fault::FaultQueue;
use crate::flags::flags;
use crate::ids::{DeviceId, HwptId};
use crate::iommufd::Iommufd;
use crate::object::{Keep, Object};
use crate::pt::sealed::Sealed as _;
use crate::pt::{PageTable, sealed};

flags! {
    /// `iommu_hwpt_alloc.flags` (`IOMMU_HWPT_ALLOC_*`), without `FAULT_ID_VALID`, which
    /// [`HwptBuilder::fault`] sets.
    pub struct HwptFlags: u32 {
        /// `IOMMU_HWPT_ALLOC_NEST_PARENT`: may be the stage 2 of nested HWPTs and vIOMMUs.
        const NEST_PARENT = IOMMU_HWPT_ALLOC_NEST_PARENT;
        /// `IOMMU_HWPT_ALLOC_DIRTY_TRACKING`.
        const DIRTY_TRACKING = IOMMU_HWPT_ALLOC_DIRTY_TRACKING;
        /// `IOMMU_HWPT_ALLOC_PASID`: may be attached to PASIDs.
        const PASID = IOMMU_HWPT_ALLOC_PASID;
    }
}

flags! {
    /// `iommu_hwpt_get_dirty_bitmap.flags`.
    pub struct DirtyFlags: u32 {
        /// `IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR`: read without clearing.
        const NO_CLEAR = IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR;
    }
}

/// Driver data of `IOMMU_HWPT_ALLOC` (`data_type`, `data_uptr`, `data_len`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HwptData {
    /// `IOMMU_HWPT_DATA_NONE`: a paging domain.
    None,
    /// `IOMMU_HWPT_DATA_VTD_S1`: an Intel VT-d first-stage table.
    VtdS1(IommuHwptVtdS1),
    /// `IOMMU_HWPT_DATA_ARM_SMMUV3`: an SMMUv3 guest STE.
    ArmSmmuv3(IommuHwptArmSmmuv3),
    /// `IOMMU_HWPT_DATA_AMD_GUEST`: an AMD guest DTE.
    AmdGuest(IommuHwptAmdGuest),
    /// `IOMMU_HWPT_DATA_SELFTEST`: a nested mock domain.
    Selftest(IommuHwptSelftest),
    /// Any type with any bytes, for testing the kernel's checks.
    Raw {
        /// `data_type`.
        data_type: u32,
        /// The data.
        bytes: Vec<u8>,
    },
}

impl HwptData {
    fn parts(&self) -> (u32, &[u8]) {
        match self {
            HwptData::None => (IOMMU_HWPT_DATA_NONE, &[]),
            HwptData::VtdS1(d) => (IOMMU_HWPT_DATA_VTD_S1, d.as_bytes()),
            HwptData::ArmSmmuv3(d) => (IOMMU_HWPT_DATA_ARM_SMMUV3, d.as_bytes()),
            HwptData::AmdGuest(d) => (IOMMU_HWPT_DATA_AMD_GUEST, d.as_bytes()),
            HwptData::Selftest(d) => (IOMMU_HWPT_DATA_SELFTEST, d.as_bytes()),
            HwptData::Raw { data_type, bytes } => (*data_type, bytes),
        }
    }
}

/// Builds an `IOMMU_HWPT_ALLOC`. The `dev_id` is the device's ID in the context, from
/// [`VfioDevice::bind_iommufd`](crate::VfioDevice::bind_iommufd): the HWPT is made for that
/// device's IOMMU.
///
/// ```no_run
/// use uiommu_client::{Hwpt, HwptFlags, Iommufd, VfioDevice};
///
/// let fd = Iommufd::open()?;
/// let dev = VfioDevice::open_cdev(0)?;
/// let dev_id = dev.bind_iommufd(&fd)?;
/// let ioas = fd.alloc_ioas()?;
/// let fault = fd.alloc_fault_queue()?;
/// let parent = Hwpt::builder(dev_id, &ioas)
///     .flags(HwptFlags::NEST_PARENT)
///     .fault(&fault)
///     .alloc()?;
/// dev.attach(&parent)?;
/// # Ok::<(), uiommu_client::Error>(())
/// ```
pub struct HwptBuilder<'a> {
    dev_id: DeviceId,
    pt: &'a dyn PageTable,
    flags: u32,
    data: HwptData,
    fault: Option<&'a FaultQueue>,
}

impl<'a> HwptBuilder<'a> {
    /// `flags`.
    pub fn flags(mut self, flags: HwptFlags) -> Self {
        self.flags = (self.flags & IOMMU_HWPT_FAULT_ID_VALID) | flags.bits();
        self
    }

    /// Raw `flags`, unknown bits included.
    pub fn raw_flags(mut self, flags: u32) -> Self {
        self.flags = flags;
        self
    }

    /// Driver data (`data_type`, `data_len`, `data_uptr`).
    pub fn data(mut self, data: HwptData) -> Self {
        self.data = data;
        self
    }

    /// Report faults to `queue` (`IOMMU_HWPT_FAULT_ID_VALID`, `fault_id`).
    pub fn fault(mut self, queue: &'a FaultQueue) -> Self {
        self.fault = Some(queue);
        self.flags |= IOMMU_HWPT_FAULT_ID_VALID;
        self
    }

    /// ioctl(IOMMU_HWPT_ALLOC).
    pub fn alloc(self) -> Result<Hwpt> {
        let parent = self.pt.object().clone();
        let ctx = parent.ctx.clone();
        let (data_type, bytes) = self.data.parts();
        let mut cmd = IommuHwptAlloc {
            size: size_of::<IommuHwptAlloc>() as u32,
            flags: self.flags,
            dev_id: self.dev_id.raw(),
            pt_id: parent.id,
            data_type,
            data_len: bytes.len() as u32,
            data_uptr: if bytes.is_empty() {
                0
            } else {
                bytes.as_ptr() as u64
            },
            fault_id: self.fault.map_or(0, |f| f.id().raw()),
            ..Default::default()
        };
        ctx.ioctl("IOMMU_HWPT_ALLOC", IOMMU_HWPT_ALLOC, &mut cmd)?;
        let mut keep = vec![Keep::Object(parent)];
        if let Some(f) = self.fault {
            keep.push(Keep::Object(f.object().clone()));
        }
        Ok(Hwpt {
            obj: Object::new(&ctx, cmd.out_hwpt_id, keep),
        })
    }
}

/// A HW page table (an IOMMU domain) the client allocated. It keeps the IOAS (or nest
/// parent, or vIOMMU) it was built on alive; mappings are made in the IOAS and reach every
/// paging HWPT on it.
///
/// ```no_run
/// use uiommu_client::{DirtyFlags, Hwpt, HwptFlags, Iommufd, VfioDevice};
///
/// let fd = Iommufd::open()?;
/// let dev = VfioDevice::open_cdev(0)?;
/// let dev_id = dev.bind_iommufd(&fd)?;
/// let ioas = fd.alloc_ioas()?;
/// let hwpt = Hwpt::paging(dev_id, &ioas, HwptFlags::DIRTY_TRACKING)?;
/// dev.attach(&hwpt)?;
/// hwpt.set_dirty_tracking(true)?;
/// let bitmap = hwpt.get_dirty_bitmap(0x10_0000, 0x10_0000, 4096, DirtyFlags::empty())?;
/// # Ok::<(), uiommu_client::Error>(())
/// ```
#[derive(Debug)]
pub struct Hwpt {
    obj: Arc<Object>,
}

impl sealed::Sealed for Hwpt {
    fn object(&self) -> &Arc<Object> {
        &self.obj
    }
}
impl PageTable for Hwpt {}

impl Hwpt {
    /// Starts an `IOMMU_HWPT_ALLOC` for device `dev_id` on `pt` (`pt_id`): an IOAS for a
    /// paging HWPT, a nest-parent HWPT or a vIOMMU for a nested one.
    pub fn builder<'a>(dev_id: DeviceId, pt: &'a dyn PageTable) -> HwptBuilder<'a> {
        HwptBuilder {
            dev_id,
            pt,
            flags: 0,
            data: HwptData::None,
            fault: None,
        }
    }

    /// A paging HWPT on `ioas`.
    pub fn paging(dev_id: DeviceId, ioas: &crate::Ioas, flags: HwptFlags) -> Result<Hwpt> {
        Self::builder(dev_id, ioas).flags(flags).alloc()
    }

    /// A nested HWPT on a nest parent or vIOMMU `parent`, described by `data`.
    pub fn nested(dev_id: DeviceId, parent: &dyn PageTable, data: HwptData) -> Result<Hwpt> {
        Self::builder(dev_id, parent).data(data).alloc()
    }

    /// The HWPT ID (`out_hwpt_id`).
    pub fn id(&self) -> HwptId {
        HwptId::from_raw(self.obj.id)
    }

    /// The context the HWPT lives in.
    pub fn iommufd(&self) -> &Iommufd {
        &self.obj.ctx
    }

    /// `IOMMU_DESTROY` now rather than on drop.
    pub fn destroy(&self) -> Result<()> {
        self.obj.destroy()
    }

    /// ioctl(IOMMU_HWPT_SET_DIRTY_TRACKING).
    pub fn set_dirty_tracking(&self, enable: bool) -> Result<()> {
        set_dirty_tracking(&self.obj.ctx, self.id(), enable)
    }

    /// ioctl(IOMMU_HWPT_GET_DIRTY_BITMAP): the dirty bits of `iova..iova + length`, one per
    /// `page_size`, as u64 words (bit `n % 64` of word `n / 64` for page `n`).
    pub fn get_dirty_bitmap(
        &self,
        iova: u64,
        length: u64,
        page_size: u64,
        flags: DirtyFlags,
    ) -> Result<Vec<u64>> {
        get_dirty_bitmap(
            &self.obj.ctx,
            self.id(),
            iova,
            length,
            page_size,
            flags.bits(),
        )
    }

    /// ioctl(IOMMU_HWPT_GET_DIRTY_BITMAP) into a caller-provided byte buffer, which may start
    /// at any address (the kernel handles unaligned bitmaps): bit `n % 8` of byte `n / 8` for
    /// page `n`. `out` must hold whole 64-bit words for every page (`Error::OutOfBounds`
    /// otherwise, nothing sent).
    pub fn get_dirty_bitmap_bytes(
        &self,
        iova: u64,
        length: u64,
        page_size: u64,
        flags: DirtyFlags,
        out: &mut [u8],
    ) -> Result<()> {
        let op = "IOMMU_HWPT_GET_DIRTY_BITMAP";
        let pages = length.checked_div(page_size).unwrap_or(0);
        let need = usize::try_from(pages.div_ceil(64) * 8).unwrap_or(usize::MAX);
        if need > out.len() {
            return Err(Error::OutOfBounds {
                op,
                offset: 0,
                len: need as u64,
                size: out.len() as u64,
            });
        }
        let mut cmd = IommuHwptGetDirtyBitmap {
            size: size_of::<IommuHwptGetDirtyBitmap>() as u32,
            hwpt_id: self.obj.id,
            flags: flags.bits(),
            iova,
            length,
            page_size,
            data: out.as_mut_ptr() as u64,
            ..Default::default()
        };
        self.obj
            .ctx
            .ioctl(op, IOMMU_HWPT_GET_DIRTY_BITMAP, &mut cmd)?;
        Ok(())
    }

    /// ioctl(IOMMU_HWPT_INVALIDATE) on this (nested) HWPT.
    pub fn invalidate(&self, data: &InvalidateData<'_>) -> Invalidated {
        invalidate(&self.obj.ctx, self.obj.id, data)
    }
}
