//! Access objects through `dispatch`: the selftest's access file created, used to pin and copy
//! through IOVAs, told of unmaps, and released on close.

mod common;

use common::files::FILES;
use common::mock::*;
use common::*;
use uiommu_core::context::Context;
use uiommu_uapi::Errno;
use uiommu_uapi::iommufd::*;
use uiommu_uapi::selftest::*;

fn map(ctx: &Context, ioas: u32, buf: &Buffer, iova: u64) {
    let mut cmd = IommuIoasMap {
        size: sz::<IommuIoasMap>(),
        flags: IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
        ioas_id: ioas,
        user_va: buf.addr(),
        length: buf.len as u64,
        iova,
        ..Default::default()
    };
    ioctl(ctx, IOMMU_IOAS_MAP, &mut cmd).unwrap();
}

fn unmap(ctx: &Context, ioas: u32, iova: u64, length: u64) -> Result<i64, Errno> {
    let mut cmd = IommuIoasUnmap {
        size: sz::<IommuIoasUnmap>(),
        ioas_id: ioas,
        iova,
        length,
    };
    ioctl(ctx, IOMMU_IOAS_UNMAP, &mut cmd)
}

fn create_access(ctx: &Context, ioas: u32, flags: u32) -> Result<u32, Errno> {
    let cmd = test_cmd(
        ctx,
        ioas,
        TestCreateAccess {
            flags,
            ..Default::default()
        },
    )?;
    Ok(cmd.member::<TestCreateAccess>().out_access_fd)
}

const IOVA: u64 = 0x40_0000;

#[test]
fn access_rw_copies_through_the_ioas_and_stops_at_unmap() {
    let ctx = ctx();
    let ioas = ioas_alloc(&ctx);
    let mut buf = Buffer::new(2 * 4096);
    buf.bytes_mut()[..4].copy_from_slice(b"uiom");
    map(&ctx, ioas, &buf, IOVA);
    let fd = create_access(&ctx, ioas, 0).unwrap();
    let mut out = [0u8; 4];
    let rw = |iova: u64, out: &mut [u8], flags: u32| {
        test_cmd(
            &ctx,
            fd,
            TestAccessRw {
                iova,
                length: out.len() as u64,
                uptr: out.as_mut_ptr() as u64,
                flags,
                ..Default::default()
            },
        )
    };
    rw(IOVA, &mut out, 0).unwrap();
    assert_eq!(&out, b"uiom");
    let mut msg = *b"DMA!";
    rw(IOVA + 4096, &mut msg, MOCK_ACCESS_RW_WRITE).unwrap();
    assert_eq!(&buf.bytes_mut()[4096..4100], b"DMA!");
    rw(IOVA, &mut out, MOCK_ACCESS_RW_SLOW_PATH).unwrap();
    unmap(&ctx, ioas, IOVA, 2 * 4096).unwrap();
    assert_eq!(rw(IOVA, &mut out, 0).err(), Some(Errno::ENOENT));
    assert_eq!(rw(IOVA, &mut out, 1 << 8).err(), Some(Errno::EOPNOTSUPP));
    // Not an access fd.
    assert_eq!(
        test_cmd(
            &ctx,
            7,
            TestAccessRw {
                iova: IOVA,
                length: 4,
                uptr: out.as_mut_ptr() as u64,
                ..Default::default()
            }
        )
        .err(),
        Some(Errno::EBADFD)
    );
    // The access holds the IOAS until its file is closed.
    let mut d = IommuDestroy {
        size: sz::<IommuDestroy>(),
        id: ioas,
    };
    assert_eq!(ioctl(&ctx, IOMMU_DESTROY, &mut d), Err(Errno::EBUSY));
    FILES.close(fd as i32);
    ioctl(&ctx, IOMMU_DESTROY, &mut d).unwrap();
}

