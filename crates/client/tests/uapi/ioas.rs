//! IOAS scenarios: allocation and IDs, map and unmap rules, copy, IOVA ranges, allowed
//! ranges, file mappings.

use uiommu_client::{Iova, IovaRange, MapFlags, MappedBuffer, MemFile};
use uiommu_uapi::Errno;

use crate::common::{IOVA, LEN, assert_errno, scenario};

scenario! {
    /// IDs are per context and the lowest free from 1; destroying twice is ENOENT.
    fn ioas_alloc_destroy_ids(fd) {
        let a = fd.alloc_ioas().unwrap();
        let b = fd.alloc_ioas().unwrap();
        assert_eq!((a.id().raw(), b.id().raw()), (1, 2));
        a.destroy().unwrap();
        assert_errno(fd.destroy(1), Errno::ENOENT);
        let c = fd.alloc_ioas().unwrap();
        assert_eq!(c.id().raw(), 1, "the lowest free ID is reused");
        assert_errno(fd.destroy(0), Errno::ENOENT);
        assert_errno(fd.destroy(1000), Errno::ENOENT);
        drop(b);
        assert_errno(fd.destroy(2), Errno::ENOENT);
    }
}

scenario! {
    /// A second iommufd has its own ID space.
    fn ioas_ids_are_per_context(fd) {
        let other = uiommu_client::Iommufd::open().unwrap();
        let a = fd.alloc_ioas().unwrap();
        let b = other.alloc_ioas().unwrap();
        assert_eq!((a.id().raw(), b.id().raw()), (1, 1));
        assert_errno(other.destroy(2), Errno::ENOENT);
    }
}

scenario! {
    /// A fixed mapping lands exactly where asked and unmaps whole.
    fn ioas_map_fixed_unmap(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        let buf = MappedBuffer::new(LEN).unwrap();
        assert_eq!(ioas.map(&buf, Iova::Fixed(IOVA), MapFlags::RW).unwrap(), IOVA);
        assert_eq!(ioas.unmap(IOVA, LEN as u64).unwrap(), LEN as u64);
        assert_errno(ioas.unmap(IOVA, LEN as u64), Errno::ENOENT);
    }
}

scenario! {
    /// Automatic IOVAs do not overlap and keep the buffer's offset within its page.
    fn ioas_map_auto(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        let buf = MappedBuffer::new(LEN).unwrap();
        let a = ioas.map(&buf, Iova::Auto, MapFlags::READABLE).unwrap();
        let b = ioas.map(&buf, Iova::Auto, MapFlags::READABLE).unwrap();
        assert_ne!(a, b);
        assert!(a.abs_diff(b) >= LEN as u64, "{a:#x} and {b:#x} overlap");
        assert_eq!(a % 4096, 0);
        let c = ioas.map_range(&buf, 0x100, 0x1000, Iova::Auto, MapFlags::RW).unwrap();
        assert_eq!(c % 4096, 0x100, "auto IOVA keeps the page offset of user_va");
        assert_eq!(ioas.unmap_all().unwrap(), 2 * LEN as u64 + 0x1000);
    }
}

scenario! {
    /// A fixed IOVA overlapping a mapping is EEXIST, at either end and in the middle.
    fn ioas_map_overlap_eexist(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        let buf = MappedBuffer::new(LEN).unwrap();
        ioas.map(&buf, Iova::Fixed(IOVA), MapFlags::RW).unwrap();
        assert_errno(ioas.map(&buf, Iova::Fixed(IOVA), MapFlags::RW), Errno::EEXIST);
        assert_errno(ioas.map(&buf, Iova::Fixed(IOVA - 4096), MapFlags::RW), Errno::EEXIST);
        assert_errno(
            ioas.map_range(&buf, 0, 4096, Iova::Fixed(IOVA + LEN as u64 - 4096), MapFlags::RW),
            Errno::EEXIST,
        );
        // Adjacent is fine.
        ioas.map(&buf, Iova::Fixed(IOVA + LEN as u64), MapFlags::RW).unwrap();
    }
}

scenario! {
    /// Argument checks of IOMMU_IOAS_MAP, in the kernel's order.
    fn ioas_map_argument_errors(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        let buf = MappedBuffer::new(LEN).unwrap();
        // Neither READABLE nor WRITEABLE.
        assert_errno(ioas.map(&buf, Iova::Fixed(IOVA), MapFlags::empty()), Errno::EINVAL);
        // Unknown flag bits.
        assert_errno(
            ioas.map(&buf, Iova::Fixed(IOVA), MapFlags::from_bits_retain(1 << 8) | MapFlags::RW),
            Errno::EOPNOTSUPP,
        );
        // IOVA at or past ULONG_MAX.
        assert_errno(ioas.map(&buf, Iova::Fixed(u64::MAX), MapFlags::RW), Errno::EOVERFLOW);
        // Wrapping past the top of the address space.
        assert_errno(
            ioas.map(&buf, Iova::Fixed(u64::MAX - 4095 - 4096), MapFlags::RW),
            Errno::EOVERFLOW,
        );
        // Length 0.
        assert_errno(ioas.map_range(&buf, 0, 0, Iova::Fixed(IOVA), MapFlags::RW), Errno::EINVAL);
        // No such IOAS: checked after the flags.
        let other = fd.alloc_ioas().unwrap();
        other.destroy().unwrap();
        assert_errno(other.map(&buf, Iova::Fixed(IOVA), MapFlags::RW), Errno::ENOENT);
    }
}

