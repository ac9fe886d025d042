//! Event fds in depth: fault queues (read and write rules, groups and cookies, responses
//! given for the program on replace, poll) and vEVENTQs (read sizes, sequence numbers,
//! LOST_EVENTS with a small depth, poll).

use uiommu_client::{
    DeviceId, FaultQueue, Hwpt, HwptData, HwptFlags, Ioas, Iommufd, MockDevice, PageResponse,
    Readiness, Viommu, ViommuType,
};
use uiommu_uapi::Errno;
use uiommu_uapi::iommufd::*;
use uiommu_uapi::selftest::*;
use zerocopy::IntoBytes;

use crate::common::{assert_errno, mock_iommu_scenario};

const FAULT: usize = size_of::<IommuHwptPgfault>();
const RESP: usize = size_of::<IommuHwptPageResponse>();
const HDR: usize = size_of::<IommufdVeventHeader>();
const EV: usize = size_of::<IommuViommuEventSelftest>();

fn nested_data() -> HwptData {
    HwptData::Selftest(IommuHwptSelftest {
        iotlb: IOMMU_TEST_IOTLB_DEFAULT,
        pagetable_type: MOCK_IOMMUPT_DEFAULT,
    })
}

/// A mock device attached to a nested HWPT (on a mock vIOMMU, with a vDEVICE) that reports
/// faults to `q`.
struct IopfSetup {
    ioas: Ioas,
    dev: MockDevice,
    hwpt: Hwpt,
    _viommu: Viommu,
    _vdev: uiommu_client::Vdevice,
}

fn iopf_setup(fd: &Iommufd, q: &FaultQueue) -> IopfSetup {
    let ioas = fd.alloc_ioas().unwrap();
    let dev = fd.test().mock_domain(&ioas).unwrap();
    let parent = Hwpt::paging(dev.dev_id(), &ioas, HwptFlags::NEST_PARENT).unwrap();
    let viommu = Viommu::alloc(dev.dev_id(), &parent, ViommuType::Selftest { in_data: 1 }).unwrap();
    let hwpt = Hwpt::builder(dev.dev_id(), &viommu)
        .data(nested_data())
        .fault(q)
        .alloc()
        .unwrap();
    let vdev = viommu.alloc_vdevice(dev.dev_id(), 0x42).unwrap();
    dev.replace(&hwpt).unwrap();
    IopfSetup {
        ioas,
        dev,
        hwpt,
        _viommu: viommu,
        _vdev: vdev,
    }
}

fn trigger(fd: &Iommufd, dev_id: DeviceId, pasid: u32, grpid: u32, addr: u64) {
    fd.test()
        .trigger_iopf(TestTriggerIopf {
            dev_id: dev_id.raw(),
            pasid,
            grpid,
            perm: IOMMU_PGFAULT_PERM_READ,
            addr,
        })
        .unwrap();
}

fn now() -> Option<std::time::Duration> {
    Some(std::time::Duration::ZERO)
}

mock_iommu_scenario! {
    /// Fault fd rules: reads and writes must be whole records (ESPIPE), a read too small for
    /// a pending group is EINVAL and leaves it queued, responses need a known code and a
    /// live cookie (EINVAL), a write stops at the first bad response and reports the bytes
    /// before it.
    fn fault_queue_fd_rules(fd) {
        let q = fd.alloc_fault_queue().unwrap();
        let s = iopf_setup(&fd, &q);
        let mut buf = [0u8; 4 * FAULT];
        // Nothing pending: a whole-record read returns 0 bytes.
        assert_eq!(q.read_raw(&mut buf[..FAULT]).unwrap(), 0);

        trigger(&fd, s.dev.dev_id(), 0, 7, 0x1000);
        assert_errno(q.read_raw(&mut buf[..FAULT - 1]), Errno::ESPIPE);
        assert_errno(q.read_raw(&mut buf[..FAULT + 8]), Errno::ESPIPE);
        // Writes: partial records, bad codes, unknown cookies.
        assert_errno(q.write_raw(&[0u8; RESP - 1]), Errno::ESPIPE);
        let bad_code = IommuHwptPageResponse { cookie: 0, code: 7 };
        assert_errno(q.respond(&[bad_code.into()]), Errno::EINVAL);
        assert_errno(q.respond(&[PageResponse::success(12345)]), Errno::EINVAL);

        let f = q.read_faults(4).unwrap();
        assert_eq!(f.len(), 1);
        let f = f[0];
        assert_eq!((f.dev_id, f.grpid, f.addr, f.length), (s.dev.dev_id().raw(), 7, 0x1000, 0));
        assert_eq!(f.flags, IOMMU_PGFAULT_FLAGS_LAST_PAGE, "no PASID_VALID for PASID 0");
        assert_eq!(f.perm, IOMMU_PGFAULT_PERM_READ);
        // A good response then a bad one: the bytes of the good one.
        let mut two = PageResponse::success(f.cookie).raw().as_bytes().to_vec();
        two.extend_from_slice(PageResponse::success(f.cookie.wrapping_add(1000)).raw().as_bytes());
        assert_eq!(q.write_raw(&two).unwrap(), RESP);
        // The cookie is used up.
        assert_errno(q.respond(&[PageResponse::invalid(f.cookie)]), Errno::EINVAL);
        s.dev.replace(&s.ioas).unwrap();
    }
}

