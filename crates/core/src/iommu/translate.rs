//! The hardware translation a domain models: what the DMA engine asks of a
//! domain on an IOTLB miss, and the faults a walk reports (VT-d spec §7 "Translation Faults",
//! Arm IHI 0070 §7.3 "Event records", AMD IOMMU spec §2.5 "Event Logging").

use super::PhysDevice;
use crate::iotlb::Iotlb;
use std::sync::Arc;
use uiommu_pt::{Access, WalkFault};
use uiommu_uapi::UserMemory;

/// Memory the engine reads and writes: the owning process's, shared between threads.
pub type DmaMemory = dyn UserMemory + Sync;

/// Which table a fault was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The first stage: a first-stage paging domain, or the guest's table of a nested domain.
    First,
    /// The second stage: a second-stage paging domain, or the nest parent.
    Second,
}

/// Why a request has no translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultReason {
    /// The RID or PASID translates through no domain: blocked, or no PASID entry.
    Blocked,
    /// A non-present entry at `level`.
    NotPresent {
        /// The stage.
        stage: Stage,
        /// Level of the entry (0 is the leaf level).
        level: u32,
    },
    /// An entry at `level` forbids the access.
    Permission {
        /// The stage.
        stage: Stage,
        /// Level of the entry.
        level: u32,
    },
    /// The address is beyond what the table translates.
    OutOfRange {
        /// The stage.
        stage: Stage,
    },
    /// A table could not be read (a guest table address the nest parent does not translate,
    /// or memory that is not there).
    TableAccess {
        /// The stage whose table was read.
        stage: Stage,
        /// The table address.
        addr: u64,
    },
    /// The domain has no hardware translation model.
    Unsupported,
    /// A configuration structure the IOMMU read for the request is invalid or terminates it
    /// (an SMMUv3 `C_BAD_STE`, `C_BAD_SUBSTREAMID`, `C_BAD_CD` or `F_STREAM_DISABLED`).
    BadConfig {
        /// The hardware's event number (Arm IHI 0070 §7.3).
        event: u8,
    },
}

impl FaultReason {
    /// The fault of a page-table walk of `stage`.
    pub fn from_walk(stage: Stage, f: WalkFault) -> Self {
        match f {
            WalkFault::OutOfRange => FaultReason::OutOfRange { stage },
            WalkFault::NotPresent { level } => FaultReason::NotPresent { stage, level },
            WalkFault::Permission { level } => FaultReason::Permission { stage, level },
            WalkFault::Memory(m) => FaultReason::TableAccess {
                stage,
                addr: m.addr,
            },
        }
    }

    /// Whether software can resolve the fault by mapping the page and have the device retry:
    /// the faults a page request is made for.
    pub fn recoverable(self) -> bool {
        matches!(
            self,
            FaultReason::NotPresent { .. } | FaultReason::Permission { .. }
        )
    }
}

/// A faulting request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DmaFault {
    /// The iommufd device object ID.
    pub dev_id: u32,
    /// PASID of the request, `NO_PASID` for none.
    pub pasid: u32,
    /// The faulting address.
    pub iova: u64,
    /// The access.
    pub access: Access,
    /// Why.
    pub reason: FaultReason,
}

/// What a walk found: the output address of the IOVA and the page size it may be cached at
/// (for a nested walk the smaller of the two stages' pages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Walked {
    /// Output address of the IOVA.
    pub phys: u64,
    /// log2 of the page size.
    pub page_lg2: u32,
}

/// A domain that models the hardware's DMA translation.
pub trait DmaDomain: Send + Sync {
    /// The IOTLB of the IOMMU unit `dev` sits behind and the domain ID this domain is tagged
    /// with there; `None` if translations are not cached. Asked once per
    /// resolved DMA target.
    fn hw(&self, dev: &PhysDevice) -> Option<(Arc<Iotlb>, u16)>;

    /// The page walk of a request of `pasid` that missed the IOTLB, with access/dirty updates.
    /// `mem` is the owning process's memory (where guest tables live).
    fn walk(
        &self,
        pasid: u32,
        iova: u64,
        access: Access,
        mem: &DmaMemory,
    ) -> Result<Walked, FaultReason>;

    /// Whether recoverable faults of `dev` become page requests (the IOMMU and the function
    /// support them).
    fn page_requests(&self, _dev: &PhysDevice) -> bool {
        false
    }

    /// Records a non-recoverable fault in the IOMMU's fault log.
    fn record_fault(&self, _dev: &PhysDevice, _fault: &DmaFault) {}
}
