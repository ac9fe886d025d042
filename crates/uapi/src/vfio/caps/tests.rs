use super::*;
use crate::vfio::{
    VFIO_IOMMU_INFO_CAPS, VFIO_IOMMU_INFO_PGSIZES, VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
    VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION, VfioIommuType1Info, VfioIommuType1InfoCapIovaRange,
    VfioIommuType1InfoCapMigration, VfioIommuType1InfoDmaAvail, VfioIovaRange,
};
use proptest::prelude::*;

const INFO: usize = size_of::<VfioIommuType1Info>();

fn ranges() -> [VfioIovaRange; 2] {
    [
        VfioIovaRange {
            start: 0,
            end: 0xfedf_ffff,
        },
        VfioIovaRange {
            start: 0xfef0_0000,
            end: (1 << 48) - 1,
        },
    ]
}

/// The chain a type1 container reports: migration, DMA avail, IOVA ranges, in that order.
fn type1_chain() -> CapChainBuilder {
    let mut b = CapChainBuilder::new();
    b.push(&VfioIommuType1InfoCapMigration {
        pgsize_bitmap: 4096,
        max_dirty_bitmap_size: 256 << 20,
        ..Default::default()
    })
    .push(&VfioIommuType1InfoDmaAvail {
        avail: 65535,
        ..Default::default()
    })
    .push_with(
        &VfioIommuType1InfoCapIovaRange {
            nr_iovas: 2,
            ..Default::default()
        },
        &ranges(),
    );
    b
}

/// What a caller's buffer holds after the ioctl, given `argsz`.
fn ioctl_result(argsz: u32, chain: &CapChainBuilder) -> (VfioIommuType1Info, Vec<u8>) {
    let mut info = VfioIommuType1Info {
        argsz,
        flags: VFIO_IOMMU_INFO_PGSIZES,
        iova_pgsizes: 0x4020_1000,
        ..Default::default()
    };
    let mut buf = vec![0u8; argsz as usize];
    match chain.place(argsz, INFO).unwrap() {
        CapPlacement::None => {}
        CapPlacement::TooSmall { argsz } => {
            info.flags |= VFIO_IOMMU_INFO_CAPS;
            info.argsz = argsz;
        }
        CapPlacement::Fits { cap_offset, bytes } => {
            info.flags |= VFIO_IOMMU_INFO_CAPS;
            info.cap_offset = cap_offset;
            buf[cap_offset as usize..][..bytes.len()].copy_from_slice(&bytes);
        }
    }
    buf[..INFO].copy_from_slice(info.as_bytes());
    (info, buf)
}

#[test]
fn layout_matches_the_kernel() {
    let chain = type1_chain();
    // migration 32, dma avail 12 padded to 16, iova range 16 + 2 * 16.
    assert_eq!(chain.len(), 32 + 16 + 48);
    assert_eq!(chain.count(), 3);
    let bytes = chain.to_bytes(INFO).unwrap();
    let hdr = |off: usize| {
        VfioInfoCapHeader::read_from_prefix(&bytes[off..])
            .unwrap()
            .0
    };
    assert_eq!(
        hdr(0),
        VfioInfoCapHeader {
            id: 2,
            version: 1,
            next: (INFO + 32) as u32
        }
    );
    assert_eq!(
        hdr(32),
        VfioInfoCapHeader {
            id: 3,
            version: 1,
            next: (INFO + 48) as u32
        }
    );
    assert_eq!(
        hdr(48),
        VfioInfoCapHeader {
            id: 1,
            version: 1,
            next: 0
        }
    );
    // The DMA avail capability's padding is zero.
    assert_eq!(&bytes[44..48], &[0; 4]);
    assert_eq!(&bytes[40..44], &65535u32.to_le_bytes());
    // Unshifted, links are relative to the chain.
    let raw = chain.to_bytes(0).unwrap();
    assert_eq!(&raw[4..8], &32u32.to_le_bytes());
}

