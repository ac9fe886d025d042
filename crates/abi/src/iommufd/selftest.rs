//! IOMMU_TEST_CMD (`drivers/iommu/iommufd/selftest.c`, `iommufd_test`): the mock driver's test
//! operations.

use super::Cmd;
use super::selftest_args;
use crate::files::File;
use std::sync::{Arc, PoisonError};
use uiommu_core::context::Handle;
use uiommu_core::device::{self, Device};
use uiommu_core::driver::mock::MockDev;
use uiommu_core::driver::mock::domain::{MockNestedDomain, MockPagingDomain};
use uiommu_core::fault::PageRequest;
use uiommu_core::hwpt::{HwptNested, HwptPaging, HwptView};
use uiommu_core::iommu::NO_PASID;
use uiommu_core::object::Ioas;
use uiommu_core::selftest::{self, SelftestDevice};
use uiommu_core::test_access::TestAccess;
use uiommu_core::test_dmabuf::TestDmaBuf;
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;
use uiommu_uapi::selftest::*;

const PAGE_SIZE: u64 = 4096;

/// `IOMMU_TEST_OP_DMABUF_GET` (`iommufd_test_dmabuf_get`): a new dma-buf of `length` bytes
/// rounded up to pages (`EINVAL` for none or more than 512) behind a new close-on-exec fd.
/// As in Linux 7.3, the command returns 0 and not the fd: the caller finds it as the lowest
/// fd that was free.
fn dmabuf_get(c: &Cmd, length: u32) -> Result<()> {
    let buf = TestDmaBuf::new(u64::from(length))?;
    c.fds.install(File::DmaBuf(Arc::new(buf)))?;
    Ok(())
}

