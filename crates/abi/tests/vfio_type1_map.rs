//! The legacy type1 container's mappings (`vfio_iommu_type1.c`: `vfio_dma_do_map`,
//! `vfio_dma_do_unmap`, `vfio_iommu_type1_get_info`, `vfio_iommu_type1_dirty_pages`) where they
//! differ from iommufd's compatibility container: whole entries unmapped by v1's or v2's rule,
//! the entry limit in `dma_avail`, `VADDR` updates, the info chain all or nothing with a
//! migration capability, dirty bitmaps, and a BAR mapping (`VM_PFNMAP`) mapped without pins.

mod common;
#[path = "common/type1.rs"]
mod type1;

use common::{Buffer, sz};
use type1::*;
use uiommu_uapi::Errno;
use uiommu_uapi::vfio::*;

#[test]
fn map_checks_in_type1_order() {
    let s = Setup::ready(VFIO_TYPE1v2_IOMMU);
    let buf = Buffer::new(4 * PAGE as usize);
    let rw = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
    assert_eq!(s.map_rw(buf.addr(), 0x10_0000, 0), Err(Errno::EINVAL));
    assert_eq!(
        s.map_rw(buf.addr(), u64::MAX - PAGE + 2, PAGE),
        Err(Errno::EOVERFLOW)
    );
    assert_eq!(s.map(0, buf.addr(), 0x10_0000, PAGE), Err(Errno::EINVAL));
    let both = rw | VFIO_DMA_MAP_FLAG_VADDR;
    assert_eq!(s.map(both, buf.addr(), 0x10_0000, PAGE), Err(Errno::EINVAL));
    assert_eq!(
        s.map_rw(buf.addr() + 1, 0x10_0000, PAGE),
        Err(Errno::EINVAL)
    );
    assert_eq!(s.dma_avail(), u32::from(u16::MAX));
    assert_eq!(s.map_rw(buf.addr(), 0x10_0000, 2 * PAGE), Ok(0));
    assert_eq!(s.dma_avail(), u32::from(u16::MAX) - 1);
    assert_eq!(
        s.map_rw(buf.addr(), 0x10_1000, 2 * PAGE),
        Err(Errno::EEXIST)
    );
    // Memory that is not there cannot be pinned.
    assert_eq!(s.map_rw(0x1000, 0x20_0000, PAGE), Err(Errno::EFAULT));
    assert_eq!(s.dma_avail(), u32::from(u16::MAX) - 1);
}

#[test]
fn a_bar_mapping_is_mapped_without_pinning() {
    let s = Setup::ready(VFIO_TYPE1_IOMMU);
    assert_eq!(s.map_rw(BAR.0, 0x10_0000, BAR.1), Ok(0));
    assert_eq!(s.map_rw(BAR.0 + PAGE, 0x40_0000, PAGE), Ok(0));
    // Past the BAR's end it is user memory again, which is not there.
    assert_eq!(
        s.map_rw(BAR.0 + BAR.1 - PAGE, 0x80_0000, 2 * PAGE),
        Err(Errno::EFAULT)
    );
    assert_eq!(s.unmap(0, 0x10_0000, BAR.1), (Ok(0), BAR.1));
}

#[test]
fn v1_unmaps_whole_entries_from_their_first_iova() {
    let s = Setup::ready(VFIO_TYPE1_IOMMU);
    let buf = Buffer::new(8 * PAGE as usize);
    s.map_rw(buf.addr(), 0x10_0000, 4 * PAGE).unwrap();
    s.map_rw(buf.addr() + 4 * PAGE, 0x10_4000, 4 * PAGE)
        .unwrap();
    // From inside an entry: success, nothing unmapped.
    assert_eq!(s.unmap(0, 0x10_1000, PAGE), (Ok(0), 0));
    // Over the first IOVA of the second entry: all of it goes.
    assert_eq!(s.unmap(0, 0x10_4000, PAGE), (Ok(0), 4 * PAGE));
    assert_eq!(s.unmap(0, 0x0f_f000, 2 * PAGE), (Ok(0), 4 * PAGE));
    assert_eq!(s.dma_avail(), u32::from(u16::MAX));
}

