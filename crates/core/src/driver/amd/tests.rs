use super::regs::efr;
use super::spec::dte;
use super::*;
use crate::iommu::Prot;
use proptest::prelude::*;
use uiommu_uapi::copy::UserData;
use uiommu_uapi::iommufd::IOMMU_HW_INFO_TYPE_DEFAULT;
use uiommu_uapi::iommufd::{IOMMU_HW_INFO_TYPE_INTEL_VTD, IOMMU_HWPT_DATA_AMD_GUEST};
use uiommu_uapi::iommufd::{IOMMU_HWPT_DATA_VTD_S1, IommuHwptAmdGuest};
use uiommu_uapi::user::testing::TestMemory;
use zerocopy::IntoBytes;

const DATA: u64 = 0x10_0000;

fn with(f: impl FnOnce(&mut AmdConfig)) -> Arc<AmdDriver> {
    let mut c = AmdConfig::default();
    f(&mut c);
    AmdDriver::new(c)
}

fn dev(drv: &Arc<AmdDriver>) -> PhysDevice {
    drv.create_device(AmdDeviceConfig {
        pasid_bits: 20,
        pri: true,
        ats: true,
    })
}

fn paging(drv: &AmdDriver, dev: &PhysDevice, flags: u32) -> Result<Arc<dyn Domain>> {
    drv.domain_alloc_paging(dev, flags, None)
}

fn is_v1(d: &Arc<dyn Domain>) -> bool {
    d.as_any().downcast_ref::<AmdPaging>().unwrap().is_v1()
}

/// A guest DTE with GV, a GCR3 root and `gdom` as the guest DomainID.
pub(super) fn gdte(gcr3: u64, gdom: u16) -> [u64; 4] {
    [
        dte::V | dte::GV | dte::TV | (((gcr3 >> 12) & 7) << 58),
        u64::from(gdom) | (((gcr3 >> 15) & 0xffff) << 16) | ((gcr3 >> 31) << 43),
        0,
        0,
    ]
}

fn guest_data(mem: &TestMemory, raw: [u64; 4], len: u32) -> DriverData<'_> {
    mem.put(DATA, IommuHwptAmdGuest { dte: raw }.as_bytes());
    DriverData {
        data: UserData {
            data_type: IOMMU_HWPT_DATA_AMD_GUEST,
            uptr: DATA,
            len,
        },
        mem,
    }
}

#[test]
fn hw_info_reports_efr_and_efr2() {
    let drv = AmdDriver::new(AmdConfig::default());
    let d = dev(&drv);
    for requested in [IOMMU_HW_INFO_TYPE_DEFAULT, IOMMU_HW_INFO_TYPE_AMD] {
        let info = drv.hw_info(&d, requested).unwrap().unwrap();
        assert_eq!(info.data_type, IOMMU_HW_INFO_TYPE_AMD);
        let c = AmdConfig::default();
        assert_eq!(
            info.data,
            IommuHwInfoAmd {
                efr: c.efr,
                efr2: c.efr2
            }
            .as_bytes()
        );
    }
    assert_eq!(
        drv.hw_info(&d, IOMMU_HW_INFO_TYPE_INTEL_VTD).unwrap().err(),
        Some(Errno::EOPNOTSUPP)
    );
    assert!(drv.capable(&d, Capability::DirtyTracking));
    assert!(drv.capable(&d, Capability::EnforceCacheCoherency));
    assert!(drv.capable(&d, Capability::PciAtsSupported));
    assert_eq!(d.max_pasid_log2, 16, "the unit's PASMax");
    let no_ppr = with(|c| c.efr &= !efr::PPR);
    assert_eq!(dev(&no_ppr).max_pasid_log2, 0, "no PASIDs without PPR");
}

