//! Fault queues (`drivers/iommu/iommufd/eventq.c`): IOMMU_FAULT_QUEUE_ALLOC
//! (`iommufd_fault_alloc`) and the checks of the reads and writes of the queue's fd
//! (`iommufd_fault_fops_read`, `iommufd_fault_fops_write`).

use super::Cmd;
use crate::files::{FaultFile, File};
use std::sync::Arc;
use uiommu_core::context::Handle;
use uiommu_core::fault::{FaultQueue, PageResponse, ResponseCode};
use uiommu_core::object::Object;
use uiommu_uapi::errno::Result;
use uiommu_uapi::iommufd::{
    IOMMUFD_PAGE_RESP_INVALID, IOMMUFD_PAGE_RESP_SUCCESS, IommuFaultAlloc, IommuHwptPageResponse,
    IommuHwptPgfault,
};
use uiommu_uapi::{Errno, UserMemory};
use zerocopy::{FromZeros, IntoBytes};

const FAULT_SIZE: usize = size_of::<IommuHwptPgfault>();
const RESPONSE_SIZE: usize = size_of::<IommuHwptPageResponse>();

/// IOMMU_FAULT_QUEUE_ALLOC: a fault queue and its fd. The queue is published only once the
/// reply is written; the fd holds a user of it, so it cannot be destroyed while open.
pub(super) fn alloc(c: &Cmd) -> Result<()> {
    let mut cmd: IommuFaultAlloc = c.get();
    if cmd.flags != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let prepared = c
        .ctx
        .objects
        .reserve()?
        .prepare(Object::Fault(FaultQueue::default()));
    let queue = Handle::<FaultQueue>::new(prepared.obj_ref()).expect("made a fault queue");
    let file = File::Fault(Arc::new(FaultFile {
        ctx: c.ctx.arc(),
        queue,
    }));
    let fd = c.fds.install(file)?;
    cmd.out_fault_id = prepared.id();
    cmd.out_fault_fd = fd as u32;
    if let Err(e) = c.respond(&cmd) {
        c.fds.uninstall(fd);
        return Err(e);
    }
    prepared.finalize();
    Ok(())
}

/// `ESPIPE` unless `count` bytes are whole records of `size` bytes (the fd has no position).
fn whole_records(count: usize, size: usize) -> Result<()> {
    if count % size != 0 {
        return Err(Errno::ESPIPE);
    }
    Ok(())
}

/// `iommufd_fault_fops_read`: `ESPIPE` unless `count` is a multiple of the record size, then
/// the groups that fit.
pub(crate) fn read(q: &FaultQueue, mem: &dyn UserMemory, buf: u64, count: usize) -> Result<usize> {
    whole_records(count, FAULT_SIZE)?;
    q.read(mem, buf, count)
}

/// `iommufd_fault_fops_write`: `ESPIPE` unless `count` is a multiple of the record size; then
/// the records one by one, each read (`EFAULT`) and its code checked (`EINVAL` for one other
/// than SUCCESS or INVALID) just before its cookie is looked up. Returns the bytes of the
/// responses taken, or the error if none was.
pub(crate) fn write(q: &FaultQueue, mem: &dyn UserMemory, buf: u64, count: usize) -> Result<usize> {
    whole_records(count, RESPONSE_SIZE)?;
    let mut at = 0;
    let taken = q.answer(|| {
        if at >= count {
            return None;
        }
        let record = buf.wrapping_add(at as u64);
        at += RESPONSE_SIZE;
        Some(read_response(mem, record))
    })?;
    Ok(taken * RESPONSE_SIZE)
}

/// One `struct iommu_hwpt_page_response` at `addr`.
fn read_response(mem: &dyn UserMemory, addr: u64) -> Result<PageResponse> {
    let mut raw = IommuHwptPageResponse::new_zeroed();
    mem.read(addr, raw.as_mut_bytes())
        .map_err(|_| Errno::EFAULT)?;
    let code = match raw.code {
        IOMMUFD_PAGE_RESP_SUCCESS => ResponseCode::Success,
        IOMMUFD_PAGE_RESP_INVALID => ResponseCode::Invalid,
        _ => return Err(Errno::EINVAL),
    };
    Ok(PageResponse {
        cookie: raw.cookie,
        code,
    })
}
