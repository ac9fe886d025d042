//! Selftest-mock scenarios about memory: mappings reaching the domain, pin counts, the
//! aperture, emulated-device accesses, reserved ranges, PASID attachments.

use uiommu_client::{Hwpt, HwptFlags, Iova, IovaRange, MapFlags, MappedBuffer, MemFile};
use uiommu_uapi::Errno;
use uiommu_uapi::selftest::*;

use crate::common::{assert_errno, mock_iommu_scenario, mock_scenario, paging_pasid_attach};

const LEN: u64 = 1 << 16;
/// `LEN` as a buffer size.
const ULEN: usize = LEN as usize;

mock_iommu_scenario! {
    /// A mapping reaches the mock domain and pins each page once; unmapping unpins.
    fn mock_map_check_refs(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        let dev = fd.test().mock_domain(&ioas).unwrap();
        assert!(dev.dev_id().raw() != 0 && dev.hwpt_id().raw() != 0 && dev.mock_id().raw() != 0);
        let buf = MappedBuffer::new(ULEN).unwrap();
        fd.test().check_refs(&buf, 0, LEN, 0).unwrap();
        let iova = ioas.map(&buf, Iova::Auto, MapFlags::RW).unwrap();
        assert!((MOCK_APERTURE_START..=MOCK_APERTURE_LAST).contains(&iova), "{iova:#x}");
        fd.test().check_map(dev.hwpt_id(), iova, &buf, 0, LEN).unwrap();
        fd.test().check_refs(&buf, 0, LEN, 1).unwrap();
        assert_errno(fd.test().check_refs(&buf, 0, LEN, 2), Errno::EIO);
        // Wrong memory behind the IOVA.
        let other = MappedBuffer::new(ULEN).unwrap();
        assert_errno(fd.test().check_map(dev.hwpt_id(), iova, &other, 0, LEN), Errno::EINVAL);
        assert_eq!(ioas.unmap(iova, LEN).unwrap(), LEN);
        fd.test().check_refs(&buf, 0, LEN, 0).unwrap();
    }
}

mock_iommu_scenario! {
    /// With a domain, the IOVA ranges are the aperture and the alignment the mock page size;
    /// fixed maps outside or misaligned are refused.
    fn mock_aperture_and_alignment(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        let _dev = fd.test().mock_domain(&ioas).unwrap();
        let r = ioas.iova_ranges().unwrap();
        assert_eq!(r.ranges, vec![IovaRange::new(MOCK_APERTURE_START, MOCK_APERTURE_LAST)]);
        assert_eq!(r.alignment, MOCK_PAGE_SIZE);
        let buf = MappedBuffer::new(ULEN).unwrap();
        assert_errno(ioas.map(&buf, Iova::Fixed(MOCK_APERTURE_START + 1), MapFlags::RW), Errno::EINVAL);
        assert_errno(ioas.map(&buf, Iova::Fixed(0x1000), MapFlags::RW), Errno::EINVAL);
        assert_errno(
            ioas.map(&buf, Iova::Fixed(MOCK_APERTURE_LAST + 1 - 4096), MapFlags::RW),
            Errno::EINVAL,
        );
        ioas.map(&buf, Iova::Fixed(MOCK_APERTURE_START), MapFlags::RW).unwrap();
    }
}

mock_scenario! {
    /// Memory that cannot be pinned is EFAULT once a domain needs the pages.
    fn mock_map_unpinnable_efault(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        let _dev = fd.test().mock_domain(&ioas).unwrap();
        let hole = MappedBuffer::inaccessible(ULEN).unwrap();
        assert_errno(ioas.map(&hole, Iova::Auto, MapFlags::RW), Errno::EFAULT);
        assert_eq!(ioas.unmap_all().unwrap(), 0);
    }
}

mock_scenario! {
    /// Reserved ranges split the usable IOVA space; maps into them are EINVAL and allowed
    /// ranges may not cover them (EADDRINUSE).
    fn mock_reserved_ranges(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        fd.test().add_reserved(&ioas, 0x10_0000, 0x10_0000).unwrap();
        assert_eq!(
            ioas.iova_ranges().unwrap().ranges,
            vec![IovaRange::new(0, 0xf_ffff), IovaRange::new(0x20_0000, u64::MAX)]
        );
        let buf = MappedBuffer::new(ULEN).unwrap();
        assert_errno(ioas.map(&buf, Iova::Fixed(0x10_0000), MapFlags::RW), Errno::EINVAL);
        assert_errno(ioas.allow_iovas(&[IovaRange::new(0, 0x1f_ffff)]), Errno::EADDRINUSE);
        // Reserving over a mapping is refused too.
        ioas.map(&buf, Iova::Fixed(0x40_0000), MapFlags::RW).unwrap();
        assert_errno(fd.test().add_reserved(&ioas, 0x40_0000, 0x1000), Errno::EADDRINUSE);
    }
}

