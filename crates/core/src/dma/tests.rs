//! Scenarios of the DMA engine over the VT-d model: a guest binds its first-stage table,
//! devices DMA through it, the IOTLB serves stale translations until invalidated, faults
//! become records or page requests, and PASIDs are isolated.

use super::*;
use crate::context::{Context, Handle};
use crate::device::Device;
use crate::dma::test_rig::GuestRam;
use crate::driver::vtd::regs::cap;
use crate::driver::vtd::{VtdConfig, VtdDeviceConfig, VtdDriver, VtdNested};
use crate::fault::{FaultQueue, PageResponse, ResponseCode};
use crate::hwpt::{AllocFlags, HwptView};
use crate::ioas::Iova;
use crate::iommu::DriverData;
use crate::iommu::Prot;
use crate::object::{Ioas, Object};
use uiommu_pt::format::x86_64::spec as x86;
use uiommu_uapi::UserMemory;
use uiommu_uapi::copy::{UserData, UserDataArray};
use uiommu_uapi::iommufd::{
    IOMMU_HWPT_DATA_VTD_S1, IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, IOMMUFD_PAGE_RESP_SUCCESS,
    IommuHwptPgfault, IommuHwptVtdS1, IommuHwptVtdS1Invalidate,
};
use uiommu_uapi::user::testing::TestMemory;
use zerocopy::{FromBytes, IntoBytes};

/// Where the guest's RAM lives in the process.
const RAM_UVA: u64 = 0x7f00_0000_0000;
/// 2 MiB of guest RAM at GPA 0.
const RAM_LEN: u64 = 2 << 20;
/// Guest page tables are allocated from here (GPA).
const TABLES_GPA: u64 = 0x10_0000;
/// Scratch memory for command structs (not guest RAM).
const SCRATCH: u64 = 0x6000_0000;
const PAGE: u64 = 4096;
/// `IOMMU_HWPT_ALLOC_PASID`.
const PASID: AllocFlags = AllocFlags {
    pasid: true,
    ..AllocFlags::NONE
};
/// `IOMMU_HWPT_ALLOC_DIRTY_TRACKING`.
const DIRTY_TRACKING: AllocFlags = AllocFlags {
    dirty_tracking: true,
    ..AllocFlags::NONE
};

/// A unit with 48-bit MGAW: 4-level first and second stages.
fn four_level() -> VtdConfig {
    let mut c = VtdConfig::default();
    c.cap &= !((0x3f << cap::MGAW_SHIFT) | (0x1f << cap::SAGAW_SHIFT) | cap::FS5LP);
    c.cap |= (47 << cap::MGAW_SHIFT) | (0b100 << cap::SAGAW_SHIFT);
    c
}

struct Rig {
    mem: Arc<TestMemory>,
    ctx: Arc<Context>,
    drv: Arc<VtdDriver>,
    ioas: Handle<Ioas>,
    ioas_id: u32,
    ram: GuestRam,
}

impl Rig {
    /// A context whose process has guest RAM, an IOAS mapping it at GPA 0 (the data pages
    /// one area each, so that they can be unmapped alone), over a unit with `config`.
    fn new(config: VtdConfig) -> Rig {
        let mem = Arc::new(TestMemory::new());
        mem.map(RAM_UVA, RAM_LEN);
        mem.map(SCRATCH, 16 * PAGE);
        let (ctx, ioas, ioas_id) = crate::dma::test_rig::context_with_ioas(&mem);
        let ram = GuestRam::new(&mem, RAM_UVA, TABLES_GPA);
        let rig = Rig {
            mem,
            ctx,
            drv: VtdDriver::new(config),
            ioas,
            ioas_id,
            ram,
        };
        for gpa in (0..TABLES_GPA).step_by(PAGE as usize) {
            rig.map_gpa(gpa, PAGE);
        }
        rig.map_gpa(TABLES_GPA, RAM_LEN - TABLES_GPA);
        rig
    }

    fn map_gpa(&self, gpa: u64, len: u64) {
        let owner = self.ctx.pin_owner();
        let prot = Prot(Prot::RW.0 | Prot::CACHE.0);
        self.ioas
            .iopt
            .map_user(Iova::Fixed(gpa), RAM_UVA + gpa, len, prot, &owner)
            .unwrap();
    }