#[test]
fn round_trip() {
    let chain = type1_chain();
    let argsz = (INFO + chain.len()) as u32;
    let (info, buf) = ioctl_result(argsz, &chain);
    assert_eq!(info.flags, VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS);
    assert_eq!(info.cap_offset, INFO as u32);
    assert_eq!(info.argsz, argsz);

    let parsed = CapChain::new(&buf, info.cap_offset, INFO);
    let caps = parsed.to_vec().unwrap();
    let offsets: Vec<_> = caps.iter().map(|c| (c.offset, c.header.id)).collect();
    assert_eq!(offsets, [(24, 2), (56, 3), (72, 1)]);

    let mig: VfioIommuType1InfoCapMigration = parsed.find_as().unwrap().unwrap();
    assert_eq!(mig.pgsize_bitmap, 4096);
    assert_eq!(mig.max_dirty_bitmap_size, 256 << 20);
    let avail: VfioIommuType1InfoDmaAvail = parsed.find_as().unwrap().unwrap();
    assert_eq!(avail.avail, 65535);
    let iova = parsed
        .find(VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE)
        .unwrap()
        .unwrap();
    let cap: VfioIommuType1InfoCapIovaRange = iova.read().unwrap();
    assert_eq!(cap.nr_iovas, 2);
    let got: Vec<VfioIovaRange> = iova
        .trailing::<VfioIommuType1InfoCapIovaRange, _>(cap.nr_iovas as usize)
        .unwrap();
    assert_eq!(got, ranges());
    assert_eq!(parsed.find(99).unwrap(), None);
}

#[test]
fn small_argsz_reports_the_size_and_copies_nothing() {
    let chain = type1_chain();
    let needed = (INFO + chain.len()) as u32;
    for argsz in [16, INFO as u32, needed - 1] {
        assert_eq!(
            chain.place(argsz, INFO).unwrap(),
            CapPlacement::TooSmall { argsz: needed }
        );
        let (info, buf) = ioctl_result(argsz.max(INFO as u32), &chain);
        assert_eq!(info.argsz, needed);
        assert_eq!(info.flags & VFIO_IOMMU_INFO_CAPS, VFIO_IOMMU_INFO_CAPS);
        assert_eq!(info.cap_offset, 0);
        assert!(buf[INFO..].iter().all(|&b| b == 0));
        assert_eq!(CapChain::new(&buf, info.cap_offset, INFO).iter().count(), 0);
    }
    assert!(matches!(
        chain.place(needed, INFO).unwrap(),
        CapPlacement::Fits { cap_offset: 24, .. }
    ));
    assert_eq!(
        CapChainBuilder::new().place(0, INFO).unwrap(),
        CapPlacement::None
    );
}

fn buffer_with(headers: &[(usize, VfioInfoCapHeader)], len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    for (off, h) in headers {
        let end = (*off + 8).min(len);
        buf[*off..end].copy_from_slice(&h.as_bytes()[..end - off]);
    }
    buf
}

fn h(id: u16, next: u32) -> VfioInfoCapHeader {
    VfioInfoCapHeader {
        id,
        version: 1,
        next,
    }
}

#[test]
fn malformed_chains_are_errors() {
    // A capability that links to itself.
    let buf = buffer_with(&[(24, h(1, 24))], 64);
    let mut it = CapChain::new(&buf, 24, INFO).iter();
    assert!(it.next().unwrap().is_ok());
    assert_eq!(it.next().unwrap(), Err(CapChainError::Loop { offset: 24 }));
    assert_eq!(it.next(), None);

    // A two-element cycle.
    let buf = buffer_with(&[(24, h(1, 32)), (32, h(2, 24))], 64);
    assert_eq!(
        CapChain::new(&buf, 24, INFO).to_vec(),
        Err(CapChainError::Loop { offset: 24 })
    );
    assert_eq!(
        CapChain::new(&buf, 24, INFO).find(7),
        Err(CapChainError::Loop { offset: 24 })
    );

    // `next` past the end, and a header cut by the end.
    let buf = buffer_with(&[(24, h(1, 4096))], 64);
    assert_eq!(
        CapChain::new(&buf, 24, INFO).to_vec(),
        Err(CapChainError::OutOfBounds {
            offset: 4096,
            len: 64
        })
    );
    let buf = buffer_with(&[(24, h(1, 56))], 60);
    assert_eq!(
        CapChain::new(&buf, 24, INFO).to_vec(),
        Err(CapChainError::OutOfBounds {
            offset: 56,
            len: 60
        })
    );
    let huge = CapChain::new(&buf, !7, INFO).to_vec();
    assert!(matches!(huge, Err(CapChainError::OutOfBounds { .. })));

    // Into the fixed struct, misaligned.
    let buf = buffer_with(&[(24, h(1, 8))], 64);
    assert_eq!(
        CapChain::new(&buf, 24, INFO).to_vec(),
        Err(CapChainError::IntoFixed {
            offset: 8,
            fixed: INFO
        })
    );
    let buf = buffer_with(&[(24, h(1, 36))], 64);
    assert_eq!(
        CapChain::new(&buf, 24, INFO).to_vec(),
        Err(CapChainError::Misaligned { offset: 36 })
    );

    // No chain at all.
    assert_eq!(CapChain::new(&[], 0, INFO).to_vec(), Ok(vec![]));
}