/// Runs one test operation.
pub(super) fn run(c: &Cmd) -> Result<()> {
    let mut cmd: IommuTestCmd = c.get();
    match cmd.decode() {
        Some(TestOp::AddReserved(m)) => add_reserved(c, cmd.id, m.start, m.length),
        Some(TestOp::MockDomain(_)) => mock_domain(c, &mut cmd, 0),
        Some(TestOp::MockDomainFlags(m)) => mock_domain(c, &mut cmd, m.dev_flags),
        Some(TestOp::MockDomainReplace(m)) => {
            let sobj = stdev(c, cmd.id)?;
            let idev = sobj.idev().ok_or(Errno::ENOENT)?;
            let pt_id = device::replace(c.ctx, &idev, NO_PASID, m.pt_id)?;
            cmd.member_mut::<TestMockDomainReplace>().pt_id = pt_id;
            c.respond(&cmd)
        }
        Some(TestOp::CheckMap(m)) => check_map(c, cmd.id, m.iova, m.length, m.uptr),
        Some(TestOp::CheckRefs(m)) => check_refs(c, m.uptr, m.length, m.refs),
        Some(TestOp::CheckIotlb(m)) => {
            let hwpt = c.ctx.get::<HwptNested>(cmd.id)?;
            let mock = hwpt
                .domain
                .as_any()
                .downcast_ref::<MockNestedDomain>()
                .ok_or(Errno::EINVAL)?;
            let iotlb = mock.iotlb.lock().unwrap_or_else(PoisonError::into_inner);
            match iotlb.get(m.id as usize) {
                Some(&v) if m.id <= MOCK_NESTED_DOMAIN_IOTLB_ID_MAX && v == m.iotlb => Ok(()),
                _ => Err(Errno::EINVAL),
            }
        }
        Some(TestOp::CheckDevCache(m)) => {
            let idev = c.ctx.get::<Device>(cmd.id)?;
            let mock = idev.phys.state::<MockDev>().ok_or(Errno::EINVAL)?;
            let cache = mock.cache.lock().unwrap_or_else(PoisonError::into_inner);
            match cache.get(m.id as usize) {
                Some(&v) if m.id <= MOCK_DEV_CACHE_ID_MAX && v == m.cache => Ok(()),
                _ => Err(Errno::EINVAL),
            }
        }
        Some(TestOp::MemoryLimit(m)) => {
            // Bounds the kernel's temporary batch allocations; uiommu has none to bound, but the
            // argument check is the kernel's.
            if (m.limit as usize) < size_of::<u64>() + size_of::<u32>() {
                return Err(Errno::EINVAL);
            }
            Ok(())
        }
        Some(TestOp::Dirty(m)) => dirty(c, &mut cmd, m),
        Some(TestOp::PasidAttach(m)) => {
            let idev = stdev_idev(c, cmd.id)?;
            let pt_id = device::attach(c.ctx, &idev, m.pasid, m.pt_id)?;
            cmd.member_mut::<TestPasidAttach>().pt_id = pt_id;
            if let Err(e) = c.respond(&cmd) {
                device::detach(c.ctx, &idev, m.pasid);
                return Err(e);
            }
            Ok(())
        }
        Some(TestOp::PasidReplace(m)) => {
            let idev = stdev_idev(c, cmd.id)?;
            let pt_id = device::replace(c.ctx, &idev, m.pasid, m.pt_id)?;
            cmd.member_mut::<TestPasidReplace>().pt_id = pt_id;
            c.respond(&cmd)
        }
        Some(TestOp::PasidDetach(m)) => {
            let idev = stdev_idev(c, cmd.id)?;
            device::detach(c.ctx, &idev, m.pasid);
            Ok(())
        }
        Some(TestOp::PasidCheck(m)) => pasid_check(c, cmd.id, m.pasid, m.hwpt_id),
        Some(TestOp::CreateAccess(m)) => create_access(c, &mut cmd, m.flags),
        Some(TestOp::AccessReplaceIoas(m)) => test_access(c, cmd.id)?.replace_ioas(m.ioas_id),
        Some(TestOp::AccessPages(m)) => {
            let write = selftest_args::access_pages(m.length, m.flags)?;
            let staccess = test_access(c, cmd.id)?;
            let id = staccess.pin(m.iova, m.length, m.uptr, write, c.mem)?;
            cmd.member_mut::<TestAccessPages>().out_access_pages_id = id;
            c.respond(&cmd).inspect_err(|_| staccess.abort_pin(id))
        }
        Some(TestOp::DestroyAccessPages(m)) => {
            test_access(c, cmd.id)?.destroy_item(m.access_pages_id)
        }
        Some(TestOp::AccessRw(m)) => {
            let flags = selftest_args::access_rw(m.length, m.flags)?;
            test_access(c, cmd.id)?.rw(m.iova, m.length, m.uptr, flags, c.mem)
        }
        Some(TestOp::TriggerIopf(m)) => trigger_iopf(c, m),
        Some(TestOp::TriggerVevent(m)) => trigger_vevent(c, m.dev_id),
        // dma-bufs come with their objects.
        Some(TestOp::DmabufGet(m)) => dmabuf_get(c, m.length),
        Some(TestOp::DmabufRevoke(m)) => {
            // Every dma-buf uiommu exports is a test one: no `EOPNOTSUPP` for a foreign one.
            c.fds.dma_buf(m.dmabuf_fd)?.set_revoked(m.revoked != 0);
            Ok(())
        }
        None => Err(Errno::EOPNOTSUPP),
    }
}

/// `iommufd_access_get`: the access file behind the caller's fd, `EBADFD` for any other.
fn test_access(c: &Cmd, fd: u32) -> Result<Arc<TestAccess>> {
    match c.fds.get(fd as i32) {
        Some(File::TestAccess(a)) => Ok(a),
        _ => Err(Errno::EBADFD),
    }
}

/// `iommufd_test_create_access`: `EOPNOTSUPP` for unknown flags, then an access on IOAS
/// `cmd.id`, handed to the caller as an fd. The kernel reserves the fd number before creating
/// the access; here the front end makes the fd after, so with no fd to be had a bad IOAS is
/// reported first.
fn create_access(c: &Cmd, cmd: &mut IommuTestCmd, flags: u32) -> Result<()> {
    let needs_pin = selftest_args::create_access(flags)?;
    let staccess = TestAccess::create(&c.ctx.arc(), cmd.id, needs_pin)?;
    let fd = c.fds.install(File::TestAccess(staccess.clone()))?;
    cmd.member_mut::<TestCreateAccess>().out_access_fd = fd as u32;
    if let Err(e) = c.respond(cmd) {
        c.fds.uninstall(fd);
        staccess.release();
        return Err(e);
    }
    Ok(())
}