    fn device(&self, config: VtdDeviceConfig) -> Handle<Device> {
        let phys = Arc::new(self.drv.create_device(config));
        Handle::new(crate::device::bind(&self.ctx, phys).unwrap()).unwrap()
    }

    fn pasid_device(&self, pri: bool) -> Handle<Device> {
        self.device(VtdDeviceConfig {
            pasid_bits: 20,
            pri,
            ats: true,
        })
    }

    /// `IOMMU_HWPT_ALLOC`: on an IOAS (paging) or a nest parent (nested, with `s1`).
    fn hwpt(
        &self,
        idev: &Handle<Device>,
        pt_id: u32,
        flags: AllocFlags,
        s1: Option<IommuHwptVtdS1>,
    ) -> Result<u32, Errno> {
        let data = match s1 {
            Some(s1) => {
                self.mem.write(SCRATCH, s1.as_bytes()).unwrap();
                UserData {
                    data_type: IOMMU_HWPT_DATA_VTD_S1,
                    uptr: SCRATCH,
                    len: size_of::<IommuHwptVtdS1>() as u32,
                }
            }
            None => UserData {
                data_type: 0,
                uptr: 0,
                len: 0,
            },
        };
        let data = DriverData {
            data,
            mem: &*self.mem,
        };
        let mut id = 0;
        crate::hwpt::alloc_user(&self.ctx, idev, pt_id, flags, data, |i| {
            id = i;
            Ok(())
        })?;
        Ok(id)
    }

    fn nest_parent(&self, idev: &Handle<Device>) -> u32 {
        self.hwpt(idev, self.ioas_id, AllocFlags::NEST_PARENT, None)
            .unwrap()
    }

    fn fault_queue(&self) -> (u32, Handle<FaultQueue>) {
        let pending = self.ctx.objects.reserve().unwrap();
        let id = pending.id();
        let q = pending.finalize(Object::Fault(FaultQueue::default()));
        (id, Handle::new(q).unwrap())
    }

    fn domain(&self, hwpt_id: u32) -> Arc<dyn Domain> {
        let obj = self.ctx.get_any(hwpt_id).unwrap();
        HwptView::of(&obj).unwrap().domain().clone()
    }

    fn did(&self, hwpt_id: u32) -> u16 {
        let d = self.domain(hwpt_id);
        let any = d.as_any();
        match any.downcast_ref::<VtdNested>() {
            Some(n) => n.did(),
            None => any
                .downcast_ref::<crate::driver::vtd::VtdPaging>()
                .unwrap()
                .did(),
        }
    }

    /// `IOMMU_HWPT_INVALIDATE` with `entries`: (handled, result).
    fn invalidate(
        &self,
        hwpt_id: u32,
        entries: &[IommuHwptVtdS1Invalidate],
    ) -> (u32, Result<(), Errno>) {
        let at = SCRATCH + 4 * PAGE;
        self.mem.write(at, entries.as_bytes()).unwrap();
        let requests = UserDataArray {
            data_type: IOMMU_HWPT_INVALIDATE_DATA_VTD_S1,
            uptr: at,
            entry_len: size_of::<IommuHwptVtdS1Invalidate>() as u32,
            entry_num: entries.len() as u32,
        };
        self.domain(hwpt_id)
            .cache_invalidate_user(&requests, &*self.mem)
            .unwrap()
    }

    /// The guest maps `iova` to `gpa` (4 KiB) in the 4-level table at `root`, with `bits`
    /// in the leaf; returns the leaf's GPA.
    fn guest_map(&self, root: u64, iova: u64, gpa: u64, bits: u64) -> u64 {
        let mut table = root;
        for level in (1..4u32).rev() {
            let slot = table + ((iova >> (12 + 9 * level)) & 511) * 8;
            let e = self.ram.read(slot);
            table = if e & x86::P != 0 {
                e & x86::ADDR
            } else {
                let next = self.ram.new_table();
                // Guest-written: present, writable, user, not yet accessed.
                self.ram.write(slot, next | x86::P | x86::RW | x86::US);
                next
            };
        }
        let leaf = table + ((iova >> 12) & 511) * 8;
        self.ram.write(leaf, gpa | x86::P | x86::US | bits);
        leaf
    }

    fn s1(&self, root: u64) -> IommuHwptVtdS1 {
        IommuHwptVtdS1 {
            flags: 0,
            pgtbl_addr: root,
            addr_width: 48,
            __reserved: 0,
        }
    }
}

