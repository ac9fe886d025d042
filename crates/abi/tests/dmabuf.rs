//! The selftest dma-buf (IOMMU_TEST_OP_DMABUF_GET/REVOKE) and IOMMU_IOAS_MAP_FILE of it, as
//! `iommufd_ioas.dmabuf_simple` and `dmabuf_revoke` use them, through `dispatch`.

mod common;

use common::files::FILES;
use common::mock::{mock_domain, test_cmd};
use common::{ctx, ioas_alloc, ioctl};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use uiommu_abi::{FdHost, File};
use uiommu_core::context::Context;
use uiommu_core::test_dmabuf::TestDmaBuf;
use uiommu_uapi::Errno;
use uiommu_uapi::iommufd::*;
use uiommu_uapi::selftest::*;

const PS: u64 = 4096;
const SIZE: u64 = 4 * PS;

/// The tests find a new dma-buf's fd by the fds that appeared: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn dmabuf_fds() -> BTreeSet<i32> {
    (1000..1200)
        .filter(|&fd| matches!(FILES.get(fd), Some(File::DmaBuf(_))))
        .collect()
}

/// IOMMU_TEST_OP_DMABUF_GET: returns 0, as Linux 7.3 does; the fd is the new one.
fn get_dmabuf(ctx: &Context, length: u32) -> Result<(i32, Arc<TestDmaBuf>), Errno> {
    let before = dmabuf_fds();
    let member = TestDmabufGet {
        length,
        open_flags: libc::O_CLOEXEC as u32,
    };
    let mut cmd = IommuTestCmd::new(0, member);
    assert_eq!(ioctl(ctx, IOMMU_TEST_CMD, &mut cmd)?, 0);
    let fd = *dmabuf_fds().difference(&before).next().expect("a new fd");
    let Some(File::DmaBuf(buf)) = FILES.get(fd) else {
        unreachable!()
    };
    Ok((fd, buf))
}

fn revoke(ctx: &Context, fd: i32, revoked: bool) -> Result<(), Errno> {
    let member = TestDmabufRevoke {
        dmabuf_fd: fd,
        revoked: revoked.into(),
    };
    test_cmd(ctx, 0, member).map(|_| ())
}

fn map_file(ctx: &Context, ioas: u32, fd: i32, start: u64, length: u64) -> Result<u64, Errno> {
    map_file_at(ctx, ioas, fd, start, length, None)
}

fn map_file_at(
    ctx: &Context,
    ioas: u32,
    fd: i32,
    start: u64,
    length: u64,
    iova: Option<u64>,
) -> Result<u64, Errno> {
    let mut cmd = IommuIoasMapFile {
        size: size_of::<IommuIoasMapFile>() as u32,
        flags: IOMMU_IOAS_MAP_READABLE
            | IOMMU_IOAS_MAP_WRITEABLE
            | iova.map_or(0, |_| IOMMU_IOAS_MAP_FIXED_IOVA),
        ioas_id: ioas,
        fd,
        start,
        length,
        iova: iova.unwrap_or(0),
    };
    ioctl(ctx, IOMMU_IOAS_MAP_FILE, &mut cmd).map(|_| cmd.iova)
}

fn unmap(ctx: &Context, ioas: u32, iova: u64, length: u64) -> Result<u64, Errno> {
    let mut cmd = IommuIoasUnmap {
        size: size_of::<IommuIoasUnmap>() as u32,
        ioas_id: ioas,
        iova,
        length,
    };
    ioctl(ctx, IOMMU_IOAS_UNMAP, &mut cmd).map(|_| cmd.length)
}

fn check_map(ctx: &Context, hwpt: u32, iova: u64, length: u64, uptr: u64) -> Result<(), Errno> {
    let member = TestCheckMap { iova, length, uptr };
    test_cmd(ctx, hwpt, member).map(|_| ())
}

#[test]
fn get_rounds_to_pages_and_bounds_the_size() {
    let _serial = SERIAL.lock().unwrap();
    let ctx = ctx();
    let (fd, buf) = get_dmabuf(&ctx, 1).unwrap();
    assert_eq!(uiommu_core::ioas::DmaBuf::size(buf.as_ref()), PS);
    FILES.close(fd);
    for bad in [0, 512 * PS as u32 + 1] {
        let before = dmabuf_fds();
        assert_eq!(get_dmabuf(&ctx, bad).unwrap_err(), Errno::EINVAL);
        assert_eq!(dmabuf_fds(), before, "no fd on failure");
    }
}

