//! Event and virtualization scenarios over the selftest mock: fault queues and page
//! responses, vIOMMU, vDEVICE, vEVENTQ (with lost events), HW queues, device caches.

use uiommu_client::{
    Hwpt, HwptData, HwptFlags, InvalidateData, Ioas, Iommufd, Iova, MapFlags, MappedBuffer,
    MockDevice, PageResponse, Viommu, ViommuType,
};
use uiommu_uapi::Errno;
use uiommu_uapi::iommufd::*;
use uiommu_uapi::selftest::*;

use crate::common::{assert_errno, mock_iommu_scenario};

fn nested_data() -> HwptData {
    HwptData::Selftest(IommuHwptSelftest {
        iotlb: IOMMU_TEST_IOTLB_DEFAULT,
        pagetable_type: MOCK_IOMMUPT_DEFAULT,
    })
}

/// An IOAS, a mock device on it, a nest parent, and a mock vIOMMU.
fn setup(fd: &Iommufd) -> (Ioas, MockDevice, Hwpt, Viommu) {
    let ioas = fd.alloc_ioas().unwrap();
    let dev = fd.test().mock_domain(&ioas).unwrap();
    let parent = Hwpt::paging(dev.dev_id(), &ioas, HwptFlags::NEST_PARENT).unwrap();
    let viommu = Viommu::alloc(
        dev.dev_id(),
        &parent,
        ViommuType::Selftest { in_data: 0xbeef },
    )
    .unwrap();
    (ioas, dev, parent, viommu)
}

mock_iommu_scenario! {
    /// vIOMMU allocation: the mock echoes its data; it needs a nest parent and a known type.
    fn viommu_alloc(fd) {
        let (ioas, dev, parent, viommu) = setup(&fd);
        let data = viommu.selftest_data().unwrap();
        assert_eq!(data.out_data, 0xbeef);
        assert_ne!(data.out_mmap_length, 0);
        let plain = Hwpt::paging(dev.dev_id(), &ioas, HwptFlags::empty()).unwrap();
        assert_errno(Viommu::alloc(dev.dev_id(), &plain, ViommuType::Selftest { in_data: 0 }), Errno::EINVAL);
        assert_errno(
            Viommu::alloc(dev.dev_id(), &parent, ViommuType::Raw { viommu_type: 0x1234, data: vec![] }),
            Errno::EOPNOTSUPP,
        );
        assert_errno(parent.destroy(), Errno::EBUSY);
        assert_errno(ioas.destroy(), Errno::EBUSY);
        viommu.destroy().unwrap();
    }
}

mock_iommu_scenario! {
    /// vDEVICEs: one per device per vIOMMU; a nested HWPT needs one before attach.
    fn viommu_vdevice(fd) {
        let (ioas, dev, _parent, viommu) = setup(&fd);
        let nested = Hwpt::nested(dev.dev_id(), &viommu, nested_data()).unwrap();
        assert_errno(dev.replace(&nested), Errno::ENOENT);
        let vdev = viommu.alloc_vdevice(dev.dev_id(), 0x99).unwrap();
        assert_eq!(vdev.virt_id(), 0x99);
        assert_errno(viommu.alloc_vdevice(dev.dev_id(), 0x88), Errno::EEXIST);
        assert_errno(viommu.destroy(), Errno::EBUSY);
        dev.replace(&nested).unwrap();
        dev.replace(&ioas).unwrap();
        vdev.destroy().unwrap();
        assert_errno(vdev.destroy(), Errno::ENOENT);
    }
}

