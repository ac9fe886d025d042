//! The driver's answers without DMA: hw_info, paging allocation, attach rules, vSTEs.

use super::*;
use crate::iommu::Prot;
use spec::{put, ste};
use uiommu_uapi::copy::UserData;
use uiommu_uapi::iommufd::IOMMU_HW_INFO_TYPE_DEFAULT;
use uiommu_uapi::iommufd::IOMMU_HWPT_DATA_ARM_SMMUV3;
use uiommu_uapi::user::testing::TestMemory;
use zerocopy::IntoBytes;

fn without(idr: usize, bits: u32) -> Arc<SmmuDriver> {
    let mut c = SmmuConfig::default();
    c.idr[idr] &= !bits;
    SmmuDriver::new(c)
}

fn paging(drv: &SmmuDriver, dev: &PhysDevice, flags: u32) -> Result<Arc<dyn Domain>> {
    drv.domain_alloc_paging(dev, flags, None)
}

fn as_paging(d: &Arc<dyn Domain>) -> &SmmuPaging {
    d.as_any().downcast_ref::<SmmuPaging>().unwrap()
}

#[test]
fn hw_info_reports_the_id_registers_raw() {
    let drv = SmmuDriver::new(SmmuConfig::default());
    let dev = drv.create_device(SmmuDeviceConfig::default());
    let info = drv
        .hw_info(&dev, IOMMU_HW_INFO_TYPE_DEFAULT)
        .unwrap()
        .unwrap();
    assert_eq!(info.data_type, IOMMU_HW_INFO_TYPE_ARM_SMMUV3);
    let c = SmmuConfig::default();
    let expect = IommuHwInfoArmSmmuv3 {
        flags: 0,
        __reserved: 0,
        idr: c.idr,
        iidr: c.iidr,
        aidr: c.aidr,
    };
    assert_eq!(info.data, expect.as_bytes());
    assert!(
        drv.hw_info(&dev, IOMMU_HW_INFO_TYPE_ARM_SMMUV3)
            .unwrap()
            .is_ok()
    );
    assert_eq!(drv.hw_info(&dev, 1).unwrap().err(), Some(Errno::EOPNOTSUPP));
    assert_eq!(
        drv.reserved_regions(&dev),
        vec![ReservedRegion {
            start: 0x800_0000,
            last: 0x80f_ffff,
            sw_msi: true
        }]
    );
}

#[test]
fn devices_take_the_smmu_substream_width_and_capabilities() {
    let drv = SmmuDriver::new(SmmuConfig::default());
    let wide = drv.create_device(SmmuDeviceConfig {
        pasid_bits: 22,
        ats: true,
        canwbs: false,
    });
    let plain = drv.create_device(SmmuDeviceConfig::default());
    assert_ne!(wide.group_id, plain.group_id);
    assert_eq!((wide.max_pasid_log2, plain.max_pasid_log2), (20, 0));
    assert!(
        !drv.capable(&wide, Capability::PciAtsSupported),
        "no ATS on the SMMU"
    );
    assert!(!drv.capable(&wide, Capability::EnforceCacheCoherency));
    assert!(drv.capable(&plain, Capability::EnforceCacheCoherency));
    assert!(drv.capable(&plain, Capability::DirtyTracking));
    assert!(drv.capable(&plain, Capability::CacheCoherency));
    // No CANWBS and no S2FWB: no vSMMU for the device.
    assert!(!drv.viommu_supported(&wide, IOMMU_VIOMMU_TYPE_ARM_SMMUV3));
    assert!(drv.viommu_supported(&plain, IOMMU_VIOMMU_TYPE_ARM_SMMUV3));
    assert!(!drv.viommu_supported(&plain, 2));
    // A linear-only CD table limits substreams to 10 bits.
    let linear = without(0, regs::idr0::CD2L);
    let d = linear.create_device(SmmuDeviceConfig {
        pasid_bits: 20,
        ..Default::default()
    });
    assert_eq!(d.max_pasid_log2, 10);
    assert!(!without(0, 3 << regs::idr0::HTTU_SHIFT).capable(&d, Capability::DirtyTracking));
}

