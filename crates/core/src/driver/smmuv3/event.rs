//! Event records (Arm IHI 0070 §7.3) of faulting requests, and where they go: the vEVENTQ
//! of the device's vSMMU with the virtual stream ID (`arm_vmaster_report_event`) for a
//! device attached to a nested domain through a vDEVICE and a fault not in stage 2, else the
//! SMMU's own event queue (`arm_smmu_handle_event`).

use super::spec::{evt, put};
use super::unit::EventRecord;
use crate::iommu::NO_PASID;
use crate::iommu::translate::{DmaFault, FaultReason, Stage};
use crate::iommu::viommu_core::ViommuCore;
use std::sync::Arc;
use uiommu_pt::Access;
use uiommu_uapi::iommufd::{IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, IommuVeventArmSmmuv3};
use zerocopy::IntoBytes;

/// The event record of `fault` from stream `sid`; `None` for faults that record nothing (an
/// abort STE, a blocked stream: §5.2 Config 0b000 aborts without an event).
pub fn record(sid: u32, fault: &DmaFault) -> Option<EventRecord> {
    let (id, s2, class, ipa) = match fault.reason {
        FaultReason::Blocked | FaultReason::Unsupported => return None,
        FaultReason::NotPresent { stage, .. } | FaultReason::OutOfRange { stage } => {
            (evt::F_TRANSLATION, stage == Stage::Second, evt::CLASS_IN, 0)
        }
        FaultReason::Permission { stage, .. } => {
            (evt::F_PERMISSION, stage == Stage::Second, evt::CLASS_IN, 0)
        }
        // A table the walk fetched through stage 2 did not translate: a stage-2 fault on
        // the fetch of a stage-1 table (or, for the stage-2 walk itself, of the CD).
        FaultReason::TableAccess { stage, addr } => {
            let class = match stage {
                Stage::First => evt::CLASS_TT,
                Stage::Second => evt::CLASS_CD,
            };
            (evt::F_TRANSLATION, true, class, addr & evt::IPA)
        }
        FaultReason::BadConfig { event } => (event, false, evt::CLASS_CD, 0),
    };
    let mut w0 = u64::from(id) | put(evt::SID, u64::from(sid));
    if fault.pasid != NO_PASID {
        w0 |= evt::SSV | put(evt::SSID, u64::from(fault.pasid));
    }
    let mut w1 = put(evt::CLASS, class);
    if fault.access == Access::Read {
        w1 |= evt::RNW;
    }
    if s2 {
        w1 |= evt::S2;
    }
    Some([w0, w1, fault.iova, ipa])
}

/// Whether a record is of a stage-2 fault (`event->s2`).
pub fn is_s2(rec: &EventRecord) -> bool {
    rec[1] & evt::S2 != 0
}

/// `arm_vmaster_report_event`: the record with the StreamID replaced by the vSID, to the
/// vSMMU's vEVENTQ. `false` if the vSMMU has no such queue.
pub fn report_virtual(core: &Arc<ViommuCore>, vsid: u64, rec: &EventRecord) -> bool {
    let mut vevt = IommuVeventArmSmmuv3 { evt: *rec };
    vevt.evt[0] = (rec[0] & !evt::SID) | put(evt::SID, vsid);
    for w in &mut vevt.evt {
        *w = w.to_le();
    }
    core.report_event(IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, vevt.as_bytes())
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(pasid: u32, access: Access, reason: FaultReason) -> DmaFault {
        DmaFault {
            dev_id: 1,
            pasid,
            iova: 0x1234_5000,
            access,
            reason,
        }
    }

    #[test]
    fn records_carry_type_stream_substream_and_direction() {
        let r = record(
            0x101,
            &fault(
                3,
                Access::Read,
                FaultReason::NotPresent {
                    stage: Stage::First,
                    level: 0,
                },
            ),
        )
        .unwrap();
        assert_eq!(r[0], 0x10 | evt::SSV | (3 << 12) | (0x101 << 32));
        assert_eq!(r[1], evt::RNW | (evt::CLASS_IN << 40));
        assert_eq!(r[2], 0x1234_5000);
        assert!(!is_s2(&r));
        let r = record(
            7,
            &fault(
                NO_PASID,
                Access::Write,
                FaultReason::TableAccess {
                    stage: Stage::First,
                    addr: 0x8000_1234,
                },
            ),
        )
        .unwrap();
        assert_eq!(r[0], 0x10 | (7 << 32));
        assert!(is_s2(&r));
        assert_eq!(r[3], 0x8000_1000);
        let bad = record(
            7,
            &fault(
                NO_PASID,
                Access::Read,
                FaultReason::BadConfig { event: 0x0a },
            ),
        );
        assert_eq!(bad.unwrap()[0] & 0xff, 0x0a);
        assert_eq!(
            record(7, &fault(0, Access::Read, FaultReason::Blocked)),
            None
        );
    }
}
