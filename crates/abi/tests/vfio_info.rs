//! VFIO_IOMMU_GET_INFO through `dispatch` with real buffers (`vfio_compat.c`:
//! `iommufd_vfio_iommu_get_info`): errors, the selftest `get_info` scenario, the capability
//! chain parsed back at every `argsz`, and exactly which bytes are written at each `argsz`.

mod common;
#[path = "common/vfio.rs"]
mod vfio;

use common::*;
use uiommu_abi::ProcessVm;
use uiommu_core::context::Context;
use uiommu_core::driver::mock::domain::MockPagingDomain;
use uiommu_core::iommu::IoptDomain;
use uiommu_core::object::Ioas;
use uiommu_uapi::selftest::{
    MOCK_APERTURE_LAST, MOCK_APERTURE_START, MOCK_IOMMUPT_DEFAULT, MOCK_IOMMUPT_HUGE,
};
use uiommu_uapi::vfio::caps::{CapChain, CapChainBuilder};
use uiommu_uapi::vfio::*;
use uiommu_uapi::{Errno, UserMemory};
use vfio::*;
use zerocopy::FromBytes;

const INFO: usize = size_of::<VfioIommuType1Info>();
const FILL: u8 = 0xaa;

fn info_of(buf: &[u8]) -> VfioIommuType1Info {
    VfioIommuType1Info::read_from_prefix(buf).unwrap().0
}

fn dma_avail() -> VfioIommuType1InfoDmaAvail {
    VfioIommuType1InfoDmaAvail {
        avail: u32::MAX,
        ..Default::default()
    }
}

/// The whole chain as the kernel lays it out: DMA-avail, then the IOVA ranges.
fn expected_chain(ranges: &[(u64, u64)]) -> Vec<u8> {
    let entries: Vec<VfioIovaRange> = ranges
        .iter()
        .map(|&(start, end)| VfioIovaRange { start, end })
        .collect();
    let iova = VfioIommuType1InfoCapIovaRange {
        nr_iovas: entries.len() as u32,
        ..Default::default()
    };
    let mut b = CapChainBuilder::new();
    b.push(&dma_avail()).push_with(&iova, &entries);
    b.to_bytes(INFO).unwrap()
}

/// Size of `struct vfio_iommu_type1_info_dma_avail`: 12 bytes, padded to 16 in the chain.
const DMA_AVAIL: usize = size_of::<VfioIommuType1InfoDmaAvail>();

/// Which bytes past the fixed struct the kernel writes for `argsz`: the DMA-avail capability
/// (with `next` 0) once its 12 bytes fit, its link once the next capability's offset is within
/// `argsz`, each IOVA range entry once it lies wholly within `argsz`, and the IOVA
/// capability's own header only when the whole chain fits. Padding is never written.
fn expected_tail(chain: &[u8], argsz: usize) -> Vec<u8> {
    let total = INFO + chain.len();
    let mut out = vec![FILL; total.max(argsz)];
    let piece = |out: &mut [u8], start: usize, len: usize, cond: bool| {
        if cond {
            out[start..start + len].copy_from_slice(&chain[start - INFO..start - INFO + len]);
        }
    };
    piece(&mut out, INFO, DMA_AVAIL, argsz >= INFO + DMA_AVAIL);
    if (INFO + DMA_AVAIL..INFO + 16).contains(&argsz) {
        out[INFO + 4..INFO + 8].fill(0);
    }
    let iova = INFO + 16;
    let mut at = iova + 16;
    while at < total {
        piece(&mut out, at, 16, argsz >= at + 16);
        at += 16;
    }
    piece(&mut out, iova, 16, argsz >= total);
    out[INFO..].to_vec()
}

#[test]
fn argument_errors() {
    let ctx = ctx();
    let mut buf = info_buffer(64, 0);
    for argsz in [0, 1, 15] {
        assert_eq!(get_info(&ctx, &mut buf, argsz), Err(Errno::EINVAL));
    }
    assert_eq!(get_info(&ctx, &mut buf, 16), Err(Errno::ENODEV));
    assert_eq!(get_info(&ctx, &mut buf, 64), Err(Errno::ENODEV));
    assert_eq!(ioctl_at(&ctx, VFIO_IOMMU_GET_INFO, 8), Err(Errno::EFAULT));
    assert!(buf[4..].iter().all(|&b| b == 0), "nothing written");
}

