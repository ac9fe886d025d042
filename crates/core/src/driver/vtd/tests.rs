use super::*;
use crate::iommu::Prot;
use uiommu_uapi::UserMemory;
use uiommu_uapi::copy::{UserData, UserDataArray};
use uiommu_uapi::iommufd::IOMMU_HW_INFO_TYPE_DEFAULT;
use uiommu_uapi::iommufd::{
    IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, IOMMU_VTD_INV_FLAGS_LEAF, IOMMU_VTD_S1_EAFE,
    IOMMU_VTD_S1_SRE, IommuHwptVtdS1Invalidate,
};
use uiommu_uapi::selftest::IOMMU_HWPT_DATA_SELFTEST;
use uiommu_uapi::user::testing::TestMemory;
use zerocopy::IntoBytes;

const DATA: u64 = 0x10_0000;

fn s1_data(mem: &TestMemory, s1: IommuHwptVtdS1, len: u32) -> DriverData<'_> {
    mem.put(DATA, s1.as_bytes());
    DriverData {
        data: UserData {
            data_type: IOMMU_HWPT_DATA_VTD_S1,
            uptr: DATA,
            len,
        },
        mem,
    }
}

fn s1(addr_width: u32, flags: u64) -> IommuHwptVtdS1 {
    IommuHwptVtdS1 {
        flags,
        pgtbl_addr: 0x1000,
        addr_width,
        __reserved: 0,
    }
}

fn without(ecap_bits: u64, cap_bits: u64) -> Arc<VtdDriver> {
    let mut c = VtdConfig::default();
    c.ecap &= !ecap_bits;
    c.cap &= !cap_bits;
    VtdDriver::new(c)
}

fn paging(drv: &VtdDriver, dev: &PhysDevice, flags: u32) -> Result<Arc<dyn Domain>> {
    drv.domain_alloc_paging(dev, flags, None)
}

fn nested(
    drv: &VtdDriver,
    dev: &PhysDevice,
    parent: &Arc<dyn Domain>,
    data: DriverData<'_>,
) -> Result<Arc<dyn Domain>> {
    drv.domain_alloc_nested(dev, parent, 0, data).unwrap()
}

#[test]
fn hw_info_reports_cap_and_ecap() {
    let drv = VtdDriver::new(VtdConfig::default());
    let dev = drv.create_device(VtdDeviceConfig::default());
    let info = drv
        .hw_info(&dev, IOMMU_HW_INFO_TYPE_DEFAULT)
        .unwrap()
        .unwrap();
    assert_eq!(info.data_type, IOMMU_HW_INFO_TYPE_INTEL_VTD);
    let expect = IommuHwInfoVtd {
        flags: IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17,
        __reserved: 0,
        cap_reg: VtdConfig::default().cap,
        ecap_reg: VtdConfig::default().ecap,
    };
    assert_eq!(info.data, expect.as_bytes());
    assert!(
        drv.hw_info(&dev, IOMMU_HW_INFO_TYPE_INTEL_VTD)
            .unwrap()
            .is_ok()
    );
    assert_eq!(drv.hw_info(&dev, 2).unwrap().err(), Some(Errno::EOPNOTSUPP));
}

#[test]
fn devices_take_the_unit_pasid_width_and_capabilities() {
    let drv = VtdDriver::new(VtdConfig::default());
    let wide = drv.create_device(VtdDeviceConfig {
        pasid_bits: 22,
        pri: true,
        ats: true,
    });
    let plain = drv.create_device(VtdDeviceConfig::default());
    assert_ne!(wide.group_id, plain.group_id);
    assert_eq!((wide.max_pasid_log2, plain.max_pasid_log2), (20, 0));
    assert!(drv.capable(&wide, Capability::PciAtsSupported));
    assert!(!drv.capable(&plain, Capability::PciAtsSupported));
    assert!(drv.capable(&plain, Capability::DirtyTracking));
    assert!(drv.capable(&plain, Capability::EnforceCacheCoherency));
    let legacy = without(regs::ecap::SMTS, 0);
    let d = legacy.create_device(VtdDeviceConfig {
        pasid_bits: 20,
        ..Default::default()
    });
    assert_eq!(d.max_pasid_log2, 0);
    assert!(!legacy.capable(&d, Capability::DirtyTracking));
    assert_eq!(
        drv.reserved_regions(&plain),
        vec![ReservedRegion {
            start: 0xfee0_0000,
            last: 0xfeef_ffff,
            sw_msi: false
        }]
    );
}

