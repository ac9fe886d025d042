//! VFIO_IOMMU_MAP_DMA and VFIO_IOMMU_UNMAP_DMA through `dispatch` with real buffers
//! (`vfio_compat.c`: `iommufd_vfio_map_dma`, `iommufd_vfio_unmap_dma`): the kernel
//! selftests' scenarios, every error in the kernel's order, the state after errors, and the
//! TYPE1 / TYPE1v2 difference.

mod common;
#[path = "common/vfio.rs"]
mod vfio;

use common::*;
use uiommu_core::context::Context;
use uiommu_core::iommu::Prot;
use uiommu_uapi::Errno;
use uiommu_uapi::iommufd::{IOMMU_VFIO_IOAS, IOMMU_VFIO_IOAS_CLEAR, IommuVfioIoas};
use uiommu_uapi::selftest::{MOCK_APERTURE_LAST, MOCK_APERTURE_START};
use uiommu_uapi::vfio::*;
use vfio::*;

const BASE: u64 = MOCK_APERTURE_START;
const VERSIONS: [u32; 2] = [VFIO_TYPE1v2_IOMMU, VFIO_TYPE1_IOMMU];

fn unmap_all(ctx: &Context) -> (Result<i64, Errno>, u64) {
    let mut cmd = unmap_cmd(VFIO_DMA_UNMAP_FLAG_ALL, 0, 0);
    let r = ioctl(ctx, VFIO_IOMMU_UNMAP_DMA, &mut cmd);
    (r, cmd.size)
}

/// The selftest `vfio_compat_mock_domain.map`, for both versions.
#[test]
fn selftest_map_scenario() {
    const LEN: u64 = 16 * PAGE;
    for version in VERSIONS {
        let (ctx, ioas) = compat(version);
        let buf = Buffer::new(LEN as usize);
        assert_eq!(map_buf(&ctx, &buf, 0, BASE, LEN), Ok(0));
        assert_eq!(unmap_dma(&ctx, BASE, LEN), (Ok(0), LEN));
        // Unmapping nothing succeeds and reports 0 bytes.
        assert_eq!(unmap_dma(&ctx, BASE, LEN), (Ok(0), 0));

        // ALL needs iova and size 0.
        assert_eq!(map_buf(&ctx, &buf, 0, BASE, LEN), Ok(0));
        let mut cmd = unmap_cmd(VFIO_DMA_UNMAP_FLAG_ALL, BASE, LEN);
        assert_eq!(
            ioctl(&ctx, VFIO_IOMMU_UNMAP_DMA, &mut cmd),
            Err(Errno::EINVAL)
        );
        assert_eq!(cmd.size, LEN, "nothing written back");
        assert_eq!(areas(&ctx, ioas), [(BASE, LEN)]);
        assert_eq!(unmap_all(&ctx), (Ok(0), LEN));
        assert!(areas(&ctx, ioas).is_empty());

        // Page by page, unmapped in a scrambled order.
        for i in 0..16 {
            assert_eq!(map_buf(&ctx, &buf, i * PAGE, BASE + i * PAGE, PAGE), Ok(0));
        }
        for i in [7, 3, 15, 0, 9, 1, 14, 2, 8, 4, 13, 5, 12, 6, 11, 10] {
            assert_eq!(unmap_dma(&ctx, BASE + i * PAGE, PAGE), (Ok(0), PAGE));
        }
        assert!(areas(&ctx, ioas).is_empty());
    }
}

#[test]
fn map_struct_checks_come_first() {
    let ctx = ctx();
    let buf = Buffer::new(4096);
    let mut cmd = map_cmd(buf.addr(), BASE, PAGE);
    // argsz below the struct, then unknown flags: EINVAL before looking for the IOAS.
    for argsz in [0, 1, 31] {
        cmd.argsz = argsz;
        assert_eq!(
            ioctl(&ctx, VFIO_IOMMU_MAP_DMA, &mut cmd),
            Err(Errno::EINVAL)
        );
    }
    cmd.argsz = 32;
    for flags in [
        1 << 31,
        VFIO_DMA_MAP_FLAG_VADDR,
        VFIO_DMA_MAP_FLAG_READ | 1 << 3,
    ] {
        cmd.flags = flags;
        assert_eq!(
            ioctl(&ctx, VFIO_IOMMU_MAP_DMA, &mut cmd),
            Err(Errno::EINVAL)
        );
    }
    cmd.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
    assert_eq!(
        ioctl(&ctx, VFIO_IOMMU_MAP_DMA, &mut cmd),
        Err(Errno::ENODEV)
    );
    // An unreadable struct is EFAULT, before everything else.
    assert_eq!(ioctl_at(&ctx, VFIO_IOMMU_MAP_DMA, 8), Err(Errno::EFAULT));
    // Only the first 32 bytes are read: a larger argsz with anything after is fine.
    let (ctx, ioas) = compat(VFIO_TYPE1v2_IOMMU);
    let mut big = [0xffu8; 64];
    big[..32].copy_from_slice(zerocopy::IntoBytes::as_bytes(&map_cmd(
        buf.addr(),
        BASE,
        PAGE,
    )));
    big[..4].copy_from_slice(&64u32.to_ne_bytes());
    assert_eq!(
        ioctl_at(&ctx, VFIO_IOMMU_MAP_DMA, big.as_mut_ptr() as u64),
        Ok(0)
    );
    assert_eq!(areas(&ctx, ioas), [(BASE, PAGE)]);
    assert!(big[32..].iter().all(|&b| b == 0xff), "nothing written back");
}

