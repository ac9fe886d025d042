//! The DMA engine: what an emulated device's memory requests go through.
//!
//! A request names the device, the PASID (`NO_PASID` for a request without one), the IOVA and
//! the access. The engine finds the domain the device's RID or PASID is attached to now
//! ([`Requester::current_domain`], the iommu core's view), asks the IOMMU unit's
//! [`Iotlb`] and, on a miss, lets the domain walk its tables ([`DmaDomain::walk`]: a paging
//! domain its own table, a nested domain the guest's stage-1 table in guest memory with every
//! table address and the final output through the stage-2 parent). The walk sets accessed and
//! dirty bits as the hardware does; the result is cached under the domain's DID and the PASID.
//!
//! A request with no translation is a fault ([`DmaFault`]). For a device whose IOMMU and
//! function take page requests, a recoverable fault (not present, or not permitted) becomes a
//! page request delivered to the fault queue of the HWPT through
//! [`Requester::report_page_fault`] (VT-d spec §7.5 "Page Request Handling"); the device
//! retries once the request is answered. Any other fault is recorded by the IOMMU
//! ([`DmaDomain::record_fault`], §7.2 "Non-Recoverable Fault Reporting").
//!
//! Output addresses are what a mapping's output address is everywhere in uiommu: user virtual
//! addresses of the owning process, reached through [`uiommu_uapi::UserMemory`] by [`dma_read`] and
//! [`dma_write`].

mod micro_tlb;

use micro_tlb::MicroTlb;

use crate::fault::PageRequest;
use crate::iommu::translate::{DmaDomain, DmaFault, DmaMemory, FaultReason, Stage};
use crate::iommu::{Domain, DomainType, NO_PASID, PhysDevice};
use crate::iotlb::{Fill, Iotlb, Tag};
use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use uiommu_pt::Access;
use uiommu_uapi::Errno;
use uiommu_uapi::iommufd::{
    IOMMU_PGFAULT_FLAGS_LAST_PAGE, IOMMU_PGFAULT_FLAGS_PASID_VALID, IOMMU_PGFAULT_PERM_READ,
    IOMMU_PGFAULT_PERM_WRITE,
};

/// The device side of a request: the iommu core's view of a device and its group's
/// attachments, which the engine asks where a request goes and hands page requests to.
pub trait Requester: Send + Sync + Debug {
    /// The physical device.
    fn phys(&self) -> &PhysDevice;

    /// The iommufd device object ID that faults report.
    fn dev_id(&self) -> u32;

    /// The domain `pasid` translates through now (`iommu_attach_handle_get`).
    fn current_domain(&self, pasid: u32) -> Option<Arc<dyn Domain>>;

    /// `iommu_report_device_fault` for a complete page request group; `EINVAL` if nothing
    /// takes it (the kernel then answers the device itself).
    fn report_page_fault(&self, faults: Vec<PageRequest>) -> uiommu_uapi::errno::Result<()>;
}

/// The smallest page: DMA is split at this granule at most.
const PAGE_LG2: u32 = 12;

/// Why a DMA did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmaError {
    /// A non-recoverable fault, recorded by the IOMMU.
    Fault(DmaFault),
    /// A page request was queued for the fault; the device retries after the response.
    PageRequest(DmaFault),
    /// The request itself is malformed (`EOVERFLOW`: the range wraps) or the output memory is
    /// not accessible (`EFAULT`).
    Access(Errno),
}

/// A translated stretch of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DmaMapping {
    /// Output address of the IOVA.
    pub phys: u64,
    /// Bytes from there that are contiguous in output (up to the end of the page, at most the
    /// requested length).
    pub len: u64,
    /// log2 of the page that translated it.
    pub page_lg2: u32,
}

/// Page Request Group Index of the next page request (9 bits, PCIe PRI).
fn next_grpid() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed) & 0x1ff
}

/// A device's RID or PASID resolved to the domain it translates through now, for a burst of
/// requests. Attach changes after resolution are not seen (a device's context and PASID
/// caches); resolve again after one. It holds its requester by value (a device handle is a
/// counted reference), so resolving allocates nothing.
#[derive(Debug, Clone)]
pub struct DmaTarget<R> {
    requester: R,
    pasid: u32,
    domain: Option<Arc<dyn Domain>>,
    /// The unit's IOTLB and the tag of this target's translations in it.
    cache: Option<(Arc<Iotlb>, Tag)>,
    /// The last translation this target read from the IOTLB.
    last: MicroTlb,
}

