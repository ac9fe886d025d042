//! The legacy VFIO container of a POWER platform, ioctl by ioctl: the container's own rules
//! (`drivers/vfio/container.c`) and the SPAPR TCE backend's checks and errnos
//! (`drivers/vfio/vfio_iommu_spapr_tce.c`), with real buffers of this process.

mod common;

use common::*;
use std::sync::Arc;
use uiommu_abi::{Caller, ProcessVm, SpaprContainer};
use uiommu_core::driver::tce::{Access, TableGroup, TceConfig};

use uiommu_uapi::Errno;
use uiommu_uapi::vfio::*;
use zerocopy::{FromBytes, IntoBytes};

fn container() -> SpaprContainer {
    SpaprContainer::new(&process(1 << 22))
}

fn pe() -> Arc<TableGroup> {
    TableGroup::new(TceConfig::default()).unwrap()
}

fn call<T: IntoBytes + FromBytes>(c: &SpaprContainer, cmd: u32, arg: &mut T) -> Result<i64, Errno> {
    call_at(c, cmd, arg as *mut T as u64)
}

fn call_at(c: &SpaprContainer, cmd: u32, arg: u64) -> Result<i64, Errno> {
    let mem = ProcessVm::current();
    c.dispatch(&Caller::opener(&mem, &files::FILES), cmd, arg)
}

fn map(vaddr: u64, iova: u64, size: u64, flags: u32) -> VfioIommuType1DmaMap {
    VfioIommuType1DmaMap {
        argsz: 32,
        flags,
        vaddr,
        iova,
        size,
    }
}

fn unmap(iova: u64, size: u64) -> VfioIommuType1DmaUnmap {
    VfioIommuType1DmaUnmap {
        argsz: 24,
        flags: 0,
        iova,
        size,
    }
}

fn reg(vaddr: u64, size: u64) -> VfioIommuSpaprRegisterMemory {
    VfioIommuSpaprRegisterMemory {
        argsz: 24,
        flags: 0,
        vaddr,
        size,
    }
}

const RW: u32 = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;

#[test]
fn the_container_chooses_its_backend_once_a_group_is_in() {
    let c = container();
    assert_eq!(call_at(&c, VFIO_GET_API_VERSION, 0), Ok(0));
    for (ext, want) in [
        (VFIO_SPAPR_TCE_IOMMU, 1),
        (VFIO_SPAPR_TCE_v2_IOMMU, 1),
        (VFIO_TYPE1v2_IOMMU, 0),
        (VFIO_EEH, 0),
    ] {
        assert_eq!(call_at(&c, VFIO_CHECK_EXTENSION, u64::from(ext)), Ok(want));
    }
    let t = u64::from(VFIO_SPAPR_TCE_IOMMU);
    assert_eq!(
        call_at(&c, VFIO_SET_IOMMU, t),
        Err(Errno::EINVAL),
        "no group"
    );
    assert_eq!(
        call_at(&c, VFIO_IOMMU_ENABLE, 0),
        Err(Errno::EINVAL),
        "no backend"
    );
    let g = pe();
    c.set_group(&g).unwrap();
    assert_eq!(c.set_group(&g), Err(Errno::EINVAL));
    assert_eq!(
        call_at(&c, VFIO_SET_IOMMU, u64::from(VFIO_TYPE1v2_IOMMU)),
        Err(Errno::ENODEV)
    );
    assert_eq!(call_at(&c, VFIO_SET_IOMMU, t), Ok(0));
    assert_eq!(
        call_at(&c, VFIO_SET_IOMMU, t),
        Err(Errno::EINVAL),
        "set already"
    );
    assert_eq!(
        call_at(&c, VFIO_CHECK_EXTENSION, u64::from(VFIO_EEH)),
        Ok(0)
    );
    assert_eq!(call_at(&c, VFIO_IOMMU_GET_INFO + 40, 0), Err(Errno::ENOTTY));
    // One group per v1 container.
    assert_eq!(c.set_group(&pe()), Err(Errno::EBUSY));
    // The last group out takes the backend with it.
    c.unset_group(&g).unwrap();
    assert_eq!(c.unset_group(&g), Err(Errno::EINVAL));
    assert_eq!(call_at(&c, VFIO_IOMMU_ENABLE, 0), Err(Errno::EINVAL));
}