#[test]
fn pinned_pages_are_released_when_their_range_is_unmapped() {
    let ctx = ctx();
    let ioas = ioas_alloc(&ctx);
    let buf = Buffer::new(4 * 4096);
    map(&ctx, ioas, &buf, IOVA);
    let plain = create_access(&ctx, ioas, 0).unwrap();
    let pins = |fd: u32, iova: u64, length: u64, uptr: u64| {
        test_cmd(
            &ctx,
            fd,
            TestAccessPages {
                iova,
                length,
                uptr,
                ..Default::default()
            },
        )
        .map(|c| c.member::<TestAccessPages>().out_access_pages_id)
    };
    assert_eq!(
        pins(plain, IOVA, 4096, buf.addr()).err(),
        Some(Errno::EOPNOTSUPP),
        "does not pin"
    );
    let fd = create_access(&ctx, ioas, MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES).unwrap();
    let id = pins(fd, IOVA, 2 * 4096, buf.addr()).unwrap();
    test_cmd(
        &ctx,
        0,
        TestCheckRefs {
            length: 2 * 4096,
            uptr: buf.addr(),
            refs: 1,
            ..Default::default()
        },
    )
    .unwrap();
    // Pages that are not the caller's claim: EBADE.
    assert_eq!(
        pins(fd, IOVA, 4096, buf.addr() + 4096).err(),
        Some(Errno::EBADE)
    );
    // An unmap tells the access, which lets go; the unmap then succeeds.
    unmap(&ctx, ioas, IOVA, 4 * 4096).unwrap();
    test_cmd(
        &ctx,
        0,
        TestCheckRefs {
            length: 2 * 4096,
            uptr: buf.addr(),
            refs: 0,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        test_cmd(
            &ctx,
            fd,
            TestDestroyAccessPages {
                access_pages_id: id
            }
        )
        .err(),
        Some(Errno::ENOENT)
    );
    map(&ctx, ioas, &buf, IOVA);
    let id = pins(fd, IOVA, 4096, 0).unwrap();
    test_cmd(
        &ctx,
        fd,
        TestDestroyAccessPages {
            access_pages_id: id,
        },
    )
    .unwrap();
    FILES.close(fd as i32);
    FILES.close(plain as i32);
}

#[test]
fn replace_ioas_moves_the_access() {
    let ctx = ctx();
    let a = ioas_alloc(&ctx);
    let b = ioas_alloc(&ctx);
    let buf = Buffer::new(4096);
    map(&ctx, b, &buf, IOVA);
    let fd = create_access(&ctx, a, 0).unwrap();
    let mut out = [0u8; 8];
    let read = |out: &mut [u8]| {
        test_cmd(
            &ctx,
            fd,
            TestAccessRw {
                iova: IOVA,
                length: 8,
                uptr: out.as_mut_ptr() as u64,
                ..Default::default()
            },
        )
    };
    assert_eq!(read(&mut out).err(), Some(Errno::ENOENT));
    test_cmd(&ctx, fd, TestAccessReplaceIoas { ioas_id: b }).unwrap();
    read(&mut out).unwrap();
    assert_eq!(
        test_cmd(&ctx, fd, TestAccessReplaceIoas { ioas_id: 99 }).err(),
        Some(Errno::ENOENT)
    );
    assert_eq!(create_access(&ctx, 99, 0).err(), Some(Errno::ENOENT));
    assert_eq!(
        create_access(&ctx, a, 1 << 3).err(),
        Some(Errno::EOPNOTSUPP)
    );
    FILES.close(fd as i32);
}

#[test]
fn access_arguments_are_checked_before_the_access_is_found() {
    let ctx = ctx();
    assert_eq!(
        create_access(&ctx, 99, 1 << 7),
        Err(Errno::EOPNOTSUPP),
        "flags before the IOAS"
    );
    assert_eq!(create_access(&ctx, 99, 0), Err(Errno::ENOENT));
    let (big, unknown, not_an_access) = ((16 << 20) + 1, 1 << 7, 7);
    for (length, flags, want) in [
        (big, unknown, Errno::ENOMEM),
        (4, unknown, Errno::EOPNOTSUPP),
        (4, 0, Errno::EBADFD),
    ] {
        let pages = TestAccessPages {
            length,
            flags,
            ..Default::default()
        };
        let pages = test_cmd(&ctx, not_an_access, pages).err();
        let rw = TestAccessRw {
            length,
            flags,
            ..Default::default()
        };
        let rw = test_cmd(&ctx, not_an_access, rw).err();
        assert_eq!((pages, rw), (Some(want), Some(want)), "{length} {flags:#x}");
    }
}
