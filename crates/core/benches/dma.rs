//! DMA engine timings over the VT-d model (ns per translation, and DMA throughput against a
//! plain copy of the same bytes).
//!
//! - `translate/harness`: criterion's loop around a black-boxed constant, the floor.
//! - `translate/iotlb_hit`: a resolved target, the page in the IOTLB (after the first call,
//!   in the target's micro-TLB).
//! - `translate/iotlb_lookup`: the IOTLB's own lookup of that page.
//! - `translate/iotlb_hit_resolve`: the same through `dma::translate`, which also looks the
//!   domain up through the device's group.
//! - `translate/miss_4level`: a first-stage paging domain, 4 levels; IOVAs cycle over 4096
//!   pages so every request misses the 512-entry IOTLB (walk, A/D check, fill, eviction).
//! - `translate/miss_nested_4x4`: a guest 4-level first stage over a 4-level second stage with
//!   4 KiB leaves: each first-stage table read and the output go through the second stage.
//! - `dma/read_1MiB` and `dma/memcpy_1MiB`: 256 pages read through the IOMMU (IOTLB warm)
//!   and a plain copy of the same bytes from the same memory.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use uiommu_core::context::{Context, Handle, Node, Process};
use uiommu_core::device::{self, Device};
use uiommu_core::dma::{self, DmaTarget};
use uiommu_core::driver::vtd::regs::cap;
use uiommu_core::driver::vtd::{VtdConfig, VtdDeviceConfig, VtdDriver};
use uiommu_core::hwpt::AllocFlags;
use uiommu_core::ioas::{Iova, LockedVm, PinRegistry, ProbeMemory};
use uiommu_core::iommu::DriverData;
use uiommu_core::iommu::NO_PASID;
use uiommu_core::iommu::Prot;
use uiommu_core::iotlb::{self, Iotlb};
use uiommu_core::object::{Ioas, Object};
use uiommu_pt::Access;
use uiommu_pt::format::x86_64::spec as x86;
use uiommu_uapi::copy::UserData;
use uiommu_uapi::errno::Result;
use uiommu_uapi::iommufd::{IOMMU_HWPT_DATA_VTD_S1, IommuHwptVtdS1};
use uiommu_uapi::user::testing::TestMemory;
use uiommu_uapi::{Errno, UserMemory};
use zerocopy::IntoBytes;

const PAGE: u64 = 4096;
/// Process address of guest RAM (GPA 0) and of the paging domain's memory (IOVA 0).
const BASE: u64 = 0x7f00_0000_0000;
/// Data pages: 16 MiB.
const DATA_PAGES: u64 = 4096;
/// Guest tables start here (GPA), after the data.
const TABLES: u64 = DATA_PAGES * PAGE;
/// Guest RAM: data plus 1 MiB of tables.
const RAM: u64 = TABLES + (1 << 20);

/// Flat process memory for DMA: a plain slice, read-only once built.
struct Flat {
    bytes: Vec<u8>,
}

impl UserMemory for Flat {
    #[inline]
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        let off = addr.checked_sub(BASE).ok_or(Errno::EFAULT)? as usize;
        let src = self.bytes.get(off..off + buf.len()).ok_or(Errno::EFAULT)?;
        buf.copy_from_slice(src);
        Ok(())
    }
    fn write(&self, _addr: u64, _data: &[u8]) -> Result<()> {
        Err(Errno::EFAULT)
    }
}

/// A unit with 48-bit MGAW: 4-level first and second stages.
fn four_level() -> VtdConfig {
    let mut c = VtdConfig::default();
    c.cap &= !((0x3f << cap::MGAW_SHIFT) | (0x1f << cap::SAGAW_SHIFT) | cap::FS5LP);
    c.cap |= (47 << cap::MGAW_SHIFT) | (0b100 << cap::SAGAW_SHIFT);
    c
}