scenario! {
    /// Unmap must cover whole areas: cutting one is ENOENT, a range over several is fine,
    /// and a range with nothing in it is ENOENT.
    fn ioas_unmap_rules(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        let buf = MappedBuffer::new(LEN).unwrap();
        for i in 0..3u64 {
            ioas.map(&buf, Iova::Fixed(IOVA + i * LEN as u64), MapFlags::RW).unwrap();
        }
        assert_errno(ioas.unmap(IOVA, 4096), Errno::ENOENT);
        assert_errno(ioas.unmap(IOVA + 4096, LEN as u64), Errno::ENOENT);
        assert_errno(ioas.unmap(IOVA + 100 * LEN as u64, LEN as u64), Errno::ENOENT);
        // Two whole areas and a hole after them.
        assert_eq!(ioas.unmap(IOVA, 10 * LEN as u64).unwrap(), 3 * LEN as u64);
    }
}

scenario! {
    /// `iova == 0, length == U64_MAX` unmaps everything, and succeeds on an empty IOAS.
    fn ioas_unmap_all(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        assert_eq!(ioas.unmap_all().unwrap(), 0);
        let buf = MappedBuffer::new(LEN).unwrap();
        ioas.map(&buf, Iova::Fixed(IOVA), MapFlags::RW).unwrap();
        ioas.map(&buf, Iova::Fixed(0x7000_0000), MapFlags::RW).unwrap();
        ioas.map(&buf, Iova::Auto, MapFlags::RW).unwrap();
        assert_eq!(ioas.unmap_all().unwrap(), 3 * LEN as u64);
        assert_eq!(ioas.unmap_all().unwrap(), 0);
        // Any other huge range is the ordinary path: EOVERFLOW at U64_MAX.
        assert_errno(ioas.unmap(4096, u64::MAX), Errno::EOVERFLOW);
    }
}

scenario! {
    /// A fresh IOAS has one range, everything; a too-small array is EMSGSIZE with the count
    /// still written back.
    fn ioas_iova_ranges_emsgsize(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        let r = ioas.iova_ranges_with_capacity(0);
        assert_errno(r.result, Errno::EMSGSIZE);
        assert_eq!(r.num_iovas, 1);
        let ranges = ioas.iova_ranges().unwrap();
        assert_eq!(ranges.ranges, vec![IovaRange::new(0, u64::MAX)]);
        assert_eq!(ranges.alignment, 1, "no domain: byte alignment");
        let r = ioas.iova_ranges_with_capacity(4);
        r.result.unwrap();
        assert_eq!(r.num_iovas, 1);
    }
}

scenario! {
    /// Allowed ranges steer automatic IOVAs (IOVA_RANGES still lists what is not reserved),
    /// must be well-formed and disjoint (EINVAL), may leave existing mappings outside, and an
    /// empty list lifts them.
    fn ioas_allow_iovas(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        let buf = MappedBuffer::new(LEN).unwrap();
        let allowed = IovaRange::new(0x4000_0000, 0x4fff_ffff);
        ioas.allow_iovas(&[allowed]).unwrap();
        let iova = ioas.map(&buf, Iova::Auto, MapFlags::RW).unwrap();
        assert!((allowed.start..=allowed.last).contains(&iova), "{iova:#x}");
        assert_eq!(ioas.iova_ranges().unwrap().ranges, vec![IovaRange::new(0, u64::MAX)]);
        let other = IovaRange::new(0x1000_0000, 0x1000_ffff);
        ioas.allow_iovas(&[other]).unwrap();
        let iova2 = ioas.map(&buf, Iova::Auto, MapFlags::RW).unwrap();
        assert_eq!(iova2, other.start, "the only hole that fits");
        assert_errno(ioas.map(&buf, Iova::Auto, MapFlags::RW), Errno::ENOSPC);
        assert_errno(ioas.allow_iovas(&[IovaRange::new(0x2000, 0x1000)]), Errno::EINVAL);
        assert_errno(
            ioas.allow_iovas(&[IovaRange::new(0x1000, 0x5fff), IovaRange::new(0x4000, 0x8fff)]),
            Errno::EINVAL,
        );
        ioas.allow_iovas(&[]).unwrap();
        ioas.map(&buf, Iova::Auto, MapFlags::RW).unwrap();
        assert_eq!(ioas.unmap_all().unwrap(), 3 * LEN as u64);
    }
}