#[test]
fn paging_flags_choose_the_table_as_the_kernel_does() {
    let drv = AmdDriver::new(AmdConfig::default());
    let d = dev(&drv);
    let v1 = paging(&drv, &d, 0).unwrap();
    assert!(is_v1(&v1));
    assert_eq!(v1.aperture(), (0, (1 << 57) - 1));
    let v2 = paging(&drv, &d, IOMMU_HWPT_ALLOC_PASID).unwrap();
    assert!(!is_v1(&v2));
    assert_eq!(v2.aperture(), (0, (1 << 47) - 1));
    assert_eq!(v2.pgsize_bitmap(), (1 << 12) | (1 << 21) | (1 << 30));
    let np = paging(&drv, &d, IOMMU_HWPT_ALLOC_NEST_PARENT).unwrap();
    assert!(is_v1(&np));
    let dirty = paging(
        &drv,
        &d,
        IOMMU_HWPT_ALLOC_DIRTY_TRACKING | IOMMU_HWPT_ALLOC_NEST_PARENT,
    )
    .unwrap();
    assert!(dirty.has_dirty_tracking() && dirty.set_dirty_tracking(true).is_ok());
    for bad in [
        IOMMU_HWPT_ALLOC_PASID | IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
        IOMMU_HWPT_ALLOC_PASID | IOMMU_HWPT_ALLOC_NEST_PARENT,
        1 << 5,
    ] {
        assert_eq!(paging(&drv, &d, bad).err(), Some(Errno::EOPNOTSUPP));
    }
    let mem = TestMemory::new();
    assert_eq!(
        drv.domain_alloc_paging(&d, 0, Some(guest_data(&mem, gdte(0x1000, 1), 32)))
            .err(),
        Some(Errno::EOPNOTSUPP)
    );
    // Each feature gates its flag.
    let plain = with(|c| {
        c.efr &= !efr::HDSUP;
        c.efr2 = 0;
    });
    let pd = dev(&plain);
    for f in [
        IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
        IOMMU_HWPT_ALLOC_NEST_PARENT,
    ] {
        assert_eq!(paging(&plain, &pd, f).err(), Some(Errno::EOPNOTSUPP));
    }
    let no_pasid = with(|c| c.efr &= !efr::EPHSUP);
    let nd = dev(&no_pasid);
    assert_eq!(
        paging(&no_pasid, &nd, IOMMU_HWPT_ALLOC_PASID).err(),
        Some(Errno::EOPNOTSUPP)
    );
    // Host translation disabled: the default falls back to v2; v1 requests fail.
    let hatdis = with(|c| c.efr |= 3 << efr::HATS_SHIFT);
    let hd = dev(&hatdis);
    assert!(!is_v1(&paging(&hatdis, &hd, 0).unwrap()));
    assert_eq!(
        paging(&hatdis, &hd, IOMMU_HWPT_ALLOC_NEST_PARENT).err(),
        Some(Errno::EOPNOTSUPP)
    );
    let neither = with(|c| c.efr = (c.efr | (3 << efr::HATS_SHIFT)) & !efr::GT);
    assert_eq!(
        paging(&neither, &dev(&neither), 0).err(),
        Some(Errno::EOPNOTSUPP)
    );
}

#[test]
fn attach_rules() {
    let drv = AmdDriver::new(AmdConfig::default());
    let d = dev(&drv);
    let v1 = paging(&drv, &d, 0).unwrap();
    assert_eq!(drv.attach_dev(&d, &v1, None), Ok(()));
    let adev = d.state::<AmdDev>().unwrap();
    let id = v1.as_any().downcast_ref::<AmdPaging>().unwrap().domain_id();
    assert_eq!(adev.domain_id(), Some(id));
    assert_eq!(drv.attach_dev(&d, &v1, None), Ok(()), "same domain");
    // PASIDs take only the blocking domain.
    let v2 = paging(&drv, &d, IOMMU_HWPT_ALLOC_PASID).unwrap();
    assert_eq!(drv.set_dev_pasid(&d, 1, &v2, None), Err(Errno::EOPNOTSUPP));
    assert_eq!(
        drv.set_dev_pasid(&d, 1, &drv.blocking_domain(), None),
        Ok(())
    );
    assert_eq!(drv.attach_dev(&d, &drv.blocking_domain(), None), Ok(()));
    assert_eq!(adev.domain_id(), None);
    // A dirty-tracking domain of one unit is refused by a unit without HDSup.
    let other = with(|c| c.efr &= !efr::HDSUP);
    let od = dev(&other);
    let dirty = paging(&drv, &d, IOMMU_HWPT_ALLOC_DIRTY_TRACKING).unwrap();
    assert_eq!(other.attach_dev(&od, &dirty, None), Err(Errno::EINVAL));
    assert_eq!(other.attach_dev(&od, &v1, None), Ok(()));
    // Another driver's domain is not AMD's.
    let mock = crate::driver::mock::MockDriver::get();
    let mdev = mock.create_device(0).unwrap();
    let md = mock.domain_alloc_paging(&mdev, 0, None).unwrap();
    assert!(!drv.owns(md.as_ref()) && drv.owns(v1.as_ref()));
    assert_eq!(drv.attach_dev(&d, &md, None), Err(Errno::EINVAL));
    // A nest parent refuses nothing at map time (v1 has no read-only erratum).
    assert_eq!(v1.map(0, 0x1000, 0x1000, Prot::READ), Ok(()));
    let regions = drv.reserved_regions(&d);
    assert_eq!(regions.len(), 2);
    let ht = with(|c| c.efr2 |= regs::efr2::HT_RANGE_IGNORE);
    assert_eq!(ht.reserved_regions(&dev(&ht)).len(), 1);
}

