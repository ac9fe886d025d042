//! What the client holds and gives back: an IOAS keeps a buffer alive exactly as long as some
//! IOVA range maps it (across failure, partial unmap, unmap-all and copy), guards unmap on
//! drop, and devices hold only what they are attached to now. Plus the process-level check:
//! many map/unmap/drop cycles leave the resident set where it was.

// `Ioas::map_raw` is unsafe by contract; these scenarios keep to it.
#![allow(unsafe_code)]

use uiommu_client::uapi::Errno;
use uiommu_client::{Hwpt, HwptFlags, Iommufd, Iova, MapFlags, MappedBuffer, PageTable};

use crate::common::{IOVA, assert_errno, mock_scenario, scenario};

const MIB2: usize = 2 << 20;

/// Resident set size in bytes (`/proc/self/statm`).
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * uiommu_client::page_size() as u64
}

scenario! {
    /// 200 cycles of map, unmap and drop of a 2 MiB buffer, and 100 failed maps, return
    /// their memory: each buffer is populated, so one kept alive would add 2 MiB of RSS
    /// (the old client grew 400 MiB here, then 200 more).
    fn memory_map_unmap_drop_cycles_return_memory(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        // Warm up allocator and uiommu's tables before taking the baseline.
        for _ in 0..4 {
            let buf = MappedBuffer::new(MIB2).unwrap();
            let iova = ioas.map(&buf, Iova::Auto, MapFlags::RW).unwrap();
            ioas.unmap(iova, buf.size()).unwrap();
        }
        let before = rss();
        for _ in 0..200 {
            let buf = MappedBuffer::new(MIB2).unwrap();
            let iova = ioas.map(&buf, Iova::Auto, MapFlags::RW).unwrap();
            assert_eq!(buf.holders(), 2, "the buffer and its mapping");
            assert_eq!(ioas.unmap(iova, buf.size()).unwrap(), buf.size());
            assert_eq!(buf.holders(), 1, "unmapped: the IOAS let go");
        }
        let held = MappedBuffer::new(MIB2).unwrap();
        let iova = ioas.map(&held, Iova::Auto, MapFlags::RW).unwrap();
        for _ in 0..100 {
            let buf = MappedBuffer::new(MIB2).unwrap();
            assert_errno(ioas.map(&buf, Iova::Fixed(iova), MapFlags::RW), Errno::EEXIST);
            assert_eq!(buf.holders(), 1, "a failed map holds nothing");
        }
        let grown = rss().saturating_sub(before);
        assert!(grown < 32 << 20, "RSS grew by {} MiB", grown >> 20);
        drop(ioas);
        assert_eq!(held.holders(), 1, "destroying the IOAS releases what it mapped");
    }
}

scenario! {
    /// Partial unmaps release a buffer only with its last range; unmap-all releases all.
    fn memory_partial_unmap_and_unmap_all(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        let buf = MappedBuffer::new(4 * 4096).unwrap();
        for i in 0..4u64 {
            ioas.map_range(&buf, i * 4096, 4096, Iova::Fixed(IOVA + i * 0x10000), MapFlags::RW)
                .unwrap();
        }
        assert_eq!(buf.holders(), 5);
        // Two of the four areas, and the hole between them.
        assert_eq!(ioas.unmap(IOVA, 0x20000).unwrap(), 2 * 4096);
        assert_eq!(buf.holders(), 3);
        // A failed unmap (cutting an area) releases nothing.
        assert_errno(ioas.unmap(IOVA + 0x20000, 2048), Errno::ENOENT);
        assert_eq!(buf.holders(), 3);
        assert_eq!(ioas.unmap_all().unwrap(), 2 * 4096);
        assert_eq!(buf.holders(), 1);
        // Out of the buffer's bounds: refused before the kernel sees it, nothing held.
        assert!(ioas.map_range(&buf, 4096, 4 * 4096, Iova::Auto, MapFlags::RW).is_err());
        assert_eq!(buf.holders(), 1);
    }
}