impl<R: Requester + Clone> DmaTarget<R> {
    /// The domain `pasid` of `requester` translates through now. A PASID with no attachment
    /// of its own, on an IOMMU where the guest owns the PASID table, translates through the
    /// nested domain of the RID (that table's owner), as its faults are reported there.
    pub fn resolve(requester: &R, pasid: u32) -> Self {
        let domain = requester.current_domain(pasid).or_else(|| {
            let guest_table = pasid != NO_PASID && requester.phys().driver.user_pasid_table();
            guest_table
                .then(|| requester.current_domain(NO_PASID))
                .flatten()
                .filter(|d| d.domain_type() == DomainType::Nested)
        });
        let cache = domain
            .as_ref()
            .and_then(|d| d.dma())
            .and_then(|hw| hw.hw(requester.phys()))
            .map(|(tlb, did)| (tlb, Tag { did, pasid }));
        DmaTarget {
            requester: requester.clone(),
            pasid,
            domain,
            cache,
            last: MicroTlb::default(),
        }
    }

    /// The domain, if any.
    pub fn domain(&self) -> Option<&Arc<dyn Domain>> {
        self.domain.as_ref()
    }

    /// Translates `iova` for `access` and up to `len` bytes (at least one).
    #[inline]
    pub fn translate(
        &self,
        iova: u64,
        access: Access,
        len: u64,
        mem: &DmaMemory,
    ) -> Result<DmaMapping, DmaError> {
        let (phys, page_lg2) = self.translate_page(iova, access, mem)?;
        let to_end = (1u64 << page_lg2) - (iova & ((1u64 << page_lg2) - 1));
        Ok(DmaMapping {
            phys,
            len: to_end.min(len.max(1)),
            page_lg2,
        })
    }

    #[inline]
    fn translate_page(
        &self,
        iova: u64,
        access: Access,
        mem: &DmaMemory,
    ) -> Result<(u64, u32), DmaError> {
        if let Some((tlb, tag)) = &self.cache {
            let epoch = tlb.epoch();
            if let Some(hit) = self.last.lookup(epoch, iova, access) {
                return Ok(hit);
            }
            if let Some(h) = tlb.lookup(*tag, iova, access) {
                self.last.fill(epoch, iova, h.phys, h.page_lg2, access);
                return Ok((h.phys, h.page_lg2));
            }
        }
        self.miss(iova, access, mem)
    }

    /// The walk after an IOTLB miss, and the fill.
    fn miss(&self, iova: u64, access: Access, mem: &DmaMemory) -> Result<(u64, u32), DmaError> {
        let Some(domain) = &self.domain else {
            return Err(self.fault(None, iova, access, FaultReason::Blocked));
        };
        let Some(hw) = domain.dma() else {
            return self.translate_soft(domain.as_ref(), iova, access);
        };
        let ticket = self.cache.as_ref().map(|(tlb, _)| tlb.begin_fill());
        match hw.walk(self.pasid, iova, access, mem) {
            Ok(w) => {
                if let (Some((tlb, tag)), Some(ticket)) = (&self.cache, ticket) {
                    let fill = Fill {
                        iova,
                        phys: w.phys,
                        page_lg2: w.page_lg2,
                        access,
                    };
                    tlb.insert(*tag, fill, ticket);
                }
                Ok((w.phys, w.page_lg2.clamp(PAGE_LG2, 63)))
            }
            Err(reason) => Err(self.fault(Some(hw), iova, access, reason)),
        }
    }

    /// A domain of a driver without a hardware model: a paging domain translates by its
    /// software lookup (no permission check, no cache), anything else faults.
    fn translate_soft(
        &self,
        domain: &dyn Domain,
        iova: u64,
        access: Access,
    ) -> Result<(u64, u32), DmaError> {
        let reason = match domain.domain_type() {
            DomainType::Blocked => FaultReason::Blocked,
            DomainType::Identity => return Ok((iova, PAGE_LG2)),
            DomainType::Paging => match domain.iova_to_phys(iova) {
                Some(phys) => return Ok((phys, PAGE_LG2)),
                None => FaultReason::NotPresent {
                    stage: Stage::First,
                    level: 0,
                },
            },
            DomainType::Nested => FaultReason::Unsupported,
        };
        Err(self.fault(None, iova, access, reason))
    }

