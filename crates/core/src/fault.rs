//! Fault queues (`drivers/iommu/iommufd/eventq.c`: `struct iommufd_fault`): I/O page faults of
//! devices attached to a HWPT allocated with a fault queue are delivered here, read by the
//! caller as `struct iommu_hwpt_pgfault` records through the queue's fd, and answered by
//! writing `struct iommu_hwpt_page_response` records.
//!
//! A group of faults (a PCI page request group) is read whole or not at all; reading it gives
//! it a cookie, and the response for that cookie completes it. Detaching the device the group
//! came through answers its pending groups with `IOMMUFD_PAGE_RESP_INVALID`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use uiommu_uapi::errno::Result;
use uiommu_uapi::iommufd::{
    IOMMUFD_PAGE_RESP_INVALID, IOMMUFD_PAGE_RESP_SUCCESS, IommuHwptPgfault,
};
use uiommu_uapi::{Errno, UserMemory};
use zerocopy::IntoBytes;

/// Where a fault group came from: the device and the PASID its domain is attached at (the
/// kernel's attach handle).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultSource {
    /// The iommufd device object ID.
    pub dev_id: u32,
    /// The PASID, `NO_PASID` for the RID.
    pub pasid: u32,
}

/// One fault of a group (`struct iommu_fault_page_request`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// `IOMMU_PGFAULT_FLAGS_*`.
    pub flags: u32,
    /// PASID, meaningful with `IOMMU_PGFAULT_FLAGS_PASID_VALID`.
    pub pasid: u32,
    /// Page Request Group Index.
    pub grpid: u32,
    /// `IOMMU_PGFAULT_PERM_*`.
    pub perm: u32,
    /// The faulting address.
    pub addr: u64,
}

/// A group of faults to be answered together (`struct iopf_group`).
#[derive(Debug, Clone)]
pub struct FaultGroup {
    /// Where it came from.
    pub source: FaultSource,
    /// Its faults, the last one marked `IOMMU_PGFAULT_FLAGS_LAST_PAGE`.
    pub faults: Vec<PageRequest>,
}

impl FaultGroup {
    /// Fault `f` of the group as the reader gets it (`struct iommu_hwpt_pgfault`), answered
    /// with `cookie`.
    fn record(&self, f: &PageRequest, cookie: u32) -> IommuHwptPgfault {
        IommuHwptPgfault {
            flags: f.flags,
            dev_id: self.source.dev_id,
            pasid: f.pasid,
            grpid: f.grpid,
            perm: f.perm,
            __reserved: 0,
            addr: f.addr,
            length: 0,
            cookie,
        }
    }
}

/// How the reader answers a group (`enum iommufd_page_response_code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseCode {
    /// `IOMMUFD_PAGE_RESP_SUCCESS`.
    Success,
    /// `IOMMUFD_PAGE_RESP_INVALID`.
    Invalid,
}

impl ResponseCode {
    /// The uAPI's value, as the driver's `page_response` is told it.
    pub fn value(self) -> u32 {
        match self {
            ResponseCode::Success => IOMMUFD_PAGE_RESP_SUCCESS,
            ResponseCode::Invalid => IOMMUFD_PAGE_RESP_INVALID,
        }
    }
}

/// The reader's answer to the group it read with `cookie` (`struct
/// iommu_hwpt_page_response`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageResponse {
    /// The cookie the group was read with.
    pub cookie: u32,
    /// How it is answered.
    pub code: ResponseCode,
}

/// How a group was answered, for the driver's `page_response`.
pub type ResponseSink = Arc<dyn Fn(&FaultGroup, u32) + Send + Sync>;

struct State {
    /// Groups not read yet (`common.deliver`).
    deliver: VecDeque<FaultGroup>,
    /// Groups read and awaiting a response, by cookie (`response`, IDs from 1).
    response: BTreeMap<u32, FaultGroup>,
    /// Told when a group is answered (with the response code).
    responses: Option<ResponseSink>,
    /// Told whether groups are waiting to be read, for the fd's poll state.
    readiness: Option<Arc<dyn Fn(bool) + Send + Sync>>,
}

/// A fault queue (`IOMMUFD_OBJ_FAULT`).
pub struct FaultQueue {
    state: Mutex<State>,
}

impl std::fmt::Debug for FaultQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.lock();
        f.debug_struct("FaultQueue")
            .field("deliver", &s.deliver.len())
            .field("response", &s.response.len())
            .finish()
    }
}

impl Default for FaultQueue {
    fn default() -> Self {
        FaultQueue {
            state: Mutex::new(State {
                deliver: VecDeque::new(),
                response: BTreeMap::new(),
                responses: None,
                readiness: None,
            }),
        }
    }
}

const FAULT_SIZE: usize = size_of::<IommuHwptPgfault>();

impl FaultQueue {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn signal(s: &State) {
        if let Some(r) = &s.readiness {
            r(!s.deliver.is_empty());
        }
    }