#[test]
fn selftest_get_info_scenario() {
    for version in [VFIO_TYPE1v2_IOMMU, VFIO_TYPE1_IOMMU] {
        let (ctx, _) = compat(version);
        let mut buf = info_buffer(4096, FILL);

        // Before capability chains: 16 bytes, and nothing written past them.
        assert_eq!(get_info(&ctx, &mut buf, 16), Ok(0));
        let info = info_of(&buf);
        assert_ne!(info.iova_pgsizes, 0);
        assert_eq!(info.flags, VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS);
        assert!(buf[16..].iter().all(|&b| b == FILL));

        // The fixed struct: the size of the chain comes back, no chain.
        buf.fill(FILL);
        assert_eq!(get_info(&ctx, &mut buf, INFO as u32), Ok(0));
        let info = info_of(&buf);
        assert_eq!(info.flags, VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS);
        assert_eq!(info.cap_offset, 0);
        assert_eq!(info.pad, 0);
        let total = info.argsz as usize;
        assert_eq!(total, INFO + 16 + 32);
        assert!(buf[INFO..].iter().all(|&b| b == FILL));

        // Every size up to the whole chain and beyond: never a byte past argsz, and a chain
        // that parses whenever one is reported.
        for argsz in INFO..total + 64 {
            buf.fill(FILL);
            assert_eq!(get_info(&ctx, &mut buf, argsz as u32), Ok(0));
            let info = info_of(&buf);
            assert_eq!(info.flags, VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS);
            assert_eq!(info.argsz as usize, total, "argsz {argsz}");
            assert!(buf[argsz..].iter().all(|&b| b == FILL), "argsz {argsz}");
            if argsz < total {
                assert_eq!(info.cap_offset, 0);
                continue;
            }
            assert_eq!(info.cap_offset as usize, INFO);
            let chain = CapChain::new(&buf[..total], info.cap_offset, INFO);
            let caps = chain.to_vec().unwrap();
            assert_eq!(caps.len(), 2);
            assert_eq!(
                caps[0].read::<VfioIommuType1InfoDmaAvail>().unwrap(),
                VfioIommuType1InfoDmaAvail {
                    header: VfioInfoCapHeader {
                        id: VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
                        version: 1,
                        next: (INFO + 16) as u32,
                    },
                    avail: u32::MAX,
                }
            );
            let iova: VfioIommuType1InfoCapIovaRange = chain.find_as().unwrap().unwrap();
            assert_eq!(iova.header.version, 1);
            assert_eq!(iova.header.next, 0);
            assert_eq!(iova.nr_iovas, 1);
            let ranges = caps[1]
                .trailing::<VfioIommuType1InfoCapIovaRange, VfioIovaRange>(1)
                .unwrap();
            assert_eq!(
                ranges,
                [VfioIovaRange {
                    start: MOCK_APERTURE_START,
                    end: MOCK_APERTURE_LAST,
                }]
            );
        }
    }
}

/// Compatibility IOAS with the mock aperture split by two reservations: three IOVA ranges.
fn three_ranges() -> (std::sync::Arc<Context>, Vec<(u64, u64)>) {
    let (ctx, ioas) = compat(VFIO_TYPE1v2_IOMMU);
    let iopt = &ctx.get::<Ioas>(ioas).unwrap().iopt;
    iopt.add_reserved(32 << 20, 1 << 20).unwrap();
    iopt.add_reserved(64 << 20, 4 << 20).unwrap();
    let ranges = vec![
        (MOCK_APERTURE_START, (32 << 20) - 1),
        (33 << 20, (64 << 20) - 1),
        (68 << 20, MOCK_APERTURE_LAST),
    ];
    assert_eq!(iopt.iova_ranges(), ranges);
    (ctx, ranges)
}