#[test]
fn v1_get_info_enable_map_and_unmap() {
    let c = container();
    let g = pe();
    c.set_group(&g).unwrap();
    call_at(&c, VFIO_SET_IOMMU, u64::from(VFIO_SPAPR_TCE_IOMMU)).unwrap();
    let mut info = VfioIommuSpaprTceInfo {
        argsz: 12,
        ..Default::default()
    };
    assert_eq!(
        call(&c, VFIO_IOMMU_SPAPR_TCE_GET_INFO, &mut info),
        Err(Errno::EINVAL)
    );
    // `argsz` up to the 32-bit window: the DDW part is left alone.
    info.argsz = 16;
    info.ddw.levels = 0xdead;
    call(&c, VFIO_IOMMU_SPAPR_TCE_GET_INFO, &mut info).unwrap();
    assert_eq!(
        (info.dma32_window_start, info.dma32_window_size),
        (0, 2 << 30)
    );
    assert_eq!(info.ddw.levels, 0xdead);
    info.argsz = 32;
    call(&c, VFIO_IOMMU_SPAPR_TCE_GET_INFO, &mut info).unwrap();
    assert_eq!((info.flags, info.ddw.levels), (0, 0), "no DDW for v1");
    assert_eq!(
        call_at(&c, VFIO_IOMMU_SPAPR_TCE_GET_INFO, 8),
        Err(Errno::EFAULT)
    );

    let mut buf = Buffer::new(4 * 4096);
    buf.bytes_mut()[4096..4101].copy_from_slice(b"tce!!");
    let va = buf.addr();
    let mut m = map(va, 0x10_0000, 0x2000, RW);
    assert_eq!(
        call(&c, VFIO_IOMMU_MAP_DMA, &mut m),
        Err(Errno::EPERM),
        "not enabled"
    );
    call_at(&c, VFIO_IOMMU_ENABLE, 0).unwrap();
    assert_eq!(call_at(&c, VFIO_IOMMU_ENABLE, 0), Err(Errno::EBUSY));
    assert_eq!(call_at(&c, VFIO_IOMMU_MAP_DMA, 8), Err(Errno::EFAULT));
    call(&c, VFIO_IOMMU_MAP_DMA, &mut m).unwrap();
    assert_eq!(g.translate(0x10_1000, Access::Write), Some(Ok(va + 0x1000)));
    let check = |m: VfioIommuType1DmaMap, e: Errno| {
        let mut m = m;
        assert_eq!(call(&c, VFIO_IOMMU_MAP_DMA, &mut m), Err(e), "{m:?}");
    };
    check(map(va + 8, 0x20_0000, 0x1000, RW), Errno::EINVAL);
    check(map(va, 0x20_0000, 0x1800, RW), Errno::EINVAL);
    check(map(va, 0x20_0800, 0x1000, RW), Errno::EINVAL);
    check(map(va, 0x20_0000, 0x1000, 0), Errno::EINVAL);
    check(map(va, 0x20_0000, 0x1000, 1 << 2), Errno::EINVAL);
    check(map(va, 3 << 30, 0x1000, RW), Errno::ENXIO);
    check(
        VfioIommuType1DmaMap {
            argsz: 24,
            ..map(va, 0, 0x1000, RW)
        },
        Errno::EINVAL,
    );
    check(map(8 << 40, 0x20_0000, 0x1000, RW), Errno::EFAULT);
    let mut u = unmap(0x10_0000, 0x1000);
    call(&c, VFIO_IOMMU_UNMAP_DMA, &mut u).unwrap();
    assert!(matches!(g.translate(0x10_0000, Access::Read), Some(Err(_))));
    let mut u = VfioIommuType1DmaUnmap {
        flags: 1,
        ..unmap(0x10_0000, 0x1000)
    };
    assert_eq!(call(&c, VFIO_IOMMU_UNMAP_DMA, &mut u), Err(Errno::EINVAL));
    let mut u = unmap(0x10_0000, 0x10);
    assert_eq!(call(&c, VFIO_IOMMU_UNMAP_DMA, &mut u), Err(Errno::EINVAL));
    let mut u = unmap(4 << 30, 0x1000);
    assert_eq!(call(&c, VFIO_IOMMU_UNMAP_DMA, &mut u), Err(Errno::ENXIO));
    // v2 only.
    let mut r = reg(va, 4096);
    assert_eq!(
        call(&c, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &mut r),
        Err(Errno::ENOTTY)
    );
    assert_eq!(
        call_at(&c, VFIO_EEH_PE_OP, 0),
        Err(Errno::ENODEV),
        "no EEH PE"
    );
    // Another process is refused once the backend is bound to this one.
    let other = process(1 << 20);
    let mem = ProcessVm::current();
    let caller = Caller {
        mem: &mem,
        fds: &files::FILES,
        process: Some(&other),
    };
    assert_eq!(
        c.dispatch(&caller, VFIO_IOMMU_DISABLE, 0),
        Err(Errno::EPERM)
    );
    assert_eq!(c.dispatch(&caller, 0x3b99, 0), Err(Errno::EPERM));
    call_at(&c, VFIO_IOMMU_DISABLE, 0).unwrap();
}

