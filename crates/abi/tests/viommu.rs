//! vIOMMUs, vDEVICEs, vEVENTQs and HW queues through `dispatch`, after the kernel's
//! `iommufd_viommu` selftest fixture: a mock device on an IOAS, a nest parent, a vIOMMU on it
//! and a nested HWPT on the vIOMMU.

mod common;

use common::files::FILES;
use common::mock::*;
use common::*;
use std::sync::Arc;
use uiommu_abi::{FdHost, ProcessVm, UserMemory};
use uiommu_core::context::Context;
use uiommu_uapi::Errno;
use uiommu_uapi::iommufd::*;
use uiommu_uapi::selftest::*;
use zerocopy::FromBytes;

const PAGE: u64 = 4096;
const HDR: usize = size_of::<IommufdVeventHeader>();
const EVENT: usize = size_of::<IommuViommuEventSelftest>();

fn hwpt_alloc(ctx: &Context, dev: u32, pt: u32, flags: u32) -> Result<u32, Errno> {
    let mut cmd = IommuHwptAlloc {
        size: sz::<IommuHwptAlloc>(),
        flags,
        dev_id: dev,
        pt_id: pt,
        ..Default::default()
    };
    ioctl(ctx, IOMMU_HWPT_ALLOC, &mut cmd).map(|_| cmd.out_hwpt_id)
}

fn nested_alloc(ctx: &Context, dev: u32, pt: u32, flags: u32, fault: u32) -> Result<u32, Errno> {
    let data = IommuHwptSelftest {
        iotlb: IOMMU_TEST_IOTLB_DEFAULT,
        pagetable_type: 0,
    };
    let mut cmd = IommuHwptAlloc {
        size: sz::<IommuHwptAlloc>(),
        flags,
        dev_id: dev,
        pt_id: pt,
        data_type: IOMMU_HWPT_DATA_SELFTEST,
        data_len: sz::<IommuHwptSelftest>(),
        data_uptr: &data as *const _ as u64,
        fault_id: fault,
        ..Default::default()
    };
    ioctl(ctx, IOMMU_HWPT_ALLOC, &mut cmd).map(|_| cmd.out_hwpt_id)
}

fn viommu_cmd(dev: u32, hwpt: u32, viommu_type: u32) -> IommuViommuAlloc {
    IommuViommuAlloc {
        size: sz::<IommuViommuAlloc>(),
        type_: viommu_type,
        dev_id: dev,
        hwpt_id: hwpt,
        ..Default::default()
    }
}

fn viommu_alloc(ctx: &Context, dev: u32, hwpt: u32, viommu_type: u32) -> Result<u32, Errno> {
    let mut cmd = viommu_cmd(dev, hwpt, viommu_type);
    ioctl(ctx, IOMMU_VIOMMU_ALLOC, &mut cmd).map(|_| cmd.out_viommu_id)
}

fn vdevice_alloc(ctx: &Context, viommu: u32, dev: u32, virt_id: u64) -> Result<u32, Errno> {
    let mut cmd = IommuVdeviceAlloc {
        size: sz::<IommuVdeviceAlloc>(),
        viommu_id: viommu,
        dev_id: dev,
        virt_id,
        ..Default::default()
    };
    ioctl(ctx, IOMMU_VDEVICE_ALLOC, &mut cmd).map(|_| cmd.out_vdevice_id)
}

fn veventq_cmd(viommu: u32, veventq_type: u32, depth: u32) -> IommuVeventqAlloc {
    IommuVeventqAlloc {
        size: sz::<IommuVeventqAlloc>(),
        viommu_id: viommu,
        type_: veventq_type,
        veventq_depth: depth,
        ..Default::default()
    }
}

fn veventq_alloc(
    ctx: &Context,
    viommu: u32,
    veventq_type: u32,
    depth: u32,
) -> Result<(u32, i32), Errno> {
    let mut cmd = veventq_cmd(viommu, veventq_type, depth);
    ioctl(ctx, IOMMU_VEVENTQ_ALLOC, &mut cmd)
        .map(|_| (cmd.out_veventq_id, cmd.out_veventq_fd as i32))
}

fn hw_queue_cmd(
    viommu: u32,
    queue_type: u32,
    index: u32,
    iova: u64,
    length: u64,
) -> IommuHwQueueAlloc {
    IommuHwQueueAlloc {
        size: sz::<IommuHwQueueAlloc>(),
        viommu_id: viommu,
        type_: queue_type,
        index,
        nesting_parent_iova: iova,
        length,
        ..Default::default()
    }
}

fn hw_queue_alloc(
    ctx: &Context,
    viommu: u32,
    queue_type: u32,
    index: u32,
    iova: u64,
    length: u64,
) -> Result<u32, Errno> {
    let mut cmd = hw_queue_cmd(viommu, queue_type, index, iova, length);
    ioctl(ctx, IOMMU_HW_QUEUE_ALLOC, &mut cmd).map(|_| cmd.out_hw_queue_id)
}

fn replace(ctx: &Context, stdev: u32, pt: u32) -> Result<IommuTestCmd, Errno> {
    test_cmd(ctx, stdev, TestMockDomainReplace { pt_id: pt })
}

fn trigger(ctx: &Context, idev: u32) -> Result<IommuTestCmd, Errno> {
    test_cmd(ctx, 0, TestTriggerVevent { dev_id: idev })
}

fn map_fixed(ctx: &Context, ioas: u32, addr: u64, length: u64, iova: u64) -> Result<i64, Errno> {
    let mut cmd = IommuIoasMap {
        size: sz::<IommuIoasMap>(),
        flags: IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
        ioas_id: ioas,
        user_va: addr,
        length,
        iova,
        ..Default::default()
    };
    ioctl(ctx, IOMMU_IOAS_MAP, &mut cmd)
}

