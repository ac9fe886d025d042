use super::*;
use uiommu_uapi::iommufd::IOMMU_VEVENTQ_FLAG_LOST_EVENTS;
use uiommu_uapi::user::testing::TestMemory;

const BUF: u64 = 0x10_0000;

fn queue(depth: u32) -> EventQueue {
    EventQueue::new(0xbeef, depth)
}

fn mem() -> TestMemory {
    let m = TestMemory::new();
    m.map(BUF, 4096);
    m
}

/// (flags, sequence, data) of each record in `bytes`, with `len`-byte payloads.
fn records(bytes: &[u8], len: usize) -> Vec<(u32, u32, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + HDR_SIZE <= bytes.len() {
        let flags = u32::from_ne_bytes(bytes[at..at + 4].try_into().unwrap());
        let seq = u32::from_ne_bytes(bytes[at + 4..at + 8].try_into().unwrap());
        at += HDR_SIZE;
        let n = if flags & IOMMU_VEVENTQ_FLAG_LOST_EVENTS != 0 {
            0
        } else {
            len
        };
        out.push((flags, seq, bytes[at..at + n].to_vec()));
        at += n;
    }
    out
}

#[test]
fn events_are_read_with_headers_in_order() {
    let (q, m) = (queue(4), mem());
    q.report(&[1, 2, 3, 4]);
    q.report(&[5, 6, 7, 8]);
    assert!(q.readable());
    let n = q.read(&m, BUF, 64).unwrap();
    assert_eq!(n, 24);
    let r = records(&m.get(BUF, n), 4);
    assert_eq!(r, vec![(0, 0, vec![1, 2, 3, 4]), (0, 1, vec![5, 6, 7, 8])]);
    assert!(!q.readable());
    assert_eq!(q.read(&m, BUF, 64), Ok(0));
}

#[test]
fn short_reads_are_refused_or_stop_at_whole_events() {
    let (q, m) = (queue(4), mem());
    assert_eq!(q.read(&m, BUF, 0), Err(Errno::EINVAL));
    assert_eq!(q.read(&m, BUF, HDR_SIZE - 1), Err(Errno::EINVAL));
    assert_eq!(q.read(&m, BUF, HDR_SIZE), Ok(0), "empty");
    q.report(&[1, 2, 3, 4]);
    q.report(&[5, 6, 7, 8]);
    assert_eq!(q.read(&m, BUF, HDR_SIZE), Err(Errno::EINVAL));
    assert_eq!(q.read(&m, BUF, 12 + 11), Ok(12), "one whole event");
    assert_eq!(records(&m.get(BUF, 12), 4)[0].1, 0);
    assert_eq!(q.read(&m, BUF, 12), Ok(12));
    assert_eq!(records(&m.get(BUF, 12), 4)[0].1, 1);
}

#[test]
fn overflow_ends_with_a_lost_events_header_that_a_new_event_replaces() {
    let (q, m) = (queue(2), mem());
    for i in 0..4u8 {
        q.report(&[i; 4]);
    }
    let n = q.read(&m, BUF, 64).unwrap();
    let r = records(&m.get(BUF, n), 4);
    assert_eq!(
        r,
        vec![
            (0, 0, vec![0; 4]),
            (0, 1, vec![1; 4]),
            (IOMMU_VEVENTQ_FLAG_LOST_EVENTS, 3, vec![])
        ]
    );
    // Lost again, then an event: the header goes, the gap in numbers shows the loss.
    q.report(&[9; 4]);
    q.report(&[9; 4]);
    q.report(&[9; 4]);
    q.report(&[7; 4]);
    let n = q.read(&m, BUF, 64).unwrap();
    let r = records(&m.get(BUF, n), 4);
    assert_eq!(
        r,
        vec![
            (0, 4, vec![9; 4]),
            (0, 5, vec![9; 4]),
            (IOMMU_VEVENTQ_FLAG_LOST_EVENTS, 7, vec![])
        ]
    );
    q.report(&[7; 4]);
    let n = q.read(&m, BUF, 64).unwrap();
    assert_eq!(records(&m.get(BUF, n), 4), vec![(0, 8, vec![7; 4])]);
}

#[test]
fn the_lost_header_fits_where_an_event_would_not() {
    let (q, m) = (queue(1), mem());
    q.report(&[1; 4]);
    q.report(&[2; 4]);
    assert_eq!(q.read(&m, BUF, 12 + HDR_SIZE), Ok(20));
    assert!(!q.readable());
}

#[test]
fn a_fault_keeps_the_event_queued() {
    let (q, m) = (queue(2), mem());
    q.report(&[1; 4]);
    assert_eq!(q.read(&m, 0xdead_0000, 64), Err(Errno::EFAULT));
    assert!(q.readable());
    assert_eq!(q.read(&m, BUF, 64), Ok(12));
}

#[test]
fn sequence_numbers_wrap_at_i32_max() {
    let q = queue(1);
    q.lock().sequence = i32::MAX as u32;
    q.report(&[1]);
    assert_eq!(q.lock().sequence, 0);
}