#[test]
fn v2_registers_memory_and_creates_windows() {
    let c = container();
    let (g1, g2) = (pe(), pe());
    c.set_group(&g1).unwrap();
    c.set_group(&g2).unwrap();
    call_at(&c, VFIO_SET_IOMMU, u64::from(VFIO_SPAPR_TCE_v2_IOMMU)).unwrap();
    let mut info = VfioIommuSpaprTceInfo {
        argsz: 32,
        ..Default::default()
    };
    call(&c, VFIO_IOMMU_SPAPR_TCE_GET_INFO, &mut info).unwrap();
    assert_eq!(info.flags, VFIO_IOMMU_SPAPR_INFO_DDW);
    assert_eq!(info.ddw.pgsizes, TceConfig::default().pgsizes);
    assert_eq!(
        (info.ddw.max_dynamic_windows_supported, info.ddw.levels),
        (2, 5)
    );
    assert_eq!(call_at(&c, VFIO_IOMMU_ENABLE, 0), Err(Errno::ENOTTY));

    let buf = Buffer::new(32 * 4096);
    let va = buf.addr();
    let va64 = va.next_multiple_of(1 << 16);
    let mut m = map(va, 0x1000, 0x1000, RW);
    assert_eq!(
        call(&c, VFIO_IOMMU_MAP_DMA, &mut m),
        Err(Errno::EPERM),
        "nothing registered"
    );
    let mut r = VfioIommuSpaprRegisterMemory {
        flags: 1,
        ..reg(va, 32 * 4096)
    };
    assert_eq!(
        call(&c, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &mut r),
        Err(Errno::EINVAL)
    );
    let mut r = reg(va + 1, 4096);
    assert_eq!(
        call(&c, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &mut r),
        Err(Errno::EINVAL)
    );
    let mut r = reg(va, 32 * 4096);
    call(&c, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &mut r).unwrap();
    assert_eq!(
        call(&c, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &mut r),
        Err(Errno::EBUSY)
    );

    let mut create = VfioIommuSpaprTceCreate {
        argsz: 40,
        page_shift: 16,
        window_size: 1 << 32,
        levels: 2,
        ..Default::default()
    };
    call(&c, VFIO_IOMMU_SPAPR_TCE_CREATE, &mut create).unwrap();
    assert_eq!(create.start_addr, 1 << 59, "written back");
    let mut third = VfioIommuSpaprTceCreate {
        start_addr: 0,
        ..create
    };
    assert_eq!(
        call(&c, VFIO_IOMMU_SPAPR_TCE_CREATE, &mut third),
        Err(Errno::ENOSPC)
    );
    let mut short = VfioIommuSpaprTceCreate {
        argsz: 32,
        ..create
    };
    assert_eq!(
        call(&c, VFIO_IOMMU_SPAPR_TCE_CREATE, &mut short),
        Err(Errno::EINVAL)
    );
    // 64 KiB IOMMU pages: the address must be aligned, and registered memory of 4 KiB pages
    // cannot back them (`mm_iommu_ua_to_hpa`); the default window's 4 KiB pages can.
    for at in [va64 + 0x1000, va64] {
        let mut m = map(at, 1 << 59, 0x1_0000, RW);
        assert_eq!(call(&c, VFIO_IOMMU_MAP_DMA, &mut m), Err(Errno::EINVAL));
    }
    let mut m = map(va, 0x4000, 0x2000, VFIO_DMA_MAP_FLAG_WRITE);
    call(&c, VFIO_IOMMU_MAP_DMA, &mut m).unwrap();
    for g in [&g1, &g2] {
        assert_eq!(
            g.translate(0x5008, Access::Read),
            Some(Ok(va + 0x1008)),
            "write implies read"
        );
    }
    let mut outside = map(va + 32 * 4096, 0x8000, 0x1000, RW);
    assert_eq!(
        call(&c, VFIO_IOMMU_MAP_DMA, &mut outside),
        Err(Errno::EINVAL),
        "not registered"
    );
    // Unregistering mapped memory succeeds but the pages stay mapped.
    let mut r = reg(va, 32 * 4096);
    call(&c, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, &mut r).unwrap();
    assert_eq!(
        call(&c, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, &mut r),
        Err(Errno::ENOENT)
    );
    assert!(matches!(g1.translate(0x4000, Access::Write), Some(Ok(_))));
    let mut remove = VfioIommuSpaprTceRemove {
        argsz: 16,
        flags: 0,
        start_addr: 0x4000,
    };
    call(&c, VFIO_IOMMU_SPAPR_TCE_REMOVE, &mut remove).unwrap();
    assert_eq!(g1.translate(0x4000, Access::Read), None);
    assert_eq!(
        call(&c, VFIO_IOMMU_SPAPR_TCE_REMOVE, &mut remove),
        Err(Errno::EINVAL)
    );
    // Giving a group back leaves the other with the windows.
    c.unset_group(&g1).unwrap();
    assert!(g2.window(1).is_some() && g1.window(1).is_none());
}