    /// Lets the front end follow whether the queue is readable (its fd's `poll`).
    pub fn set_readiness(&self, readiness: Arc<dyn Fn(bool) + Send + Sync>) {
        let mut s = self.lock();
        s.readiness = Some(readiness);
        Self::signal(&s);
    }

    /// Lets the driver see its groups answered (`iopf_group_response`).
    pub fn set_responses(&self, sink: ResponseSink) {
        self.lock().responses = Some(sink);
    }

    /// Whether groups are waiting to be read (`EPOLLIN`).
    pub fn readable(&self) -> bool {
        !self.lock().deliver.is_empty()
    }

    /// `iommufd_fault_iopf_handler`: queues a group for the reader.
    pub fn deliver(&self, group: FaultGroup) {
        for f in &group.faults {
            // Not read yet: no cookie.
            crate::observe::report(|| crate::observe::Event::PageRequest(group.record(f, 0)));
        }
        let mut s = self.lock();
        s.deliver.push_back(group);
        Self::signal(&s);
    }

    fn respond(s: &State, group: &FaultGroup, code: u32) {
        if let Some(sink) = &s.responses {
            sink(group, code);
        }
    }

    /// `iommufd_fault_fops_read` after the size check (`count` a multiple of the record size):
    /// whole groups while they fit in `count` bytes at `buf`. `EINVAL` if the first group does
    /// not fit; `EFAULT` if nothing could be written. Returns the bytes written.
    pub fn read(&self, mem: &dyn UserMemory, buf: u64, count: usize) -> Result<usize> {
        let mut s = self.lock();
        let mut done = 0usize;
        let mut rc = Ok(());
        while let Some(group) = s.deliver.pop_front() {
            let need = group.faults.len() * FAULT_SIZE;
            if done >= count || need > count - done {
                s.deliver.push_front(group);
                if done == 0 {
                    rc = Err(Errno::EINVAL);
                }
                break;
            }
            let Some(cookie) = (1..=u32::MAX).find(|c| !s.response.contains_key(c)) else {
                s.deliver.push_front(group);
                rc = Err(Errno::EBUSY);
                break;
            };
            let mut at = done;
            let mut failed = false;
            for f in &group.faults {
                let rec = group.record(f, cookie);
                if mem
                    .write(buf.wrapping_add(at as u64), rec.as_bytes())
                    .is_err()
                {
                    failed = true;
                    break;
                }
                at += FAULT_SIZE;
            }
            if failed {
                s.deliver.push_front(group);
                rc = Err(Errno::EFAULT);
                break;
            }
            s.response.insert(cookie, group);
            done = at;
        }
        Self::signal(&s);
        if done == 0 { rc.map(|()| 0) } else { Ok(done) }
    }

    /// `iommufd_fault_fops_write`'s loop, under the queue's lock: answers groups with the
    /// responses `next` yields, one by one, until it yields `None`. An error from `next` (a
    /// record that could not be read or is not valid) or an unknown cookie (`EINVAL`) ends it.
    /// Returns how many responses were taken, or the error if none was.
    pub fn answer(&self, mut next: impl FnMut() -> Option<Result<PageResponse>>) -> Result<usize> {
        let mut s = self.lock();
        let mut done = 0usize;
        let mut rc = Ok(());
        while let Some(resp) = next() {
            let resp = match resp {
                Ok(r) => r,
                Err(e) => {
                    rc = Err(e);
                    break;
                }
            };
            let Some(group) = s.response.remove(&resp.cookie) else {
                rc = Err(Errno::EINVAL);
                break;
            };
            Self::respond(&s, &group, resp.code.value());
            done += 1;
        }
        if done == 0 { rc.map(|()| 0) } else { Ok(done) }
    }

    /// `iommufd_auto_response_faults`: every group from `source`, read or not, is answered
    /// `IOMMUFD_PAGE_RESP_INVALID` (its device left the domain).
    pub fn auto_respond(&self, source: FaultSource) {
        let mut s = self.lock();
        let mut gone = Vec::new();
        s.deliver.retain(|g| {
            let keep = g.source != source;
            if !keep {
                gone.push(g.clone());
            }
            keep
        });
        let cookies: Vec<u32> = s
            .response
            .iter()
            .filter(|(_, g)| g.source == source)
            .map(|(&c, _)| c)
            .collect();
        for c in cookies {
            if let Some(g) = s.response.remove(&c) {
                gone.push(g);
            }
        }
        for g in &gone {
            Self::respond(&s, g, IOMMUFD_PAGE_RESP_INVALID);
        }
        Self::signal(&s);
    }
}

impl Drop for FaultQueue {
    /// `iommufd_fault_destroy`: whatever is left is answered `INVALID`.
    fn drop(&mut self) {
        let s = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        let groups: Vec<FaultGroup> = s
            .deliver
            .drain(..)
            .chain(std::mem::take(&mut s.response).into_values())
            .collect();
        if let Some(sink) = &s.responses {
            for g in &groups {
                sink(g, IOMMUFD_PAGE_RESP_INVALID);
            }
        }
    }
}

#[cfg(test)]
mod tests;