#[test]
fn paging_allocation_prefers_the_first_stage() {
    let drv = VtdDriver::new(VtdConfig::default());
    let dev = drv.create_device(VtdDeviceConfig::default());
    let kind_of = |d: &Arc<dyn Domain>| {
        let p = d.as_any().downcast_ref::<VtdPaging>().unwrap();
        (
            p.is_second_stage(),
            p.is_nest_parent(),
            d.has_dirty_tracking(),
        )
    };
    let d = paging(&drv, &dev, 0).unwrap();
    assert_eq!(kind_of(&d), (false, false, false));
    // First stage: 5 levels, the lower canonical half of 57 bits.
    assert_eq!(d.aperture(), (0, (1 << 56) - 1));
    assert_eq!(d.pgsize_bitmap(), (1 << 12) | (1 << 21) | (1 << 30));
    let d = paging(&drv, &dev, IOMMU_HWPT_ALLOC_PASID).unwrap();
    assert_eq!(kind_of(&d), (false, false, false));
    let d = paging(&drv, &dev, IOMMU_HWPT_ALLOC_NEST_PARENT).unwrap();
    assert_eq!(kind_of(&d), (true, true, false));
    assert_eq!(d.aperture(), (0, (1 << 57) - 1));
    // ERRATA_772415_SPR17: a nest parent refuses read-only maps.
    assert_eq!(d.map(0, 0x1000, 0x1000, Prot::READ), Err(Errno::EINVAL));
    let d = paging(&drv, &dev, IOMMU_HWPT_ALLOC_DIRTY_TRACKING).unwrap();
    assert_eq!(kind_of(&d), (true, false, true));
    assert_eq!(d.set_dirty_tracking(true), Ok(()));
    assert_eq!(paging(&drv, &dev, 1 << 5).err(), Some(Errno::EOPNOTSUPP));
    let mem = TestMemory::new();
    assert_eq!(
        drv.domain_alloc_paging(&dev, 0, Some(s1_data(&mem, s1(48, 0), 24)))
            .err(),
        Some(Errno::EOPNOTSUPP),
        "no driver data"
    );
    // Without SSADS, no dirty tracking; without nesting, no nest parent.
    let drv = without(regs::ecap::SSADS | regs::ecap::NEST, 0);
    let dev = drv.create_device(VtdDeviceConfig::default());
    for flags in [
        IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
        IOMMU_HWPT_ALLOC_NEST_PARENT,
    ] {
        assert_eq!(paging(&drv, &dev, flags).err(), Some(Errno::EOPNOTSUPP));
    }
    // Without a first stage everything is second stage; 2 MiB pages only as SSLPS says.
    let drv = without(regs::ecap::FSTS, 0b10 << regs::cap::SSLPS_SHIFT);
    let dev = drv.create_device(VtdDeviceConfig::default());
    let d = paging(&drv, &dev, 0).unwrap();
    assert_eq!(kind_of(&d), (true, false, false));
    assert_eq!(d.pgsize_bitmap(), (1 << 12) | (1 << 21));
}

#[test]
fn nested_allocation_checks_in_kernel_order() {
    let drv = VtdDriver::new(VtdConfig::default());
    let dev = drv.create_device(VtdDeviceConfig::default());
    let mem = TestMemory::new();
    let parent = paging(&drv, &dev, IOMMU_HWPT_ALLOC_NEST_PARENT).unwrap();
    let n = nested(&drv, &dev, &parent, s1_data(&mem, s1(48, 0), 24)).unwrap();
    assert_eq!(n.domain_type(), DomainType::Nested);
    let err = drv.domain_alloc_nested(
        &dev,
        &parent,
        IOMMU_HWPT_ALLOC_NEST_PARENT,
        s1_data(&mem, s1(48, 0), 24),
    );
    assert_eq!(err.unwrap().err(), Some(Errno::EOPNOTSUPP), "flags");
    let mut wrong = s1_data(&mem, s1(48, 0), 24);
    wrong.data.data_type = IOMMU_HWPT_DATA_SELFTEST;
    assert_eq!(
        nested(&drv, &dev, &parent, wrong).err(),
        Some(Errno::EOPNOTSUPP)
    );
    // The parent must be a second-stage nest parent.
    let fs = paging(&drv, &dev, 0).unwrap();
    let ss = paging(&drv, &dev, IOMMU_HWPT_ALLOC_DIRTY_TRACKING).unwrap();
    for p in [&fs, &ss, &n] {
        assert_eq!(
            nested(&drv, &dev, p, s1_data(&mem, s1(48, 0), 24)).err(),
            Some(Errno::EINVAL)
        );
    }
    // Shorter than up to `__reserved`, or longer than the struct: EINVAL.
    for len in [16, 32] {
        assert_eq!(
            nested(&drv, &dev, &parent, s1_data(&mem, s1(48, 0), len)).err(),
            Some(Errno::EINVAL)
        );
    }
    // A unit without nesting.
    let plain = without(regs::ecap::NEST, 0);
    let pdev = plain.create_device(VtdDeviceConfig::default());
    assert_eq!(
        plain
            .domain_alloc_nested(&pdev, &parent, 0, s1_data(&mem, s1(48, 0), 24))
            .unwrap()
            .err(),
        Some(Errno::EOPNOTSUPP)
    );
}