/// The guest maps `iova` to `gpa` in the 4-level table at `root` (tables from `*next`),
/// accessed bits preset as a guest that has run for a while has them.
fn guest_map(ram: &mut [u8], next: &mut u64, root: u64, iova: u64, gpa: u64) {
    let rd = |ram: &[u8], a: u64| {
        let a = a as usize;
        u64::from_le_bytes(ram[a..a + 8].try_into().unwrap())
    };
    let wr = |ram: &mut [u8], a: u64, v: u64| {
        let a = a as usize;
        ram[a..a + 8].copy_from_slice(&v.to_le_bytes());
    };
    let mut table = root;
    for level in (1..4u32).rev() {
        let slot = table + ((iova >> (12 + 9 * level)) & 511) * 8;
        let e = rd(ram, slot);
        table = if e & x86::P != 0 {
            e & x86::ADDR
        } else {
            let t = *next;
            *next += PAGE;
            wr(ram, slot, t | x86::P | x86::RW | x86::US | x86::A);
            t
        };
    }
    let leaf = table + ((iova >> 12) & 511) * 8;
    wr(ram, leaf, gpa | x86::P | x86::RW | x86::US | x86::A);
}

struct Bench {
    _ctx: Arc<Context>,
    nested_unit_tlb: Arc<Iotlb>,
    paging_did: u16,
    flat: Flat,
    paging: Handle<Device>,
    nested: Handle<Device>,
}

fn setup() -> Bench {
    // Presence for pinning; DMA itself reads `flat`.
    let pins = Arc::new(TestMemory::new());
    pins.map(BASE, RAM);
    let process = Process {
        memory: Arc::new(ProbeMemory(Arc::clone(&pins))),
        registry: Arc::new(PinRegistry::new()),
        user_locked: Arc::new(LockedVm::new(1 << 30)),
        mm_locked: Arc::new(LockedVm::new(1 << 30)),
        cap_ipc_lock: true,
        cap_sys_resource: true,
    };
    let ctx = Context::new(
        process,
        Node::Iommu,
        uiommu_core::driver::default_model().create(),
    );
    let pending = ctx.objects.reserve().unwrap();
    let ioas_id = pending.id();
    let ioas: Handle<Ioas> = Handle::new(pending.finalize(Object::Ioas(Ioas::default()))).unwrap();
    let prot = Prot(Prot::RW.0 | Prot::CACHE.0);
    ioas.iopt
        .map_user(Iova::Fixed(0), BASE, RAM, prot, &ctx.pin_owner())
        .unwrap();

    let drv = VtdDriver::new(four_level());
    let bind = |cfg| {
        let phys = Arc::new(drv.create_device(cfg));
        Handle::<Device>::new(device::bind(&ctx, phys).unwrap()).unwrap()
    };
    let paging = bind(VtdDeviceConfig::default());
    device::attach(&ctx, &paging, NO_PASID, ioas_id).unwrap();
    let nested = bind(VtdDeviceConfig::default());

    // The guest's table: IOVA 1 GiB + n pages -> GPA n pages.
    let mut ram = vec![0u8; RAM as usize];
    for (i, b) in ram.iter_mut().enumerate().take(TABLES as usize) {
        *b = (i / PAGE as usize) as u8;
    }
    let root = TABLES;
    let mut next = TABLES + PAGE;
    for n in 0..DATA_PAGES {
        guest_map(&mut ram, &mut next, root, (1 << 30) + n * PAGE, n * PAGE);
    }
    let s1 = IommuHwptVtdS1 {
        flags: 0,
        pgtbl_addr: root,
        addr_width: 48,
        __reserved: 0,
    };
    let scratch = 0x1000;
    pins.map(scratch, PAGE);
    pins.write(scratch, s1.as_bytes()).unwrap();
    let alloc = |pt_id, flags, data: UserData| {
        let mut id = 0;
        let data = DriverData { data, mem: &*pins };
        uiommu_core::hwpt::alloc_user(&ctx, &nested, pt_id, flags, data, |i| {
            id = i;
            Ok(())
        })
        .unwrap();
        id
    };
    let none = UserData {
        data_type: 0,
        uptr: 0,
        len: 0,
    };
    let parent = alloc(ioas_id, AllocFlags::NEST_PARENT, none);
    let data = UserData {
        data_type: IOMMU_HWPT_DATA_VTD_S1,
        uptr: scratch,
        len: size_of::<IommuHwptVtdS1>() as u32,
    };
    let hwpt = alloc(parent, AllocFlags::NONE, data);
    device::attach(&ctx, &nested, NO_PASID, hwpt).unwrap();
    let paging_did = paging
        .phys
        .state::<uiommu_core::driver::vtd::VtdDev>()
        .and_then(|d| d.did_of(NO_PASID))
        .unwrap();
    Bench {
        nested_unit_tlb: Arc::clone(&drv.unit().iotlb),
        paging_did,
        _ctx: ctx,
        flat: Flat { bytes: ram },
        paging,
        nested,
    }
}

