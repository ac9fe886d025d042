//! The observer of what the models raise (`uiommu_core::observe`): a page request queued to a
//! fault queue is told to it as the reader will read it. Its own test binary: the observer is
//! the process's.

use std::sync::Mutex;
use uiommu_core::fault::{FaultGroup, FaultQueue, FaultSource, PageRequest};
use uiommu_core::observe::{self, Event};
use uiommu_uapi::iommufd::{IOMMU_PGFAULT_FLAGS_LAST_PAGE, IOMMU_PGFAULT_PERM_READ};

static SEEN: Mutex<Vec<(u32, u32, u64)>> = Mutex::new(Vec::new());

fn seen(e: &Event<'_>) {
    if let Event::PageRequest(r) = e {
        SEEN.lock().unwrap().push((r.dev_id, r.grpid, r.addr));
    }
}

#[test]
fn each_page_request_of_a_group_is_observed_when_queued() {
    let req = |grpid, addr, flags| PageRequest {
        flags,
        pasid: 0,
        grpid,
        perm: IOMMU_PGFAULT_PERM_READ,
        addr,
    };
    let q = FaultQueue::default();
    // Unobserved before an observer is set.
    q.deliver(FaultGroup {
        source: FaultSource {
            dev_id: 9,
            pasid: 0,
        },
        faults: vec![req(1, 0x1000, IOMMU_PGFAULT_FLAGS_LAST_PAGE)],
    });
    assert!(SEEN.lock().unwrap().is_empty());
    assert!(observe::set(seen));
    assert!(!observe::set(seen), "one observer per process");
    q.deliver(FaultGroup {
        source: FaultSource {
            dev_id: 3,
            pasid: 0,
        },
        faults: vec![
            req(2, 0x2000, 0),
            req(2, 0x3000, IOMMU_PGFAULT_FLAGS_LAST_PAGE),
        ],
    });
    assert_eq!(*SEEN.lock().unwrap(), [(3, 2, 0x2000), (3, 2, 0x3000)]);
}