fn read(
    idev: &Handle<Device>,
    pasid: u32,
    iova: u64,
    len: usize,
    mem: &TestMemory,
) -> Result<Vec<u8>, DmaError> {
    let mut buf = vec![0; len];
    dma_read(idev, pasid, iova, &mut buf, mem)?;
    Ok(buf)
}

#[test]
fn nested_dma_serves_stale_translations_until_the_guest_invalidates() {
    let rig = Rig::new(four_level());
    let mem = &*rig.mem;
    let idev = rig.pasid_device(false);
    let parent = rig.nest_parent(&idev);
    let root = rig.ram.new_table();
    let iova = 0x40_0000;
    mem.write(RAM_UVA + 0x2000, b"hello").unwrap();
    mem.write(RAM_UVA + 0x3000, b"world").unwrap();
    let leaf = rig.guest_map(root, iova, 0x2000, x86::RW);
    let nested = rig
        .hwpt(&idev, parent, AllocFlags::NONE, Some(rig.s1(root)))
        .unwrap();
    crate::device::attach(&rig.ctx, &idev, NO_PASID, nested).unwrap();

    assert_eq!(read(&idev, NO_PASID, iova, 5, mem).unwrap(), b"hello");
    // The walk set the accessed bits in the guest's table, through the second stage.
    assert_eq!(rig.ram.read(leaf) & (x86::A | x86::D), x86::A);
    assert_eq!(rig.ram.read(root) & x86::A, x86::A);
    dma_write(&idev, NO_PASID, iova + 5, b"!", mem).unwrap();
    assert_eq!(rig.ram.read(leaf) & x86::D, x86::D, "a write sets dirty");
    assert_eq!(mem.get(RAM_UVA + 0x2000, 6), b"hello!");

    // The guest points the IOVA elsewhere and does not invalidate: the IOTLB still has it.
    rig.ram.write(leaf, 0x3000 | x86::P | x86::US | x86::RW);
    assert_eq!(read(&idev, NO_PASID, iova, 5, mem).unwrap(), b"hello");
    // A PASID-based invalidation of the page: the new translation.
    let inv = IommuHwptVtdS1Invalidate {
        addr: iova,
        npages: 1,
        flags: 0,
        __reserved: 0,
    };
    assert_eq!(rig.invalidate(nested, &[inv]), (1, Ok(())));
    assert_eq!(read(&idev, NO_PASID, iova, 5, mem).unwrap(), b"world");

    // Unmapped in the guest, stale again; an invalidation of everything makes it fault.
    rig.ram.write(leaf, 0);
    assert!(read(&idev, NO_PASID, iova, 5, mem).is_ok());
    let all = IommuHwptVtdS1Invalidate {
        addr: 0,
        npages: u64::MAX,
        flags: 0,
        __reserved: 0,
    };
    assert_eq!(rig.invalidate(nested, &[all]), (1, Ok(())));
    let err = read(&idev, NO_PASID, iova, 5, mem).unwrap_err();
    let DmaError::Fault(f) = err else {
        panic!("{err:?}")
    };
    assert_eq!(
        f.reason,
        FaultReason::NotPresent {
            stage: Stage::First,
            level: 0
        }
    );
    // A device without PRI: the unit recorded it.
    let (records, overflow) = rig.drv.unit().take_faults();
    assert!(!overflow);
    assert_eq!(records.len(), 1);
    assert_eq!(
        (records[0].addr, records[0].pasid, records[0].write),
        (iova, None, false)
    );
}