mock_iommu_scenario! {
    /// Groups are read whole and in order, each with its own cookie; a read with room for
    /// fewer records returns what fits; one write answers several groups.
    fn fault_queue_groups_and_cookies(fd) {
        let q = fd.alloc_fault_queue().unwrap();
        let s = iopf_setup(&fd, &q);
        for (i, pasid) in [(1u32, 5u32), (2, 0), (3, 9)] {
            trigger(&fd, s.dev.dev_id(), pasid, i, 0x1000 * u64::from(i));
        }
        let first = q.read_faults(2).unwrap();
        assert_eq!(first.len(), 2);
        assert_eq!((first[0].grpid, first[0].pasid, first[0].addr), (1, 5, 0x1000));
        assert_eq!(
            first[0].flags,
            IOMMU_PGFAULT_FLAGS_LAST_PAGE | IOMMU_PGFAULT_FLAGS_PASID_VALID
        );
        assert_eq!((first[1].grpid, first[1].addr), (2, 0x2000));
        let rest = q.read_faults(4).unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!((rest[0].grpid, rest[0].pasid), (3, 9));
        let cookies = [first[0].cookie, first[1].cookie, rest[0].cookie];
        assert!(cookies[0] != cookies[1] && cookies[1] != cookies[2] && cookies[0] != cookies[2]);
        let responses: Vec<_> = cookies.iter().map(|&c| PageResponse::success(c)).collect();
        assert_eq!(q.respond(&responses).unwrap(), 3 * RESP);
        assert_eq!(q.read_faults(4).unwrap(), vec![]);
        s.dev.replace(&s.ioas).unwrap();
    }
}

mock_iommu_scenario! {
    /// Replacing the faulting HWPT answers its outstanding faults for the program: faults
    /// read but not answered lose their cookies, and faults not yet read are dropped.
    fn fault_queue_auto_response_on_replace(fd) {
        let q = fd.alloc_fault_queue().unwrap();
        let s = iopf_setup(&fd, &q);
        trigger(&fd, s.dev.dev_id(), 0, 1, 0x1000);
        let read = q.read_faults(1).unwrap();
        assert_eq!(read.len(), 1);
        trigger(&fd, s.dev.dev_id(), 0, 2, 0x2000);
        s.dev.replace(&s.ioas).unwrap();
        assert_eq!(q.read_faults(4).unwrap(), vec![], "the unread fault is gone");
        assert_errno(q.respond(&[PageResponse::success(read[0].cookie)]), Errno::EINVAL);
        // Back on the fault-capable HWPT, new faults flow again.
        s.dev.replace(&s.hwpt).unwrap();
        trigger(&fd, s.dev.dev_id(), 0, 3, 0x3000);
        let again = q.read_faults(4).unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].grpid, 3);
        q.respond(&[PageResponse::invalid(again[0].cookie)]).unwrap();
        s.dev.replace(&s.ioas).unwrap();
    }
}

mock_iommu_scenario! {
    /// IOMMU_FAULT_QUEUE_ALLOC takes no flags; a queue is busy while its fd is open or a HWPT
    /// reports to it; a fault_id must name a fault queue; TRIGGER_IOPF needs a device.
    fn fault_queue_object_rules(fd) {
        let mut cmd = IommuFaultAlloc {
            size: size_of::<IommuFaultAlloc>() as u32,
            flags: 1,
            ..Default::default()
        };
        assert_errno(
            fd.raw_command("IOMMU_FAULT_QUEUE_ALLOC", IOMMU_FAULT_QUEUE_ALLOC, cmd.as_mut_bytes()),
            Errno::EOPNOTSUPP,
        );
        let q = fd.alloc_fault_queue().unwrap();
        assert_errno(fd.destroy(q.id()), Errno::EBUSY);
        let s = iopf_setup(&fd, &q);
        assert_errno(fd.destroy(q.id()), Errno::EBUSY);
        // The IOAS is not a fault queue.
        let mut alloc = IommuHwptAlloc {
            size: size_of::<IommuHwptAlloc>() as u32,
            flags: IOMMU_HWPT_FAULT_ID_VALID,
            dev_id: s.dev.dev_id().raw(),
            pt_id: s.ioas.id().raw(),
            fault_id: s.ioas.id().raw(),
            ..Default::default()
        };
        assert_errno(
            fd.raw_command("IOMMU_HWPT_ALLOC", IOMMU_HWPT_ALLOC, alloc.as_mut_bytes()),
            Errno::ENOENT,
        );
        assert_errno(
            fd.test().trigger_iopf(TestTriggerIopf { dev_id: s.ioas.id().raw(), ..Default::default() }),
            Errno::ENOENT,
        );
        s.dev.replace(&s.ioas).unwrap();
    }
}