#[test]
fn exact_bytes_at_every_argsz() {
    let (ctx, ranges) = three_ranges();
    let chain = expected_chain(&ranges);
    let total = INFO + chain.len();
    assert_eq!(total, INFO + 16 + 16 + 3 * 16);
    let mut buf = info_buffer(total + 64, FILL);
    for argsz in 16..=total + 40 {
        buf.fill(FILL);
        assert_eq!(get_info(&ctx, &mut buf, argsz as u32), Ok(0));
        let info = info_of(&buf);
        // The fixed struct: min(argsz, 24) bytes, argsz always the chain's size.
        assert_eq!(info.argsz as usize, total);
        assert_eq!(info.flags, VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS);
        if argsz >= INFO {
            let want = if argsz >= total { INFO as u32 } else { 0 };
            assert_eq!(info.cap_offset, want, "argsz {argsz}");
            assert_eq!(info.pad, 0);
        } else {
            assert!(buf[argsz..INFO].iter().all(|&b| b == FILL));
        }
        let tail = expected_tail(&chain, argsz);
        assert_eq!(&buf[INFO..INFO + tail.len()], &tail[..], "argsz {argsz}");
        assert!(buf[INFO + tail.len()..].iter().all(|&b| b == FILL));
    }
    // With room: the chain is the builder's layout, except that the kernel leaves the
    // caller's bytes in the padding after the 12-byte DMA-avail capability.
    buf.fill(0);
    get_info(&ctx, &mut buf, total as u32).unwrap();
    assert_eq!(&buf[INFO..total], &chain[..]);
    let parsed = CapChain::new(&buf[..total], INFO as u32, INFO);
    let cap = parsed
        .find(VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE)
        .unwrap()
        .unwrap();
    let got: Vec<(u64, u64)> = cap
        .trailing::<VfioIommuType1InfoCapIovaRange, VfioIovaRange>(3)
        .unwrap()
        .iter()
        .map(|r| (r.start, r.end))
        .collect();
    assert_eq!(got, ranges);
}

#[test]
fn input_flags_and_fields_are_ignored() {
    let (ctx, _) = compat(VFIO_TYPE1v2_IOMMU);
    let mut buf = info_buffer(128, FILL);
    let mut want = info_buffer(128, FILL);
    get_info(&ctx, &mut want, 128).unwrap();
    // Garbage flags, page sizes, cap_offset and pad in: the same answer.
    buf[4..INFO].fill(0xff);
    get_info(&ctx, &mut buf, 128).unwrap();
    assert_eq!(buf, want);
    assert_eq!(
        info_of(&buf).argsz as usize,
        INFO + 48,
        "lowered to the chain"
    );
}

#[test]
fn page_sizes() {
    // No domain: every size from PAGE_SIZE up.
    let ctx = ctx();
    let ioas = ioas_alloc(&ctx);
    set_compat(&ctx, ioas);
    let mut buf = info_buffer(64, 0);
    get_info(&ctx, &mut buf, 16).unwrap();
    assert_eq!(info_of(&buf).iova_pgsizes, !(PAGE - 1));
    // No domain and no reservation: one range, all of the address space.
    let mut buf = info_buffer(128, 0);
    get_info(&ctx, &mut buf, 128).unwrap();
    let parsed = CapChain::new(&buf, info_of(&buf).cap_offset, INFO);
    let cap = parsed
        .find(VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE)
        .unwrap()
        .unwrap();
    let r = cap
        .trailing::<VfioIommuType1InfoCapIovaRange, VfioIovaRange>(1)
        .unwrap();
    assert_eq!((r[0].start, r[0].end), (0, u64::MAX));

    // The mock domain's page sizes, its 2 KiB granule folded into PAGE_SIZE.
    let mock = MockPagingDomain::new(MOCK_IOMMUPT_DEFAULT, false)
        .unwrap()
        .pgsize_bitmap();
    assert_ne!(mock & (PAGE - 1), 0);
    let want = (mock & !(PAGE - 1)) | PAGE;
    for version in [VFIO_TYPE1v2_IOMMU, VFIO_TYPE1_IOMMU] {
        let (ctx, _) = compat(version);
        get_info(&ctx, &mut buf, 16).unwrap();
        assert_eq!(info_of(&buf).iova_pgsizes, want);
    }
    // A mock HWPT of another IOAS changes nothing.
    let ctx = common::ctx();
    let other = ioas_alloc(&ctx);
    common::mock::mock_domain(&ctx, other).unwrap();
    let ioas = ioas_alloc(&ctx);
    set_compat(&ctx, ioas);
    get_info(&ctx, &mut buf, 16).unwrap();
    assert_eq!(info_of(&buf).iova_pgsizes, !(PAGE - 1));
    // A huge-page domain attached without a HWPT is not one of the IOAS's HWPT domains.
    let (ctx, ioas) = compat(VFIO_TYPE1v2_IOMMU);
    attach_mock(&ctx, ioas, MOCK_IOMMUPT_HUGE);
    get_info(&ctx, &mut buf, 16).unwrap();
    assert_eq!(info_of(&buf).iova_pgsizes, want);
}