#[test]
fn v2_refuses_to_cut_an_entry() {
    let s = Setup::ready(VFIO_TYPE1v2_IOMMU);
    let buf = Buffer::new(8 * PAGE as usize);
    s.map_rw(buf.addr(), 0x10_0000, 4 * PAGE).unwrap();
    s.map_rw(buf.addr() + 4 * PAGE, 0x10_4000, 4 * PAGE)
        .unwrap();
    assert_eq!(s.unmap(0, 0x10_1000, PAGE), (Err(Errno::EINVAL), u64::MAX));
    assert_eq!(s.unmap(0, 0x10_0000, PAGE), (Err(Errno::EINVAL), u64::MAX));
    assert_eq!(
        s.unmap(0, 0x10_0000, 3 * PAGE),
        (Err(Errno::EINVAL), u64::MAX)
    );
    // Nothing there: success, 0.
    assert_eq!(s.unmap(0, 0x20_0000, PAGE), (Ok(0), 0));
    assert_eq!(s.unmap(0, 0x0f_0000, 0x2_0000), (Ok(0), 8 * PAGE));
    // ALL needs iova and size 0, and takes everything.
    s.map_rw(buf.addr(), 0x10_0000, 4 * PAGE).unwrap();
    assert_eq!(
        s.unmap(VFIO_DMA_UNMAP_FLAG_ALL, 0, PAGE).0,
        Err(Errno::EINVAL)
    );
    assert_eq!(s.unmap(VFIO_DMA_UNMAP_FLAG_ALL, 0, 0), (Ok(0), 4 * PAGE));
    // Unknown flags, and GET_DIRTY_BITMAP with ALL.
    assert_eq!(s.unmap(1 << 3, 0, PAGE).0, Err(Errno::EINVAL));
    let all_dirty = VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
    assert_eq!(s.unmap(all_dirty, 0, 0).0, Err(Errno::EINVAL));
}

#[test]
fn vaddr_is_invalidated_and_updated_in_place() {
    let s = Setup::ready(VFIO_TYPE1v2_IOMMU);
    let buf = Buffer::new(4 * PAGE as usize);
    s.map_rw(buf.addr(), 0x10_0000, 4 * PAGE).unwrap();
    let vaddr = VFIO_DMA_UNMAP_FLAG_VADDR;
    let set = VFIO_DMA_MAP_FLAG_VADDR;
    // Nothing invalid yet.
    assert_eq!(
        s.map(set, buf.addr(), 0x10_0000, 4 * PAGE),
        Err(Errno::EINVAL)
    );
    assert_eq!(s.unmap(vaddr, 0x10_0000, 4 * PAGE), (Ok(0), 4 * PAGE));
    // Twice is EINVAL; the mapping stays, and its slot.
    assert_eq!(s.unmap(vaddr, 0x10_0000, 4 * PAGE).0, Err(Errno::EINVAL));
    assert_eq!(s.dma_avail(), u32::from(u16::MAX) - 1);
    assert_eq!(s.map(set, buf.addr(), 0x20_0000, PAGE), Err(Errno::ENOENT));
    assert_eq!(s.map(set, buf.addr(), 0x10_0000, PAGE), Err(Errno::EINVAL));
    assert_eq!(s.map(set, buf.addr(), 0x10_0000, 4 * PAGE), Ok(0));
    assert_eq!(s.unmap(0, 0x10_0000, 4 * PAGE), (Ok(0), 4 * PAGE));
}

