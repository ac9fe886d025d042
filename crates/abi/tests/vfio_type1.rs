//! The legacy VFIO container with the type1 backend (`drivers/vfio/container.c`,
//! `drivers/vfio/vfio_iommu_type1.c`), where it differs from iommufd's compatibility
//! container: a group's file joins it, `VFIO_SET_IOMMU` needs a group and is set once, the
//! device opens only after it, mappings are whole entries (v1 and v2 unmap rules), the entry
//! limit shows in `dma_avail`, `VADDR` updates and dirty logging exist, the info chain is all
//! or nothing with a migration capability, and a BAR mapping (`VM_PFNMAP`) can be mapped.

mod common;
#[path = "common/type1.rs"]
mod type1;

use common::Buffer;
use type1::*;
use uiommu_uapi::Errno;
use uiommu_uapi::vfio::*;

#[test]
fn the_container_before_a_group_and_set_iommu() {
    let s = setup();
    assert_eq!(
        s.at(VFIO_GET_API_VERSION, 0),
        Ok(i64::from(VFIO_API_VERSION))
    );
    for (ext, want) in [
        (VFIO_TYPE1_IOMMU, 1),
        (VFIO_TYPE1v2_IOMMU, 1),
        (VFIO_UNMAP_ALL, 1),
        // Only with a backend (iommufd never offers it).
        (VFIO_UPDATE_VADDR, 0),
        (VFIO_DMA_CC_IOMMU, 0),
        (VFIO_NOIOMMU_IOMMU, 0),
        (6, 0),
        (VFIO_SPAPR_TCE_IOMMU, 0),
    ] {
        assert_eq!(
            s.at(VFIO_CHECK_EXTENSION, u64::from(ext)),
            Ok(want),
            "{ext}"
        );
    }
    // No group: nothing to set; no backend: its commands are EINVAL, not ENOTTY or ENODEV.
    assert_eq!(
        s.at(VFIO_SET_IOMMU, u64::from(VFIO_TYPE1v2_IOMMU)),
        Err(Errno::EINVAL)
    );
    assert_eq!(s.map_rw(0, 0, PAGE), Err(Errno::EINVAL));
    assert_eq!(s.at(VFIO_IOMMU_GET_INFO + 40, 0), Err(Errno::EINVAL));
    s.join();
    // A type no backend offers is ENODEV (iommufd's is EINVAL).
    for ty in [
        VFIO_SPAPR_TCE_IOMMU,
        VFIO_NOIOMMU_IOMMU,
        6,
        VFIO_UPDATE_VADDR,
    ] {
        assert_eq!(s.at(VFIO_SET_IOMMU, u64::from(ty)), Err(Errno::ENODEV));
    }
    // An extension type1 reports, but no IOMMU type: its open refuses it.
    let unmap_all = u64::from(VFIO_UNMAP_ALL);
    assert_eq!(s.at(VFIO_SET_IOMMU, unmap_all), Err(Errno::EINVAL));
    // The device needs the backend first.
    assert_eq!(s.open_device(), Err(Errno::EINVAL));
    assert_eq!(s.at(VFIO_SET_IOMMU, u64::from(VFIO_TYPE1_IOMMU)), Ok(0));
    // No domain yet: none fails to enforce coherency; the device's does not.
    let cc = u64::from(VFIO_DMA_CC_IOMMU);
    assert_eq!(s.at(VFIO_CHECK_EXTENSION, cc), Ok(1));
    s.open_device().unwrap();
    assert_eq!(s.at(VFIO_CHECK_EXTENSION, cc), Ok(0));
    // Set once (iommufd's may be set again).
    assert_eq!(
        s.at(VFIO_SET_IOMMU, u64::from(VFIO_TYPE1v2_IOMMU)),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        s.at(VFIO_CHECK_EXTENSION, u64::from(VFIO_UPDATE_VADDR)),
        Ok(1)
    );
    assert_eq!(s.at(VFIO_IOMMU_GET_INFO + 40, 0), Err(Errno::ENOTTY));
    // v1 has no dirty logging.
    let mut d = VfioIommuType1DirtyBitmap {
        argsz: 8,
        flags: VFIO_IOMMU_DIRTY_PAGES_FLAG_START,
    };
    assert_eq!(s.call(VFIO_IOMMU_DIRTY_PAGES, &mut d), Err(Errno::EACCES));
}