#[test]
fn attach_checks_the_guest_configuration_against_the_unit() {
    let mem = TestMemory::new();
    let drv = without(regs::ecap::SRS, regs::cap::FS5LP);
    let dev = drv.create_device(VtdDeviceConfig {
        pasid_bits: 20,
        ..Default::default()
    });
    let parent = paging(&drv, &dev, IOMMU_HWPT_ALLOC_NEST_PARENT).unwrap();
    let ok = nested(&drv, &dev, &parent, s1_data(&mem, s1(48, 0), 24)).unwrap();
    assert_eq!(drv.attach_dev(&dev, &ok, None), Ok(()));
    assert_eq!(drv.set_dev_pasid(&dev, 3, &ok, None), Ok(()));
    for bad in [
        s1(57, 0),
        s1(52, 0),
        s1(48, IOMMU_VTD_S1_SRE),
        s1(48, IOMMU_VTD_S1_EAFE),
    ] {
        let d = nested(&drv, &dev, &parent, s1_data(&mem, bad, 24)).unwrap();
        assert_eq!(
            drv.attach_dev(&dev, &d, None),
            Err(Errno::EINVAL),
            "{bad:?}"
        );
        assert_eq!(drv.set_dev_pasid(&dev, 4, &d, None), Err(Errno::EINVAL));
    }
    let vdev = dev.state::<VtdDev>().unwrap();
    assert_eq!(
        vdev.did_of(NO_PASID),
        Some(ok.as_any().downcast_ref::<VtdNested>().unwrap().did())
    );
    assert_eq!(vdev.did_of(4), None);
    // 57-bit tables are fine where FS5LP is.
    let drv5 = VtdDriver::new(VtdConfig::default());
    let dev5 = drv5.create_device(VtdDeviceConfig::default());
    let parent5 = paging(&drv5, &dev5, IOMMU_HWPT_ALLOC_NEST_PARENT).unwrap();
    let d = nested(&drv5, &dev5, &parent5, s1_data(&mem, s1(57, 0), 24)).unwrap();
    assert_eq!(drv5.attach_dev(&dev5, &d, None), Ok(()));
    // A 5-level parent on a unit whose SAGAW lacks 5 levels is incompatible.
    let drv4 = without(0, 1 << (regs::cap::SAGAW_SHIFT + 3));
    let dev4 = drv4.create_device(VtdDeviceConfig::default());
    assert_eq!(drv4.attach_dev(&dev4, &parent5, None), Err(Errno::EINVAL));
    assert_eq!(drv4.attach_dev(&dev4, &d, None), Err(Errno::EINVAL));
    // PASIDs need PASID support.
    let nopasid = without(regs::ecap::PASID, 0);
    let pdev = nopasid.create_device(VtdDeviceConfig::default());
    let p = paging(&nopasid, &pdev, 0).unwrap();
    assert_eq!(
        nopasid.set_dev_pasid(&pdev, 1, &p, None),
        Err(Errno::EOPNOTSUPP)
    );
    assert_eq!(
        nopasid.set_dev_pasid(&pdev, 1, &nopasid.blocking_domain(), None),
        Ok(())
    );
    // Another driver's domain is not VT-d's.
    let mock = crate::driver::mock::MockDriver::get();
    let mdev = mock.create_device(0).unwrap();
    let md = mock.domain_alloc_paging(&mdev, 0, None).unwrap();
    assert!(!drv.owns(md.as_ref()));
    assert!(drv.owns(ok.as_ref()) && drv.owns(drv.blocking_domain().as_ref()));
}

fn inv_array(
    mem: &TestMemory,
    entries: &[IommuHwptVtdS1Invalidate],
    entry_len: u32,
) -> UserDataArray {
    mem.map(DATA, 4096);
    let mut at = DATA;
    for e in entries {
        let b = e.as_bytes();
        mem.write(at, &b[..(entry_len as usize).min(b.len())])
            .unwrap();
        at += u64::from(entry_len);
    }
    UserDataArray {
        data_type: IOMMU_HWPT_INVALIDATE_DATA_VTD_S1,
        uptr: DATA,
        entry_len,
        entry_num: entries.len() as u32,
    }
}

fn inv(addr: u64, npages: u64, flags: u32) -> IommuHwptVtdS1Invalidate {
    IommuHwptVtdS1Invalidate {
        addr,
        npages,
        flags,
        __reserved: 0,
    }
}