fn translate(c: &mut Criterion) {
    let b = setup();
    let mem = &b.flat;
    let mut g = c.benchmark_group("translate");
    let target = DmaTarget::resolve(&b.paging, NO_PASID);
    target.translate(0x5000, Access::Read, 8, mem).unwrap();
    // The loop, the argument's black box and the result's drop: the floor of every figure.
    g.bench_function("harness", |bn| bn.iter(|| black_box(0x5008u64)));
    g.bench_function("iotlb_hit", |bn| {
        bn.iter(|| target.translate(black_box(0x5008), Access::Read, 8, mem))
    });
    let tlb = &b.nested_unit_tlb;
    let tag = iotlb::Tag {
        did: b.paging_did,
        pasid: NO_PASID,
    };
    g.bench_function("iotlb_lookup", |bn| {
        bn.iter(|| tlb.lookup(tag, black_box(0x5008), Access::Read))
    });
    g.bench_function("iotlb_hit_resolve", |bn| {
        bn.iter(|| dma::translate(&b.paging, NO_PASID, black_box(0x5008), Access::Read, 8, mem))
    });
    let mut n = 0u64;
    g.bench_function("miss_4level", |bn| {
        bn.iter(|| {
            n = (n + 1) % DATA_PAGES;
            target.translate(black_box(n * PAGE), Access::Read, 8, mem)
        })
    });
    let nested = DmaTarget::resolve(&b.nested, NO_PASID);
    let mut n = 0u64;
    g.bench_function("miss_nested_4x4", |bn| {
        bn.iter(|| {
            n = (n + 1) % DATA_PAGES;
            nested.translate(black_box((1 << 30) + n * PAGE), Access::Read, 8, mem)
        })
    });
    g.finish();
}

fn throughput(c: &mut Criterion) {
    let b = setup();
    let mem = &b.flat;
    const LEN: usize = 1 << 20;
    let mut g = c.benchmark_group("dma");
    g.throughput(Throughput::Bytes(LEN as u64));
    let mut buf = vec![0u8; LEN];
    let target = DmaTarget::resolve(&b.nested, NO_PASID);
    target.read(1 << 30, &mut buf, mem).unwrap();
    assert_eq!(&buf[..LEN], &mem.bytes[..LEN]);
    g.bench_function("read_1MiB", |bn| {
        bn.iter(|| target.read(black_box(1 << 30), &mut buf, mem).unwrap())
    });
    g.bench_function("memcpy_1MiB", |bn| {
        bn.iter(|| {
            for (dst, src) in buf
                .chunks_exact_mut(PAGE as usize)
                .zip(black_box(&mem.bytes[..LEN]).chunks_exact(PAGE as usize))
            {
                dst.copy_from_slice(src);
            }
        })
    });
    g.finish();
}

criterion_group!(benches, translate, throughput);
criterion_main!(benches);