#[test]
fn argument_checks_come_after_each_ioctls_preconditions() {
    let c = container();
    c.set_group(&pe()).unwrap();
    call_at(&c, VFIO_SET_IOMMU, u64::from(VFIO_SPAPR_TCE_v2_IOMMU)).unwrap();
    // Nothing registered: not enabled and no address space bound, whatever the struct says.
    let mut bad_reg = VfioIommuSpaprRegisterMemory {
        argsz: 8,
        flags: 1,
        ..Default::default()
    };
    assert_eq!(
        call(&c, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, &mut bad_reg),
        Err(Errno::EPERM)
    );
    let mut bad_map = map(0, 0, 0x1000, 1 << 2);
    assert_eq!(
        call(&c, VFIO_IOMMU_MAP_DMA, &mut bad_map),
        Err(Errno::EPERM)
    );
    let mut bad_unmap = VfioIommuType1DmaUnmap {
        flags: 1,
        ..unmap(0, 0x1000)
    };
    assert_eq!(
        call(&c, VFIO_IOMMU_UNMAP_DMA, &mut bad_unmap),
        Err(Errno::EPERM)
    );
    // Then the copy's own checks: a short `argsz` or an unknown flag.
    assert_eq!(
        call(&c, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &mut bad_reg),
        Err(Errno::EINVAL)
    );
    for (short, flags) in [(true, 0), (false, 1)] {
        let mut create = VfioIommuSpaprTceCreate {
            argsz: if short { 8 } else { 40 },
            flags,
            page_shift: 16,
            window_size: 1 << 30,
            levels: 1,
            ..Default::default()
        };
        let mut remove = VfioIommuSpaprTceRemove {
            argsz: if short { 8 } else { 16 },
            flags,
            start_addr: 0,
        };
        let got = [
            call(&c, VFIO_IOMMU_SPAPR_TCE_CREATE, &mut create),
            call(&c, VFIO_IOMMU_SPAPR_TCE_REMOVE, &mut remove),
        ];
        assert_eq!(got, [Err(Errno::EINVAL); 2]);
    }
    let buf = Buffer::new(4 * 4096);
    let mut r = reg(buf.addr(), 4 * 4096);
    call(&c, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &mut r).unwrap();
    // An unknown flag is refused before the window lookup; neither READ nor WRITE only after.
    let mut m = map(buf.addr(), 1 << 40, 0x1000, 1 << 2);
    assert_eq!(call(&c, VFIO_IOMMU_MAP_DMA, &mut m), Err(Errno::EINVAL));
    let mut m = map(buf.addr(), 1 << 40, 0x1000, 0);
    assert_eq!(call(&c, VFIO_IOMMU_MAP_DMA, &mut m), Err(Errno::ENXIO));
    let mut m = map(buf.addr(), 0x1000, 0x1000, 0);
    assert_eq!(call(&c, VFIO_IOMMU_MAP_DMA, &mut m), Err(Errno::EINVAL));
    assert_eq!(
        call(&c, VFIO_IOMMU_UNMAP_DMA, &mut bad_unmap),
        Err(Errno::EINVAL)
    );
}