#[test]
fn second_stage_changes_reach_nested_translations() {
    let rig = Rig::new(four_level());
    let mem = &*rig.mem;
    let idev = rig.pasid_device(false);
    let parent = rig.nest_parent(&idev);
    let root = rig.ram.new_table();
    mem.write(RAM_UVA + 0x5000, b"data").unwrap();
    rig.guest_map(root, 0x1000, 0x5000, x86::RW);
    let nested = rig
        .hwpt(&idev, parent, AllocFlags::NONE, Some(rig.s1(root)))
        .unwrap();
    crate::device::attach(&rig.ctx, &idev, NO_PASID, nested).unwrap();
    assert_eq!(read(&idev, NO_PASID, 0x1000, 4, mem).unwrap(), b"data");
    // The host unmaps the guest page from the IOAS: the parent's unmap invalidates the
    // nested domain's combined entries, and the walk faults in the second stage.
    rig.ioas.iopt.unmap(0x5000, PAGE).unwrap();
    let err = read(&idev, NO_PASID, 0x1000, 4, mem).unwrap_err();
    assert!(
        matches!(
            err,
            DmaError::Fault(DmaFault {
                reason: FaultReason::NotPresent {
                    stage: Stage::Second,
                    ..
                },
                ..
            })
        ),
        "{err:?}"
    );
    // A table the second stage does not translate is a table access fault.
    rig.ioas.iopt.unmap(0x4000, PAGE).unwrap();
    let root2 = 0x4000;
    let nested2 = rig
        .hwpt(&idev, parent, AllocFlags::NONE, Some(rig.s1(root2)))
        .unwrap();
    crate::device::replace(&rig.ctx, &idev, NO_PASID, nested2).unwrap();
    let err = read(&idev, NO_PASID, 0x1000, 4, mem).unwrap_err();
    assert!(
        matches!(
            err,
            DmaError::Fault(DmaFault {
                reason: FaultReason::TableAccess {
                    stage: Stage::First,
                    ..
                },
                ..
            })
        ),
        "{err:?}"
    );
}

#[test]
fn a_fault_becomes_a_page_request_answered_through_the_fault_queue() {
    let rig = Rig::new(four_level());
    let mem = &*rig.mem;
    let idev = rig.pasid_device(true);
    let parent = rig.nest_parent(&idev);
    let root = rig.ram.new_table();
    let (fault_id, queue) = rig.fault_queue();
    queue.set_responses(rig.drv.unit().response_sink());
    let flags = AllocFlags {
        fault_id: Some(fault_id),
        ..PASID
    };
    let nested = rig.hwpt(&idev, parent, flags, Some(rig.s1(root))).unwrap();
    let pasid = 5;
    crate::device::attach(&rig.ctx, &idev, pasid, nested).unwrap();

    let iova = 0x7000_1000;
    let err = dma_write(&idev, pasid, iova + 8, b"x", mem).unwrap_err();
    let DmaError::PageRequest(f) = err else {
        panic!("{err:?}")
    };
    assert_eq!(
        (f.pasid, f.iova, f.access),
        (pasid, iova + 8, Access::Write)
    );
    assert!(
        rig.drv.unit().take_faults().0.is_empty(),
        "not a recorded fault"
    );

    // The program reads the fault record from the queue.
    let buf = SCRATCH + 8 * PAGE;
    let n = queue.read(mem, buf, size_of::<IommuHwptPgfault>()).unwrap();
    assert_eq!(n, size_of::<IommuHwptPgfault>());
    let rec = IommuHwptPgfault::read_from_bytes(&mem.get(buf, n)).unwrap();
    assert_eq!((rec.dev_id, rec.pasid, rec.addr), (idev.id(), pasid, iova));
    assert_eq!(
        rec.flags,
        uiommu_uapi::iommufd::IOMMU_PGFAULT_FLAGS_PASID_VALID
            | uiommu_uapi::iommufd::IOMMU_PGFAULT_FLAGS_LAST_PAGE
    );
    assert_eq!(rec.perm, uiommu_uapi::iommufd::IOMMU_PGFAULT_PERM_WRITE);

    // It maps the page and answers; the unit sends the page group response.
    rig.guest_map(root, iova, 0x6000, x86::RW);
    let mut resp = Some(Ok(PageResponse {
        cookie: rec.cookie,
        code: ResponseCode::Success,
    }));
    assert_eq!(queue.answer(|| resp.take()), Ok(1));
    let sent = rig.drv.unit().take_page_responses();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].dev_id, sent[0].pasid, sent[0].grpid, sent[0].code),
        (idev.id(), pasid, rec.grpid, IOMMUFD_PAGE_RESP_SUCCESS)
    );
    // The device retries: a fault is never cached, so no invalidation was needed.
    dma_write(&idev, pasid, iova + 8, b"x", mem).unwrap();
    assert_eq!(mem.get(RAM_UVA + 0x6008, 1), b"x");
}