#[test]
fn info_chain_is_all_or_nothing() {
    let s = Setup::ready(VFIO_TYPE1v2_IOMMU);
    let (r, buf) = s.info(16);
    r.unwrap();
    let need = u32::from_ne_bytes(buf[..4].try_into().unwrap());
    // Migration (32) + DMA avail (12 -> 16) + IOVA ranges (16 + 16 per range).
    assert!(need >= 24 + 32 + 16 + 32, "{need}");
    assert_eq!(u32::from_ne_bytes(buf[4..8].try_into().unwrap()), 3);
    // Nothing past the 16 bytes asked for.
    assert!(buf[16..].iter().all(|&b| b == 0xa5));
    let (r, buf) = s.info(need - 1);
    r.unwrap();
    assert_eq!(u32::from_ne_bytes(buf[16..20].try_into().unwrap()), 0);
    assert!(buf[24..].iter().all(|&b| b == 0xa5));
    let (r, buf) = s.info(need);
    r.unwrap();
    assert_eq!(u32::from_ne_bytes(buf[16..20].try_into().unwrap()), 24);
    let id = |off: usize| u16::from_ne_bytes(buf[off..off + 2].try_into().unwrap());
    let next = |off: usize| u32::from_ne_bytes(buf[off + 4..off + 8].try_into().unwrap()) as usize;
    assert_eq!(id(24), VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION);
    assert_eq!(next(24), 56);
    assert_eq!(id(56), VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL);
    assert_eq!(next(56), 72);
    assert_eq!(id(72), VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE);
    assert_eq!(next(72), 0);
    // The migration capability reports the smallest page size; DMA avail's padding is zero.
    assert_eq!(u64::from_ne_bytes(buf[40..48].try_into().unwrap()), PAGE);
    assert_eq!(buf[68..72], [0; 4]);
}

#[test]
fn dirty_logging_reports_every_mapped_page() {
    let s = Setup::ready(VFIO_TYPE1v2_IOMMU);
    let buf = Buffer::new(4 * PAGE as usize);
    s.map_rw(buf.addr(), 0x10_0000, 4 * PAGE).unwrap();
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Get {
        head: VfioIommuType1DirtyBitmap,
        range: VfioIommuType1DirtyBitmapGet,
    }
    let mut bits = 0u64;
    let mut get = Get {
        head: VfioIommuType1DirtyBitmap {
            argsz: size_of::<Get>() as u32,
            flags: VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP,
        },
        range: VfioIommuType1DirtyBitmapGet {
            iova: 0x10_0000,
            size: 8 * PAGE,
            bitmap: VfioBitmap {
                pgsize: PAGE,
                size: 8,
                data: addr(&mut bits),
            },
        },
    };
    let at = addr(&mut get);
    // Not logging yet.
    assert_eq!(s.at(VFIO_IOMMU_DIRTY_PAGES, at), Err(Errno::EINVAL));
    let mut start = VfioIommuType1DirtyBitmap {
        argsz: 8,
        flags: VFIO_IOMMU_DIRTY_PAGES_FLAG_START,
    };
    assert_eq!(s.call(VFIO_IOMMU_DIRTY_PAGES, &mut start), Ok(0));
    assert_eq!(s.at(VFIO_IOMMU_DIRTY_PAGES, at), Ok(0));
    assert_eq!(bits, 0b1111);
    // Two flags at once.
    start.flags |= VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP;
    assert_eq!(
        s.call(VFIO_IOMMU_DIRTY_PAGES, &mut start),
        Err(Errno::EINVAL)
    );
}

#[test]
fn unmap_reports_the_dirty_bitmap_of_what_it_removes() {
    let s = Setup::ready(VFIO_TYPE1v2_IOMMU);
    let buf = Buffer::new(4 * PAGE as usize);
    s.map_rw(buf.addr(), 0x10_2000, 2 * PAGE).unwrap();
    #[repr(C)]
    struct Unmap {
        head: VfioIommuType1DmaUnmap,
        bitmap: VfioBitmap,
    }
    let mut bits = u64::MAX;
    let mut u = Unmap {
        head: VfioIommuType1DmaUnmap {
            argsz: size_of::<Unmap>() as u32,
            flags: VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
            iova: 0x10_0000,
            size: 8 * PAGE,
        },
        bitmap: VfioBitmap {
            pgsize: PAGE,
            size: 8,
            data: addr(&mut bits),
        },
    };
    // Not logging: EINVAL, nothing unmapped.
    assert_eq!(s.at(VFIO_IOMMU_UNMAP_DMA, addr(&mut u)), Err(Errno::EINVAL));
    let mut start = VfioIommuType1DirtyBitmap {
        argsz: 8,
        flags: VFIO_IOMMU_DIRTY_PAGES_FLAG_START,
    };
    s.call(VFIO_IOMMU_DIRTY_PAGES, &mut start).unwrap();
    // A bitmap of another page size, or too small for the range.
    u.bitmap.pgsize = 2 * PAGE;
    assert_eq!(s.at(VFIO_IOMMU_UNMAP_DMA, addr(&mut u)), Err(Errno::EINVAL));
    u.bitmap.pgsize = PAGE;
    u.bitmap.size = 0;
    assert_eq!(s.at(VFIO_IOMMU_UNMAP_DMA, addr(&mut u)), Err(Errno::EINVAL));
    u.bitmap.size = 8;
    // argsz without the bitmap.
    u.head.argsz = sz::<VfioIommuType1DmaUnmap>();
    assert_eq!(s.at(VFIO_IOMMU_UNMAP_DMA, addr(&mut u)), Err(Errno::EINVAL));
    u.head.argsz = size_of::<Unmap>() as u32;
    assert_eq!(s.at(VFIO_IOMMU_UNMAP_DMA, addr(&mut u)), Ok(0));
    assert_eq!(u.head.size, 2 * PAGE);
    // Bits 2 and 3; the words written are the entry's, cleared past it, kept before it.
    assert_eq!(bits, 0b1111);
}