scenario! {
    /// A copy holds the source's buffers for the copied range only, and keeps them after
    /// the source lets go.
    fn memory_copy_shares_the_copied_range_only(fd) {
        let src = fd.alloc_ioas().unwrap();
        let dst = fd.alloc_ioas().unwrap();
        let a = MappedBuffer::new(0x4000).unwrap();
        let b = MappedBuffer::new(0x4000).unwrap();
        src.map(&a, Iova::Fixed(IOVA), MapFlags::RW).unwrap();
        src.map(&b, Iova::Fixed(IOVA + 0x10000), MapFlags::RW).unwrap();
        let at = dst.copy_from(&src, IOVA, 0x4000, Iova::Auto, MapFlags::RW).unwrap();
        assert_eq!((a.holders(), b.holders()), (3, 2));
        // A failed copy holds nothing more.
        assert!(dst.copy_from(&src, IOVA, 0x4000, Iova::Fixed(at), MapFlags::RW).is_err());
        assert_eq!(a.holders(), 3);
        src.unmap_all().unwrap();
        assert_eq!((a.holders(), b.holders()), (2, 1));
        dst.unmap(at, 0x4000).unwrap();
        assert_eq!(a.holders(), 1);
        // Within one IOAS.
        src.map(&a, Iova::Fixed(IOVA), MapFlags::RW).unwrap();
        src.copy_from(&src, IOVA, 0x4000, Iova::Fixed(IOVA + 0x40000), MapFlags::RW).unwrap();
        assert_eq!(a.holders(), 3);
        drop(src);
        assert_eq!(a.holders(), 1);
    }
}

scenario! {
    /// A guard unmaps when dropped, reports through `unmap`, and `into_raw` leaves the
    /// mapping to the caller; a guard keeps its IOAS alive.
    fn memory_map_guard(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        let buf = MappedBuffer::new(0x4000).unwrap();
        let g = ioas.map_guard(&buf, Iova::Fixed(IOVA), MapFlags::RW).unwrap();
        assert_eq!((g.iova(), g.len(), g.ioas_id()), (IOVA, 0x4000, ioas.id()));
        assert_eq!(buf.holders(), 2);
        drop(g);
        assert_eq!(buf.holders(), 1);
        assert_errno(ioas.unmap(IOVA, 0x4000), Errno::ENOENT);
        let g = ioas.map_guard(&buf, Iova::Auto, MapFlags::RW).unwrap();
        assert_eq!(g.unmap().unwrap(), 0x4000);
        let (iova, len) = ioas.map_guard(&buf, Iova::Auto, MapFlags::RW).unwrap().into_raw();
        assert_eq!(ioas.unmap(iova, len).unwrap(), 0x4000);
        // The guard outlives the handle: the IOAS stays until the guard goes.
        let g = ioas.map_guard(&buf, Iova::Auto, MapFlags::RW).unwrap();
        let id = ioas.id();
        drop(ioas);
        let huge = uiommu_client::uapi::iommufd::IOMMU_OPTION_HUGE_PAGES;
        assert_eq!(fd.get_option(huge, id).unwrap(), 1, "the IOAS is still there");
        drop(g);
        assert_eq!(buf.holders(), 1);
        assert_errno(fd.get_option(huge, id), Errno::ENOENT);
    }
}

scenario! {
    /// Memory the caller owns, mapped by address: the IOAS holds nothing for it.
    fn memory_map_raw(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        // Page-aligned memory the test owns and keeps until after the unmap.
        let owned = MappedBuffer::new(0x4000).unwrap();
        let ptr = owned.addr() as *mut u8;
        // SAFETY: `owned` stays mapped until after the unmap below, and nothing holds a
        // reference into it.
        let iova = unsafe { ioas.map_raw(Iova::Fixed(IOVA), ptr, 0x4000, MapFlags::RW) }.unwrap();
        assert_eq!((iova, owned.holders()), (IOVA, 1));
        let g = ioas.guard(iova, 0x4000);
        assert_eq!(g.unmap().unwrap(), 0x4000);
        // The kernel checks the address: unmapped memory is EFAULT, not undefined behaviour.
        let hole = MappedBuffer::inaccessible(0x4000).unwrap();
        // SAFETY: the kernel refuses the map, so nothing is left pointing at `hole`.
        let r = unsafe { ioas.map_raw(Iova::Auto, hole.addr() as *mut u8, 0x4000, MapFlags::RW) };
        if let Ok(iova) = r {
            // Without a domain nothing is pinned at map time, so the kernel may accept it.
            ioas.unmap(iova, 0x4000).unwrap();
        }
    }
}