#[test]
fn map_errors_leave_the_ioas_unchanged() {
    let (ctx, ioas) = compat(VFIO_TYPE1v2_IOMMU);
    let buf = Buffer::new(4 * 4096);
    map_buf(&ctx, &buf, 0, BASE + 4 * PAGE, 2 * PAGE).unwrap();
    let before = areas(&ctx, ioas);
    let locked = ctx.process().user_locked.locked();
    let cases = [
        // Overlaps the mapping, at its start or inside it.
        (buf.addr(), BASE + 4 * PAGE, PAGE, Errno::EEXIST),
        (buf.addr(), BASE + 3 * PAGE, 2 * PAGE, Errno::EEXIST),
        // Zero size; size and IOVA below the mock domain's 2 KiB granule.
        (buf.addr(), BASE, 0, Errno::EINVAL),
        (buf.addr(), BASE, 0x400, Errno::EINVAL),
        (buf.addr(), BASE + 0x400, PAGE, Errno::EINVAL),
        // Outside the domain's aperture: reserved.
        (buf.addr(), 0, PAGE, Errno::EINVAL),
        (
            buf.addr(),
            MOCK_APERTURE_LAST + 1 - PAGE / 2,
            PAGE,
            Errno::EINVAL,
        ),
        // vaddr + size wraps.
        (u64::MAX - PAGE + 1, BASE, 2 * PAGE, Errno::EOVERFLOW),
        // Memory that is not there cannot be pinned.
        (0x1000, BASE, PAGE, Errno::EFAULT),
    ];
    for (vaddr, iova, size, err) in cases {
        assert_eq!(
            map_dma(&ctx, vaddr, iova, size),
            Err(err),
            "vaddr {vaddr:#x} iova {iova:#x} size {size:#x}"
        );
        assert_eq!(areas(&ctx, ioas), before);
        assert_eq!(ctx.process().user_locked.locked(), locked);
    }
}

#[test]
fn map_flags_become_the_protection() {
    let (ctx, ioas) = compat(VFIO_TYPE1v2_IOMMU);
    let buf = Buffer::new(3 * 4096);
    for (i, flags) in [VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_WRITE]
        .into_iter()
        .enumerate()
    {
        let i = i as u64;
        let mut cmd = map_cmd(buf.addr() + i * PAGE, BASE + i * PAGE, PAGE);
        cmd.flags = flags;
        assert_eq!(ioctl(&ctx, VFIO_IOMMU_MAP_DMA, &mut cmd), Ok(0));
    }
    let prots: Vec<Prot> = areas_full(&ctx, ioas).iter().map(|a| a.prot).collect();
    assert_eq!(prots, [Prot::CACHE | Prot::READ, Prot::CACHE | Prot::WRITE]);
    let addrs: Vec<u64> = areas_full(&ctx, ioas).iter().map(|a| a.addr).collect();
    assert_eq!(addrs, [buf.addr(), buf.addr() + PAGE]);
    // Neither READ nor WRITE passes the command checks, unlike IOMMU_IOAS_MAP, but a page
    // table refuses a mapping with no access.
    let mut cmd = map_cmd(buf.addr() + 2 * PAGE, BASE + 2 * PAGE, PAGE);
    cmd.flags = 0;
    assert_eq!(
        ioctl(&ctx, VFIO_IOMMU_MAP_DMA, &mut cmd),
        Err(Errno::EINVAL)
    );
    assert_eq!(areas_full(&ctx, ioas).len(), 2);
}