/// A mock device on a nested HWPT of a mock vIOMMU with a vDEVICE of virtual ID `virt_id`.
fn vevent_setup(
    fd: &Iommufd,
    virt_id: u64,
) -> (Ioas, MockDevice, Viommu, Hwpt, uiommu_client::Vdevice) {
    let ioas = fd.alloc_ioas().unwrap();
    let dev = fd.test().mock_domain(&ioas).unwrap();
    let parent = Hwpt::paging(dev.dev_id(), &ioas, HwptFlags::NEST_PARENT).unwrap();
    let viommu = Viommu::alloc(dev.dev_id(), &parent, ViommuType::Selftest { in_data: 0 }).unwrap();
    let nested = Hwpt::nested(dev.dev_id(), &viommu, nested_data()).unwrap();
    let vdev = viommu.alloc_vdevice(dev.dev_id(), virt_id).unwrap();
    dev.replace(&nested).unwrap();
    (ioas, dev, viommu, nested, vdev)
}

mock_iommu_scenario! {
    /// Sequence numbers count every event, lost ones included: with depth 1, three events
    /// read back as the first event and one LOST_EVENTS header carrying the last number;
    /// the next event continues the count.
    fn veventq_lost_events_sequence(fd) {
        let (ioas, dev, viommu, _nested, _vdev) = vevent_setup(&fd, 0x77);
        // No vEVENTQ of the type yet.
        assert_errno(fd.test().trigger_vevent(dev.dev_id()), Errno::EOPNOTSUPP);
        let q = viommu.alloc_veventq(IOMMU_VEVENTQ_TYPE_SELFTEST, 1).unwrap();
        for _ in 0..3 {
            fd.test().trigger_vevent(dev.dev_id()).unwrap();
        }
        let ev = q.read_events(256).unwrap();
        assert_eq!(ev.len(), 2, "{ev:?}");
        assert!(!ev[0].lost_events());
        assert_eq!(ev[0].header.sequence, 0);
        assert_eq!(ev[0].selftest().unwrap().virt_id, 0x77);
        assert!(ev[1].lost_events());
        assert_eq!(ev[1].header.sequence, 2);
        assert!(ev[1].data.is_empty());
        fd.test().trigger_vevent(dev.dev_id()).unwrap();
        let ev = q.read_events(256).unwrap();
        assert_eq!(ev.len(), 1);
        assert_eq!((ev[0].lost_events(), ev[0].header.sequence), (false, 3));
        assert_eq!(q.read_events(256).unwrap(), vec![]);
        dev.replace(&ioas).unwrap();
        // Not on a nested HWPT of the vIOMMU any more: nothing to report through.
        assert_errno(fd.test().trigger_vevent(dev.dev_id()), Errno::ENOENT);
    }
}

