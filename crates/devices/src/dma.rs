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
use uiommu_uapi::Errno;
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

/// The side of a copy whose request did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopySide {
    /// A read of the source.
    Source,
    /// A write of the destination.
    Destination,
}

/// A copy that stopped: where, why, and how far it got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("{side:?} after {done} bytes: {abort}")]
pub struct CopyAbort {
    /// The side refused.
    pub side: CopySide,
    /// Why.
    pub abort: DmaAbort,
    /// Bytes copied before the refused request (all of them written).
    pub done: u64,
}

/// The most bytes one copy of user memory moves: a bound on the bounce buffer a memory that
/// cannot copy in place needs.
const MAX_RUN: u64 = 4 << 20;

/// Binding a requester that is not this function's device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("the bound device is another physical device")]
pub struct WrongDevice;

/// Told of each of the function's requests the IOMMU refused: [`DmaError::Fault`] for a fault
/// it recorded, [`DmaError::PageRequest`] for a page request it queued.
pub type FaultLog = Arc<dyn Fn(&DmaError) + Send + Sync>;

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

    /// Sends each of this function's requests the IOMMU refuses (a fault recorded, a page
    /// request queued) to `log` (`None`: to nothing).
    pub fn set_fault_log(&mut self, log: Option<FaultLog>) {
        self.log = log;
    }

    /// `r`, after telling the log of the fault or page request it carries.
    fn logged(&self, r: Result<(), DmaAbort>) -> Result<(), DmaAbort> {
        if let (
            Err(DmaAbort::Iommu(e @ (DmaError::Fault(_) | DmaError::PageRequest(_)))),
            Some(log),
        ) = (&r, &self.log)
        {
            log(e);
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

    /// The function copies `len` bytes from `src` to `dst` (IOVAs with `pasid`), as a DMA
    /// engine does: each page of both sides is translated (so a refusal is the IOMMU's fault
    /// on the side it hit), and the stretches that are contiguous in output on both sides
    /// move in one copy of user memory, without a pass through a buffer of the function's.
    /// The bytes before a refused page are copied. A range that wraps the address space is
    /// refused before any request (`EOVERFLOW`); output memory the process does not have
    /// (`EFAULT`) is reported on the source side, the copy's first access.
    pub fn copy(&self, pasid: u32, src: u64, dst: u64, len: u64) -> Result<(), CopyAbort> {
        let abort = |side, abort, done| CopyAbort { side, abort, done };
        let Some((dev, mem)) = &self.bound else {
            return Err(abort(CopySide::Source, DmaAbort::MasterAbort, 0));
        };
        let last = len.saturating_sub(1);
        for (side, at) in [(CopySide::Source, src), (CopySide::Destination, dst)] {
            if at.checked_add(last).is_none() {
                let e = DmaAbort::Iommu(DmaError::Access(Errno::EOVERFLOW));
                return Err(abort(side, e, 0));
            }
        }
        let mem = &**mem;
        let target = DmaTarget::resolve(dev, pasid);
        // The pending run: (offset, source output, destination output, length).
        let mut run: Option<(u64, u64, u64, u64)> = None;
        let flush = |run: Option<(u64, u64, u64, u64)>| match run {
            Some((off, s, d, n)) => mem.copy(d, s, n as usize).map_err(|e| {
                let e = DmaAbort::Iommu(DmaError::Access(e));
                abort(CopySide::Source, e, off)
            }),
            None => Ok(()),
        };
        let mut done = 0u64;
        while done < len {
            let rest = len - done;
            let s = target.translate(src + done, Access::Read, rest, mem);
            let s = match s {
                Ok(s) => s,
                Err(e) => {
                    flush(run)?;
                    return Err(self.refused(abort(CopySide::Source, DmaAbort::Iommu(e), done)));
                }
            };
            let d = match target.translate(dst + done, Access::Write, s.len, mem) {
                Ok(d) => d,
                Err(e) => {
                    flush(run)?;
                    let e = abort(CopySide::Destination, DmaAbort::Iommu(e), done);
                    return Err(self.refused(e));
                }
            };
            let n = s.len.min(d.len);
            run = match run {
                Some((off, rs, rd, rn))
                    if rs + rn == s.phys && rd + rn == d.phys && rn + n <= MAX_RUN =>
                {
                    Some((off, rs, rd, rn + n))
                }
                pending => {
                    flush(pending)?;
                    Some((done, s.phys, d.phys, n))
                }
            };
            done += n;
        }
        flush(run)
    }

    /// `e`, after telling the log of the fault or page request it carries.
    fn refused(&self, e: CopyAbort) -> CopyAbort {
        let _ = self.logged(Err(e.abort));
        e
    }
}