#[test]
fn pasids_of_one_device_are_isolated() {
    let rig = Rig::new(four_level());
    let mem = &*rig.mem;
    let idev = rig.pasid_device(false);
    let parent = rig.nest_parent(&idev);
    let (root_a, root_b) = (rig.ram.new_table(), rig.ram.new_table());
    let iova = 0x20_0000;
    mem.write(RAM_UVA + 0x1000, b"AAAA").unwrap();
    mem.write(RAM_UVA + 0x2000, b"BBBB").unwrap();
    rig.guest_map(root_a, iova, 0x1000, x86::RW);
    rig.guest_map(root_b, iova, 0x2000, 0);
    let a = rig
        .hwpt(&idev, parent, PASID, Some(rig.s1(root_a)))
        .unwrap();
    let b = rig
        .hwpt(&idev, parent, PASID, Some(rig.s1(root_b)))
        .unwrap();
    // A first-stage paging domain of the IOAS on a third PASID: IOVA = GPA.
    let paging = rig.hwpt(&idev, rig.ioas_id, PASID, None).unwrap();
    crate::device::attach(&rig.ctx, &idev, 1, a).unwrap();
    crate::device::attach(&rig.ctx, &idev, 2, b).unwrap();
    crate::device::attach(&rig.ctx, &idev, 3, paging).unwrap();

    assert_eq!(read(&idev, 1, iova, 4, mem).unwrap(), b"AAAA");
    assert_eq!(read(&idev, 2, iova, 4, mem).unwrap(), b"BBBB");
    assert_eq!(read(&idev, 3, 0x2000, 4, mem).unwrap(), b"BBBB");
    // PASID 2's page is read-only in its table; PASID 1's is not.
    assert!(matches!(
        dma_write(&idev, 2, iova, b"z", mem),
        Err(DmaError::Fault(DmaFault {
            reason: FaultReason::Permission {
                stage: Stage::First,
                level: 0
            },
            ..
        }))
    ));
    dma_write(&idev, 1, iova, b"a", mem).unwrap();
    // No PASID 4, and nothing on the RID: blocked.
    for pasid in [4, NO_PASID] {
        assert!(matches!(
            read(&idev, pasid, iova, 1, mem),
            Err(DmaError::Fault(DmaFault {
                reason: FaultReason::Blocked,
                ..
            }))
        ));
    }

    // Invalidations of one PASID's domain leave the others' entries alone.
    let tlb = &rig.drv.unit().iotlb;
    let (ta, tb, tp) = (
        Tag {
            did: rig.did(a),
            pasid: 1,
        },
        Tag {
            did: rig.did(b),
            pasid: 2,
        },
        Tag {
            did: rig.did(paging),
            pasid: 3,
        },
    );
    assert!(tlb.contains(ta, iova) && tlb.contains(tb, iova) && tlb.contains(tp, 0x2000));
    let inv = IommuHwptVtdS1Invalidate {
        addr: iova,
        npages: 1,
        flags: 0,
        __reserved: 0,
    };
    assert_eq!(rig.invalidate(a, &[inv]), (1, Ok(())));
    assert!(!tlb.contains(ta, iova));
    assert!(tlb.contains(tb, iova) && tlb.contains(tp, 0x2000));
    // Detaching a PASID tears its entry down and flushes what it cached, nothing else.
    crate::device::detach(&rig.ctx, &idev, 2);
    assert!(!tlb.contains(tb, iova) && tlb.contains(tp, 0x2000));
    assert!(matches!(
        read(&idev, 2, iova, 1, mem),
        Err(DmaError::Fault(DmaFault {
            reason: FaultReason::Blocked,
            ..
        }))
    ));
    assert_eq!(read(&idev, 1, iova, 4, mem).unwrap(), b"aAAA");
}