fn unmap(ctx: &Context, ioas: u32, iova: u64, length: u64) -> Result<i64, Errno> {
    let mut cmd = IommuIoasUnmap {
        size: sz::<IommuIoasUnmap>(),
        ioas_id: ioas,
        iova,
        length,
    };
    ioctl(ctx, IOMMU_IOAS_UNMAP, &mut cmd)
}

/// IOMMU_HWPT_INVALIDATE of `id`: the outcome and `entry_num` as written back.
fn invalidate(
    ctx: &Context,
    id: u32,
    reqs: &[IommuViommuInvalidateSelftest],
    data_type: u32,
    entry_len: u32,
    entry_num: u32,
) -> (Result<i64, Errno>, u32) {
    let mut cmd = IommuHwptInvalidate {
        size: sz::<IommuHwptInvalidate>(),
        hwpt_id: id,
        data_uptr: if reqs.is_empty() {
            0
        } else {
            reqs.as_ptr() as u64
        },
        data_type,
        entry_len,
        entry_num,
        __reserved: 0,
    };
    let r = ioctl(ctx, IOMMU_HWPT_INVALIDATE, &mut cmd);
    (r, cmd.entry_num)
}

fn check_cache(ctx: &Context, idev: u32, id: u32, cache: u32) -> bool {
    test_cmd(ctx, idev, TestCheckDevCache { id, cache }).is_ok()
}

/// The `iommufd_viommu` fixture with the `mock_viommu` variant.
struct Fx {
    ctx: Arc<Context>,
    ioas: u32,
    stdev: u32,
    idev: u32,
    parent: u32,
    viommu: u32,
    nested: u32,
}

fn fixture() -> Fx {
    let ctx = ctx();
    let ioas = ioas_alloc(&ctx);
    let (stdev, _auto, idev) = mock_domain(&ctx, ioas).unwrap();
    let parent = hwpt_alloc(&ctx, idev, ioas, IOMMU_HWPT_ALLOC_NEST_PARENT).unwrap();
    let viommu = viommu_alloc(&ctx, idev, parent, IOMMU_VIOMMU_TYPE_SELFTEST).unwrap();
    let nested = nested_alloc(&ctx, idev, viommu, 0, 0).unwrap();
    Fx {
        ctx,
        ioas,
        stdev,
        idev,
        parent,
        viommu,
        nested,
    }
}

/// Reads up to `count` bytes of events from the vEVENTQ file `fd`.
fn read_events(fd: i32, count: usize) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; count];
    let file = FILES.get(fd).unwrap();
    let n = file.read(&ProcessVm::current(), buf.as_mut_ptr() as u64, count)?;
    buf.truncate(n);
    Ok(buf)
}

/// (flags, sequence, virt_id) of each record.
fn parse_events(bytes: &[u8]) -> Vec<(u32, u32, Option<u32>)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let hdr = IommufdVeventHeader::read_from_bytes(&bytes[at..at + HDR]).unwrap();
        at += HDR;
        if hdr.flags & IOMMU_VEVENTQ_FLAG_LOST_EVENTS != 0 {
            out.push((hdr.flags, hdr.sequence, None));
            continue;
        }
        let ev = IommuViommuEventSelftest::read_from_bytes(&bytes[at..at + EVENT]).unwrap();
        at += EVENT;
        out.push((hdr.flags, hdr.sequence, Some(ev.virt_id)));
    }
    out
}

#[test]
fn fixture_ids_and_teardown() {
    let fx = fixture();
    assert_eq!(
        (fx.ioas, fx.stdev, fx.idev, fx.parent, fx.viommu, fx.nested),
        (1, 2, 3, 5, 6, 7)
    );
    // The vIOMMU holds its parent; the nested HWPT holds the vIOMMU.
    assert_eq!(destroy(&fx.ctx, fx.parent), Err(Errno::EBUSY));
    assert_eq!(destroy(&fx.ctx, fx.viommu), Err(Errno::EBUSY));
    destroy(&fx.ctx, fx.nested).unwrap();
    destroy(&fx.ctx, fx.viommu).unwrap();
    destroy(&fx.ctx, fx.parent).unwrap();
}

#[test]
fn viommu_alloc_checks_in_kernel_order() {
    let fx = fixture();
    let ctx = &fx.ctx;
    let before = ctx.objects.ids();
    let sel = IOMMU_VIOMMU_TYPE_SELFTEST;
    let mut flags = viommu_cmd(fx.idev, fx.parent, sel);
    flags.flags = 1;
    assert_eq!(
        ioctl(ctx, IOMMU_VIOMMU_ALLOC, &mut flags),
        Err(Errno::EOPNOTSUPP)
    );
    assert_eq!(
        viommu_alloc(ctx, 99, fx.parent, IOMMU_VIOMMU_TYPE_DEFAULT),
        Err(Errno::EOPNOTSUPP),
        "type checked before the device"
    );
    assert_eq!(viommu_alloc(ctx, 99, fx.parent, sel), Err(Errno::ENOENT));
    assert_eq!(
        viommu_alloc(ctx, fx.ioas, fx.parent, sel),
        Err(Errno::ENOENT)
    );
    assert_eq!(
        viommu_alloc(ctx, fx.idev, 0, 0xdead),
        Err(Errno::EOPNOTSUPP),
        "type checked before the HWPT"
    );
    assert_eq!(viommu_alloc(ctx, fx.idev, 0, sel), Err(Errno::ENOENT));
    assert_eq!(viommu_alloc(ctx, fx.idev, fx.ioas, sel), Err(Errno::ENOENT));
    assert_eq!(
        viommu_alloc(ctx, fx.idev, fx.nested, sel),
        Err(Errno::ENOENT),
        "a nested HWPT is not a paging one"
    );
    assert_eq!(ctx.objects.ids(), before);
    let plain = hwpt_alloc(ctx, fx.idev, fx.ioas, 0).unwrap();
    assert_eq!(viommu_alloc(ctx, fx.idev, plain, sel), Err(Errno::EINVAL));
    destroy(ctx, plain).unwrap();
    // Bad driver data: the ID taken for the vIOMMU is given back.
    let mut cmd = viommu_cmd(fx.idev, fx.parent, sel);
    cmd.data_len = 4;
    cmd.data_uptr = &0u32 as *const u32 as u64;
    assert_eq!(ioctl(ctx, IOMMU_VIOMMU_ALLOC, &mut cmd), Err(Errno::EINVAL));
    assert_eq!(ctx.objects.ids(), before);
    // A second vIOMMU on the same parent is fine.
    let second = viommu_alloc(ctx, fx.idev, fx.parent, sel).unwrap();
    destroy(ctx, second).unwrap();
}

