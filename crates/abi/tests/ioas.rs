//! The IOAS commands through `dispatch`, with real buffers: success paths, error paths in the
//! kernel's order, and state left unchanged by errors.

mod common;

use common::*;
use uiommu_uapi::Errno;
use uiommu_uapi::iommufd::*;

fn map(
    ctx: &uiommu_core::context::Context,
    ioas: u32,
    buf: &Buffer,
    iova: Option<u64>,
) -> Result<u64, Errno> {
    let mut cmd = IommuIoasMap {
        size: sz::<IommuIoasMap>(),
        flags: IOMMU_IOAS_MAP_READABLE
            | IOMMU_IOAS_MAP_WRITEABLE
            | iova.map_or(0, |_| IOMMU_IOAS_MAP_FIXED_IOVA),
        ioas_id: ioas,
        user_va: buf.addr(),
        length: buf.len as u64,
        iova: iova.unwrap_or(0),
        ..Default::default()
    };
    ioctl(ctx, IOMMU_IOAS_MAP, &mut cmd).map(|_| cmd.iova)
}

fn ranges(ctx: &uiommu_core::context::Context, ioas: u32) -> Vec<(u64, u64)> {
    let mut out = [IommuIovaRange::default(); 16];
    let mut cmd = IommuIoasIovaRanges {
        size: sz::<IommuIoasIovaRanges>(),
        ioas_id: ioas,
        num_iovas: 16,
        allowed_iovas: out.as_mut_ptr() as u64,
        ..Default::default()
    };
    ioctl(ctx, IOMMU_IOAS_IOVA_RANGES, &mut cmd).unwrap();
    out[..cmd.num_iovas as usize]
        .iter()
        .map(|r| (r.start, r.last))
        .collect()
}

#[test]
fn alloc_and_destroy() {
    let ctx = ctx();
    assert_eq!(ioas_alloc(&ctx), 1);
    assert_eq!(ioas_alloc(&ctx), 2);
    let mut d = IommuDestroy {
        size: sz::<IommuDestroy>(),
        id: 1,
    };
    ioctl(&ctx, IOMMU_DESTROY, &mut d).unwrap();
    assert_eq!(ioctl(&ctx, IOMMU_DESTROY, &mut d), Err(Errno::ENOENT));
    assert_eq!(ioas_alloc(&ctx), 1, "lowest free ID is reused");
    let mut bad = IommuIoasAlloc {
        size: sz::<IommuIoasAlloc>(),
        flags: 1,
        out_ioas_id: 0,
    };
    assert_eq!(
        ioctl(&ctx, IOMMU_IOAS_ALLOC, &mut bad),
        Err(Errno::EOPNOTSUPP)
    );
    assert_eq!(ctx.objects.ids(), [1, 2]);
}

#[test]
fn alloc_with_unwritable_struct_leaves_no_object() {
    let ctx = ctx();
    // Read-only memory holding a valid struct: the report faults, the IOAS never appears.
    static RO: IommuIoasAlloc = IommuIoasAlloc {
        size: 12,
        flags: 0,
        out_ioas_id: 0,
    };
    let at = &RO as *const IommuIoasAlloc as u64;
    assert_eq!(ioctl_at(&ctx, IOMMU_IOAS_ALLOC, at), Err(Errno::EFAULT));
    assert!(ctx.objects.ids().is_empty());
    assert_eq!(ioas_alloc(&ctx), 1);
}

#[test]
fn unknown_ids_and_wrong_kinds_are_enoent() {
    let ctx = ctx();
    let buf = Buffer::new(4096);
    assert_eq!(map(&ctx, 7, &buf, None), Err(Errno::ENOENT));
}

#[test]
fn map_unmap_round_trip() {
    let ctx = ctx();
    let ioas = ioas_alloc(&ctx);
    let buf = Buffer::new(4 * 4096);
    let iova = map(&ctx, ioas, &buf, Some(0x10_0000)).unwrap();
    assert_eq!(iova, 0x10_0000);
    // Overlap: the kernel's EEXIST for a fixed IOVA that is taken.
    assert_eq!(map(&ctx, ioas, &buf, Some(0x10_0000)), Err(Errno::EEXIST));
    let auto = map(&ctx, ioas, &buf, None).unwrap();
    assert_ne!(auto, iova);

    let mut un = IommuIoasUnmap {
        size: sz::<IommuIoasUnmap>(),
        ioas_id: ioas,
        iova,
        length: 4096,
    };
    assert_eq!(
        ioctl(&ctx, IOMMU_IOAS_UNMAP, &mut un),
        Err(Errno::ENOENT),
        "would split an area"
    );
    un.length = 4 * 4096;
    ioctl(&ctx, IOMMU_IOAS_UNMAP, &mut un).unwrap();
    assert_eq!(un.length, 4 * 4096);
    assert_eq!(
        ioctl(&ctx, IOMMU_IOAS_UNMAP, &mut un),
        Err(Errno::ENOENT),
        "nothing left there"
    );

    let mut all = IommuIoasUnmap {
        size: sz::<IommuIoasUnmap>(),
        ioas_id: ioas,
        iova: 0,
        length: u64::MAX,
    };
    ioctl(&ctx, IOMMU_IOAS_UNMAP, &mut all).unwrap();
    assert_eq!(all.length, 4 * 4096);
    all.length = u64::MAX;
    ioctl(&ctx, IOMMU_IOAS_UNMAP, &mut all).unwrap();
    assert_eq!(all.length, 0, "unmap-all of an empty IOAS succeeds");
}

