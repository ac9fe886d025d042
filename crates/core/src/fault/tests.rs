use super::*;
use uiommu_uapi::iommufd::{IOMMU_PGFAULT_FLAGS_LAST_PAGE, IOMMU_PGFAULT_PERM_READ};
use uiommu_uapi::user::testing::TestMemory;
use zerocopy::FromBytes;

const BUF: u64 = 0x10_0000;

fn group(dev_id: u32, n: usize) -> FaultGroup {
    let mut faults: Vec<PageRequest> = (0..n)
        .map(|i| PageRequest {
            flags: 0,
            pasid: 0,
            grpid: 7,
            perm: IOMMU_PGFAULT_PERM_READ,
            addr: 0x1000 * i as u64,
        })
        .collect();
    faults.last_mut().unwrap().flags = IOMMU_PGFAULT_FLAGS_LAST_PAGE;
    FaultGroup {
        source: FaultSource { dev_id, pasid: 0 },
        faults,
    }
}

fn records(mem: &TestMemory, n: usize) -> Vec<IommuHwptPgfault> {
    (0..n)
        .map(|i| {
            IommuHwptPgfault::read_from_bytes(&mem.get(BUF + (i * FAULT_SIZE) as u64, FAULT_SIZE))
                .unwrap()
        })
        .collect()
}

/// (device, response code) of every answered group.
type Answers = Arc<Mutex<Vec<(u32, u32)>>>;

fn answered() -> (ResponseSink, Answers) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    (
        Arc::new(move |g: &FaultGroup, code| l.lock().unwrap().push((g.source.dev_id, code))),
        log,
    )
}

#[test]
fn groups_are_read_whole_with_cookies_and_answered_by_them() {
    let q = FaultQueue::default();
    let (sink, log) = answered();
    q.set_responses(sink);
    let mem = TestMemory::new();
    mem.map(BUF, 4096);
    assert_eq!(q.read(&mem, BUF, FAULT_SIZE), Ok(0), "nothing queued");
    q.deliver(group(3, 2));
    q.deliver(group(4, 1));
    assert!(q.readable());
    assert_eq!(
        q.read(&mem, BUF, FAULT_SIZE),
        Err(Errno::EINVAL),
        "a group of two does not fit"
    );
    assert_eq!(q.read(&mem, BUF, 4 * FAULT_SIZE), Ok(3 * FAULT_SIZE));
    assert!(!q.readable());
    let recs = records(&mem, 3);
    assert_eq!(
        (
            recs[0].dev_id,
            recs[0].cookie,
            recs[1].cookie,
            recs[2].cookie
        ),
        (3, 1, 1, 2)
    );
    assert_eq!(recs[1].flags, IOMMU_PGFAULT_FLAGS_LAST_PAGE);
    let success = |cookie| PageResponse {
        cookie,
        code: ResponseCode::Success,
    };
    // The second response names no group: the first is taken and counted.
    assert_eq!(
        q.answer(answers(vec![Ok(success(2)), Ok(success(9))])),
        Ok(1)
    );
    assert_eq!(*log.lock().unwrap(), [(4, IOMMUFD_PAGE_RESP_SUCCESS)]);
    assert_eq!(q.answer(answers(vec![Ok(success(9))])), Err(Errno::EINVAL));
    assert_eq!(
        q.answer(answers(vec![Err(Errno::EFAULT), Ok(success(1))])),
        Err(Errno::EFAULT),
        "a record not read ends it"
    );
    assert_eq!(q.answer(answers(vec![])), Ok(0));
    assert_eq!(q.answer(answers(vec![Ok(success(1))])), Ok(1));
}

/// The responses of one write, in order.
fn answers(list: Vec<Result<PageResponse>>) -> impl FnMut() -> Option<Result<PageResponse>> {
    let mut it = list.into_iter();
    move || it.next()
}

#[test]
fn a_fault_while_reading_puts_the_group_back() {
    let q = FaultQueue::default();
    q.deliver(group(1, 1));
    assert_eq!(
        q.read(&TestMemory::new(), BUF, FAULT_SIZE),
        Err(Errno::EFAULT)
    );
    assert!(q.readable());
}

#[test]
fn detaching_answers_the_sources_groups_invalid() {
    let q = FaultQueue::default();
    let (sink, log) = answered();
    q.set_responses(sink);
    let mem = TestMemory::new();
    mem.map(BUF, 4096);
    q.deliver(group(1, 1));
    q.read(&mem, BUF, FAULT_SIZE).unwrap();
    q.deliver(group(1, 1));
    q.deliver(group(2, 1));
    q.auto_respond(FaultSource {
        dev_id: 1,
        pasid: 0,
    });
    assert_eq!(
        *log.lock().unwrap(),
        [
            (1, IOMMUFD_PAGE_RESP_INVALID),
            (1, IOMMUFD_PAGE_RESP_INVALID)
        ]
    );
    assert!(q.readable(), "device 2's group stays");
    drop(q);
    assert_eq!(log.lock().unwrap().len(), 3, "destroying answers the rest");
}

#[test]
fn readiness_follows_the_queue() {
    let q = FaultQueue::default();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    q.set_readiness(Arc::new(move |r| s.lock().unwrap().push(r)));
    q.deliver(group(1, 1));
    let mem = TestMemory::new();
    mem.map(BUF, 4096);
    q.read(&mem, BUF, FAULT_SIZE).unwrap();
    assert_eq!(*seen.lock().unwrap(), [false, true, false]);
}