#[test]
fn typed_reads_check_id_and_length() {
    let buf = buffer_with(&[(24, h(VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, 0))], 40);
    let cap = CapChain::new(&buf, 24, INFO).find(1).unwrap().unwrap();
    assert!(cap.read::<VfioIommuType1InfoCapIovaRange>().is_ok());
    assert_eq!(
        cap.read::<VfioIommuType1InfoCapMigration>(),
        Err(CapChainError::WrongId {
            offset: 24,
            id: 1,
            expected: 2
        })
    );
    // 16 bytes left: room for the fixed part, not for one range.
    assert!(matches!(
        cap.trailing::<VfioIommuType1InfoCapIovaRange, VfioIovaRange>(1),
        Err(CapChainError::Truncated {
            needed: 32,
            available: 16,
            ..
        })
    ));
    assert!(matches!(
        cap.trailing::<VfioIommuType1InfoCapIovaRange, VfioIovaRange>(usize::MAX),
        Err(CapChainError::Truncated { .. })
    ));
    let short = buffer_with(&[(24, h(VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION, 0))], 40);
    let cap = CapChain::new(&short, 24, INFO).find(2).unwrap().unwrap();
    assert!(matches!(
        cap.read::<VfioIommuType1InfoCapMigration>(),
        Err(CapChainError::Truncated {
            needed: 32,
            available: 16,
            ..
        })
    ));
}

proptest! {
    /// Any buffer and first offset: the walk ends, never panics, and visits distinct offsets.
    #[test]
    fn arbitrary_buffers_terminate(buf in proptest::collection::vec(any::<u8>(), 0..256),
                                   first in any::<u32>(), fixed in 0usize..64) {
        let mut seen = BTreeSet::new();
        let mut n = 0;
        for cap in CapChain::new(&buf, first, fixed).iter() {
            n += 1;
            prop_assert!(n <= buf.len() / 8 + 1);
            if let Ok(cap) = cap {
                prop_assert!(seen.insert(cap.offset));
                let _ = cap.read::<VfioIommuType1InfoCapIovaRange>();
                let _ = cap.trailing::<VfioIommuType1InfoCapIovaRange, VfioIovaRange>(3);
            }
        }
    }

    /// Any chain built is parsed back with the same IDs, versions and bodies.
    #[test]
    fn built_chains_parse_back(caps in proptest::collection::vec(
        (any::<u16>(), any::<u16>(), proptest::collection::vec(any::<u8>(), 0..40)), 0..8)) {
        let mut b = CapChainBuilder::new();
        for (id, version, body) in &caps {
            b.push_raw(*id, *version, body);
        }
        let mut buf = vec![0u8; INFO];
        match b.place(u32::MAX, INFO).unwrap() {
            CapPlacement::None => prop_assert!(caps.is_empty()),
            CapPlacement::TooSmall { .. } => prop_assert!(false),
            CapPlacement::Fits { cap_offset, bytes } => {
                prop_assert_eq!(cap_offset as usize, INFO);
                buf.extend_from_slice(&bytes);
            }
        }
        let parsed = CapChain::new(&buf, if caps.is_empty() { 0 } else { INFO as u32 }, INFO)
            .to_vec()
            .unwrap();
        prop_assert_eq!(parsed.len(), caps.len());
        for (cap, (id, version, body)) in parsed.iter().zip(&caps) {
            prop_assert_eq!(cap.offset % CAP_ALIGN, 0);
            prop_assert_eq!(cap.header.id, *id);
            prop_assert_eq!(cap.header.version, *version);
            prop_assert_eq!(&cap.bytes[8..8 + body.len()], &body[..]);
        }
    }
}