#[test]
fn viommu_alloc_with_an_unwritable_reply_leaves_nothing() {
    let fx = fixture();
    static RO: IommuViommuAlloc = IommuViommuAlloc {
        size: size_of::<IommuViommuAlloc>() as u32,
        flags: 0,
        type_: IOMMU_VIOMMU_TYPE_SELFTEST,
        dev_id: 3,
        hwpt_id: 5,
        out_viommu_id: 0,
        data_len: 0,
        __reserved: 0,
        data_uptr: 0,
    };
    let before = fx.ctx.objects.ids();
    let at = &RO as *const IommuViommuAlloc as u64;
    assert_eq!(
        ioctl_at(&fx.ctx, IOMMU_VIOMMU_ALLOC, at),
        Err(Errno::EFAULT)
    );
    assert_eq!(fx.ctx.objects.ids(), before);
    // The parent is not held by the aborted vIOMMU.
    destroy(&fx.ctx, fx.nested).unwrap();
    destroy(&fx.ctx, fx.viommu).unwrap();
    destroy(&fx.ctx, fx.parent).unwrap();
}

#[test]
fn viommu_data_loops_back_and_its_page_maps_exactly() {
    let fx = fixture();
    let ctx = &fx.ctx;
    let mut data = IommuViommuSelftest {
        in_data: 0xbeef,
        ..Default::default()
    };
    let mut cmd = viommu_cmd(fx.idev, fx.parent, IOMMU_VIOMMU_TYPE_SELFTEST);
    cmd.data_len = sz::<IommuViommuSelftest>();
    cmd.data_uptr = &mut data as *mut _ as u64;
    ioctl(ctx, IOMMU_VIOMMU_ALLOC, &mut cmd).unwrap();
    let viommu = cmd.out_viommu_id;
    assert_eq!(data.out_data, 0xbeef);
    assert_eq!(
        (data.out_mmap_offset, data.out_mmap_length),
        (PAGE, 2 * PAGE)
    );
    let (off, len) = (data.out_mmap_offset, data.out_mmap_length);
    for (o, l) in [
        (off + PAGE, len),
        (off + 2 * PAGE, len),
        (off, len / 2),
        (off, len * 2),
        (0, PAGE),
    ] {
        assert_eq!(uiommu_abi::mmap(ctx, o, l).err(), Some(Errno::ENXIO));
    }
    let m = uiommu_abi::mmap(ctx, off, len).unwrap();
    assert_eq!(m.addr() % PAGE, 0);
    assert_eq!(m.len(), len);
    let mut word = [0u8; 4];
    ProcessVm::current().read(m.addr(), &mut word).unwrap();
    assert_eq!(u32::from_ne_bytes(word), 0xbeef);
    // The mapping holds the vIOMMU.
    assert_eq!(destroy(ctx, viommu), Err(Errno::EBUSY));
    drop(m);
    destroy(ctx, viommu).unwrap();
    assert_eq!(uiommu_abi::mmap(ctx, off, len).err(), Some(Errno::ENXIO));
    // The offset is free again.
    let mut data2 = IommuViommuSelftest::default();
    let mut cmd = viommu_cmd(fx.idev, fx.parent, IOMMU_VIOMMU_TYPE_SELFTEST);
    cmd.data_len = sz::<IommuViommuSelftest>();
    cmd.data_uptr = &mut data2 as *mut _ as u64;
    ioctl(ctx, IOMMU_VIOMMU_ALLOC, &mut cmd).unwrap();
    assert_eq!(data2.out_mmap_offset, PAGE);
}

#[test]
fn two_viommus_get_disjoint_regions() {
    let fx = fixture();
    let mut offsets = Vec::new();
    for in_data in [1u32, 2] {
        let mut data = IommuViommuSelftest {
            in_data,
            ..Default::default()
        };
        let mut cmd = viommu_cmd(fx.idev, fx.parent, IOMMU_VIOMMU_TYPE_SELFTEST);
        cmd.data_len = sz::<IommuViommuSelftest>();
        cmd.data_uptr = &mut data as *mut _ as u64;
        ioctl(&fx.ctx, IOMMU_VIOMMU_ALLOC, &mut cmd).unwrap();
        offsets.push(data.out_mmap_offset);
    }
    assert_eq!(offsets, vec![PAGE, 3 * PAGE]);
}