#[test]
fn map_checks_in_kernel_order() {
    let ctx = ctx();
    let ioas = ioas_alloc(&ctx);
    let buf = Buffer::new(4096);
    let base = IommuIoasMap {
        size: sz::<IommuIoasMap>(),
        flags: IOMMU_IOAS_MAP_READABLE,
        ioas_id: ioas,
        user_va: buf.addr(),
        length: 4096,
        ..Default::default()
    };
    let cases = [
        (
            IommuIoasMap {
                flags: 1 << 3,
                ioas_id: 99,
                ..base
            },
            Errno::EOPNOTSUPP,
        ),
        (
            IommuIoasMap {
                __reserved: 1,
                ioas_id: 99,
                ..base
            },
            Errno::EOPNOTSUPP,
        ),
        (
            IommuIoasMap {
                length: u64::MAX,
                ioas_id: 99,
                ..base
            },
            Errno::EOVERFLOW,
        ),
        (
            IommuIoasMap {
                flags: 0,
                ioas_id: 99,
                ..base
            },
            Errno::EINVAL,
        ),
        (
            IommuIoasMap {
                ioas_id: 99,
                ..base
            },
            Errno::ENOENT,
        ),
        (IommuIoasMap { length: 0, ..base }, Errno::EINVAL),
    ];
    for (mut cmd, want) in cases {
        assert_eq!(ioctl(&ctx, IOMMU_IOAS_MAP, &mut cmd), Err(want), "{cmd:?}");
    }
    assert_eq!(ranges(&ctx, ioas), [(0, u64::MAX)]);
    // With no domain attached nothing is pinned, so even unmapped user memory maps (as on
    // Linux); it faults only when a domain or an access needs the pages.
    let mut cmd = IommuIoasMap {
        user_va: 0x1000,
        ..base
    };
    ioctl(&ctx, IOMMU_IOAS_MAP, &mut cmd).unwrap();
}

#[test]
fn iova_ranges_reports_count_and_emsgsize() {
    let ctx = ctx();
    let ioas = ioas_alloc(&ctx);
    let mut cmd = IommuIoasIovaRanges {
        size: sz::<IommuIoasIovaRanges>(),
        ioas_id: ioas,
        num_iovas: 0,
        ..Default::default()
    };
    assert_eq!(
        ioctl(&ctx, IOMMU_IOAS_IOVA_RANGES, &mut cmd),
        Err(Errno::EMSGSIZE)
    );
    assert_eq!((cmd.num_iovas, cmd.out_iova_alignment), (1, 1));
    cmd.__reserved = 1;
    assert_eq!(
        ioctl(&ctx, IOMMU_IOAS_IOVA_RANGES, &mut cmd),
        Err(Errno::EOPNOTSUPP)
    );
}

#[test]
fn allow_iovas_restricts_automatic_iovas() {
    let ctx = ctx();
    let ioas = ioas_alloc(&ctx);
    let allowed = [IommuIovaRange {
        start: 0x40_0000,
        last: 0x7f_ffff,
    }];
    let mut cmd = IommuIoasAllowIovas {
        size: sz::<IommuIoasAllowIovas>(),
        ioas_id: ioas,
        num_iovas: 1,
        allowed_iovas: allowed.as_ptr() as u64,
        ..Default::default()
    };
    ioctl(&ctx, IOMMU_IOAS_ALLOW_IOVAS, &mut cmd).unwrap();
    let buf = Buffer::new(2 * 4096);
    let iova = map(&ctx, ioas, &buf, None).unwrap();
    assert!((0x40_0000..=0x7f_ffff).contains(&iova));
    // An unreadable array: EFAULT, and the restriction in force stays.
    cmd.allowed_iovas = 16;
    assert_eq!(
        ioctl(&ctx, IOMMU_IOAS_ALLOW_IOVAS, &mut cmd),
        Err(Errno::EFAULT)
    );
    let bad = [IommuIovaRange { start: 5, last: 5 }];
    cmd.allowed_iovas = bad.as_ptr() as u64;
    assert_eq!(
        ioctl(&ctx, IOMMU_IOAS_ALLOW_IOVAS, &mut cmd),
        Err(Errno::EINVAL)
    );
    let iova = map(&ctx, ioas, &buf, None).unwrap();
    assert!((0x40_0000..=0x7f_ffff).contains(&iova));
}