#[test]
fn paging_allocation_follows_arm_smmu_domain_alloc_paging_flags() {
    let drv = SmmuDriver::new(SmmuConfig::default());
    let dev = drv.create_device(SmmuDeviceConfig::default());
    let d = paging(&drv, &dev, 0).unwrap();
    assert!(!as_paging(&d).is_s2());
    assert!(matches!(as_paging(&d).stage_id(), StageId::S1 { asid } if asid != 0));
    assert_eq!(d.aperture(), (0, (1 << 48) - 1));
    assert_eq!(d.pgsize_bitmap(), (1 << 12) | (1 << 21) | (1 << 30));
    let p = paging(&drv, &dev, IOMMU_HWPT_ALLOC_NEST_PARENT).unwrap();
    assert!(as_paging(&p).is_s2() && as_paging(&p).is_nest_parent());
    assert!(matches!(as_paging(&p).stage_id(), StageId::S2 { vmid } if vmid != 0));
    assert!(!p.has_dirty_tracking());
    assert_eq!(p.set_dirty_tracking(true), Err(Errno::EOPNOTSUPP));
    let dirty = paging(
        &drv,
        &dev,
        IOMMU_HWPT_ALLOC_DIRTY_TRACKING | IOMMU_HWPT_ALLOC_PASID,
    );
    let dirty = dirty.unwrap();
    assert!(dirty.has_dirty_tracking() && !as_paging(&dirty).is_s2());
    assert_eq!(dirty.set_dirty_tracking(true), Ok(()));
    for flags in [
        IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_PASID,
        IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
        1 << 4,
    ] {
        assert_eq!(
            paging(&drv, &dev, flags).err(),
            Some(Errno::EOPNOTSUPP),
            "{flags:#x}"
        );
    }
    let mem = TestMemory::new();
    let data = DriverData {
        data: UserData {
            data_type: IOMMU_HWPT_DATA_ARM_SMMUV3,
            uptr: 0x1000,
            len: 16,
        },
        mem: &mem,
    };
    assert_eq!(
        drv.domain_alloc_paging(&dev, 0, Some(data)).err(),
        Some(Errno::EOPNOTSUPP)
    );
    assert!(
        drv.domain_alloc_nested(&dev, &p, 0, data).is_none(),
        "nesting is the vSMMU's"
    );
    // Without stage 1 everything is stage 2 and PASID/dirty domains are refused; without
    // stage 2 no nest parent.
    let s2only = without(0, regs::idr0::S1P);
    let dev2 = s2only.create_device(SmmuDeviceConfig::default());
    assert!(as_paging(&paging(&s2only, &dev2, 0).unwrap()).is_s2());
    for flags in [IOMMU_HWPT_ALLOC_PASID, IOMMU_HWPT_ALLOC_NEST_PARENT] {
        assert_eq!(paging(&s2only, &dev2, flags).err(), Some(Errno::EOPNOTSUPP));
    }
    // A 64K-only SMMU with a 40-bit OAS: 64K granule, stage 2 over 40 bits.
    let mut c = SmmuConfig::default();
    c.idr[5] = regs::idr5::GRAN64K | 2;
    let g64 = SmmuDriver::new(c);
    let dev64 = g64.create_device(SmmuDeviceConfig::default());
    let d = paging(&g64, &dev64, IOMMU_HWPT_ALLOC_NEST_PARENT).unwrap();
    assert_eq!(d.pgsize_bitmap(), (1 << 16) | (1 << 29));
    assert_eq!(d.aperture(), (0, (1 << 40) - 1));
    assert_eq!(d.map(0x10000, 0x20000, 0x10000, Prot::RW), Ok(()));
    assert_eq!(d.iova_to_phys(0x10008), Some(0x20008));
}

#[test]
fn vmids_and_asids_come_back_when_domains_go() {
    let mut c = SmmuConfig::default();
    c.idr[0] &= !regs::idr0::VMID16;
    let drv = SmmuDriver::new(c);
    let dev = drv.create_device(SmmuDeviceConfig::default());
    let all: Vec<_> = (0..255)
        .map(|_| paging(&drv, &dev, IOMMU_HWPT_ALLOC_NEST_PARENT).unwrap())
        .collect();
    assert_eq!(
        paging(&drv, &dev, IOMMU_HWPT_ALLOC_NEST_PARENT).err(),
        Some(Errno::ENOSPC),
        "8-bit VMIDs, 0 reserved"
    );
    let vmid = as_paging(&all[7]).stage_id();
    drop(all);
    let again = paging(&drv, &dev, IOMMU_HWPT_ALLOC_NEST_PARENT).unwrap();
    assert_eq!(as_paging(&again).stage_id(), StageId::S2 { vmid: 1 });
    assert_ne!(vmid, StageId::S2 { vmid: 1 });
}