#[test]
fn user_invalidation_validates_each_entry_and_counts_the_handled() {
    let drv = VtdDriver::new(VtdConfig::default());
    let dev = drv.create_device(VtdDeviceConfig::default());
    let mem = TestMemory::new();
    let parent = paging(&drv, &dev, IOMMU_HWPT_ALLOC_NEST_PARENT).unwrap();
    let n = nested(&drv, &dev, &parent, s1_data(&mem, s1(48, 0), 24)).unwrap();
    let run = |entries: &[IommuHwptVtdS1Invalidate], len: u32| {
        let a = inv_array(&mem, entries, len);
        n.cache_invalidate_user(&a, &mem).unwrap()
    };
    let good = inv(0x1000, 2, IOMMU_VTD_INV_FLAGS_LEAF);
    assert_eq!(
        run(&[good, inv(0, u64::MAX, 0), inv(0x2000, 0, 0)], 24),
        (3, Ok(()))
    );
    assert_eq!(
        run(&[good, inv(0x1000, 1, 2)], 24),
        (1, Err(Errno::EOPNOTSUPP))
    );
    let mut reserved = good;
    reserved.__reserved = 1;
    assert_eq!(
        run(&[good, good, reserved], 24),
        (2, Err(Errno::EOPNOTSUPP))
    );
    assert_eq!(run(&[inv(0x1001, 1, 0)], 24), (0, Err(Errno::EINVAL)));
    assert_eq!(
        run(&[good, inv(0x1000, u64::MAX, 0)], 24),
        (1, Err(Errno::EINVAL))
    );
    // Entries shorter than up to `__reserved`: the copy fails.
    assert_eq!(run(&[good], 16), (0, Err(Errno::EINVAL)));
    // Entries longer than the struct too (`__iommu_copy_struct_from_user`).
    assert_eq!(run(&[good, good], 32), (0, Err(Errno::EINVAL)));
    let mut wrong = inv_array(&mem, &[good], 24);
    wrong.data_type = 7;
    assert_eq!(
        n.cache_invalidate_user(&wrong, &mem),
        Some((0, Err(Errno::EINVAL)))
    );
    assert_eq!(
        parent.cache_invalidate_user(&wrong, &mem),
        None,
        "paging: no such op"
    );
}

#[test]
fn debugfs_shows_the_rid_table_with_each_leaf_at_its_level() {
    let drv = VtdDriver::new(VtdConfig::default());
    let dev = drv.create_device(VtdDeviceConfig::default());
    let name = "0000:00:10.0";
    let file = |dev: &PhysDevice| {
        let files = drv.debugfs(dev, name);
        assert_eq!(files.len(), 1);
        assert_eq!(
            files[0].path,
            "iommu/intel/0000:00:10.0/domain_translation_struct"
        );
        files[0].contents.clone()
    };
    // No domain: the entry is not present and nothing is shown.
    assert_eq!(file(&dev), "");

    let d = paging(&drv, &dev, 0).unwrap();
    let rw = Prot::READ | Prot::WRITE;
    d.map(0x1000, 0x8000_1000, 0x1000, rw).unwrap();
    d.map(0x20_0000, 0x8020_0000, 0x20_0000, rw).unwrap();
    d.map(0x4000_0000, 0xc000_0000, 0x4000_0000, rw).unwrap();
    drv.attach_dev(&dev, &d, None).unwrap();
    let text = file(&dev);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("Device 0000:00:10.0 with pasid 0 @0x"),
        "{text}"
    );
    assert!(lines[1].starts_with("IOVA_PFN"), "{text}");
    // The selftest's parse: the IOVA's PFN, then PML5E, PML4E, PDPE, PDE, PTE (absent: 0).
    let entries = |line: &str| -> Vec<u64> {
        line.split([' ', '\t', '|'])
            .filter(|t| !t.is_empty())
            .map(|t| u64::from_str_radix(t.trim_start_matches("0x"), 16).unwrap())
            .collect()
    };
    let rows: Vec<Vec<u64>> = lines[2..].iter().map(|l| entries(l)).collect();
    assert_eq!(rows.len(), 3, "{text}");
    // 4 KiB: a PTE; 2 MiB: a PDE and no PTE; 1 GiB: a PDPE and nothing below.
    assert_eq!((rows[0][0], rows[0].len()), (1, 6));
    assert!(rows[0][2..].iter().all(|&e| e != 0));
    assert_eq!((rows[1][0], rows[1].len()), (0x200, 5));
    assert_eq!((rows[2][0], rows[2].len()), (0x4_0000, 4));

    // Unmapped pages leave the dump; a detached device shows nothing again.
    d.unmap(0x1000, 0x1000);
    assert_eq!(file(&dev).lines().count(), 4);
    drv.attach_dev(&dev, &drv.blocking_domain(), Some(&d))
        .unwrap();
    assert_eq!(file(&dev), "");
}