#[test]
fn copy_shares_pages_between_ioases() {
    let ctx = ctx();
    let a = ioas_alloc(&ctx);
    let b = ioas_alloc(&ctx);
    let buf = Buffer::new(2 * 4096);
    let src = map(&ctx, a, &buf, Some(0x20_0000)).unwrap();
    let mut cmd = IommuIoasCopy {
        size: sz::<IommuIoasCopy>(),
        flags: IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_FIXED_IOVA,
        dst_ioas_id: b,
        src_ioas_id: a,
        length: 2 * 4096,
        dst_iova: 0x30_0000,
        src_iova: src,
    };
    ioctl(&ctx, IOMMU_IOAS_COPY, &mut cmd).unwrap();
    assert_eq!(cmd.dst_iova, 0x30_0000);
    assert_eq!(ioctl(&ctx, IOMMU_IOAS_COPY, &mut cmd), Err(Errno::EEXIST));
    cmd.src_iova = 0x90_0000;
    assert_eq!(ioctl(&ctx, IOMMU_IOAS_COPY, &mut cmd), Err(Errno::ENOENT));
}

#[test]
fn options() {
    let ctx = ctx();
    let mut opt = IommuOption {
        size: sz::<IommuOption>(),
        option_id: IOMMU_OPTION_RLIMIT_MODE,
        op: IOMMU_OPTION_OP_GET,
        ..Default::default()
    };
    ioctl(&ctx, IOMMU_OPTION, &mut opt).unwrap();
    assert_eq!(opt.val64, 0);
    opt.op = IOMMU_OPTION_OP_SET;
    opt.val64 = 2;
    assert_eq!(ioctl(&ctx, IOMMU_OPTION, &mut opt), Err(Errno::EINVAL));
    opt.val64 = 1;
    ioctl(&ctx, IOMMU_OPTION, &mut opt).unwrap();
    let ioas = ioas_alloc(&ctx);
    assert_eq!(
        ioctl(&ctx, IOMMU_OPTION, &mut opt),
        Err(Errno::EBUSY),
        "objects exist"
    );
    opt.object_id = ioas;
    assert_eq!(ioctl(&ctx, IOMMU_OPTION, &mut opt), Err(Errno::EOPNOTSUPP));

    let mut huge = IommuOption {
        size: sz::<IommuOption>(),
        option_id: IOMMU_OPTION_HUGE_PAGES,
        op: IOMMU_OPTION_OP_GET,
        object_id: ioas,
        ..Default::default()
    };
    ioctl(&ctx, IOMMU_OPTION, &mut huge).unwrap();
    assert_eq!(huge.val64, 1);
    huge.op = IOMMU_OPTION_OP_SET;
    huge.val64 = 0;
    ioctl(&ctx, IOMMU_OPTION, &mut huge).unwrap();
    huge.op = IOMMU_OPTION_OP_GET;
    ioctl(&ctx, IOMMU_OPTION, &mut huge).unwrap();
    assert_eq!(huge.val64, 0);
    huge.option_id = 9;
    assert_eq!(ioctl(&ctx, IOMMU_OPTION, &mut huge), Err(Errno::EOPNOTSUPP));
}

#[test]
fn vfio_ioas_get_set_clear() {
    let ctx = ctx();
    let mut cmd = IommuVfioIoas {
        size: sz::<IommuVfioIoas>(),
        op: IOMMU_VFIO_IOAS_GET,
        ..Default::default()
    };
    assert_eq!(ioctl(&ctx, IOMMU_VFIO_IOAS, &mut cmd), Err(Errno::ENODEV));
    let ioas = ioas_alloc(&ctx);
    cmd.op = IOMMU_VFIO_IOAS_SET;
    cmd.ioas_id = ioas;
    ioctl(&ctx, IOMMU_VFIO_IOAS, &mut cmd).unwrap();
    cmd.op = IOMMU_VFIO_IOAS_GET;
    cmd.ioas_id = 0;
    ioctl(&ctx, IOMMU_VFIO_IOAS, &mut cmd).unwrap();
    assert_eq!(cmd.ioas_id, ioas);
    // Destroying the IOAS forgets it.
    let mut d = IommuDestroy {
        size: sz::<IommuDestroy>(),
        id: ioas,
    };
    ioctl(&ctx, IOMMU_DESTROY, &mut d).unwrap();
    assert_eq!(ioctl(&ctx, IOMMU_VFIO_IOAS, &mut cmd), Err(Errno::ENODEV));
    cmd.op = 3;
    assert_eq!(
        ioctl(&ctx, IOMMU_VFIO_IOAS, &mut cmd),
        Err(Errno::EOPNOTSUPP)
    );
}

#[test]
fn commands_not_in_the_table_are_enotty_after_reading_size() {
    let ctx = ctx();
    let mut junk = [64u32; 16];
    assert_eq!(
        ioctl(&ctx, uiommu_uapi::ioctl::io(b';', 0x96), &mut junk),
        Err(Errno::ENOTTY)
    );
    assert_eq!(
        ioctl_at(&ctx, uiommu_uapi::ioctl::io(b';', 0x96), 0),
        Err(Errno::EFAULT)
    );
}