mock_iommu_scenario! {
    /// vEVENTQ: depth bounds, one per type, read-size rules, events carrying the virtual ID,
    /// and overflow reported with a LOST_EVENTS header.
    fn viommu_veventq(fd) {
        let (ioas, dev, _parent, viommu) = setup(&fd);
        assert_errno(viommu.alloc_veventq(IOMMU_VEVENTQ_TYPE_SELFTEST, 0), Errno::EINVAL);
        assert_errno(viommu.alloc_veventq(IOMMU_VEVENTQ_TYPE_SELFTEST, (1 << 19) + 1), Errno::EINVAL);
        let q = viommu.alloc_veventq(IOMMU_VEVENTQ_TYPE_SELFTEST, 2).unwrap();
        assert_errno(viommu.alloc_veventq(IOMMU_VEVENTQ_TYPE_SELFTEST, 2), Errno::EEXIST);
        let mut tiny = [0u8; 7];
        assert_errno(q.read_raw(&mut tiny), Errno::EINVAL);
        assert_eq!(q.read_events(64).unwrap(), vec![]);

        let nested = Hwpt::nested(dev.dev_id(), &viommu, nested_data()).unwrap();
        let _vdev = viommu.alloc_vdevice(dev.dev_id(), 0x88).unwrap();
        dev.replace(&nested).unwrap();
        fd.test().trigger_vevent(dev.dev_id()).unwrap();
        // The header fits but not the event.
        let mut hdr_only = [0u8; 8];
        assert_errno(q.read_raw(&mut hdr_only), Errno::EINVAL);
        let ev = q.read_events(64).unwrap();
        assert_eq!(ev.len(), 1);
        assert!(!ev[0].lost_events());
        assert_eq!(ev[0].selftest().unwrap().virt_id, 0x88);
        let first = ev[0].header.sequence;

        for _ in 0..3 {
            fd.test().trigger_vevent(dev.dev_id()).unwrap();
        }
        let ev = q.read_events(256).unwrap();
        let normal: Vec<_> = ev.iter().filter(|e| !e.lost_events()).collect();
        assert_eq!(normal.len(), 2, "depth 2: {ev:?}");
        assert!(ev.last().unwrap().lost_events(), "{ev:?}");
        assert_eq!(normal[0].header.sequence, first + 1);
        assert_eq!(normal[1].header.sequence, first + 2);
        dev.replace(&ioas).unwrap();
    }
}

mock_iommu_scenario! {
    /// Fault queues: a nested HWPT reporting to a queue, a triggered I/O page fault read
    /// back with its fields, and the page response.
    fn fault_queue_iopf(fd) {
        let (ioas, dev, _parent, viommu) = setup(&fd);
        let q = fd.alloc_fault_queue().unwrap();
        assert_eq!(q.read_faults(4).unwrap(), vec![]);
        let iopf = Hwpt::builder(dev.dev_id(), &viommu).data(nested_data()).fault(&q).alloc().unwrap();
        assert_errno(
            Hwpt::builder(dev.dev_id(), &viommu)
                .data(nested_data())
                .fault(&q)
                .raw_flags(IOMMU_HWPT_FAULT_ID_VALID | (1 << 31))
                .alloc(),
            Errno::EOPNOTSUPP,
        );
        let _vdev = viommu.alloc_vdevice(dev.dev_id(), 0x99).unwrap();
        dev.replace(&iopf).unwrap();
        assert_errno(iopf.destroy(), Errno::EBUSY);
        fd.test()
            .trigger_iopf(TestTriggerIopf {
                dev_id: dev.dev_id().raw(),
                pasid: 1,
                grpid: 2,
                perm: IOMMU_PGFAULT_PERM_READ | IOMMU_PGFAULT_PERM_WRITE,
                addr: 0xdead_beaf,
            })
            .unwrap();
        // A read smaller than one fault is EINVAL; a size not a multiple is ESPIPE.
        let mut small = vec![0u8; size_of::<IommuHwptPgfault>() + 1];
        assert_errno(q.read_raw(&mut small), Errno::ESPIPE);
        let faults = q.read_faults(4).unwrap();
        assert_eq!(faults.len(), 1);
        let f = faults[0];
        assert_eq!(f.dev_id, dev.dev_id().raw());
        assert_eq!((f.pasid, f.grpid, f.addr), (1, 2, 0xdead_beaf));
        assert_eq!(f.perm, IOMMU_PGFAULT_PERM_READ | IOMMU_PGFAULT_PERM_WRITE);
        assert_ne!(f.flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE, 0);
        assert_ne!(f.flags & IOMMU_PGFAULT_FLAGS_PASID_VALID, 0);
        assert_eq!(
            q.respond(&[PageResponse::success(f.cookie)]).unwrap(),
            size_of::<IommuHwptPageResponse>()
        );
        dev.replace(&ioas).unwrap();
        iopf.destroy().unwrap();
    }
}