mock_scenario! {
    /// A device holds the page table it is attached to now, not every one it ever was:
    /// after a replace, the old HWPT is destroyed as soon as its handle goes.
    fn memory_replace_releases_old_page_table(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        let dev = fd.test().mock_domain(&ioas).unwrap();
        for _ in 0..50 {
            let hwpt = Hwpt::paging(dev.dev_id(), &ioas, HwptFlags::empty()).unwrap();
            let id = hwpt.id();
            assert_eq!(dev.replace(&hwpt).unwrap(), id);
            dev.replace(&ioas).unwrap();
            drop(hwpt);
            assert_errno(fd.destroy(id), Errno::ENOENT);
            assert_eq!(dev.held_page_tables(), 1);
        }
        assert_eq!(dev.replace(&ioas).unwrap(), dev.hwpt_id());
        let _ = ioas.as_pt_id();
    }
}

mock_scenario! {
    /// Errors name the selftest operation, and the errno with its meaning.
    fn memory_errors_name_the_operation(fd) {
        let buf = MappedBuffer::new(4096).unwrap();
        let e = fd.test().check_refs(&buf, 0, 4096, 3).unwrap_err();
        assert_eq!(e.op(), "IOMMU_TEST_OP_MD_CHECK_REFS");
        assert!(e.to_string().starts_with("IOMMU_TEST_OP_MD_CHECK_REFS: EIO ("), "{e}");
        let e = Iommufd::open_path("/dev/no-such-iommu").unwrap_err();
        assert_eq!(e.to_string(), "open /dev/no-such-iommu: ENOENT (No such file or directory)");
        let io = std::io::Error::from(e);
        assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
    }
}

scenario! {
    /// A VFIO container (here the iommufd compatibility one) holds a buffer while a range
    /// maps it, and keeps what is still mapped when dropped rather than free it.
    fn memory_vfio_container_holds_while_mapped(fd) {
        use uiommu_client::uapi::vfio::VFIO_TYPE1v2_IOMMU;
        use uiommu_client::{DmaMapFlags, VfioContainer};
        let ioas = fd.alloc_ioas().unwrap();
        fd.vfio_ioas_set(&ioas).unwrap();
        let c = VfioContainer::from_iommufd(&fd);
        c.set_iommu(VFIO_TYPE1v2_IOMMU).unwrap();
        let rw = DmaMapFlags::READ | DmaMapFlags::WRITE;
        let buf = MappedBuffer::new(0x4000).unwrap();
        let other = MappedBuffer::new(0x4000).unwrap();
        c.map_dma(&other, 0, 0x4000, IOVA, rw).unwrap();
        assert_errno(c.map_dma(&buf, 0, 0x4000, IOVA, rw), Errno::EEXIST);
        assert_eq!(buf.holders(), 1, "a failed map holds nothing");
        c.unmap_dma(IOVA, 0x4000).unwrap();
        assert_eq!(other.holders(), 1);
        for _ in 0..20 {
            c.map_dma(&buf, 0, 0x4000, IOVA, rw).unwrap();
            assert_eq!(buf.holders(), 2);
            assert_eq!(c.unmap_dma(IOVA, 0x4000).unwrap(), 0x4000);
            assert_eq!(buf.holders(), 1);
        }
        c.map_dma(&buf, 0, 0x4000, IOVA, rw).unwrap();
        c.map_dma(&buf, 0, 0x4000, IOVA + 0x10000, rw).unwrap();
        assert_eq!(c.unmap_all().unwrap(), 0x8000);
        assert_eq!(buf.holders(), 1);
        // Dropped while mapped: the IOAS still maps the buffer, so it is kept.
        c.map_dma(&buf, 0, 0x4000, IOVA, rw).unwrap();
        drop(c);
        assert_eq!(buf.holders(), 2);
        assert_eq!(ioas.unmap_all().unwrap(), 0x4000);
    }
}