fn viommu(drv: &Arc<AmdDriver>, d: &PhysDevice, nesting: bool) -> (Arc<dyn Domain>, AmdViommu) {
    let parent = paging(drv, d, IOMMU_HWPT_ALLOC_NEST_PARENT).unwrap();
    let mut cfg = drv.unit().config;
    cfg.viommu_nesting = nesting;
    let p = parent.as_any().downcast_ref::<AmdPaging>().unwrap();
    let v = AmdViommu::over(p, cfg);
    (parent, v)
}

#[test]
fn linux_7_3_viommu_has_no_nested_allocation() {
    let drv = AmdDriver::new(AmdConfig::default());
    let d = dev(&drv);
    let (_p, v) = viommu(&drv, &d, false);
    let mem = TestMemory::new();
    assert!(
        v.alloc_domain_nested(0, guest_data(&mem, gdte(0x1000, 1), 32))
            .is_none()
    );
    let requests = uiommu_uapi::copy::UserDataArray {
        data_type: 0,
        uptr: DATA,
        entry_len: 8,
        entry_num: 1,
    };
    assert!(v.cache_invalidate(&requests, &mem).is_none());
    // Nor on a bare nest parent.
    let parent = paging(&drv, &d, IOMMU_HWPT_ALLOC_NEST_PARENT).unwrap();
    assert!(
        drv.domain_alloc_nested(&d, &parent, 0, guest_data(&mem, gdte(0x1000, 1), 32))
            .is_none()
    );
    assert!(drv.viommu_supported(&d, 1) && drv.viommu_supported(&d, 0x1234));
}

#[test]
fn guest_dte_checks_in_kernel_order() {
    let drv = AmdDriver::new(AmdConfig::default());
    let d = dev(&drv);
    let (_p, v) = viommu(&drv, &d, true);
    let mem = TestMemory::new();
    let alloc = |raw: [u64; 4], len: u32| v.alloc_nested(guest_data(&mem, raw, len)).err();
    assert_eq!(alloc(gdte(0x1000, 1), 32), None);
    let mut wrong = guest_data(&mem, gdte(0x1000, 1), 32);
    wrong.data.data_type = IOMMU_HWPT_DATA_VTD_S1;
    assert_eq!(v.alloc_nested(wrong).err(), Some(Errno::EOPNOTSUPP));
    for len in [24, 40] {
        assert_eq!(alloc(gdte(0x1000, 1), len), Some(Errno::EINVAL), "{len}");
    }
    let mut g = gdte(0x1000, 1);
    g[0] |= 4 << 9;
    assert_eq!(alloc(g, 32), Some(Errno::EINVAL), "mode");
    let mut g = gdte(0x1000, 1);
    g[0] |= 0x5000;
    assert_eq!(alloc(g, 32), Some(Errno::EINVAL), "host root");
    assert_eq!(alloc(gdte(0, 1), 32), Some(Errno::EINVAL), "no GCR3 root");
    let mut g = gdte(0, 1);
    g[0] &= !dte::V;
    assert_eq!(alloc(g, 32), None, "not valid: no root needed");
    let mut g = gdte(0x1000, 1);
    g[2] = 2 << 54;
    assert_eq!(alloc(g, 32), Some(Errno::EINVAL), "paging mode");
    let mut g = gdte(0x1000, 1);
    g[0] |= 3 << 56;
    assert_eq!(alloc(g, 32), Some(Errno::EINVAL), "GLX 3");
    let mut g = gdte(0x1000, 1);
    g[2] = 1 << 54;
    assert_eq!(alloc(g, 32), Some(Errno::EOPNOTSUPP), "5 levels");
    // Mode and GLX both wrong: Mode is checked first, but both are EINVAL; the 5-level
    // check comes after GLX.
    g[0] |= 3 << 56;
    assert_eq!(alloc(g, 32), Some(Errno::EINVAL));
}