mock_scenario! {
    /// An emulated-device access reads and writes IOVA memory and pins and unpins pages.
    fn mock_access_rw_and_pin(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        let buf = MappedBuffer::new(ULEN).unwrap();
        let iova = ioas.map(&buf, Iova::Auto, MapFlags::RW).unwrap();
        let access = fd.test().create_access(&ioas, MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES).unwrap();
        access.write(iova + 10, b"through the iommu").unwrap();
        let mut back = [0u8; 17];
        buf.read(10, &mut back);
        assert_eq!(&back, b"through the iommu");
        buf.write(100, b"from the cpu");
        let mut got = [0u8; 12];
        access.read(iova + 100, &mut got).unwrap();
        assert_eq!(&got, b"from the cpu");
        access.read_flags(iova + 100, &mut got, MOCK_ACCESS_RW_SLOW_PATH).unwrap();
        assert_eq!(&got, b"from the cpu");
        assert_errno(access.read(iova + LEN, &mut got), Errno::ENOENT);

        let id = access.pin_pages(iova, &buf, 0, 4 * 4096, 0).unwrap();
        fd.test().check_refs(&buf, 0, 4 * 4096, 1).unwrap();
        access.unpin_pages(id).unwrap();
        fd.test().check_refs(&buf, 0, 4 * 4096, 0).unwrap();
        assert_errno(access.unpin_pages(id), Errno::ENOENT);
        drop(access);
        assert_eq!(ioas.unmap_all().unwrap(), LEN);
    }
}

mock_scenario! {
    /// An access moves to another IOAS and sees that IOAS's memory.
    fn mock_access_replace_ioas(fd) {
        let a = fd.alloc_ioas().unwrap();
        let b = fd.alloc_ioas().unwrap();
        let buf_a = MappedBuffer::new(ULEN).unwrap();
        let buf_b = MappedBuffer::new(ULEN).unwrap();
        buf_a.fill(0xaa);
        buf_b.fill(0xbb);
        a.map(&buf_a, Iova::Fixed(0x100_0000), MapFlags::RW).unwrap();
        b.map(&buf_b, Iova::Fixed(0x100_0000), MapFlags::RW).unwrap();
        let mut access = fd.test().create_access(&a, 0).unwrap();
        let mut x = [0u8; 1];
        access.read(0x100_0000, &mut x).unwrap();
        assert_eq!(x[0], 0xaa);
        access.replace_ioas(&b).unwrap();
        access.read(0x100_0000, &mut x).unwrap();
        assert_eq!(x[0], 0xbb);
    }
}

mock_iommu_scenario! {
    /// A copy into an IOAS with a domain pins the same pages again.
    fn mock_copy_shares_pages(fd) {
        let src = fd.alloc_ioas().unwrap();
        let dst = fd.alloc_ioas().unwrap();
        let d1 = fd.test().mock_domain(&src).unwrap();
        let d2 = fd.test().mock_domain(&dst).unwrap();
        let buf = MappedBuffer::new(ULEN).unwrap();
        let iova = src.map(&buf, Iova::Auto, MapFlags::RW).unwrap();
        let at = dst.copy_from(&src, iova, LEN, Iova::Auto, MapFlags::RW).unwrap();
        fd.test().check_map(d1.hwpt_id(), iova, &buf, 0, LEN).unwrap();
        fd.test().check_map(d2.hwpt_id(), at, &buf, 0, LEN).unwrap();
        fd.test().check_refs(&buf, 0, LEN, 1).unwrap();
        // Part of an area can be copied too.
        let part = dst.copy_from(&src, iova + 4096, 4096, Iova::Auto, MapFlags::RW).unwrap();
        fd.test().check_map(d2.hwpt_id(), part, &buf, 4096, 4096).unwrap();
    }
}

mock_iommu_scenario! {
    /// An IOAS with huge pages off still maps and checks the same way.
    fn mock_huge_pages_off(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        ioas.set_huge_pages(false).unwrap();
        let dev = fd.test().mock_domain(&ioas).unwrap();
        let buf = MappedBuffer::new(ULEN).unwrap();
        let iova = ioas.map(&buf, Iova::Auto, MapFlags::RW).unwrap();
        fd.test().check_map(dev.hwpt_id(), iova, &buf, 0, LEN).unwrap();
        assert!(!ioas.huge_pages().unwrap());
    }
}