#[test]
fn simple() {
    let _serial = SERIAL.lock().unwrap();
    let ctx = ctx();
    let ioas = ioas_alloc(&ctx);
    let (fd, _buf) = get_dmabuf(&ctx, SIZE as u32).unwrap();
    assert_eq!(map_file(&ctx, ioas, fd, 0, 0), Err(Errno::EINVAL));
    assert_eq!(map_file(&ctx, ioas, fd, SIZE, SIZE), Err(Errno::EINVAL));
    assert_eq!(map_file(&ctx, ioas, fd, 0, SIZE + 1), Err(Errno::EINVAL));
    assert!(map_file(&ctx, ioas, fd, 0, SIZE).is_ok());
    FILES.close(fd);
}

#[test]
fn revoke_unmaps_the_domain_and_refuses_new_maps() {
    let _serial = SERIAL.lock().unwrap();
    let ctx = ctx();
    let ioas = ioas_alloc(&ctx);
    let (_, hwpt, _) = mock_domain(&ctx, ioas).unwrap();
    let (fd, buf) = get_dmabuf(&ctx, SIZE as u32).unwrap();
    let iova = map_file(&ctx, ioas, fd, 0, SIZE).unwrap();
    assert_eq!(check_map(&ctx, hwpt, iova, SIZE, buf.addr()), Ok(()));
    revoke(&ctx, fd, true).unwrap();
    assert_eq!(
        check_map(&ctx, hwpt, iova, PS, buf.addr()),
        Err(Errno::EINVAL)
    );
    // A domain made now maps nothing of it either.
    let (_, hwpt2, _) = mock_domain(&ctx, ioas).unwrap();
    assert_eq!(
        check_map(&ctx, hwpt2, iova, PS, buf.addr()),
        Err(Errno::EINVAL)
    );
    assert_eq!(map_file(&ctx, ioas, fd, 0, SIZE), Err(Errno::ENODEV));
    revoke(&ctx, fd, false).unwrap();
    let iova2 = map_file(&ctx, ioas, fd, 0, SIZE).unwrap();
    assert_eq!(check_map(&ctx, hwpt, iova2, SIZE, buf.addr()), Ok(()));
    // Restore the IOVA back.
    assert_eq!(unmap(&ctx, ioas, iova, SIZE), Ok(SIZE));
    assert_eq!(map_file_at(&ctx, ioas, fd, 0, SIZE, Some(iova)), Ok(iova));
    assert_eq!(check_map(&ctx, hwpt2, iova, SIZE, buf.addr()), Ok(()));
    FILES.close(fd);
}

#[test]
fn mapping_outlives_the_fd() {
    let _serial = SERIAL.lock().unwrap();
    let ctx = ctx();
    let ioas = ioas_alloc(&ctx);
    let (_, hwpt, _) = mock_domain(&ctx, ioas).unwrap();
    let (fd, buf) = get_dmabuf(&ctx, SIZE as u32).unwrap();
    let iova = map_file(&ctx, ioas, fd, PS, 2 * PS).unwrap();
    FILES.close(fd);
    assert_eq!(check_map(&ctx, hwpt, iova, 2 * PS, buf.addr() + PS), Ok(()));
}

#[test]
fn revoke_takes_only_dmabuf_fds() {
    let _serial = SERIAL.lock().unwrap();
    let ctx = ctx();
    assert_eq!(revoke(&ctx, 999, true), Err(Errno::EBADF));
    // An fd of ours that is no dma-buf.
    let ioas = ioas_alloc(&ctx);
    let access = test_cmd(&ctx, ioas, TestCreateAccess::default()).unwrap();
    let access_fd = access.member::<TestCreateAccess>().out_access_fd as i32;
    assert_eq!(revoke(&ctx, access_fd, true), Err(Errno::EINVAL));
    // MAP_FILE of it goes the file way (`fget`), which the test host refuses.
    assert_eq!(map_file(&ctx, ioas, access_fd, 0, PS), Err(Errno::EBADF));
    FILES.close(access_fd);
}
