//! The queue of a vEVENTQ (`drivers/iommu/iommufd/eventq.c`: `struct iommufd_veventq`'s
//! deliver list): events a vIOMMU reports for its virtual devices, of one type per queue, read
//! as `struct iommufd_vevent_header` followed by the event's data.
//!
//! - Every event, delivered or lost, takes the next sequence number (0 to `i32::MAX`, then 0).
//! - At most `depth` events wait; a further one is lost: the queue then ends with a header
//!   flagged `IOMMU_VEVENTQ_FLAG_LOST_EVENTS` carrying the lost event's number and no data. A
//!   later delivered event replaces that header (its number shows the gap).
//! - A read returns whole events while they fit; the lost-events header needs only its own
//!   size.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use uiommu_uapi::errno::Result;
use uiommu_uapi::iommufd::{IOMMU_VEVENTQ_FLAG_LOST_EVENTS, IommufdVeventHeader};
use uiommu_uapi::{Errno, UserMemory};
use zerocopy::IntoBytes;

const HDR_SIZE: usize = size_of::<IommufdVeventHeader>();

/// A queued event (`struct iommufd_vevent`).
#[derive(Debug)]
struct Vevent {
    sequence: u32,
    data: Vec<u8>,
}

/// What the reader takes next: an event or the lost-events header.
enum Next {
    Event(Vevent),
    Lost(u32),
}

struct State {
    /// Events not read yet (`common.deliver`, without the lost-events header).
    deliver: VecDeque<Vevent>,
    /// The lost-events header, always last when present: its sequence number.
    lost: Option<u32>,
    /// Delivered events waiting (`num_events`).
    num_events: u32,
    /// The next sequence number.
    sequence: u32,
    readiness: Option<Arc<dyn Fn(bool) + Send + Sync>>,
}

impl State {
    fn readable(&self) -> bool {
        !self.deliver.is_empty() || self.lost.is_some()
    }

    fn signal(&self) {
        if let Some(r) = &self.readiness {
            r(self.readable());
        }
    }

    fn next_sequence(&mut self) -> u32 {
        let s = self.sequence;
        self.sequence = (self.sequence + 1) & i32::MAX as u32;
        s
    }

    /// `iommufd_veventq_deliver_fetch`.
    fn fetch(&mut self) -> Option<Next> {
        match self.deliver.pop_front() {
            Some(e) => Some(Next::Event(e)),
            None => self.lost.take().map(Next::Lost),
        }
    }

    /// `iommufd_veventq_deliver_restore`.
    fn restore(&mut self, next: Next) {
        match next {
            Next::Event(e) => self.deliver.push_front(e),
            // Nothing can have been queued since the fetch: the lock is held throughout.
            Next::Lost(seq) => self.lost = Some(seq),
        }
    }
}

/// The queue of a vEVENTQ, shared with its vIOMMU for reporting.
pub struct EventQueue {
    /// The `IOMMU_VEVENTQ_TYPE_*` it takes.
    pub veventq_type: u32,
    depth: u32,
    state: Mutex<State>,
}

impl std::fmt::Debug for EventQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.lock();
        f.debug_struct("EventQueue")
            .field("type", &self.veventq_type)
            .field("depth", &self.depth)
            .field("num_events", &s.num_events)
            .field("lost", &s.lost)
            .finish()
    }
}

impl EventQueue {
    /// An empty queue for events of `veventq_type`, holding at most `depth`.
    pub fn new(veventq_type: u32, depth: u32) -> Self {
        EventQueue {
            veventq_type,
            depth,
            state: Mutex::new(State {
                deliver: VecDeque::new(),
                lost: None,
                num_events: 0,
                sequence: 0,
                readiness: None,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The queue's depth.
    pub fn depth(&self) -> u32 {
        self.depth
    }

    /// Lets the front end follow whether the queue is readable (its fd's `poll`).
    pub fn set_readiness(&self, readiness: Arc<dyn Fn(bool) + Send + Sync>) {
        let mut s = self.lock();
        s.readiness = Some(readiness);
        s.signal();
    }

    /// Whether anything waits to be read (`EPOLLIN`).
    pub fn readable(&self) -> bool {
        self.lock().readable()
    }

    /// `iommufd_viommu_report_event` once the queue is found, and `iommufd_vevent_handler`:
    /// queues `data`, or records a lost event when `depth` events wait.
    pub(crate) fn report(&self, data: &[u8]) {
        crate::observe::report(|| crate::observe::Event::Vevent {
            veventq_type: self.veventq_type,
            data,
        });
        let mut s = self.lock();
        let sequence = s.next_sequence();
        if s.num_events == self.depth {
            s.lost = Some(sequence);
        } else {
            // The lost-events header, being last, makes way for the new event.
            s.lost = None;
            s.deliver.push_back(Vevent {
                sequence,
                data: data.to_vec(),
            });
            s.num_events += 1;
        }
        s.signal();
    }

    /// `iommufd_veventq_fops_read`: headers and data of whole events into `buf` while they
    /// fit in `count`. `EINVAL` if `count` cannot hold a header, or the first event does not
    /// fit; `EFAULT` if nothing could be written. Returns the bytes written.
    pub fn read(&self, mem: &dyn UserMemory, buf: u64, count: usize) -> Result<usize> {
        if count < HDR_SIZE {
            return Err(Errno::EINVAL);
        }
        let mut s = self.lock();
        let mut done = 0usize;
        let mut rc = Ok(());
        while let Some(next) = s.fetch() {
            if done >= count || HDR_SIZE > count - done {
                s.restore(next);
                break;
            }
            let (hdr, data): (IommufdVeventHeader, &[u8]) = match &next {
                Next::Event(e) => (
                    IommufdVeventHeader {
                        flags: 0,
                        sequence: e.sequence,
                    },
                    &e.data,
                ),
                Next::Lost(seq) => (
                    IommufdVeventHeader {
                        flags: IOMMU_VEVENTQ_FLAG_LOST_EVENTS,
                        sequence: *seq,
                    },
                    &[],
                ),
            };
            if HDR_SIZE + data.len() > count - done {
                // Only a delivered event can be too long: the lost header has no data.
                s.restore(next);
                if done == 0 {
                    rc = Err(Errno::EINVAL);
                }
                break;
            }
            let at = buf.wrapping_add(done as u64);
            let wrote = mem.write(at, hdr.as_bytes()).and_then(|()| {
                if data.is_empty() {
                    Ok(())
                } else {
                    mem.write(at.wrapping_add(HDR_SIZE as u64), data)
                }
            });
            if wrote.is_err() {
                s.restore(next);
                rc = Err(Errno::EFAULT);
                break;
            }
            done += HDR_SIZE + data.len();
            if let Next::Event(_) = next {
                s.num_events -= 1;
            }
        }
        s.signal();
        if done == 0 { rc.map(|()| 0) } else { Ok(done) }
    }
}

#[cfg(test)]
mod tests;