mock_scenario! {
    /// Destroying a mock device's object detaches it; its IOAS can go after.
    fn mock_device_destroy_order(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        let dev = fd.test().mock_domain(&ioas).unwrap();
        assert_errno(ioas.destroy(), Errno::EBUSY);
        assert_errno(fd.destroy(dev.hwpt_id()), Errno::EBUSY);
        dev.destroy().unwrap();
        ioas.destroy().unwrap();
    }
}

mock_scenario! {
    /// PASID attach, check, replace and detach on a PASID-capable mock device.
    fn mock_pasid_attach_replace_detach(fd) {
        if !paging_pasid_attach("mock_pasid_attach_replace_detach") {
            return;
        }
        let ioas = fd.alloc_ioas().unwrap();
        let dev = fd.test().mock_domain_flags(&ioas, MOCK_FLAGS_DEVICE_PASID).unwrap();
        let h1 = Hwpt::paging(dev.dev_id(), &ioas, HwptFlags::PASID).unwrap();
        let h2 = Hwpt::paging(dev.dev_id(), &ioas, HwptFlags::PASID).unwrap();
        let no_pasid = Hwpt::paging(dev.dev_id(), &ioas, HwptFlags::empty()).unwrap();
        let pasid = 100;
        dev.pasid_check(pasid, None).unwrap();
        assert_errno(dev.pasid_attach(pasid, &no_pasid), Errno::EINVAL);
        // The automatic RID domain is not PASID-compatible, so no PASID may attach yet.
        assert_errno(dev.pasid_attach(pasid, &h1), Errno::EINVAL);
        dev.replace(&h1).unwrap();
        assert_eq!(dev.pasid_attach(pasid, &h1).unwrap(), h1.id());
        dev.pasid_check(pasid, Some(h1.id())).unwrap();
        assert_errno(dev.pasid_attach(pasid, &h2), Errno::EBUSY);
        assert_eq!(dev.pasid_replace(pasid, &h2).unwrap(), h2.id());
        dev.pasid_check(pasid, Some(h2.id())).unwrap();
        assert_errno(h2.destroy(), Errno::EBUSY);
        dev.pasid_detach(pasid).unwrap();
        dev.pasid_check(pasid, None).unwrap();
        h2.destroy().unwrap();
    }
}

mock_iommu_scenario! {
    /// IOMMU_IOAS_MAP_FILE of a memfd reaches the mock domain: CHECK_MAP against a shared
    /// mapping of the same file range, one pin per page, released on unmap.
    fn mock_map_file_check_map(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        let dev = fd.test().mock_domain(&ioas).unwrap();
        let file = MemFile::new("mock_map_file", 4 * LEN).unwrap();
        let view = MappedBuffer::from_file(&file, LEN, ULEN).unwrap();
        view.fill(0x3c);
        fd.test().check_refs(&view, 0, LEN, 0).unwrap();
        let iova = ioas.map_file(&file, LEN, LEN, Iova::Auto, MapFlags::RW).unwrap();
        assert!((MOCK_APERTURE_START..=MOCK_APERTURE_LAST).contains(&iova));
        fd.test().check_map(dev.hwpt_id(), iova, &view, 0, LEN).unwrap();
        fd.test().check_refs(&view, 0, LEN, 1).unwrap();
        // Another range of the file is other pages.
        let other = MappedBuffer::from_file(&file, 0, ULEN).unwrap();
        assert_errno(fd.test().check_map(dev.hwpt_id(), iova, &other, 0, LEN), Errno::EINVAL);
        // Through an access: the file's bytes.
        let access = fd.test().create_access(&ioas, 0).unwrap();
        let mut got = [0u8; 4];
        access.read(iova + 100, &mut got).unwrap();
        assert_eq!(got, [0x3c; 4]);
        access.write(iova + 200, b"file").unwrap();
        let mut back = [0u8; 4];
        view.read(200, &mut back);
        assert_eq!(&back, b"file");
        drop(access);
        assert_eq!(ioas.unmap(iova, LEN).unwrap(), LEN);
        fd.test().check_refs(&view, 0, LEN, 0).unwrap();
    }
}