mock_iommu_scenario! {
    /// vEVENTQ read sizes and object rules: a read returns only whole events, one smaller
    /// than the first event is EINVAL; the type must not be DEFAULT
    /// and flags must be 0 (EOPNOTSUPP); the queue and its vIOMMU are busy while it exists.
    fn veventq_read_sizes_and_rules(fd) {
        let (ioas, dev, viommu, _nested, _vdev) = vevent_setup(&fd, 0x55);
        assert_errno(viommu.alloc_veventq(IOMMU_VEVENTQ_TYPE_DEFAULT, 4), Errno::EOPNOTSUPP);
        let mut cmd = IommuVeventqAlloc {
            size: size_of::<IommuVeventqAlloc>() as u32,
            flags: 1,
            viommu_id: viommu.id().raw(),
            type_: IOMMU_VEVENTQ_TYPE_SELFTEST,
            veventq_depth: 4,
            ..Default::default()
        };
        assert_errno(
            fd.raw_command("IOMMU_VEVENTQ_ALLOC", IOMMU_VEVENTQ_ALLOC, cmd.as_mut_bytes()),
            Errno::EOPNOTSUPP,
        );
        let q = viommu.alloc_veventq(IOMMU_VEVENTQ_TYPE_SELFTEST, 4).unwrap();
        fd.test().trigger_vevent(dev.dev_id()).unwrap();
        fd.test().trigger_vevent(dev.dev_id()).unwrap();
        let mut buf = [0u8; 64];
        assert_errno(q.read_raw(&mut buf[..HDR - 1]), Errno::EINVAL);
        assert_errno(q.read_raw(&mut buf[..HDR + EV - 1]), Errno::EINVAL);
        // Room for one and a half: one.
        assert_eq!(q.read_raw(&mut buf[..HDR + EV + 6]).unwrap(), HDR + EV);
        assert_eq!(u32::from_ne_bytes(buf[4..8].try_into().unwrap()), 0, "sequence 0");
        assert_eq!(u32::from_ne_bytes(buf[HDR..HDR + 4].try_into().unwrap()), 0x55);
        assert_eq!(q.read_raw(&mut buf).unwrap(), HDR + EV);
        assert_eq!(u32::from_ne_bytes(buf[4..8].try_into().unwrap()), 1, "sequence 1");
        assert_eq!(q.read_raw(&mut buf).unwrap(), 0);
        assert_errno(fd.destroy(q.id()), Errno::EBUSY);
        assert_errno(viommu.destroy(), Errno::EBUSY);
        dev.replace(&ioas).unwrap();
    }
}

mock_iommu_scenario! {
    /// poll of a fault fd: always writable; readable exactly while a fault group waits to
    /// be read (not while it waits for its response).
    fn fault_queue_poll(fd) {
        let q = fd.alloc_fault_queue().unwrap();
        let s = iopf_setup(&fd, &q);
        assert_eq!(q.poll(now()).unwrap(), Readiness { readable: false, writable: true });
        trigger(&fd, s.dev.dev_id(), 0, 1, 0x1000);
        assert_eq!(q.poll(now()).unwrap(), Readiness { readable: true, writable: true });
        let f = q.read_faults(1).unwrap();
        assert_eq!(q.poll(now()).unwrap(), Readiness { readable: false, writable: true });
        q.respond(&[PageResponse::success(f[0].cookie)]).unwrap();
        trigger(&fd, s.dev.dev_id(), 0, 2, 0x2000);
        assert!(q.poll(None).unwrap().readable);
        // Replacing the HWPT drops the unread fault: nothing to read any more.
        s.dev.replace(&s.ioas).unwrap();
        assert_eq!(q.poll(now()).unwrap(), Readiness { readable: false, writable: true });
    }
}

mock_iommu_scenario! {
    /// poll of a vEVENTQ fd: never writable; readable while an event or a LOST_EVENTS
    /// header waits.
    fn veventq_poll(fd) {
        let (ioas, dev, viommu, _nested, _vdev) = vevent_setup(&fd, 0x66);
        let q = viommu.alloc_veventq(IOMMU_VEVENTQ_TYPE_SELFTEST, 1).unwrap();
        assert_eq!(q.poll(now()).unwrap(), Readiness::default());
        fd.test().trigger_vevent(dev.dev_id()).unwrap();
        assert_eq!(q.poll(now()).unwrap(), Readiness { readable: true, writable: false });
        fd.test().trigger_vevent(dev.dev_id()).unwrap();
        let mut buf = [0u8; HDR + EV];
        assert_eq!(q.read_raw(&mut buf).unwrap(), HDR + EV);
        // The LOST_EVENTS header is still there.
        assert_eq!(q.poll(now()).unwrap(), Readiness { readable: true, writable: false });
        let ev = q.read_events(64).unwrap();
        assert!(ev.len() == 1 && ev[0].lost_events(), "{ev:?}");
        assert_eq!(q.poll(now()).unwrap(), Readiness::default());
        dev.replace(&ioas).unwrap();
    }
}

mock_iommu_scenario! {
    /// A fault fd is a stream: pread at a non-zero offset is ESPIPE, pending records stay.
    fn fault_queue_pread_espipe(fd) {
        let q = fd.alloc_fault_queue().unwrap();
        let s = iopf_setup(&fd, &q);
        trigger(&fd, s.dev.dev_id(), 0, 1, 0x1000);
        let mut buf = [0u8; 2 * FAULT];
        assert_errno(q.read_raw_at(&mut buf[..FAULT], FAULT as i64), Errno::ESPIPE);
        assert_eq!(q.read_faults(2).unwrap().len(), 1);
        s.dev.replace(&s.ioas).unwrap();
    }
}