#[test]
fn substreams_and_the_rid_follow_the_kernel_attach_rules() {
    let drv = SmmuDriver::new(SmmuConfig::default());
    let dev = drv.create_device(SmmuDeviceConfig {
        pasid_bits: 8,
        ..Default::default()
    });
    let s1 = paging(&drv, &dev, 0).unwrap();
    let s2 = paging(&drv, &dev, IOMMU_HWPT_ALLOC_NEST_PARENT).unwrap();
    let blocked = drv.blocking_domain();
    // Stage 2 cannot be a substream's domain.
    assert_eq!(drv.set_dev_pasid(&dev, 1, &s2, None), Err(Errno::EINVAL));
    // RID on stage 2: the STE has no CD table, so no substream may be added.
    drv.attach_dev(&dev, &s2, None).unwrap();
    assert_eq!(drv.set_dev_pasid(&dev, 1, &s1, None), Err(Errno::EINVAL));
    // RID blocked: a CD-table STE with S1DSS terminate takes substreams.
    drv.attach_dev(&dev, &blocked, None).unwrap();
    drv.set_dev_pasid(&dev, 1, &s1, None).unwrap();
    // With substreams in use the RID cannot go to stage 2.
    assert_eq!(drv.attach_dev(&dev, &s2, None), Err(Errno::EBUSY));
    drv.attach_dev(&dev, &s1, None).unwrap();
    drv.set_dev_pasid(&dev, 2, &s1, None).unwrap();
    drv.set_dev_pasid(&dev, 1, &blocked, None).unwrap();
    drv.set_dev_pasid(&dev, 2, &blocked, None).unwrap();
    drv.attach_dev(&dev, &s2, None).unwrap();
    // Another SMMU's domain is incompatible.
    let other = SmmuDriver::new(SmmuConfig::default());
    let odev = other.create_device(SmmuDeviceConfig::default());
    let foreign = paging(&other, &odev, 0).unwrap();
    assert_eq!(drv.attach_dev(&dev, &foreign, None), Err(Errno::EINVAL));
    assert!(drv.owns(foreign.as_ref()) && drv.owns(blocked.as_ref()));
    let mock = crate::driver::mock::MockDriver::get();
    let mdev = mock.create_device(0).unwrap();
    let md = mock.domain_alloc_paging(&mdev, 0, None).unwrap();
    assert!(!drv.owns(md.as_ref()));
}

#[test]
fn guest_stes_are_validated_as_arm_smmu_validate_vste_does() {
    let ok = |w0: u64, w1: u64| {
        let mut w = [w0, w1];
        validate_vste_ret(&mut w).map(|ats| (w, ats))
    };
    fn validate_vste_ret(w: &mut [u64; 2]) -> Result<bool> {
        nested::validate_vste(w)
    }
    let v = ste::V;
    let s1 = v | put(ste::CFG, ste::CFG_S1_TRANS);
    // V clear: anything goes, and is cleared.
    assert_eq!(ok(0xffff_0000_0000_fff0, u64::MAX), Ok(([0, 0], false)));
    assert_eq!(ok(v, 0), Ok(([v, 0], false)), "abort");
    let bypass = v | put(ste::CFG, ste::CFG_BYPASS);
    assert_eq!(ok(bypass, 0), Ok(([bypass, 0], false)));
    let full = s1 | put(ste::S1CDMAX, 20) | (0xdead_b000 & ste::S1CTXPTR) | put(ste::S1FMT, 1);
    let w1 = put(ste::S1DSS, 2) | ste::S1STALLD | put(ste::S1CSH, 3) | put(ste::EATS, 1);
    assert_eq!(
        ok(full, w1),
        Ok(([full, w1 & !ste::EATS], true)),
        "EATS taken out"
    );
    assert_eq!(
        ok(bypass, put(ste::EATS, 1)),
        Ok(([bypass, 0], false)),
        "ATS only for S1"
    );
    // Illegal: other fields, Config stage 2 or nested, EATS split-stage.
    for (w0, w1) in [
        (s1 | (1 << 52), 0),
        (s1, 1 << 19),
        (s1, put(ste::EATS, 2)),
        (v | put(ste::CFG, ste::CFG_S2_TRANS), 0),
        (v | put(ste::CFG, ste::CFG_NESTED), 0),
        (v | put(ste::CFG, 1), 0),
    ] {
        assert_eq!(ok(w0, w1), Err(Errno::EIO), "{w0:#x} {w1:#x}");
    }
}