mock_iommu_scenario! {
    /// IOMMU_IOAS_COPY shares the source's pinned pages: the pin count stays one through the
    /// copy and the source's unmap, and drops to zero only when the last copy goes.
    fn mock_copy_pins_outlive_source(fd) {
        let src = fd.alloc_ioas().unwrap();
        let dst = fd.alloc_ioas().unwrap();
        let _d1 = fd.test().mock_domain(&src).unwrap();
        let d2 = fd.test().mock_domain(&dst).unwrap();
        let buf = MappedBuffer::new(ULEN).unwrap();
        let iova = src.map(&buf, Iova::Auto, MapFlags::RW).unwrap();
        fd.test().check_refs(&buf, 0, LEN, 1).unwrap();
        let a = dst.copy_from(&src, iova, LEN, Iova::Auto, MapFlags::RW).unwrap();
        let b = dst.copy_from(&src, iova, LEN, Iova::Auto, MapFlags::READABLE).unwrap();
        fd.test().check_refs(&buf, 0, LEN, 1).unwrap();
        assert_eq!(src.unmap_all().unwrap(), LEN);
        fd.test().check_refs(&buf, 0, LEN, 1).unwrap();
        fd.test().check_map(d2.hwpt_id(), a, &buf, 0, LEN).unwrap();
        fd.test().check_map(d2.hwpt_id(), b, &buf, 0, LEN).unwrap();
        // Copying from what the source no longer maps.
        assert_errno(dst.copy_from(&src, iova, LEN, Iova::Auto, MapFlags::RW), Errno::ENOENT);
        assert_eq!(dst.unmap(a, LEN).unwrap(), LEN);
        fd.test().check_refs(&buf, 0, LEN, 1).unwrap();
        assert_eq!(dst.unmap(b, LEN).unwrap(), LEN);
        fd.test().check_refs(&buf, 0, LEN, 0).unwrap();
    }
}

mock_iommu_scenario! {
    /// A domain's aperture becomes reserved space: the IOVA ranges shrink to it (and to
    /// holes of reserved ranges inside it), an IOAS with a mapping or allowed range outside
    /// it cannot take the domain (EADDRINUSE), and the space comes back when the domain goes.
    fn mock_aperture_conflicts(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        let buf = MappedBuffer::new(ULEN).unwrap();
        ioas.map(&buf, Iova::Fixed(0x10_0000), MapFlags::RW).unwrap();
        assert_errno(fd.test().mock_domain(&ioas), Errno::EADDRINUSE);
        assert_eq!(ioas.iova_ranges().unwrap().ranges, vec![IovaRange::new(0, u64::MAX)]);
        ioas.unmap_all().unwrap();
        ioas.allow_iovas(&[IovaRange::new(0x1000, 0xf_ffff)]).unwrap();
        assert_errno(fd.test().mock_domain(&ioas), Errno::EADDRINUSE);
        ioas.allow_iovas(&[]).unwrap();

        let dev = fd.test().mock_domain(&ioas).unwrap();
        let mid = MOCK_APERTURE_START + 0x100_0000;
        fd.test().add_reserved(&ioas, mid, 0x10_0000).unwrap();
        assert_eq!(
            ioas.iova_ranges().unwrap().ranges,
            vec![
                IovaRange::new(MOCK_APERTURE_START, mid - 1),
                IovaRange::new(mid + 0x10_0000, MOCK_APERTURE_LAST),
            ]
        );
        // Allowed ranges must now lie inside the aperture.
        assert_errno(ioas.allow_iovas(&[IovaRange::new(0, 0xfff_ffff)]), Errno::EADDRINUSE);
        ioas.allow_iovas(&[IovaRange::new(MOCK_APERTURE_START, MOCK_APERTURE_START + 0xf_ffff)]).unwrap();
        let iova = ioas.map(&buf, Iova::Auto, MapFlags::RW).unwrap();
        assert!((MOCK_APERTURE_START..MOCK_APERTURE_START + 0x10_0000).contains(&iova));
        ioas.unmap_all().unwrap();
        ioas.allow_iovas(&[]).unwrap();
        dev.destroy().unwrap();
        assert_eq!(
            ioas.iova_ranges().unwrap().ranges,
            vec![IovaRange::new(0, mid - 1), IovaRange::new(mid + 0x10_0000, u64::MAX)],
            "only the test reservation is left"
        );
    }
}