#[test]
fn paging_domains_translate_with_permissions_and_track_dirty_pages() {
    let rig = Rig::new(VtdConfig::default());
    let mem = &*rig.mem;
    let idev = rig.device(VtdDeviceConfig::default());
    let hwpt = rig.hwpt(&idev, rig.ioas_id, DIRTY_TRACKING, None).unwrap();
    crate::device::attach(&rig.ctx, &idev, NO_PASID, hwpt).unwrap();
    // A read-only mapping.
    mem.map(0x5000_0000, PAGE);
    mem.write(0x5000_0000, b"ro").unwrap();
    let owner = rig.ctx.pin_owner();
    let ro = Prot(Prot::READ.0 | Prot::CACHE.0);
    rig.ioas
        .iopt
        .map_user(Iova::Fixed(0x80_0000), 0x5000_0000, PAGE, ro, &owner)
        .unwrap();
    assert_eq!(read(&idev, NO_PASID, 0x80_0000, 2, mem).unwrap(), b"ro");
    assert!(matches!(
        dma_write(&idev, NO_PASID, 0x80_0000, b"x", mem),
        Err(DmaError::Fault(DmaFault {
            reason: FaultReason::Permission {
                stage: Stage::Second,
                ..
            },
            ..
        }))
    ));
    // Reads and writes across a page boundary, through the IOAS's GPA mappings.
    let data: Vec<u8> = (0..6000u32).map(|i| i as u8).collect();
    dma_write(&idev, NO_PASID, 0x1800, &data, mem).unwrap();
    assert_eq!(mem.get(RAM_UVA + 0x1800, data.len()), data);
    assert_eq!(
        read(&idev, NO_PASID, 0x1800, data.len(), mem).unwrap(),
        data
    );

    // Dirty tracking: writes are reported, cleared, and reported again after the clear
    // (the clear invalidates, so the next write walks and sets the bit).
    let domain = rig.domain(hwpt);
    domain.set_dirty_tracking(true).unwrap();
    let mut bits = uiommu_pt::DirtyBitmap::new(0, 12, 16);
    domain
        .read_and_clear_dirty(0, 16 * PAGE, false, &mut bits)
        .unwrap();
    dma_write(&idev, NO_PASID, 0x3000, b"d", mem).unwrap();
    let mut bits = uiommu_pt::DirtyBitmap::new(0, 12, 16);
    domain
        .read_and_clear_dirty(0, 16 * PAGE, false, &mut bits)
        .unwrap();
    assert!(bits.test(0x3000) && !bits.test(0x1000) && !bits.test(0x4000));
    dma_write(&idev, NO_PASID, 0x3000, b"e", mem).unwrap();
    let mut bits = uiommu_pt::DirtyBitmap::new(0, 12, 16);
    domain
        .read_and_clear_dirty(0, 16 * PAGE, false, &mut bits)
        .unwrap();
    assert!(bits.test(0x3000), "written again after the clear");

    // Unmapping invalidates: the next DMA faults rather than reading a stale page.
    rig.ioas.iopt.unmap(0x3000, PAGE).unwrap();
    assert!(read(&idev, NO_PASID, 0x3000, 1, mem).is_err());
    // Ranges that wrap are refused, not translated; the last byte is beyond the table.
    assert_eq!(
        read(&idev, NO_PASID, u64::MAX, 2, mem),
        Err(DmaError::Access(Errno::EOVERFLOW))
    );
    assert_eq!(
        read(&idev, NO_PASID, u64::MAX, 1, mem),
        Err(DmaError::Fault(DmaFault {
            dev_id: idev.id(),
            pasid: NO_PASID,
            iova: u64::MAX,
            access: Access::Read,
            reason: FaultReason::OutOfRange {
                stage: Stage::Second
            },
        }))
    );
}

#[test]
fn mock_devices_translate_through_their_software_tables() {
    let rig = Rig::new(VtdConfig::default());
    let mem = &*rig.mem;
    let mock = crate::driver::mock::MockDriver::get();
    let phys = Arc::new(mock.create_device(0).unwrap());
    let idev: Handle<Device> = Handle::new(crate::device::bind(&rig.ctx, phys).unwrap()).unwrap();
    mem.map(0x5100_0000, PAGE);
    mem.write(0x5100_0000, b"mock").unwrap();
    let owner = rig.ctx.pin_owner();
    let pending = rig.ctx.objects.reserve().unwrap();
    let ioas_id = pending.id();
    let ioas: Handle<Ioas> = Handle::new(pending.finalize(Object::Ioas(Ioas::default()))).unwrap();
    crate::device::attach(&rig.ctx, &idev, NO_PASID, ioas_id).unwrap();
    ioas.iopt
        .map_user(Iova::Fixed(1 << 24), 0x5100_0000, PAGE, Prot::RW, &owner)
        .unwrap();
    assert_eq!(read(&idev, NO_PASID, 1 << 24, 4, mem).unwrap(), b"mock");
    assert!(matches!(
        read(&idev, NO_PASID, 2 << 24, 4, mem),
        Err(DmaError::Fault(_))
    ));
}