    /// Reports a fault: a page request if the device takes them and the fault is recoverable
    /// and some fault queue takes it, else a fault record.
    #[cold]
    fn fault(
        &self,
        hw: Option<&dyn DmaDomain>,
        iova: u64,
        access: Access,
        reason: FaultReason,
    ) -> DmaError {
        let fault = DmaFault {
            dev_id: self.requester.dev_id(),
            pasid: self.pasid,
            iova,
            access,
            reason,
        };
        let dev = self.requester.phys();
        if let Some(hw) = hw {
            if reason.recoverable() && hw.page_requests(dev) {
                let mut flags = IOMMU_PGFAULT_FLAGS_LAST_PAGE;
                if self.pasid != NO_PASID {
                    flags |= IOMMU_PGFAULT_FLAGS_PASID_VALID;
                }
                let perm = match access {
                    Access::Read => IOMMU_PGFAULT_PERM_READ,
                    Access::Write => IOMMU_PGFAULT_PERM_WRITE,
                };
                let req = PageRequest {
                    flags,
                    pasid: self.pasid,
                    grpid: next_grpid(),
                    perm,
                    addr: iova & !((1u64 << PAGE_LG2) - 1),
                };
                if self.requester.report_page_fault(vec![req]).is_ok() {
                    return DmaError::PageRequest(fault);
                }
            }
            hw.record_fault(dev, &fault);
        }
        crate::observe::report(|| crate::observe::Event::Fault {
            iommu: dev.driver.name(),
            dev_id: fault.dev_id,
            pasid: fault.pasid,
            iova,
            write: access == Access::Write,
            reason: &fault.reason,
        });
        DmaError::Fault(fault)
    }

    /// Translates `iova..iova + len` page by page for `access` and hands `f` each run of
    /// pages that are contiguous in output, as (offset in the request, output address,
    /// length). A fault ends the walk after the runs before it were handed over.
    fn runs(
        &self,
        iova: u64,
        len: usize,
        access: Access,
        mem: &DmaMemory,
        mut f: impl FnMut(usize, u64, usize) -> Result<(), DmaError>,
    ) -> Result<(), DmaError> {
        iova.checked_add((len as u64).saturating_sub(1))
            .ok_or(DmaError::Access(Errno::EOVERFLOW))?;
        // The pending run: (offset, output address, length).
        let mut run: Option<(usize, u64, usize)> = None;
        let mut done = 0usize;
        while done < len {
            let at = iova.wrapping_add(done as u64);
            let m = match self.translate(at, access, (len - done) as u64, mem) {
                Ok(m) => m,
                Err(e) => {
                    if let Some((off, phys, n)) = run {
                        f(off, phys, n)?;
                    }
                    return Err(e);
                }
            };
            let n = m.len as usize;
            run = match run {
                Some((off, phys, rn)) if phys.wrapping_add(rn as u64) == m.phys => {
                    Some((off, phys, rn + n))
                }
                Some((off, phys, rn)) => {
                    f(off, phys, rn)?;
                    Some((done, m.phys, n))
                }
                None => Some((done, m.phys, n)),
            };
            done += n;
        }
        match run {
            Some((off, phys, n)) => f(off, phys, n),
            None => Ok(()),
        }
    }

    /// Reads `buf.len()` bytes at `iova` into `buf`. Each page is translated; pages that are
    /// contiguous in output are copied in one go.
    pub fn read(&self, iova: u64, buf: &mut [u8], mem: &DmaMemory) -> Result<(), DmaError> {
        let len = buf.len();
        self.runs(iova, len, Access::Read, mem, |off, phys, n| {
            mem.read(phys, &mut buf[off..off + n])
                .map_err(DmaError::Access)
        })
    }

    /// Writes `data` at `iova`. Pages before a fault are written.
    pub fn write(&self, iova: u64, data: &[u8], mem: &DmaMemory) -> Result<(), DmaError> {
        self.runs(iova, data.len(), Access::Write, mem, |off, phys, n| {
            mem.write(phys, &data[off..off + n])
                .map_err(DmaError::Access)
        })
    }
}

/// Translates one request of `requester` at `pasid`: the output address of `iova` and how many of
/// the `len` bytes from there are contiguous.
pub fn translate<R: Requester + Clone>(
    requester: &R,
    pasid: u32,
    iova: u64,
    access: Access,
    len: u64,
    mem: &DmaMemory,
) -> Result<DmaMapping, DmaError> {
    DmaTarget::resolve(requester, pasid).translate(iova, access, len, mem)
}

/// The device reads `buf.len()` bytes at `iova` through the IOMMU.
pub fn dma_read<R: Requester + Clone>(
    requester: &R,
    pasid: u32,
    iova: u64,
    buf: &mut [u8],
    mem: &DmaMemory,
) -> Result<(), DmaError> {
    DmaTarget::resolve(requester, pasid).read(iova, buf, mem)
}

/// The device writes `data` at `iova` through the IOMMU.
pub fn dma_write<R: Requester + Clone>(
    requester: &R,
    pasid: u32,
    iova: u64,
    data: &[u8],
    mem: &DmaMemory,
) -> Result<(), DmaError> {
    DmaTarget::resolve(requester, pasid).write(iova, data, mem)
}

#[cfg(test)]
pub(crate) mod test_rig;
#[cfg(test)]
mod tests;