#[test]
fn map_without_access_is_kept_when_no_domain_maps_it() {
    let ctx = ctx();
    let ioas = ioas_alloc(&ctx);
    set_compat(&ctx, ioas);
    let buf = Buffer::new(4096);
    let mut cmd = map_cmd(buf.addr(), BASE, PAGE);
    cmd.flags = 0;
    assert_eq!(ioctl(&ctx, VFIO_IOMMU_MAP_DMA, &mut cmd), Ok(0));
    assert_eq!(areas_full(&ctx, ioas)[0].prot, Prot::CACHE);
}

#[test]
fn map_of_read_only_memory_needs_no_write() {
    static RO: [u8; 8192] = [0; 8192];
    let (ctx, ioas) = compat(VFIO_TYPE1v2_IOMMU);
    let page = (RO.as_ptr() as u64).next_multiple_of(PAGE);
    let mut cmd = map_cmd(page, BASE, PAGE);
    cmd.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
    assert_eq!(
        ioctl(&ctx, VFIO_IOMMU_MAP_DMA, &mut cmd),
        Err(Errno::EFAULT)
    );
    cmd.flags = VFIO_DMA_MAP_FLAG_READ;
    assert_eq!(ioctl(&ctx, VFIO_IOMMU_MAP_DMA, &mut cmd), Ok(0));
    assert_eq!(areas(&ctx, ioas), [(BASE, PAGE)]);
}

#[test]
fn map_pins_and_unmap_releases() {
    let (ctx, _) = compat(VFIO_TYPE1v2_IOMMU);
    let buf = Buffer::new(8 * 4096);
    let locked = ctx.process().user_locked.locked();
    map_buf(&ctx, &buf, 0, BASE, 8 * PAGE).unwrap();
    assert_eq!(ctx.process().user_locked.locked(), locked + 8);
    assert_eq!(ctx.process().registry.refs(buf.addr()), 1);
    assert_eq!(unmap_all(&ctx), (Ok(0), 8 * PAGE));
    assert_eq!(ctx.process().user_locked.locked(), locked);
    assert_eq!(ctx.process().registry.refs(buf.addr()), 0);
}

#[test]
fn unmap_struct_checks_come_first() {
    let ctx = ctx();
    let mut cmd = unmap_cmd(0, BASE, PAGE);
    for argsz in [0, 1, 23] {
        cmd.argsz = argsz;
        assert_eq!(
            ioctl(&ctx, VFIO_IOMMU_UNMAP_DMA, &mut cmd),
            Err(Errno::EINVAL)
        );
    }
    cmd.argsz = 24;
    for flags in [
        1 << 31,
        VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
        VFIO_DMA_UNMAP_FLAG_VADDR,
        VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR,
    ] {
        cmd.flags = flags;
        assert_eq!(
            ioctl(&ctx, VFIO_IOMMU_UNMAP_DMA, &mut cmd),
            Err(Errno::EINVAL)
        );
    }
    cmd.flags = 0;
    assert_eq!(
        ioctl(&ctx, VFIO_IOMMU_UNMAP_DMA, &mut cmd),
        Err(Errno::ENODEV)
    );
    // ENODEV comes before the ALL argument check.
    let mut all = unmap_cmd(VFIO_DMA_UNMAP_FLAG_ALL, 1, 0);
    assert_eq!(
        ioctl(&ctx, VFIO_IOMMU_UNMAP_DMA, &mut all),
        Err(Errno::ENODEV)
    );
    assert_eq!(cmd.size, PAGE, "nothing written back");
    assert_eq!(ioctl_at(&ctx, VFIO_IOMMU_UNMAP_DMA, 8), Err(Errno::EFAULT));
}

#[test]
fn unmap_argument_errors_report_zero_bytes() {
    for version in VERSIONS {
        let (ctx, ioas) = compat(version);
        let buf = Buffer::new(2 * 4096);
        map_buf(&ctx, &buf, 0, BASE, 2 * PAGE).unwrap();
        // Zero size: EINVAL from the unmap, and the 0 bytes it unmapped are written back.
        assert_eq!(unmap_dma(&ctx, BASE, 0), (Err(Errno::EINVAL), 0));
        // A range that wraps.
        assert_eq!(
            unmap_dma(&ctx, u64::MAX - PAGE + 1, 2 * PAGE),
            (Err(Errno::EOVERFLOW), 0)
        );
        // ALL with a size.
        let mut cmd = unmap_cmd(VFIO_DMA_UNMAP_FLAG_ALL, 0, PAGE);
        assert_eq!(
            ioctl(&ctx, VFIO_IOMMU_UNMAP_DMA, &mut cmd),
            Err(Errno::EINVAL)
        );
        assert_eq!(cmd.size, PAGE);
        assert_eq!(areas(&ctx, ioas), [(BASE, 2 * PAGE)], "version {version}");
    }
}