mock_iommu_scenario! {
    /// vIOMMU invalidation of device caches through the vDEVICE's virtual ID.
    fn viommu_invalidate_dev_cache(fd) {
        let (_ioas, dev, _parent, viommu) = setup(&fd);
        let _vdev = viommu.alloc_vdevice(dev.dev_id(), 0x99).unwrap();
        for i in 0..MOCK_DEV_CACHE_NUM {
            fd.test().check_dev_cache(dev.dev_id(), i, IOMMU_TEST_DEV_CACHE_DEFAULT).unwrap();
        }
        assert_eq!(viommu.invalidate(&InvalidateData::ViommuSelftest(&[])).into_result().unwrap(), 0);
        let bad = [IommuViommuInvalidateSelftest { flags: 0xffff_ffff, vdev_id: 0x99, cache_id: 0 }];
        let r = viommu.invalidate(&InvalidateData::ViommuSelftest(&bad));
        assert_errno(r.result, Errno::EOPNOTSUPP);
        assert_eq!(r.handled, 0);
        let reqs = [
            IommuViommuInvalidateSelftest { flags: 0, vdev_id: 0x99, cache_id: 0 },
            IommuViommuInvalidateSelftest { flags: 0, vdev_id: 0x99, cache_id: 2 },
        ];
        assert_eq!(viommu.invalidate(&InvalidateData::ViommuSelftest(&reqs)).into_result().unwrap(), 2);
        fd.test().check_dev_cache(dev.dev_id(), 0, 0).unwrap();
        fd.test().check_dev_cache(dev.dev_id(), 1, IOMMU_TEST_DEV_CACHE_DEFAULT).unwrap();
        fd.test().check_dev_cache(dev.dev_id(), 2, 0).unwrap();
    }
}

mock_iommu_scenario! {
    /// HW queues: type, length and IOVA checks, index order, ownership of the IOVA.
    fn viommu_hw_queue(fd) {
        let (ioas, _dev, _parent, viommu) = setup(&fd);
        let page = 4096u64;
        let iova = MOCK_APERTURE_START;
        assert_errno(viommu.alloc_hw_queue(IOMMU_HW_QUEUE_TYPE_DEFAULT, 0, iova, page), Errno::EOPNOTSUPP);
        assert_errno(viommu.alloc_hw_queue(IOMMU_HW_QUEUE_TYPE_SELFTEST, 0, iova, 0), Errno::EINVAL);
        assert_errno(viommu.alloc_hw_queue(IOMMU_HW_QUEUE_TYPE_SELFTEST, 0, u64::MAX, page), Errno::EOVERFLOW);
        assert_errno(viommu.alloc_hw_queue(IOMMU_HW_QUEUE_TYPE_SELFTEST, 0, iova, page), Errno::ENOENT);
        let buf = MappedBuffer::new(page as usize).unwrap();
        ioas.map(&buf, Iova::Fixed(iova), MapFlags::RW).unwrap();
        assert_errno(viommu.alloc_hw_queue(IOMMU_HW_QUEUE_TYPE_SELFTEST, 1, iova, page), Errno::EIO);
        assert_errno(
            viommu.alloc_hw_queue(IOMMU_HW_QUEUE_TYPE_SELFTEST, IOMMU_TEST_HW_QUEUE_MAX, iova, page),
            Errno::EINVAL,
        );
        let q0 = viommu.alloc_hw_queue(IOMMU_HW_QUEUE_TYPE_SELFTEST, 0, iova, page).unwrap();
        assert_errno(viommu.alloc_hw_queue(IOMMU_HW_QUEUE_TYPE_SELFTEST, 0, iova, page), Errno::EEXIST);
        assert_errno(ioas.unmap(iova, page), Errno::EBUSY);
        q0.destroy().unwrap();
        assert_eq!(ioas.unmap(iova, page).unwrap(), page);
    }
}

mock_iommu_scenario! {
    /// The mock vIOMMU offers two pages through mmap of the iommufd: only the exact offset
    /// and length map (ENXIO otherwise), only shared (EINVAL) and not executable (EPERM);
    /// the page holds in_data; the vIOMMU is busy while mapped and can go once unmapped.
    fn viommu_mmap_selftest_page(fd) {
        let page = uiommu_client::page_size();
        let (_ioas, _dev, _parent, viommu) = setup(&fd);
        let data = viommu.selftest_data().unwrap();
        assert_eq!(data.out_mmap_length, 2 * page as u64);
        let (off, len) = (data.out_mmap_offset, data.out_mmap_length as usize);
        let rw = libc::PROT_READ | libc::PROT_WRITE;
        assert_errno(viommu.mmap_region(off + page as u64, len), Errno::ENXIO);
        assert_errno(viommu.mmap_region(off + 2 * page as u64, len), Errno::ENXIO);
        assert_errno(viommu.mmap_region(off, len / 2), Errno::ENXIO);
        assert_errno(viommu.mmap_region(off, len * 2), Errno::ENXIO);
        assert_errno(viommu.mmap_raw(off, len, rw, libc::MAP_PRIVATE), Errno::EINVAL);
        assert_errno(viommu.mmap_raw(off, len, rw | libc::PROT_EXEC, libc::MAP_SHARED), Errno::EPERM);
        let m = viommu.mmap().unwrap().unwrap();
        assert_eq!(m.len(), len);
        assert_eq!(m.read_u32(0), 0xbeef, "the loopback word is in_data");
        m.write(page, &[0x5a; 16]);
        let mut back = [0u8; 16];
        m.read(page, &mut back);
        assert_eq!(back, [0x5a; 16]);
        assert_errno(viommu.destroy(), Errno::EBUSY);
        drop(m);
        viommu.destroy().unwrap();
        assert_errno(viommu.mmap_region(off, len), Errno::ENXIO);
    }
}