#[test]
fn a_range_from_memory_into_a_bar_maps_both_as_one_entry() {
    let s = Setup::ready(VFIO_TYPE1v2_IOMMU);
    // Pinned memory right below the BAR is not there either: EFAULT, nothing left mapped.
    assert_eq!(
        s.map_rw(BAR.0 - PAGE, 0x10_0000, 2 * PAGE),
        Err(Errno::EFAULT)
    );
    assert_eq!(s.unmap(0, 0, 1 << 40), (Ok(0), 0));
    // A BAR, then memory past it that is not there: the BAR's part is unmapped again.
    let r = s.map_rw(BAR.0 + BAR.1 - PAGE, 0x10_0000, 2 * PAGE);
    assert_eq!(r, Err(Errno::EFAULT));
    assert_eq!(s.unmap(0, 0, 1 << 40), (Ok(0), 0));
    assert_eq!(s.dma_avail(), u32::from(u16::MAX));
}

#[test]
fn memory_then_a_bar_is_one_entry() {
    let s = Setup::ready(VFIO_TYPE1v2_IOMMU);
    let buf = Buffer::new(4 * PAGE as usize);
    // The buffer's upper half stands for a BAR mapping: only the lower half is pinned.
    *s.host.bar.lock().unwrap() = (buf.addr() + 2 * PAGE, 2 * PAGE);
    assert_eq!(s.map_rw(buf.addr(), 0x10_0000, 4 * PAGE), Ok(0));
    assert_eq!(s.dma_avail(), u32::from(u16::MAX) - 1);
    // One entry: v2 refuses to cut it where the pieces meet.
    assert_eq!(s.unmap(0, 0x10_0000, 2 * PAGE).0, Err(Errno::EINVAL));
    assert_eq!(s.unmap(0, 0x10_0000, 4 * PAGE), (Ok(0), 4 * PAGE));
}

#[test]
fn an_entry_too_large_for_a_bitmap_cannot_be_logged() {
    // No device: nothing is pinned, so a huge entry maps.
    let s = setup();
    s.join();
    s.at(VFIO_SET_IOMMU, u64::from(VFIO_TYPE1v2_IOMMU)).unwrap();
    let huge = (1u64 << 31) * PAGE;
    assert_eq!(s.map_rw(0x1000_0000, 0, huge), Ok(0));
    let mut start = VfioIommuType1DirtyBitmap {
        argsz: 8,
        flags: VFIO_IOMMU_DIRTY_PAGES_FLAG_START,
    };
    assert_eq!(
        s.call(VFIO_IOMMU_DIRTY_PAGES, &mut start),
        Err(Errno::EINVAL)
    );
    assert_eq!(s.unmap(VFIO_DMA_UNMAP_FLAG_ALL, 0, 0), (Ok(0), huge));
    assert_eq!(s.call(VFIO_IOMMU_DIRTY_PAGES, &mut start), Ok(0));
    // While logging, it maps and goes again.
    assert_eq!(s.map_rw(0x1000_0000, 0, huge), Err(Errno::EINVAL));
    assert_eq!(s.map_rw(0x1000_0000, 0, huge - PAGE), Ok(0));
    assert_eq!(s.dma_avail(), u32::from(u16::MAX) - 1);
}
