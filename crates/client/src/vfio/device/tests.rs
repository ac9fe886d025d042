//! Encoding of IRQ sets and decoding of region info, without a device.

use super::info::*;
use uiommu_uapi::vfio::*;
use zerocopy::{FromBytes, IntoBytes};

use crate::error::Error;

#[test]
fn encodes_irq_sets() {
    let b = encode_irq_set(
        VFIO_PCI_MSIX_IRQ_INDEX,
        IrqAction::Trigger,
        2,
        0,
        IrqData::Eventfd(&[7, -1]),
    );
    let (head, data) = VfioIrqSet::read_from_prefix(&b).unwrap();
    assert_eq!(head.argsz as usize, size_of::<VfioIrqSet>() + 8);
    assert_eq!(
        head.flags,
        VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER
    );
    assert_eq!((head.index, head.start, head.count), (2, 2, 2));
    assert_eq!(data[..4], 7i32.to_ne_bytes());
    assert_eq!(data[4..], (-1i32).to_ne_bytes());

    let b = encode_irq_set(0, IrqAction::Unmask, 0, 1, IrqData::Bool(&[true, false]));
    let (head, data) = VfioIrqSet::read_from_prefix(&b).unwrap();
    assert_eq!(
        head.flags,
        VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_UNMASK
    );
    assert_eq!((head.count, data), (2, &[1u8, 0][..]));

    let b = encode_irq_set(1, IrqAction::Trigger, 0, 0, IrqData::None);
    let (head, data) = VfioIrqSet::read_from_prefix(&b).unwrap();
    assert_eq!(head.argsz as usize, size_of::<VfioIrqSet>());
    assert_eq!(
        head.flags,
        VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER
    );
    assert!(data.is_empty());
}

#[test]
fn decodes_region_info_with_caps() {
    let fixed = size_of::<VfioRegionInfo>();
    let areas = [
        VfioRegionSparseMmapArea {
            offset: 0,
            size: 0x2000,
        },
        VfioRegionSparseMmapArea {
            offset: 0x3000,
            size: 0x1000,
        },
    ];
    let mut b = CapChainBuilder::new();
    b.push_with(
        &VfioRegionInfoCapSparseMmap {
            nr_areas: 2,
            ..Default::default()
        },
        &areas,
    );
    b.push_raw(VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, 1, &[]);
    b.push(&VfioRegionInfoCapType {
        type_: VFIO_REGION_TYPE_GFX,
        subtype: VFIO_REGION_SUBTYPE_GFX_EDID,
        ..Default::default()
    });
    let caps = b.to_bytes(fixed).unwrap();
    let info = VfioRegionInfo {
        argsz: (fixed + caps.len()) as u32,
        flags: VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS,
        index: 0,
        cap_offset: fixed as u32,
        size: 0x4000,
        offset: 0x1_0000_0000,
    };
    let mut buf = info.as_bytes().to_vec();
    buf.extend_from_slice(&caps);
    let r = decode_region_info("t", &buf).unwrap();
    assert!(r.readable() && r.mappable() && !r.writable());
    assert_eq!((r.size, r.offset), (0x4000, 0x1_0000_0000));
    assert_eq!(r.sparse_mmap.as_deref(), Some(&areas[..]));
    assert!(r.msix_mappable);
    assert_eq!(
        r.region_type,
        Some((VFIO_REGION_TYPE_GFX, VFIO_REGION_SUBTYPE_GFX_EDID))
    );
    assert_eq!(r.caps.len(), 3);

    // Without FLAG_CAPS the chain is not looked at.
    let mut plain = info;
    plain.flags = VFIO_REGION_INFO_FLAG_READ;
    plain.cap_offset = 0;
    let r = decode_region_info("t", plain.as_bytes()).unwrap();
    assert!(r.caps.is_empty() && r.sparse_mmap.is_none());
    // A chain pointing into the fixed struct is an error.
    let mut bad = info.as_bytes().to_vec();
    bad[12..16].copy_from_slice(&4u32.to_ne_bytes());
    bad.extend_from_slice(&caps);
    assert!(matches!(
        decode_region_info("t", &bad),
        Err(Error::CapChain { .. })
    ));
}