mock_iommu_scenario! {
    /// A mock vIOMMU without driver data offers nothing to map.
    fn viommu_without_data_has_no_mmap(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        let dev = fd.test().mock_domain(&ioas).unwrap();
        let parent = Hwpt::paging(dev.dev_id(), &ioas, HwptFlags::NEST_PARENT).unwrap();
        let viommu = Viommu::alloc(
            dev.dev_id(),
            &parent,
            ViommuType::Raw { viommu_type: IOMMU_VIOMMU_TYPE_SELFTEST, data: vec![] },
        )
        .unwrap();
        assert!(viommu.mmap().is_none());
        assert_errno(viommu.mmap_region(0, uiommu_client::page_size()), Errno::ENXIO);
        // A data buffer shorter than in_data is EINVAL.
        assert_errno(
            Viommu::alloc(
                dev.dev_id(),
                &parent,
                ViommuType::Raw { viommu_type: IOMMU_VIOMMU_TYPE_SELFTEST, data: vec![0; 2] },
            ),
            Errno::EINVAL,
        );
    }
}

mock_iommu_scenario! {
    /// HW queues chain: queue 1 depends on queue 0, which cannot go first (EBUSY); a queue
    /// may start inside a page; its memory must be mapped in the nest parent (ENOENT).
    fn viommu_hw_queue_depend(fd) {
        let (ioas, _dev, _parent, viommu) = setup(&fd);
        let page = uiommu_client::page_size() as u64;
        let iova = MOCK_APERTURE_START;
        let buf = MappedBuffer::new(page as usize).unwrap();
        ioas.map(&buf, Iova::Fixed(iova), MapFlags::RW).unwrap();
        // Running into the unmapped page after the mapping.
        assert_errno(
            viommu.alloc_hw_queue(IOMMU_HW_QUEUE_TYPE_SELFTEST, 0, iova + page - 0x100, 0x200),
            Errno::ENOENT,
        );
        let q0 = viommu.alloc_hw_queue(IOMMU_HW_QUEUE_TYPE_SELFTEST, 0, iova + 0x100, 0x100).unwrap();
        let q1 = viommu.alloc_hw_queue(IOMMU_HW_QUEUE_TYPE_SELFTEST, 1, iova + 0x800, 0x100).unwrap();
        assert_ne!(q0.id(), q1.id());
        assert_errno(q0.destroy(), Errno::EBUSY);
        assert_errno(viommu.destroy(), Errno::EBUSY);
        q1.destroy().unwrap();
        q0.destroy().unwrap();
        assert_eq!(ioas.unmap(iova, page).unwrap(), page);
    }
}

mock_iommu_scenario! {
    /// Every mapping of a vIOMMU region holds the vIOMMU: with two mappings, unmapping one
    /// still leaves IOMMU_DESTROY EBUSY.
    fn viommu_mmap_each_mapping_holds(fd) {
        let (_ioas, _dev, _parent, viommu) = setup(&fd);
        let data = viommu.selftest_data().unwrap();
        let (off, len) = (data.out_mmap_offset, data.out_mmap_length as usize);
        let m1 = viommu.mmap_region(off, len).unwrap();
        let m2 = viommu.mmap_region(off, len).unwrap();
        m1.write(8, &7u32.to_ne_bytes());
        assert_eq!(m2.read_u32(8), 7, "one page behind both");
        assert_errno(viommu.destroy(), Errno::EBUSY);
        drop(m1);
        assert_errno(viommu.destroy(), Errno::EBUSY);
        drop(m2);
        viommu.destroy().unwrap();
    }
}