mock_scenario! {
    /// IOMMU_IOAS_ALLOW_IOVAS: ranges need start < last and must not overlap (EINVAL), may
    /// come in any order, restrict only automatic IOVAs (fixed ones may lie outside), and do
    /// not show in IOMMU_IOAS_IOVA_RANGES; a full allowed space is ENOSPC.
    fn mock_allow_iovas_rules(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        assert_errno(ioas.allow_iovas(&[IovaRange::new(0x1000, 0x1000)]), Errno::EINVAL);
        assert_errno(ioas.allow_iovas(&[IovaRange::new(0x2000, 0x1000)]), Errno::EINVAL);
        assert_errno(
            ioas.allow_iovas(&[IovaRange::new(0x10_0000, 0x1f_ffff), IovaRange::new(0x1f_f000, 0x2f_ffff)]),
            Errno::EINVAL,
        );
        let hi = IovaRange::new(0x400_0000, 0x400_0000 + LEN - 1);
        let lo = IovaRange::new(0x200_0000, 0x200_0000 + LEN - 1);
        ioas.allow_iovas(&[hi, lo]).unwrap();
        assert_eq!(ioas.iova_ranges().unwrap().ranges, vec![IovaRange::new(0, u64::MAX)]);
        let buf = MappedBuffer::new(ULEN).unwrap();
        let a = ioas.map(&buf, Iova::Auto, MapFlags::RW).unwrap();
        let b = ioas.map(&buf, Iova::Auto, MapFlags::RW).unwrap();
        let mut got = [a, b];
        got.sort();
        assert_eq!(got, [lo.start, hi.start]);
        assert_errno(ioas.map(&buf, Iova::Auto, MapFlags::RW), Errno::ENOSPC);
        ioas.map(&buf, Iova::Fixed(0x800_0000), MapFlags::RW).unwrap();
        // Reserving inside an allowed range is refused; outside is fine.
        assert_errno(fd.test().add_reserved(&ioas, lo.start, 0x1000), Errno::EADDRINUSE);
        fd.test().add_reserved(&ioas, 0x100_0000, 0x1000).unwrap();
        assert_eq!(ioas.unmap_all().unwrap(), 3 * LEN);
    }
}

mock_iommu_scenario! {
    /// IOMMU_OPTION_HUGE_PAGES and domains: turning huge pages off raises the IOVA
    /// alignment to the CPU page; it is refused once a domain has mappings (EINVAL) and when
    /// an existing mapping is not page-aligned (EADDRINUSE), leaving the option on.
    fn mock_huge_pages_with_domain(fd) {
        let page = uiommu_client::page_size() as u64;
        let plain = fd.alloc_ioas().unwrap();
        let buf = MappedBuffer::new(ULEN).unwrap();
        let odd = plain.map_range(&buf, 0x100, 0x1000, Iova::Auto, MapFlags::RW).unwrap();
        assert_eq!(odd % page, 0x100);
        assert_errno(plain.set_huge_pages(false), Errno::EADDRINUSE);
        assert!(plain.huge_pages().unwrap());
        plain.unmap_all().unwrap();
        plain.set_huge_pages(false).unwrap();
        assert_eq!(plain.iova_ranges().unwrap().alignment, page);

        let ioas = fd.alloc_ioas().unwrap();
        let dev = fd.test().mock_domain(&ioas).unwrap();
        assert_eq!(ioas.iova_ranges().unwrap().alignment, MOCK_PAGE_SIZE);
        // A mock-page-aligned mapping that is not CPU-page aligned.
        let at = MOCK_APERTURE_START + MOCK_PAGE_SIZE;
        ioas.map_range(&buf, MOCK_PAGE_SIZE, 0x1000, Iova::Fixed(at), MapFlags::RW).unwrap();
        fd.test().check_map(dev.hwpt_id(), at, &buf, MOCK_PAGE_SIZE, 0x1000).unwrap();
        assert_errno(ioas.set_huge_pages(false), Errno::EINVAL);
        assert!(ioas.huge_pages().unwrap());
        ioas.unmap_all().unwrap();
        ioas.set_huge_pages(false).unwrap();
        assert_eq!(ioas.iova_ranges().unwrap().alignment, page);
        assert_errno(ioas.map(&buf, Iova::Fixed(at), MapFlags::RW), Errno::EINVAL);
        let iova = ioas.map(&buf, Iova::Auto, MapFlags::RW).unwrap();
        assert_eq!(iova % page, 0);
        fd.test().check_map(dev.hwpt_id(), iova, &buf, 0, LEN).unwrap();
        // Setting it again to off is a no-op; on again is allowed with mappings.
        ioas.set_huge_pages(false).unwrap();
        ioas.set_huge_pages(true).unwrap();
    }
}