#[test]
fn type1v2_never_splits_a_mapping() {
    let (ctx, ioas) = compat(VFIO_TYPE1v2_IOMMU);
    let buf = Buffer::new(4 * 4096);
    map_buf(&ctx, &buf, 0, BASE, 4 * PAGE).unwrap();
    for (iova, size) in [
        (BASE, PAGE),
        (BASE + PAGE, PAGE),
        (BASE + 3 * PAGE, PAGE),
        (BASE - PAGE, 2 * PAGE),
        (BASE + PAGE, 8 * PAGE),
    ] {
        assert_eq!(unmap_dma(&ctx, iova, size), (Err(Errno::ENOENT), 0));
    }
    assert_eq!(areas(&ctx, ioas), [(BASE, 4 * PAGE)]);
    // A range that covers it, with room on both sides.
    assert_eq!(unmap_dma(&ctx, BASE - PAGE, 6 * PAGE), (Ok(0), 4 * PAGE));
}

#[test]
fn type1v2_failing_partway_reports_what_it_unmapped() {
    let (ctx, ioas) = compat(VFIO_TYPE1v2_IOMMU);
    let buf = Buffer::new(4 * 4096);
    map_buf(&ctx, &buf, 0, BASE, PAGE).unwrap();
    map_buf(&ctx, &buf, PAGE, BASE + PAGE, PAGE).unwrap();
    map_buf(&ctx, &buf, 2 * PAGE, BASE + 2 * PAGE, 2 * PAGE).unwrap();
    // The first two go, the third sticks out: ENOENT with the two counted.
    assert_eq!(
        unmap_dma(&ctx, BASE, 3 * PAGE),
        (Err(Errno::ENOENT), 2 * PAGE)
    );
    assert_eq!(areas(&ctx, ioas), [(BASE + 2 * PAGE, 2 * PAGE)]);
}

#[test]
fn type1_unmaps_inside_mappings() {
    let (ctx, ioas) = compat(VFIO_TYPE1_IOMMU);
    let buf = Buffer::new(8 * 4096);
    map_buf(&ctx, &buf, 0, BASE, 8 * PAGE).unwrap();
    // The middle, the start, then across the remaining two pieces.
    assert_eq!(
        unmap_dma(&ctx, BASE + 3 * PAGE, 2 * PAGE),
        (Ok(0), 2 * PAGE)
    );
    assert_eq!(
        areas(&ctx, ioas),
        [(BASE, 3 * PAGE), (BASE + 5 * PAGE, 3 * PAGE)]
    );
    assert_eq!(unmap_dma(&ctx, BASE, PAGE), (Ok(0), PAGE));
    assert_eq!(
        unmap_dma(&ctx, BASE + 2 * PAGE, 4 * PAGE),
        (Ok(0), 2 * PAGE)
    );
    let left = areas_full(&ctx, ioas);
    assert_eq!(
        left.iter().map(|a| (a.iova, a.length)).collect::<Vec<_>>(),
        [(BASE + PAGE, PAGE), (BASE + 6 * PAGE, 2 * PAGE)]
    );
    // The pieces still show the right memory.
    assert_eq!(left[0].addr, buf.addr() + PAGE);
    assert_eq!(left[1].addr, buf.addr() + 6 * PAGE);
    // Pins follow the pieces: the three pages still mapped stay pinned.
    assert_eq!(ctx.process().registry.refs(buf.addr()), 0);
    assert_eq!(ctx.process().registry.refs(buf.addr() + PAGE), 1);
    assert_eq!(ctx.process().registry.refs(buf.addr() + 5 * PAGE), 0);
    assert_eq!(ctx.process().registry.refs(buf.addr() + 7 * PAGE), 1);
}

#[test]
fn type1_cut_errors_write_nothing_back() {
    let (ctx, ioas) = compat(VFIO_TYPE1_IOMMU);
    let buf = Buffer::new(4 * 4096);
    map_buf(&ctx, &buf, 0, BASE, 4 * PAGE).unwrap();
    // A cut off the page granule that large pages being disabled imposes.
    let mut cmd = unmap_cmd(0, BASE + 0x800, PAGE);
    assert_eq!(
        ioctl(&ctx, VFIO_IOMMU_UNMAP_DMA, &mut cmd),
        Err(Errno::EINVAL)
    );
    assert_eq!(cmd.size, PAGE, "not written back");
    assert_eq!(areas(&ctx, ioas), [(BASE, 4 * PAGE)]);
    // A zero size cuts at iova - 1, which is harmless, then fails in the unmap.
    assert_eq!(unmap_dma(&ctx, BASE + PAGE, 0), (Err(Errno::EINVAL), 0));
}