#[test]
fn guest_domain_ids_share_a_host_domain_id() {
    let drv = AmdDriver::new(AmdConfig::default());
    let d = dev(&drv);
    let (_p, v) = viommu(&drv, &d, true);
    let mem = TestMemory::new();
    let hdom = |n: &Arc<dyn Domain>| {
        n.as_any()
            .downcast_ref::<AmdNested>()
            .unwrap()
            .host_domain_id()
    };
    let a = v
        .alloc_nested(guest_data(&mem, gdte(0x1000, 7), 32))
        .unwrap();
    let b = v
        .alloc_nested(guest_data(&mem, gdte(0x2000, 7), 32))
        .unwrap();
    let c = v
        .alloc_nested(guest_data(&mem, gdte(0x1000, 8), 32))
        .unwrap();
    assert_eq!(hdom(&a), hdom(&b));
    assert_ne!(hdom(&a), hdom(&c));
    // Another vIOMMU maps the same guest ID elsewhere.
    let (_p2, v2) = viommu(&drv, &d, true);
    let e = v2
        .alloc_nested(guest_data(&mem, gdte(0x1000, 7), 32))
        .unwrap();
    assert_ne!(hdom(&a), hdom(&e));
    // Nested attach: refused while the PASID capability is on for a v2 domain.
    let v2dom = paging(&drv, &d, IOMMU_HWPT_ALLOC_PASID).unwrap();
    assert_eq!(drv.attach_dev(&d, &v2dom, None), Ok(()));
    assert_eq!(drv.attach_dev(&d, &a, None), Err(Errno::EINVAL));
    assert_eq!(drv.attach_dev(&d, &drv.blocking_domain(), None), Ok(()));
    assert_eq!(drv.attach_dev(&d, &a, None), Ok(()));
    assert_eq!(d.state::<AmdDev>().unwrap().domain_id(), Some(hdom(&a)));
}

proptest! {
    /// The guest DTE checks against a direct reading of `validate_gdte_nested`, on entries
    /// built from their fields (`other` fills bits no check looks at).
    #[test]
    fn guest_dte_validation_matches_the_model(
        v: bool, gv: bool, mode in prop_oneof![Just(0u64), 1u64..8], trp in proptest::bool::weighted(0.2),
        glx in 0u64..4, gcr3 in prop_oneof![Just(0u64), 1u64..(1 << 40)], level in 0u64..4,
        other: u64, la57: bool, gats5: bool,
    ) {
        let mut cfg = AmdConfig { la57, ..AmdConfig::default() };
        if gats5 {
            cfg.efr |= 1 << efr::GATS_SHIFT;
        }
        let mut raw = gdte(gcr3 << 12, 3);
        raw[0] &= !(dte::V | dte::GV);
        raw[0] |= u64::from(v) | (u64::from(gv) << 55) | (mode << 9) | (u64::from(trp) << 20);
        raw[0] |= (glx << 56) | (other & (dte::PPR | dte::GIOV | (3 << 61)));
        raw[2] = level << 54;
        raw[3] = other;
        let g = GuestDte { raw };
        prop_assert_eq!(g.gcr3(), gcr3 << 12);
        let checks = [
            (mode != 0 || trp, Errno::EINVAL),
            (v && gv && gcr3 == 0, Errno::EINVAL),
            (level > 1 || glx == 3, Errno::EINVAL),
            (level == 1 && !(la57 && gats5), Errno::EOPNOTSUPP),
        ];
        let expect = checks.iter().find(|c| c.0).map_or(Ok(()), |c| Err(c.1));
        prop_assert_eq!(g.validate(&cfg), expect);
    }
}