#[test]
fn nested_hwpt_on_a_viommu() {
    let fx = fixture();
    let ctx = &fx.ctx;
    let before = ctx.objects.ids();
    assert_eq!(
        nested_alloc(ctx, fx.idev, fx.viommu, 1 << 31, 0),
        Err(Errno::EOPNOTSUPP)
    );
    let mut no_data = IommuHwptAlloc {
        size: sz::<IommuHwptAlloc>(),
        dev_id: fx.idev,
        pt_id: fx.viommu,
        ..Default::default()
    };
    assert_eq!(
        ioctl(ctx, IOMMU_HWPT_ALLOC, &mut no_data),
        Err(Errno::EOPNOTSUPP)
    );
    assert_eq!(
        nested_alloc(ctx, fx.idev, fx.viommu, IOMMU_HWPT_FAULT_ID_VALID, u32::MAX),
        Err(Errno::ENOENT)
    );
    assert_eq!(ctx.objects.ids(), before);
    // A device must have a vDEVICE on the vIOMMU to attach to its nested domain.
    assert_eq!(replace(ctx, fx.stdev, fx.nested).err(), Some(Errno::ENOENT));
    let vdev = vdevice_alloc(ctx, fx.viommu, fx.idev, 0x99).unwrap();
    replace(ctx, fx.stdev, fx.nested).unwrap();
    assert_eq!(destroy(ctx, fx.nested), Err(Errno::EBUSY));
    // The vDEVICE is in use only through the vIOMMU's table: it can go while attached.
    replace(ctx, fx.stdev, fx.ioas).unwrap();
    destroy(ctx, vdev).unwrap();
    destroy(ctx, fx.nested).unwrap();
}

#[test]
fn nested_hwpt_on_a_viommu_with_a_fault_queue() {
    let fx = fixture();
    let ctx = &fx.ctx;
    let mut fa = IommuFaultAlloc {
        size: sz::<IommuFaultAlloc>(),
        ..Default::default()
    };
    ioctl(ctx, IOMMU_FAULT_QUEUE_ALLOC, &mut fa).unwrap();
    let iopf = nested_alloc(
        ctx,
        fx.idev,
        fx.viommu,
        IOMMU_HWPT_FAULT_ID_VALID,
        fa.out_fault_id,
    )
    .unwrap();
    assert_eq!(replace(ctx, fx.stdev, iopf).err(), Some(Errno::ENOENT));
    vdevice_alloc(ctx, fx.viommu, fx.idev, 0x99).unwrap();
    replace(ctx, fx.stdev, iopf).unwrap();
    test_cmd(
        ctx,
        0,
        TestTriggerIopf {
            dev_id: fx.idev,
            pasid: 0,
            grpid: 1,
            perm: IOMMU_PGFAULT_PERM_READ,
            addr: 0x1000,
        },
    )
    .unwrap();
    assert!(FILES.get(fa.out_fault_fd as i32).unwrap().poll().input);
    replace(ctx, fx.stdev, fx.ioas).unwrap();
    destroy(ctx, iopf).unwrap();
    FILES.close(fa.out_fault_fd as i32);
    destroy(ctx, fa.out_fault_id).unwrap();
}

#[test]
fn vdevice_alloc_rules() {
    let fx = fixture();
    let ctx = &fx.ctx;
    let before = ctx.objects.ids();
    assert_eq!(vdevice_alloc(ctx, 99, fx.idev, 1), Err(Errno::ENOENT));
    assert_eq!(
        vdevice_alloc(ctx, fx.parent, fx.idev, 1),
        Err(Errno::ENOENT)
    );
    assert_eq!(vdevice_alloc(ctx, fx.viommu, 99, 1), Err(Errno::ENOENT));
    assert_eq!(ctx.objects.ids(), before);
    let vdev = vdevice_alloc(ctx, fx.viommu, fx.idev, 0x99).unwrap();
    assert_eq!(vdev, 8);
    // One vDEVICE per device, one device per virtual ID.
    assert_eq!(
        vdevice_alloc(ctx, fx.viommu, fx.idev, 0x88),
        Err(Errno::EEXIST)
    );
    let (_stdev2, _, idev2) = mock_domain(ctx, fx.ioas).unwrap();
    let before = ctx.objects.ids();
    assert_eq!(
        vdevice_alloc(ctx, fx.viommu, idev2, 0x99),
        Err(Errno::EEXIST)
    );
    assert_eq!(ctx.objects.ids(), before, "the aborted vDEVICE is gone");
    let vdev2 = vdevice_alloc(ctx, fx.viommu, idev2, 0x88).unwrap();
    // The vDEVICE holds the vIOMMU.
    assert_eq!(destroy(ctx, fx.viommu), Err(Errno::EBUSY));
    destroy(ctx, vdev).unwrap();
    // Its virtual ID and the device are free again.
    vdevice_alloc(ctx, fx.viommu, fx.idev, 0x99).unwrap();
    destroy(ctx, vdev2).unwrap();
}

#[test]
fn vdevice_with_an_unwritable_reply_leaves_nothing() {
    let fx = fixture();
    static RO: IommuVdeviceAlloc = IommuVdeviceAlloc {
        size: size_of::<IommuVdeviceAlloc>() as u32,
        viommu_id: 6,
        dev_id: 3,
        out_vdevice_id: 0,
        virt_id: 0x99,
    };
    let before = fx.ctx.objects.ids();
    let at = &RO as *const IommuVdeviceAlloc as u64;
    assert_eq!(
        ioctl_at(&fx.ctx, IOMMU_VDEVICE_ALLOC, at),
        Err(Errno::EFAULT)
    );
    assert_eq!(fx.ctx.objects.ids(), before);
    // Neither the device nor the virtual ID stayed taken.
    vdevice_alloc(&fx.ctx, fx.viommu, fx.idev, 0x99).unwrap();
}

#[test]
fn unbinding_the_device_tombstones_its_vdevice() {
    let fx = fixture();
    let ctx = &fx.ctx;
    let vdev = vdevice_alloc(ctx, fx.viommu, fx.idev, 0x99).unwrap();
    destroy(ctx, fx.stdev).unwrap();
    assert_eq!(destroy(ctx, vdev), Err(Errno::ENOENT));
    let ids = ctx.objects.ids();
    assert!(!ids.contains(&vdev) && !ids.contains(&fx.idev));
    // The tombstone keeps the ID: a new object takes another.
    let ioas = ioas_alloc(ctx);
    assert_ne!(ioas, vdev);
    // The vIOMMU was let go by the vDEVICE.
    destroy(ctx, fx.nested).unwrap();
    destroy(ctx, fx.viommu).unwrap();
}