/// `iommufd_test_trigger_iopf`: the mock device reports a one-page page request group. The
/// outcome of the report is not the command's (a domain without a fault queue drops it).
fn trigger_iopf(c: &Cmd, m: TestTriggerIopf) -> Result<()> {
    use uiommu_uapi::iommufd::{IOMMU_PGFAULT_FLAGS_LAST_PAGE, IOMMU_PGFAULT_FLAGS_PASID_VALID};
    let idev = c.ctx.get::<Device>(m.dev_id)?;
    if idev.phys.state::<MockDev>().is_none() {
        return Err(Errno::EINVAL);
    }
    let mut flags = IOMMU_PGFAULT_FLAGS_LAST_PAGE;
    if m.pasid != NO_PASID {
        flags |= IOMMU_PGFAULT_FLAGS_PASID_VALID;
    }
    let req = PageRequest {
        flags,
        pasid: m.pasid,
        grpid: m.grpid,
        perm: m.perm,
        addr: m.addr,
    };
    let _ = device::report_page_fault(&idev, vec![req]);
    Ok(())
}

/// `iommufd_test_trigger_vevent`: the mock device reports an `iommu_viommu_event_selftest`
/// with its virtual ID to the vIOMMU of the nested domain it is attached to. `ENOENT` unless
/// it is attached through a vIOMMU with a non-zero virtual ID; `EOPNOTSUPP` without a vEVENTQ
/// of the selftest type.
fn trigger_vevent(c: &Cmd, dev_id: u32) -> Result<()> {
    use zerocopy::IntoBytes;
    let idev = c.ctx.get::<Device>(dev_id)?;
    let mdev = idev.phys.state::<MockDev>().ok_or(Errno::EINVAL)?;
    match mdev.viommu() {
        Some((viommu, vdev_id)) if vdev_id != 0 => {
            let event = IommuViommuEventSelftest {
                virt_id: vdev_id as u32,
            };
            viommu.report_event(IOMMU_VEVENTQ_TYPE_SELFTEST, event.as_bytes())
        }
        _ => Err(Errno::ENOENT),
    }
}

/// `iommufd_test_get_selftest_obj`.
fn stdev(c: &Cmd, id: u32) -> Result<Handle<SelftestDevice>> {
    c.ctx.get::<SelftestDevice>(id)
}

fn stdev_idev(c: &Cmd, id: u32) -> Result<Handle<Device>> {
    stdev(c, id)?.idev().ok_or(Errno::ENOENT)
}

/// `iommufd_test_add_reserved`.
fn add_reserved(c: &Cmd, ioas_id: u32, start: u64, length: u64) -> Result<()> {
    if length == 0 {
        return Err(Errno::EINVAL);
    }
    start.checked_add(length - 1).ok_or(Errno::EOVERFLOW)?;
    let ioas = c.ctx.get::<Ioas>(ioas_id)?;
    ioas.iopt.add_reserved(start, length)
}

/// `iommufd_test_mock_domain`: the device `dev_flags` describe, whose check core reports
/// after allocating the object, as the kernel does.
fn mock_domain(c: &Cmd, cmd: &mut IommuTestCmd, dev_flags: u32) -> Result<()> {
    let spec = selftest_args::device_spec(dev_flags);
    let new = selftest::mock_domain(c.ctx, cmd.id, spec)?;
    let out = cmd.member_mut::<TestMockDomain>();
    out.out_stdev_id = new.stdev_id;
    out.out_hwpt_id = new.hwpt_id;
    out.out_idev_id = new.idev_id;
    c.respond(cmd)?;
    new.finalize();
    Ok(())
}

/// `get_md_pagetable`: a paging HWPT with a mock domain (`EINVAL` for another driver's).
fn mock_paging(c: &Cmd, id: u32) -> Result<Handle<HwptPaging>> {
    let hwpt = c.ctx.get::<HwptPaging>(id)?;
    if hwpt
        .domain
        .as_any()
        .downcast_ref::<MockPagingDomain>()
        .is_none()
    {
        return Err(Errno::EINVAL);
    }
    Ok(hwpt)
}