#[test]
fn leaving_the_container_needs_closed_devices_and_releases_the_backend() {
    let s = Setup::ready(VFIO_TYPE1v2_IOMMU);
    let buf = Buffer::new(PAGE as usize);
    assert_eq!(s.map_rw(buf.addr(), 0x10_0000, PAGE), Ok(0));
    assert_eq!(s.group(VFIO_GROUP_UNSET_CONTAINER, 0), Err(Errno::EBUSY));
    s.host.devices.lock().unwrap().clear();
    assert_eq!(s.group(VFIO_GROUP_UNSET_CONTAINER, 0), Ok(0));
    // The last group took the backend and its mappings: back to an unset container.
    assert_eq!(s.map_rw(buf.addr(), 0x10_0000, PAGE), Err(Errno::EINVAL));
    assert_eq!(
        s.at(VFIO_SET_IOMMU, u64::from(VFIO_TYPE1v2_IOMMU)),
        Err(Errno::EINVAL)
    );
    s.join();
    assert_eq!(s.at(VFIO_SET_IOMMU, u64::from(VFIO_TYPE1v2_IOMMU)), Ok(0));
    assert_eq!(s.map_rw(buf.addr(), 0x10_0000, PAGE), Ok(0));
}

#[test]
fn a_group_joins_one_container_and_reports_it() {
    let s = setup();
    let status = || {
        let mut st = VfioGroupStatus { argsz: 8, flags: 0 };
        s.group(VFIO_GROUP_GET_STATUS, addr(&mut st)).unwrap();
        st.flags
    };
    assert_eq!(status(), VFIO_GROUP_FLAGS_VIABLE);
    s.join();
    let both = VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET;
    assert_eq!(status(), both);
    let mut fd = CONTAINER;
    assert_eq!(
        s.group(VFIO_GROUP_SET_CONTAINER, addr(&mut fd)),
        Err(Errno::EINVAL)
    );
    // Without a device open the group leaves at once, taking the (unset) backend along.
    assert_eq!(s.group(VFIO_GROUP_UNSET_CONTAINER, 0), Ok(0));
    assert_eq!(s.group(VFIO_GROUP_UNSET_CONTAINER, 0), Err(Errno::EINVAL));
    assert_eq!(status(), VFIO_GROUP_FLAGS_VIABLE);
}

#[test]
fn open_device_files_hold_a_closed_group_file_in_the_container() {
    let mut s = Setup::ready(VFIO_TYPE1v2_IOMMU);
    let buf = Buffer::new(PAGE as usize);
    let mem = || std::sync::Arc::new(uiommu_abi::ProcessVm::current());
    s.file = None;
    // Still open, still in the container, whose backend still maps.
    assert_eq!(s.group.open(mem()).err(), Some(Errno::EBUSY));
    assert_eq!(s.map_rw(buf.addr(), 0x10_0000, PAGE), Ok(0));
    // The last device file releases the group file: the container loses its only group.
    s.host.devices.lock().unwrap().clear();
    assert_eq!(s.map_rw(buf.addr(), 0x20_0000, PAGE), Err(Errno::EINVAL));
    s.file = Some(s.group.open(mem()).unwrap());
    s.join();
    assert_eq!(s.at(VFIO_SET_IOMMU, u64::from(VFIO_TYPE1_IOMMU)), Ok(0));
}

#[test]
fn a_member_bound_to_an_iommufd_keeps_the_group_out_of_a_legacy_container() {
    let s = setup();
    let mut fd = IOMMUFD;
    assert_eq!(s.group(VFIO_GROUP_SET_CONTAINER, addr(&mut fd)), Ok(0));
    s.open_device().unwrap();
    // The device file stays bound to the iommufd after its group leaves it.
    assert_eq!(s.group(VFIO_GROUP_UNSET_CONTAINER, 0), Ok(0));
    let mut fd = CONTAINER;
    let r = s.group(VFIO_GROUP_SET_CONTAINER, addr(&mut fd));
    assert_eq!(r, Err(Errno::EBUSY));
    s.host.devices.lock().unwrap().clear();
    assert_eq!(s.group(VFIO_GROUP_SET_CONTAINER, addr(&mut fd)), Ok(0));
}
