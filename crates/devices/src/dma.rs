//! The DMA port of a function: its memory requests, translated by the IOMMU model through
//! `uiommu_core::dma` against the domain its RID (or a PASID) is attached to at the time of
//! the request.
//!
//! A function is created with the [`PhysDevice`] its IOMMU model probed for it, and gets a
//! requester when the device is bound to a context (a `Handle<Device>`, with the memory of the
//! process that owns the context: IOMMU output addresses are that process's addresses).
//! Unbound, a request has nowhere to go: nothing claims it, a master abort (PCI 3.0 §6.2.3,
//! Received Master Abort): a write is dropped and a read returns all ones, as it does on a
//! real bus. A read the IOMMU refuses also returns all ones (the completion carries
//! Unsupported Request, PCIe 4.0 §2.3.2); the function learns of either through [`DmaAbort`].
//!
//! A fault the IOMMU recorded can also go to a [`FaultLog`], the host's counterpart of the
//! line a kernel prints for it (VT-d's `DMAR: [DMA Write NO_PASID] Request device …`, SMMUv3's
//! event, AMD-Vi's `IO_PAGE_FAULT`): the model's own record (fault log, event queue) is kept
//! as before either way.

use std::sync::Arc;
use thiserror::Error;
use uiommu_core::context::Handle;
use uiommu_core::device::Device;
use uiommu_core::dma::{DmaError, DmaTarget};
use uiommu_core::iommu::translate::DmaFault;
use uiommu_core::iommu::{NO_PASID, PhysDevice};
use uiommu_pt::Access;
use uiommu_uapi::UserMemory;

/// The owning process's memory, as the DMA engine reads it.
pub type ProcessMemory = Arc<dyn UserMemory + Send + Sync>;

/// Why a request of the function did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum DmaAbort {
    /// Nothing claimed the request: the function is not bound, or Bus Master Enable is clear.
    #[error("master abort")]
    MasterAbort,
    /// The IOMMU refused the request: a fault it recorded, or a page request it queued.
    #[error("IOMMU: {0:?}")]
    Iommu(DmaError),
}

/// Binding a requester that is not this function's device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("the bound device is another physical device")]
pub struct WrongDevice;

/// Told of each fault the IOMMU recorded for the function's requests.
pub type FaultLog = Arc<dyn Fn(&DmaFault) + Send + Sync>;

/// A fault in one line, for a [`FaultLog`]: the access, its IOVA and PASID, and why.
///
/// ```
/// use uiommu_core::iommu::NO_PASID;
/// use uiommu_core::iommu::translate::{DmaFault, FaultReason};
/// use uiommu_devices::dma::describe_fault;
/// use uiommu_pt::Access;
///
/// let f = DmaFault {
///     dev_id: 1,
///     pasid: NO_PASID,
///     iova: 0x100_0200,
///     access: Access::Write,
///     reason: FaultReason::Blocked,
/// };
/// assert_eq!(describe_fault(&f), "DMA write at IOVA 0x1000200, no PASID: Blocked");
/// ```
pub fn describe_fault(f: &DmaFault) -> String {
    let access = match f.access {
        Access::Read => "read",
        Access::Write => "write",
    };
    let pasid = match f.pasid {
        NO_PASID => "no PASID".to_owned(),
        p => format!("PASID {p}"),
    };
    format!(
        "DMA {access} at IOVA {:#x}, {pasid}: {:?}",
        f.iova, f.reason
    )
}

/// Where a function's requests go.
pub struct DmaPort {
    phys: Arc<PhysDevice>,
    bound: Option<(Handle<Device>, ProcessMemory)>,
    log: Option<FaultLog>,
}

impl std::fmt::Debug for DmaPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DmaPort")
            .field("phys", &self.phys)
            .field("bound", &self.device().map(|d| d.id()))
            .finish()
    }
}

impl DmaPort {
    /// The port of the function `phys` is (`IommuDriver::probe_device`'s result), unbound.
    pub fn new(phys: Arc<PhysDevice>) -> Self {
        DmaPort {
            phys,
            bound: None,
            log: None,
        }
    }

    /// Sends each fault the IOMMU records for this function's requests to `log` (`None`: to
    /// nothing).
    pub fn set_fault_log(&mut self, log: Option<FaultLog>) {
        self.log = log;
    }

    /// `r`, after telling the log of the fault it carries.
    fn logged(&self, r: Result<(), DmaAbort>) -> Result<(), DmaAbort> {
        if let (Err(DmaAbort::Iommu(DmaError::Fault(f))), Some(log)) = (&r, &self.log) {
            log(f);
        }
        r
    }

    /// The physical device behind the IOMMU.
    pub fn phys(&self) -> &Arc<PhysDevice> {
        &self.phys
    }

    /// The device is bound to a context whose process owns `memory`.
    pub fn bind(
        &mut self,
        device: Handle<Device>,
        memory: ProcessMemory,
    ) -> Result<(), WrongDevice> {
        if !Arc::ptr_eq(&device.phys, &self.phys) {
            return Err(WrongDevice);
        }
        self.bound = Some((device, memory));
        Ok(())
    }

    /// The device is unbound: requests master-abort again.
    pub fn unbind(&mut self) {
        self.bound = None;
    }

    /// The bound device, if any.
    pub fn device(&self) -> Option<&Handle<Device>> {
        self.bound.as_ref().map(|(d, _)| d)
    }

    /// The function reads `buf.len()` bytes at `iova` with `pasid` (`NO_PASID`: the RID).
    /// On an abort `buf` reads all ones.
    pub fn read(&self, pasid: u32, iova: u64, buf: &mut [u8]) -> Result<(), DmaAbort> {
        let r = self.logged(match &self.bound {
            None => Err(DmaAbort::MasterAbort),
            Some((dev, mem)) => DmaTarget::resolve(dev, pasid)
                .read(iova, buf, &**mem)
                .map_err(DmaAbort::Iommu),
        });
        if r.is_err() {
            buf.fill(0xff);
        }
        r
    }

    /// The function writes `data` at `iova` with `pasid`. Pages before a fault are written,
    /// as the engine's requests before the faulting one completed.
    pub fn write(&self, pasid: u32, iova: u64, data: &[u8]) -> Result<(), DmaAbort> {
        self.logged(match &self.bound {
            None => Err(DmaAbort::MasterAbort),
            Some((dev, mem)) => DmaTarget::resolve(dev, pasid)
                .write(iova, data, &**mem)
                .map_err(DmaAbort::Iommu),
        })
    }
}