/// `iommufd_test_md_check_pa`: every page of `iova..iova+length` translates to the matching
/// byte of the caller's buffer at `uptr` (in uiommu a page's output address is its user
/// address).
fn check_map(c: &Cmd, id: u32, iova: u64, length: u64, uptr: u64) -> Result<()> {
    let hwpt = mock_paging(c, id)?;
    let page_size = 1u64 << hwpt.domain.pgsize_bitmap().trailing_zeros();
    if iova % page_size != 0
        || length % page_size != 0
        || uptr % page_size != 0
        || uptr.checked_add(length).is_none()
    {
        return Err(Errno::EINVAL);
    }
    let mut probe = [0u8];
    for i in 0..length / page_size {
        let (io, ua) = (iova + i * page_size, uptr + i * page_size);
        // `get_user_pages_fast` of the user page: it must exist.
        c.mem.read(ua & !(PAGE_SIZE - 1), &mut probe)?;
        if hwpt.domain.iova_to_phys(io) != Some(ua) {
            return Err(Errno::EINVAL);
        }
    }
    Ok(())
}

/// `iommufd_test_md_check_refs`: every page of the buffer has `refs` pins.
fn check_refs(c: &Cmd, uptr: u64, length: u64, refs: u32) -> Result<()> {
    if length % PAGE_SIZE != 0 || uptr % PAGE_SIZE != 0 || uptr.checked_add(length).is_none() {
        return Err(Errno::EINVAL);
    }
    let mut probe = [0u8];
    for i in 0..length / PAGE_SIZE {
        let page = uptr + i * PAGE_SIZE;
        c.mem.read(page, &mut probe)?;
        if c.ctx.process().registry.refs(page) != refs {
            return Err(Errno::EIO);
        }
    }
    Ok(())
}

/// Most pages one IOMMU_TEST_OP_DIRTY may mark (`SZ_16M * BITS_PER_BYTE`).
const DIRTY_MAX_PAGES: u64 = 16 << 20 << 3;

/// `iommufd_test_dirty`: marks the pages whose bits are set in the caller's bitmap dirty, as
/// device writes would, and reports how many.
fn dirty(c: &Cmd, cmd: &mut IommuTestCmd, m: TestDirty) -> Result<()> {
    if m.page_size == 0
        || m.length == 0
        || m.iova % m.page_size != 0
        || m.length % m.page_size != 0
        || m.uptr == 0
    {
        return Err(Errno::EINVAL);
    }
    let max = m.length / m.page_size;
    if max > DIRTY_MAX_PAGES {
        return Err(Errno::EOVERFLOW);
    }
    let hwpt = mock_paging(c, cmd.id)?;
    let mock = hwpt
        .domain
        .as_any()
        .downcast_ref::<MockPagingDomain>()
        .ok_or(Errno::EINVAL)?;
    if !mock.tracking() {
        return Err(Errno::EINVAL);
    }
    let mut bits = vec![0u8; max.div_ceil(8) as usize];
    c.mem.read(m.uptr, &mut bits)?;
    let mut count = 0u64;
    for i in (0..max).filter(|i| bits[(i / 8) as usize] & (1 << (i % 8)) != 0) {
        // The kernel ignores the result too: an unmapped IOVA has nothing to mark. Its
        // `unsigned long` IOVA wraps past the top of the address space; so does this one.
        let _ = mock.set_dirty(m.iova.wrapping_add(i * m.page_size));
        count += 1;
    }
    cmd.member_mut::<TestDirty>().out_nr_dirty = count;
    c.respond(cmd)
}

/// `iommufd_test_pasid_check_hwpt`: `hwpt_id` 0 checks that the PASID is detached.
fn pasid_check(c: &Cmd, id: u32, pasid: u32, hwpt_id: u32) -> Result<()> {
    let idev = stdev_idev(c, id)?;
    let current = device::current_domain(&idev, pasid);
    if hwpt_id == 0 {
        return if current.is_some() {
            Err(Errno::EINVAL)
        } else {
            Ok(())
        };
    }
    let pt = c.ctx.get_any(hwpt_id)?;
    let hwpt = HwptView::of(&pt).ok_or(Errno::EINVAL)?;
    match current {
        Some(d)
            if std::ptr::addr_eq(
                std::sync::Arc::as_ptr(&d),
                std::sync::Arc::as_ptr(hwpt.domain()),
            ) =>
        {
            Ok(())
        }
        _ => Err(Errno::EINVAL),
    }
}
