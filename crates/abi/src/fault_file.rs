//! The fd of a fault queue (`drivers/iommu/iommufd/eventq.c`): the checks of its reads and
//! writes (`iommufd_fault_fops_read`, `iommufd_fault_fops_write`) around the queue's own.

use uiommu_core::fault::{FaultQueue, PageResponse, ResponseCode};
use uiommu_uapi::errno::Result;
use uiommu_uapi::iommufd::{
    IOMMUFD_PAGE_RESP_INVALID, IOMMUFD_PAGE_RESP_SUCCESS, IommuHwptPageResponse, IommuHwptPgfault,
};
use uiommu_uapi::{Errno, UserMemory};
use zerocopy::{FromZeros, IntoBytes};

const FAULT_SIZE: usize = size_of::<IommuHwptPgfault>();
const RESPONSE_SIZE: usize = size_of::<IommuHwptPageResponse>();

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