scenario! {
    /// A fixed map outside the allowed ranges is still allowed: they only steer allocation.
    fn ioas_allow_iovas_fixed_outside(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        let buf = MappedBuffer::new(LEN).unwrap();
        ioas.allow_iovas(&[IovaRange::new(0x4000_0000, 0x4fff_ffff)]).unwrap();
        assert_eq!(ioas.map(&buf, Iova::Fixed(IOVA), MapFlags::RW).unwrap(), IOVA);
    }
}

scenario! {
    /// IOMMU_IOAS_COPY maps the source's pages into another IOAS; the length must cover
    /// whole source areas.
    fn ioas_copy(fd) {
        let src = fd.alloc_ioas().unwrap();
        let dst = fd.alloc_ioas().unwrap();
        let buf = MappedBuffer::new(LEN).unwrap();
        src.map(&buf, Iova::Fixed(IOVA), MapFlags::RW).unwrap();
        let at = dst.copy_from(&src, IOVA, LEN as u64, Iova::Fixed(0x20_0000), MapFlags::RW).unwrap();
        assert_eq!(at, 0x20_0000);
        let auto = dst.copy_from(&src, IOVA, LEN as u64, Iova::Auto, MapFlags::READABLE).unwrap();
        assert_ne!(auto, at);
        // Copying from where nothing is mapped.
        assert_errno(
            dst.copy_from(&src, 0x9000_0000, LEN as u64, Iova::Auto, MapFlags::RW),
            Errno::ENOENT,
        );
        // Over an existing destination mapping.
        assert_errno(
            dst.copy_from(&src, IOVA, LEN as u64, Iova::Fixed(0x20_0000), MapFlags::RW),
            Errno::EEXIST,
        );
        // No access bit.
        assert_errno(
            dst.copy_from(&src, IOVA, LEN as u64, Iova::Auto, MapFlags::empty()),
            Errno::EINVAL,
        );
        // The source unmapping does not disturb the copies.
        src.unmap_all().unwrap();
        assert_eq!(dst.unmap_all().unwrap(), 2 * LEN as u64);
    }
}

scenario! {
    /// A copy within one IOAS works like a copy between two.
    fn ioas_copy_same_ioas(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        let buf = MappedBuffer::new(LEN).unwrap();
        ioas.map(&buf, Iova::Fixed(IOVA), MapFlags::RW).unwrap();
        let at = ioas.copy_from(&ioas, IOVA, LEN as u64, Iova::Fixed(0x80_0000), MapFlags::RW);
        assert_eq!(at.unwrap(), 0x80_0000);
        assert_eq!(ioas.unmap_all().unwrap(), 2 * LEN as u64);
    }
}

scenario! {
    /// IOMMU_IOAS_MAP_FILE maps memfd ranges; bad lengths and overlaps are refused.
    fn ioas_map_file(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        let file = MemFile::new("ioas_map_file", 4 * LEN as u64).unwrap();
        let iova = ioas.map_file(&file, LEN as u64, LEN as u64, Iova::Fixed(IOVA), MapFlags::RW);
        assert_eq!(iova.unwrap(), IOVA);
        let auto = ioas.map_file(&file, 0, 4 * LEN as u64, Iova::Auto, MapFlags::READABLE).unwrap();
        assert_ne!(auto, IOVA);
        // Length 0.
        assert_errno(ioas.map_file(&file, 0, 0, Iova::Auto, MapFlags::RW), Errno::EINVAL);
        // start + length wraps.
        assert_errno(
            ioas.map_file(&file, u64::MAX - 4095, 2 * 4096, Iova::Auto, MapFlags::RW),
            Errno::EOVERFLOW,
        );
        assert_errno(
            ioas.map_file(&file, 0, LEN as u64, Iova::Fixed(IOVA), MapFlags::RW),
            Errno::EEXIST,
        );
        assert_errno(
            ioas.map_file(&file, 0, LEN as u64, Iova::Auto, MapFlags::empty()),
            Errno::EINVAL,
        );
        assert_eq!(ioas.unmap_all().unwrap(), 5 * LEN as u64);
    }
}

scenario! {
    /// IOMMU_IOAS_CHANGE_PROCESS accepts file-backed mappings only.
    fn ioas_change_process(fd) {
        fd.change_process().unwrap();
        let ioas = fd.alloc_ioas().unwrap();
        let file = MemFile::new("change_process", LEN as u64).unwrap();
        ioas.map_file(&file, 0, LEN as u64, Iova::Auto, MapFlags::RW).unwrap();
        fd.change_process().unwrap();
        let buf = MappedBuffer::new(LEN).unwrap();
        ioas.map(&buf, Iova::Auto, MapFlags::RW).unwrap();
        assert_errno(fd.change_process(), Errno::EINVAL);
    }
}

scenario! {
    /// Objects of another kind are ENOENT where an IOAS is expected... and an IOAS in use is
    /// kept by the handles built on it.
    fn ioas_wrong_object_kind(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        let q = fd.alloc_fault_queue().unwrap();
        // A fault queue ID is not an IOAS.
        assert_errno(fd.get_option(uiommu_uapi::iommufd::IOMMU_OPTION_HUGE_PAGES, q.id()), Errno::ENOENT);
        assert!(ioas.huge_pages().unwrap());
    }
}