#[test]
fn veventq_alloc_rules_and_lifetime() {
    let fx = fixture();
    let ctx = &fx.ctx;
    let t = IOMMU_VEVENTQ_TYPE_SELFTEST;
    let before = ctx.objects.ids();
    assert_eq!(veventq_alloc(ctx, fx.viommu, 0, 2), Err(Errno::EOPNOTSUPP));
    assert_eq!(
        veventq_alloc(ctx, 99, t, 0),
        Err(Errno::EINVAL),
        "depth first"
    );
    assert_eq!(
        veventq_alloc(ctx, fx.viommu, t, (1 << 19) + 1),
        Err(Errno::EINVAL)
    );
    assert_eq!(veventq_alloc(ctx, 99, t, 2), Err(Errno::ENOENT));
    assert_eq!(veventq_alloc(ctx, fx.parent, t, 2), Err(Errno::ENOENT));
    let mut reserved = veventq_cmd(fx.viommu, t, 2);
    reserved.__reserved = 1;
    assert_eq!(
        ioctl(ctx, IOMMU_VEVENTQ_ALLOC, &mut reserved),
        Err(Errno::EOPNOTSUPP)
    );
    assert_eq!(ctx.objects.ids(), before);
    let (id, fd) = veventq_alloc(ctx, fx.viommu, t, 1 << 19).unwrap();
    // The fd holds the queue; the queue holds the vIOMMU.
    assert_eq!(destroy(ctx, id), Err(Errno::EBUSY));
    assert_eq!(destroy(ctx, fx.viommu), Err(Errno::EBUSY));
    assert_eq!(veventq_alloc(ctx, fx.viommu, t, 2), Err(Errno::EEXIST));
    // Another type may have its own queue.
    let (id2, fd2) = veventq_alloc(ctx, fx.viommu, t + 1, 2).unwrap();
    FILES.close(fd2);
    destroy(ctx, id2).unwrap();
    let file = FILES.get(fd).unwrap();
    assert!(!file.poll().input && !file.poll().output);
    assert_eq!(
        file.write(&ProcessVm::current(), 0, 8).err(),
        Some(Errno::EINVAL)
    );
    FILES.close(fd);
    drop(file);
    destroy(ctx, id).unwrap();
    // The type is free again.
    let (_, fd) = veventq_alloc(ctx, fx.viommu, t, 2).unwrap();
    FILES.close(fd);
}

#[test]
fn veventq_with_an_unwritable_reply_leaves_nothing() {
    let fx = fixture();
    static RO: IommuVeventqAlloc = IommuVeventqAlloc {
        size: size_of::<IommuVeventqAlloc>() as u32,
        flags: 0,
        viommu_id: 6,
        type_: IOMMU_VEVENTQ_TYPE_SELFTEST,
        veventq_depth: 2,
        out_veventq_id: 0,
        out_veventq_fd: 0,
        __reserved: 0,
    };
    let before = fx.ctx.objects.ids();
    let at = &RO as *const IommuVeventqAlloc as u64;
    assert_eq!(
        ioctl_at(&fx.ctx, IOMMU_VEVENTQ_ALLOC, at),
        Err(Errno::EFAULT)
    );
    assert_eq!(fx.ctx.objects.ids(), before);
    let (_, fd) = veventq_alloc(&fx.ctx, fx.viommu, IOMMU_VEVENTQ_TYPE_SELFTEST, 2).unwrap();
    FILES.close(fd);
    destroy(&fx.ctx, fx.nested).unwrap();
}

#[test]
fn vevents_are_read_with_sequence_numbers_and_losses() {
    let fx = fixture();
    let ctx = &fx.ctx;
    let (veventq, fd) = veventq_alloc(ctx, fx.viommu, IOMMU_VEVENTQ_TYPE_SELFTEST, 2).unwrap();
    assert_eq!(read_events(fd, 0), Err(Errno::EINVAL));
    assert_eq!(read_events(fd, HDR - 1), Err(Errno::EINVAL));
    assert_eq!(read_events(fd, HDR), Ok(vec![]));
    // Not attached through the vIOMMU yet.
    assert_eq!(trigger(ctx, fx.idev).err(), Some(Errno::ENOENT));
    assert_eq!(trigger(ctx, 99).err(), Some(Errno::ENOENT));
    let vdev = vdevice_alloc(ctx, fx.viommu, fx.idev, 0x99).unwrap();
    assert_eq!(trigger(ctx, fx.idev).err(), Some(Errno::ENOENT));
    replace(ctx, fx.stdev, fx.nested).unwrap();
    trigger(ctx, fx.idev).unwrap();
    let file = FILES.get(fd).unwrap();
    assert!(file.poll().input);
    assert_eq!(read_events(fd, 0), Err(Errno::EINVAL));
    assert_eq!(
        read_events(fd, HDR),
        Err(Errno::EINVAL),
        "payload does not fit"
    );
    let ev = read_events(fd, 64).unwrap();
    assert_eq!(parse_events(&ev), vec![(0, 0, Some(0x99))]);
    assert!(!file.poll().input);
    assert_eq!(
        vdevice_alloc(ctx, fx.viommu, fx.idev, 0x99),
        Err(Errno::EEXIST)
    );
    replace(ctx, fx.stdev, fx.ioas).unwrap();
    destroy(ctx, vdev).unwrap();

    let vdev = vdevice_alloc(ctx, fx.viommu, fx.idev, 0x88).unwrap();
    replace(ctx, fx.stdev, fx.nested).unwrap();
    for _ in 0..3 {
        trigger(ctx, fx.idev).unwrap();
    }
    let ev = read_events(fd, 3 * (HDR + EVENT)).unwrap();
    assert_eq!(
        parse_events(&ev),
        vec![
            (0, 1, Some(0x88)),
            (0, 2, Some(0x88)),
            (IOMMU_VEVENTQ_FLAG_LOST_EVENTS, 3, None)
        ]
    );
    trigger(ctx, fx.idev).unwrap();
    let ev = read_events(fd, HDR + EVENT).unwrap();
    assert_eq!(parse_events(&ev), vec![(0, 4, Some(0x88))]);
    // The file keeps the queue after it is read; closing it frees it.
    FILES.close(fd);
    drop(file);
    destroy(ctx, veventq).unwrap();
    assert_eq!(trigger(ctx, fx.idev).err(), Some(Errno::EOPNOTSUPP));
    replace(ctx, fx.stdev, fx.ioas).unwrap();
    destroy(ctx, vdev).unwrap();
}