#[test]
fn type1_cut_at_iova_zero_only_cuts_the_end() {
    // No domain: the mapping may sit at IOVA 0.
    let ctx = ctx();
    let ioas = ioas_alloc(&ctx);
    set_compat(&ctx, ioas);
    assert_eq!(set_iommu(&ctx, u64::from(VFIO_TYPE1_IOMMU)), Ok(0));
    let buf = Buffer::new(4 * 4096);
    map_buf(&ctx, &buf, 0, 0, 4 * PAGE).unwrap();
    assert_eq!(unmap_dma(&ctx, 0, PAGE), (Ok(0), PAGE));
    assert_eq!(areas(&ctx, ioas), [(PAGE, 3 * PAGE)]);
}

#[test]
fn huge_domain_splits_only_with_type1() {
    // The selftest `huge_map`: a mapping in a domain with large pages is cut into 16 pieces
    // in a scrambled order by TYPE1; TYPE1v2 refuses every piece.
    const LEN: u64 = 16 * PAGE;
    for version in VERSIONS {
        let (ctx, ioas) = compat_huge(version);
        let buf = Buffer::new(LEN as usize);
        map_buf(&ctx, &buf, 0, BASE, LEN).unwrap();
        for i in [5, 11, 0, 15, 7, 2, 9, 13, 1, 4, 14, 8, 3, 12, 6, 10] {
            let r = unmap_dma(&ctx, BASE + i * PAGE, PAGE);
            if version == VFIO_TYPE1_IOMMU {
                assert_eq!(r, (Ok(0), PAGE));
            } else {
                assert_eq!(r, (Err(Errno::ENOENT), 0));
            }
        }
        let left = areas(&ctx, ioas);
        if version == VFIO_TYPE1_IOMMU {
            assert!(left.is_empty());
        } else {
            assert_eq!(left, [(BASE, LEN)]);
        }
    }
}

#[test]
fn unmap_write_back_fault_is_efault_after_unmapping() {
    static RO: VfioIommuType1DmaUnmap = VfioIommuType1DmaUnmap {
        argsz: 24,
        flags: VFIO_DMA_UNMAP_FLAG_ALL,
        iova: 0,
        size: 0,
    };
    let (ctx, ioas) = compat(VFIO_TYPE1v2_IOMMU);
    let buf = Buffer::new(4096);
    map_buf(&ctx, &buf, 0, BASE, PAGE).unwrap();
    let at = &RO as *const VfioIommuType1DmaUnmap as u64;
    assert_eq!(ioctl_at(&ctx, VFIO_IOMMU_UNMAP_DMA, at), Err(Errno::EFAULT));
    assert!(areas(&ctx, ioas).is_empty());
}

#[test]
fn cleared_compat_ioas_is_enodev() {
    let (ctx, ioas) = compat(VFIO_TYPE1v2_IOMMU);
    let buf = Buffer::new(4096);
    let mut clear = IommuVfioIoas {
        size: size_of::<IommuVfioIoas>() as u32,
        op: IOMMU_VFIO_IOAS_CLEAR,
        ..Default::default()
    };
    ioctl(&ctx, IOMMU_VFIO_IOAS, &mut clear).unwrap();
    assert_eq!(map_buf(&ctx, &buf, 0, BASE, PAGE), Err(Errno::ENODEV));
    assert_eq!(unmap_all(&ctx), (Err(Errno::ENODEV), 0));
    // Set again: it works on that IOAS.
    set_compat(&ctx, ioas);
    assert_eq!(map_buf(&ctx, &buf, 0, BASE, PAGE), Ok(0));
    assert_eq!(areas(&ctx, ioas), [(BASE, PAGE)]);
}

#[test]
fn without_a_domain_nothing_is_pinned_at_map() {
    let ctx = ctx();
    let ioas = ioas_alloc(&ctx);
    set_compat(&ctx, ioas);
    assert_eq!(set_iommu(&ctx, u64::from(VFIO_TYPE1v2_IOMMU)), Ok(0));
    let buf = Buffer::new(2 * 4096);
    let locked = ctx.process().user_locked.locked();
    map_buf(&ctx, &buf, 0, 0x1000, 2 * PAGE).unwrap();
    assert_eq!(ctx.process().user_locked.locked(), locked);
    assert_eq!(unmap_dma(&ctx, 0x1000, 2 * PAGE), (Ok(0), 2 * PAGE));
}