#[test]
fn everything_reserved_gives_an_empty_range_list() {
    let ctx = ctx();
    let ioas = ioas_alloc(&ctx);
    set_compat(&ctx, ioas);
    ctx.get::<Ioas>(ioas)
        .unwrap()
        .iopt
        .reserve(0, u64::MAX, 7)
        .unwrap();
    let mut buf = info_buffer(128, FILL);
    get_info(&ctx, &mut buf, 128).unwrap();
    let info = info_of(&buf);
    assert_eq!(info.argsz as usize, INFO + 32);
    let chain = CapChain::new(&buf[..INFO + 32], info.cap_offset, INFO);
    let iova: VfioIommuType1InfoCapIovaRange = chain.find_as().unwrap().unwrap();
    assert_eq!(iova.nr_iovas, 0);
}

#[test]
#[allow(unsafe_code)]
fn a_fault_partway_keeps_earlier_writes() {
    let page = 4096usize;
    // Far below where the kernel places mappings: the page unmapped below stays a hole,
    // where among the other test threads' mappings their next `mmap` could be given it.
    let at = 0x5200_0000_0000usize as *mut libc::c_void;
    // SAFETY: an anonymous private mapping at an address nothing in this process uses;
    // MAP_FIXED_NOREPLACE fails rather than replace anything there.
    let base = unsafe {
        libc::mmap(
            at,
            2 * page,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
            -1,
            0,
        )
    };
    assert_eq!(base, at, "{}", std::io::Error::last_os_error());
    let second = base as u64 + page as u64;
    // SAFETY: unmaps the second page of the mapping made above, which nothing references.
    let rc = unsafe { libc::munmap(second as *mut libc::c_void, page) };
    assert_eq!(rc, 0);

    let (ctx, _) = compat(VFIO_TYPE1v2_IOMMU);
    let mem = ProcessVm::current();
    // The fixed struct and the DMA-avail capability fit in the page; the IOVA capability
    // lies past it.
    let at = second - (INFO as u64 + 16);
    let mut head = [0u8; INFO];
    head[..4].copy_from_slice(&72u32.to_ne_bytes());
    mem.write(at, &head).unwrap();
    assert_eq!(ioctl_at(&ctx, VFIO_IOMMU_GET_INFO, at), Err(Errno::EFAULT));
    let mut got = [0u8; INFO + 16];
    mem.read(at, &mut got).unwrap();
    // The capability went in first; the fixed struct, written last, is untouched.
    assert_eq!(&got[..INFO], &head[..]);
    let cap = VfioIommuType1InfoDmaAvail::read_from_prefix(&got[INFO..])
        .unwrap()
        .0;
    assert_eq!(cap.header.id, VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL);
    assert_eq!(cap.avail, u32::MAX);

    // SAFETY: unmaps the first page, still mapped and unreferenced.
    let rc = unsafe { libc::munmap(base, page) };
    assert_eq!(rc, 0);
}