#[test]
fn a_zero_virtual_id_reports_nothing() {
    let fx = fixture();
    let ctx = &fx.ctx;
    let (_, fd) = veventq_alloc(ctx, fx.viommu, IOMMU_VEVENTQ_TYPE_SELFTEST, 2).unwrap();
    vdevice_alloc(ctx, fx.viommu, fx.idev, 0).unwrap();
    replace(ctx, fx.stdev, fx.nested).unwrap();
    assert_eq!(trigger(ctx, fx.idev).err(), Some(Errno::ENOENT));
    FILES.close(fd);
}

#[test]
fn viommu_invalidation_clears_device_caches() {
    let fx = fixture();
    let ctx = &fx.ctx;
    let (v, d) = (fx.viommu, fx.idev);
    let vdev = vdevice_alloc(ctx, v, d, 0x99).unwrap();
    let all_default =
        |ctx: &Context| (0..4).all(|i| check_cache(ctx, d, i, IOMMU_TEST_DEV_CACHE_DEFAULT));
    assert!(all_default(ctx));
    let sel = IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST;
    let len = sz::<IommuViommuInvalidateSelftest>();
    let mut reqs = [IommuViommuInvalidateSelftest::default(); 2];
    // An empty array only checks the type.
    assert_eq!(invalidate(ctx, v, &reqs, sel, len, 0), (Ok(0), 0));
    assert_eq!(
        invalidate(
            ctx,
            v,
            &reqs,
            IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST_INVALID,
            len,
            0
        ),
        (Err(Errno::EINVAL), 0)
    );
    assert_eq!(
        invalidate(
            ctx,
            v,
            &reqs,
            IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST_INVALID,
            len,
            1
        ),
        (Err(Errno::EINVAL), 0)
    );
    assert_eq!(
        invalidate(ctx, v, &reqs, sel, len + 1, 1),
        (Err(Errno::EINVAL), 0)
    );
    assert_eq!(
        invalidate(ctx, v, &reqs, sel, 1, 1),
        (Err(Errno::EINVAL), 0)
    );
    reqs[0] = IommuViommuInvalidateSelftest {
        flags: u32::MAX,
        vdev_id: 0x99,
        cache_id: 0,
    };
    assert_eq!(
        invalidate(ctx, v, &reqs, sel, len, 1),
        (Err(Errno::EOPNOTSUPP), 0)
    );
    reqs[0].flags = 0;
    assert_eq!(
        invalidate(ctx, v, &[], sel, len, 1),
        (Err(Errno::EINVAL), 0)
    );
    assert_eq!(
        invalidate(ctx, v, &reqs, sel, 0, 1),
        (Err(Errno::EINVAL), 0)
    );
    reqs[0].cache_id = MOCK_DEV_CACHE_ID_MAX + 1;
    assert_eq!(
        invalidate(ctx, v, &reqs, sel, len, 1),
        (Err(Errno::EINVAL), 0)
    );
    reqs[0] = IommuViommuInvalidateSelftest {
        flags: 0,
        vdev_id: 0x9,
        cache_id: 0,
    };
    assert_eq!(
        invalidate(ctx, v, &reqs, sel, len, 1),
        (Err(Errno::EINVAL), 0)
    );
    assert!(all_default(ctx), "nothing changed");
    // The first request is done, the second fails.
    reqs[0] = IommuViommuInvalidateSelftest {
        flags: 0,
        vdev_id: 0x99,
        cache_id: 0,
    };
    reqs[1] = IommuViommuInvalidateSelftest {
        flags: u32::MAX,
        vdev_id: 0x99,
        cache_id: 1,
    };
    assert_eq!(
        invalidate(ctx, v, &reqs, sel, len, 2),
        (Err(Errno::EOPNOTSUPP), 1)
    );
    assert!(check_cache(ctx, d, 0, 0));
    assert!(check_cache(ctx, d, 1, IOMMU_TEST_DEV_CACHE_DEFAULT));
    reqs[1].flags = 0;
    reqs[1].cache_id = MOCK_DEV_CACHE_ID_MAX + 1;
    assert_eq!(
        invalidate(ctx, v, &reqs, sel, len, 2),
        (Err(Errno::EINVAL), 1)
    );
    reqs[0].cache_id = 1;
    assert_eq!(invalidate(ctx, v, &reqs, sel, len, 1), (Ok(0), 1));
    assert!(check_cache(ctx, d, 1, 0));
    assert!(check_cache(ctx, d, 2, IOMMU_TEST_DEV_CACHE_DEFAULT));
    reqs[0].cache_id = 2;
    reqs[1].cache_id = 3;
    assert_eq!(invalidate(ctx, v, &reqs, sel, len, 2), (Ok(0), 2));
    assert!((0..4).all(|i| check_cache(ctx, d, i, 0)));
    reqs[0].flags = IOMMU_TEST_INVALIDATE_FLAG_ALL;
    assert_eq!(invalidate(ctx, v, &reqs, sel, len, 1), (Ok(0), 1));
    // Without the vDEVICE the virtual ID names nothing.
    destroy(ctx, vdev).unwrap();
    assert_eq!(
        invalidate(ctx, v, &reqs, sel, len, 1),
        (Err(Errno::EINVAL), 0)
    );
    // A paging HWPT cannot be invalidated; a missing ID is ENOENT.
    assert_eq!(
        invalidate(ctx, fx.parent, &reqs, sel, len, 1),
        (Err(Errno::EINVAL), 0)
    );
    assert_eq!(
        invalidate(ctx, 99, &reqs, sel, len, 1),
        (Err(Errno::ENOENT), 0)
    );
}

