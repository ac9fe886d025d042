//! Selftest-mock scenarios about memory: mappings reaching the domain, pin counts, the
//! aperture, emulated-device accesses, reserved ranges, PASID attachments.

use uiommu_client::{Hwpt, HwptFlags, Iova, IovaRange, MapFlags, MappedBuffer};
use uiommu_uapi::Errno;
use uiommu_uapi::selftest::*;

use crate::common::{assert_errno, mock_scenario};

const LEN: usize = 1 << 16;

mock_scenario! {
    /// A mapping reaches the mock domain and pins each page once; unmapping unpins.
    fn mock_map_check_refs(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        let dev = fd.test().mock_domain(&ioas).unwrap();
        assert!(dev.dev_id() != 0 && dev.hwpt_id() != 0 && dev.stdev_id() != 0);
        let buf = MappedBuffer::new(LEN).unwrap();
        fd.test().check_refs(&buf, 0, LEN, 0).unwrap();
        let iova = ioas.map(&buf, Iova::Auto, MapFlags::RW).unwrap();
        assert!((MOCK_APERTURE_START..=MOCK_APERTURE_LAST).contains(&iova), "{iova:#x}");
        fd.test().check_map(dev.hwpt_id(), iova, &buf, 0, LEN).unwrap();
        fd.test().check_refs(&buf, 0, LEN, 1).unwrap();
        assert_errno(fd.test().check_refs(&buf, 0, LEN, 2), Errno::EIO);
        // Wrong memory behind the IOVA.
        let other = MappedBuffer::new(LEN).unwrap();
        assert_errno(fd.test().check_map(dev.hwpt_id(), iova, &other, 0, LEN), Errno::EINVAL);
        assert_eq!(ioas.unmap(iova, LEN as u64).unwrap(), LEN as u64);
        fd.test().check_refs(&buf, 0, LEN, 0).unwrap();
    }
}

mock_scenario! {
    /// With a domain, the IOVA ranges are the aperture and the alignment the mock page size;
    /// fixed maps outside or misaligned are refused.
    fn mock_aperture_and_alignment(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        let _dev = fd.test().mock_domain(&ioas).unwrap();
        let r = ioas.iova_ranges().unwrap();
        assert_eq!(r.ranges, vec![IovaRange::new(MOCK_APERTURE_START, MOCK_APERTURE_LAST)]);
        assert_eq!(r.alignment, MOCK_PAGE_SIZE);
        let buf = MappedBuffer::new(LEN).unwrap();
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
        let hole = MappedBuffer::inaccessible(LEN).unwrap();
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
        let buf = MappedBuffer::new(LEN).unwrap();
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
        let buf = MappedBuffer::new(LEN).unwrap();
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
        assert_errno(access.read(iova + LEN as u64, &mut got), Errno::ENOENT);

        let id = access.pin_pages(iova, &buf, 0, 4 * 4096, 0).unwrap();
        fd.test().check_refs(&buf, 0, 4 * 4096, 1).unwrap();
        access.unpin_pages(id).unwrap();
        fd.test().check_refs(&buf, 0, 4 * 4096, 0).unwrap();
        assert_errno(access.unpin_pages(id), Errno::ENOENT);
        drop(access);
        assert_eq!(ioas.unmap_all().unwrap(), LEN as u64);
    }
}

mock_scenario! {
    /// An access moves to another IOAS and sees that IOAS's memory.
    fn mock_access_replace_ioas(fd) {
        let a = fd.alloc_ioas().unwrap();
        let b = fd.alloc_ioas().unwrap();
        let buf_a = MappedBuffer::new(LEN).unwrap();
        let buf_b = MappedBuffer::new(LEN).unwrap();
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

mock_scenario! {
    /// A copy into an IOAS with a domain pins the same pages again.
    fn mock_copy_shares_pages(fd) {
        let src = fd.alloc_ioas().unwrap();
        let dst = fd.alloc_ioas().unwrap();
        let d1 = fd.test().mock_domain(&src).unwrap();
        let d2 = fd.test().mock_domain(&dst).unwrap();
        let buf = MappedBuffer::new(LEN).unwrap();
        let iova = src.map(&buf, Iova::Auto, MapFlags::RW).unwrap();
        let at = dst.copy_from(&src, iova, LEN as u64, Iova::Auto, MapFlags::RW).unwrap();
        fd.test().check_map(d1.hwpt_id(), iova, &buf, 0, LEN).unwrap();
        fd.test().check_map(d2.hwpt_id(), at, &buf, 0, LEN).unwrap();
        fd.test().check_refs(&buf, 0, LEN, 1).unwrap();
        // Part of an area can be copied too.
        let part = dst.copy_from(&src, iova + 4096, 4096, Iova::Auto, MapFlags::RW).unwrap();
        fd.test().check_map(d2.hwpt_id(), part, &buf, 4096, 4096).unwrap();
    }
}

mock_scenario! {
    /// An IOAS with huge pages off still maps and checks the same way.
    fn mock_huge_pages_off(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        ioas.set_huge_pages(false).unwrap();
        let dev = fd.test().mock_domain(&ioas).unwrap();
        let buf = MappedBuffer::new(LEN).unwrap();
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
        let ioas = fd.alloc_ioas().unwrap();
        let dev = fd.test().mock_domain_flags(&ioas, MOCK_FLAGS_DEVICE_PASID).unwrap();
        let h1 = Hwpt::paging(dev.dev_id(), &ioas, HwptFlags::PASID).unwrap();
        let h2 = Hwpt::paging(dev.dev_id(), &ioas, HwptFlags::PASID).unwrap();
        let no_pasid = Hwpt::paging(dev.dev_id(), &ioas, HwptFlags::empty()).unwrap();
        let pasid = 100;
        dev.pasid_check(pasid, 0).unwrap();
        assert_errno(dev.pasid_attach(pasid, &no_pasid), Errno::EINVAL);
        // The automatic RID domain is not PASID-compatible, so no PASID may attach yet.
        assert_errno(dev.pasid_attach(pasid, &h1), Errno::EINVAL);
        dev.replace(&h1).unwrap();
        assert_eq!(dev.pasid_attach(pasid, &h1).unwrap(), h1.id());
        dev.pasid_check(pasid, h1.id()).unwrap();
        assert_errno(dev.pasid_attach(pasid, &h2), Errno::EBUSY);
        assert_eq!(dev.pasid_replace(pasid, &h2).unwrap(), h2.id());
        dev.pasid_check(pasid, h2.id()).unwrap();
        assert_errno(h2.destroy(), Errno::EBUSY);
        dev.pasid_detach(pasid).unwrap();
        dev.pasid_check(pasid, 0).unwrap();
        h2.destroy().unwrap();
    }
}