#[test]
fn hw_queues_pin_their_memory_and_depend_on_the_previous_index() {
    let fx = fixture();
    let ctx = &fx.ctx;
    let v = fx.viommu;
    let t = IOMMU_HW_QUEUE_TYPE_SELFTEST;
    let iova = MOCK_APERTURE_START;
    let before = ctx.objects.ids();
    assert_eq!(
        hw_queue_alloc(ctx, v, IOMMU_HW_QUEUE_TYPE_DEFAULT, 0, iova, PAGE),
        Err(Errno::EOPNOTSUPP)
    );
    assert_eq!(hw_queue_alloc(ctx, v, t, 0, iova, 0), Err(Errno::EINVAL));
    assert_eq!(
        hw_queue_alloc(ctx, v, t, 0, u64::MAX, PAGE),
        Err(Errno::EOVERFLOW)
    );
    assert_eq!(
        hw_queue_alloc(ctx, 99, t, 0, iova, PAGE),
        Err(Errno::ENOENT)
    );
    assert_eq!(
        hw_queue_alloc(ctx, v, 7, 0, iova, PAGE),
        Err(Errno::EOPNOTSUPP)
    );
    assert_eq!(hw_queue_alloc(ctx, v, t, 0, iova, PAGE), Err(Errno::ENOENT));
    assert_eq!(ctx.objects.ids(), before, "the internal access is gone too");

    let buf = Buffer::new(2 * PAGE as usize);
    map_fixed(ctx, fx.ioas, buf.addr(), PAGE, iova).unwrap();
    let iova2 = iova + 16 * PAGE;
    map_fixed(ctx, fx.ioas, buf.addr() + PAGE, PAGE, iova2).unwrap();
    assert_eq!(hw_queue_alloc(ctx, v, t, 1, iova, PAGE), Err(Errno::EIO));
    assert_eq!(
        hw_queue_alloc(ctx, v, t, IOMMU_TEST_HW_QUEUE_MAX, iova, PAGE),
        Err(Errno::EINVAL)
    );
    assert_eq!(ctx.objects.ids(), before);
    let q0 = hw_queue_alloc(ctx, v, t, 0, iova, PAGE).unwrap();
    // The queue's internal access took the next ID.
    assert_eq!(ctx.objects.ids().last(), Some(&(q0 + 1)));
    assert_eq!(destroy(ctx, q0 + 1), Err(Errno::EBUSY));
    assert_eq!(hw_queue_alloc(ctx, v, t, 0, iova, PAGE), Err(Errno::EEXIST));
    assert_eq!(unmap(ctx, fx.ioas, iova, PAGE), Err(Errno::EBUSY));
    unmap(ctx, fx.ioas, iova2, PAGE).unwrap();
    let q1 = hw_queue_alloc(ctx, v, t, 1, iova + PAGE / 2, PAGE / 2).unwrap();
    assert_eq!(destroy(ctx, q0), Err(Errno::EBUSY));
    assert_eq!(destroy(ctx, v), Err(Errno::EBUSY));
    destroy(ctx, q1).unwrap();
    destroy(ctx, q0).unwrap();
    unmap(ctx, fx.ioas, iova, PAGE).unwrap();
}

#[test]
fn a_hw_queue_must_be_what_the_parent_translates() {
    let fx = fixture();
    let ctx = &fx.ctx;
    let iova = MOCK_APERTURE_START;
    // Two pages mapped at adjacent IOVAs from non-adjacent memory are not contiguous.
    let buf = Buffer::new(3 * PAGE as usize);
    map_fixed(ctx, fx.ioas, buf.addr(), PAGE, iova).unwrap();
    map_fixed(ctx, fx.ioas, buf.addr() + 2 * PAGE, PAGE, iova + PAGE).unwrap();
    let before = ctx.objects.ids();
    assert_eq!(
        hw_queue_alloc(
            ctx,
            fx.viommu,
            IOMMU_HW_QUEUE_TYPE_SELFTEST,
            0,
            iova,
            2 * PAGE
        ),
        Err(Errno::EFAULT)
    );
    assert_eq!(ctx.objects.ids(), before);
    unmap(ctx, fx.ioas, iova, 2 * PAGE).unwrap();
}

#[test]
fn context_teardown_releases_everything() {
    let fx = fixture();
    let ctx = &fx.ctx;
    let buf = Buffer::new(PAGE as usize);
    map_fixed(ctx, fx.ioas, buf.addr(), PAGE, MOCK_APERTURE_START).unwrap();
    hw_queue_alloc(
        ctx,
        fx.viommu,
        IOMMU_HW_QUEUE_TYPE_SELFTEST,
        0,
        MOCK_APERTURE_START,
        PAGE,
    )
    .unwrap();
    vdevice_alloc(ctx, fx.viommu, fx.idev, 0x99).unwrap();
    replace(ctx, fx.stdev, fx.nested).unwrap();
    let (_, fd) = veventq_alloc(ctx, fx.viommu, IOMMU_VEVENTQ_TYPE_SELFTEST, 2).unwrap();
    FILES.close(fd);
    let registry = ctx.process().registry.clone();
    assert!(registry.refs(buf.addr()) > 0);
    let weak = Arc::downgrade(&fx.ctx);
    drop(fx);
    assert!(weak.upgrade().is_none());
    assert_eq!(registry.refs(buf.addr()), 0, "the queue's pin went with it");
}

#[test]
fn a_mapping_keeps_the_context_until_it_goes() {
    let fx = fixture();
    let mut data = IommuViommuSelftest::default();
    let mut cmd = viommu_cmd(fx.idev, fx.parent, IOMMU_VIOMMU_TYPE_SELFTEST);
    cmd.data_len = sz::<IommuViommuSelftest>();
    cmd.data_uptr = &mut data as *mut _ as u64;
    ioctl(&fx.ctx, IOMMU_VIOMMU_ALLOC, &mut cmd).unwrap();
    let m = uiommu_abi::mmap(&fx.ctx, data.out_mmap_offset, data.out_mmap_length).unwrap();
    let weak = Arc::downgrade(&fx.ctx);
    drop(fx);
    assert!(weak.upgrade().is_some());
    drop(m);
    assert!(weak.upgrade().is_none());
}

#[test]
fn allocation_arguments_are_checked_before_any_lookup() {
    let fx = fixture();
    let ctx = &fx.ctx;
    let before = ctx.objects.ids();
    let mut veventq = veventq_cmd(99, IOMMU_VEVENTQ_TYPE_SELFTEST, 0);
    veventq.flags = 1;
    assert_eq!(
        ioctl(ctx, IOMMU_VEVENTQ_ALLOC, &mut veventq),
        Err(Errno::EOPNOTSUPP),
        "flags before the depth"
    );
    veventq.flags = 0;
    veventq.__reserved = 1;
    assert_eq!(
        ioctl(ctx, IOMMU_VEVENTQ_ALLOC, &mut veventq),
        Err(Errno::EOPNOTSUPP),
        "__reserved before the depth"
    );
    assert_eq!(
        veventq_alloc(ctx, 99, IOMMU_VEVENTQ_TYPE_DEFAULT, 0),
        Err(Errno::EOPNOTSUPP),
        "the type before the depth"
    );
    let t = IOMMU_HW_QUEUE_TYPE_SELFTEST;
    let mut queue = hw_queue_cmd(99, t, 0, 0, 0);
    queue.flags = 1;
    assert_eq!(
        ioctl(ctx, IOMMU_HW_QUEUE_ALLOC, &mut queue),
        Err(Errno::EOPNOTSUPP),
        "flags before the length"
    );
    assert_eq!(
        hw_queue_alloc(ctx, 99, IOMMU_HW_QUEUE_TYPE_DEFAULT, 0, 0, 0),
        Err(Errno::EOPNOTSUPP),
        "the type before the length"
    );
    assert_eq!(
        hw_queue_alloc(ctx, 99, t, 0, u64::MAX, 0),
        Err(Errno::EINVAL),
        "the length before the overflow"
    );
    assert_eq!(
        hw_queue_alloc(ctx, 99, t, 0, u64::MAX, 2),
        Err(Errno::EOVERFLOW),
        "the overflow before the vIOMMU"
    );
    assert_eq!(
        hw_queue_alloc(ctx, 99, t, 0, u64::MAX, 1),
        Err(Errno::ENOENT),
        "the last byte may be the last address"
    );
    let mut viommu = viommu_cmd(99, 99, IOMMU_VIOMMU_TYPE_SELFTEST);
    viommu.flags = 1;
    assert_eq!(
        ioctl(ctx, IOMMU_VIOMMU_ALLOC, &mut viommu),
        Err(Errno::EOPNOTSUPP),
        "flags before the device"
    );
    assert_eq!(ctx.objects.ids(), before);
}

#[test]
fn hwpt_alloc_flags_are_checked_against_the_target_found() {
    let fx = fixture();
    let ctx = &fx.ctx;
    let before = ctx.objects.ids();
    let unknown = 1 << 31;
    assert_eq!(
        nested_alloc(ctx, 99, fx.parent, unknown, 0),
        Err(Errno::ENOENT),
        "the device before the flags"
    );
    assert_eq!(
        nested_alloc(ctx, fx.idev, 99, unknown, 0),
        Err(Errno::EINVAL),
        "the target before the flags"
    );
    assert_eq!(
        nested_alloc(ctx, fx.idev, fx.nested, unknown, 0),
        Err(Errno::EINVAL),
        "a nested HWPT is no target, whatever the flags"
    );
    for flags in [
        unknown,
        IOMMU_HWPT_ALLOC_NEST_PARENT,
        IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
    ] {
        for pt in [fx.parent, fx.viommu] {
            assert_eq!(
                nested_alloc(ctx, fx.idev, pt, flags, 0),
                Err(Errno::EOPNOTSUPP),
                "{flags:#x} on {pt}"
            );
        }
    }
    assert_eq!(
        hwpt_alloc(
            ctx,
            fx.idev,
            fx.ioas,
            unknown | IOMMU_HWPT_ALLOC_NEST_PARENT
        ),
        Err(Errno::EOPNOTSUPP),
        "unknown on an IOAS"
    );
    assert_eq!(
        hwpt_alloc(
            ctx,
            fx.idev,
            fx.ioas,
            IOMMU_HWPT_FAULT_ID_VALID | IOMMU_HWPT_ALLOC_NEST_PARENT
        ),
        Err(Errno::EOPNOTSUPP),
        "a nest parent takes no fault queue, checked before the queue"
    );
    let pasid_fault = IOMMU_HWPT_ALLOC_PASID | IOMMU_HWPT_FAULT_ID_VALID;
    assert_eq!(
        nested_alloc(ctx, fx.idev, fx.parent, pasid_fault, fx.ioas),
        Err(Errno::ENOENT),
        "the fault queue is looked up last"
    );
    assert_eq!(ctx.objects.ids(), before);
    let nested = nested_alloc(ctx, fx.idev, fx.parent, IOMMU_HWPT_ALLOC_PASID, 99).unwrap();
    destroy(ctx, nested).unwrap();
}
