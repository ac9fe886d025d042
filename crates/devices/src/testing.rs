//! What tests and benches of device models start from: a counting [`Trigger`], and a
//! context over an IOMMU model whose process memory is a [`TestMemory`], with an empty IOAS
//! and a function bound and attached to it.

use crate::function::PciFunction;
use crate::irq::Trigger;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use uiommu_core::context::{Context, Handle, Node, Process};
use uiommu_core::device::{self, Device};
use uiommu_core::ioas::{Iova, LockedVm, PinRegistry, ProbeMemory};
use uiommu_core::iommu::{DeviceSpec, IommuDriver, NO_PASID, PhysDevice, Prot};
use uiommu_core::object::{Ioas, Object};
use uiommu_uapi::user::testing::TestMemory;

/// A trigger that counts its signals.
#[derive(Debug, Default)]
pub struct CountingTrigger(AtomicU32);

impl CountingTrigger {
    /// A new trigger, as the `Arc` the interrupt state takes.
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Signals so far.
    pub fn count(&self) -> u32 {
        self.0.load(Ordering::SeqCst)
    }
}

impl Trigger for CountingTrigger {
    fn trigger(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A context whose devices sit behind one IOMMU model, and an IOAS in it.
#[derive(Debug)]
pub struct Rig {
    /// The owning process's memory.
    pub mem: Arc<TestMemory>,
    /// The context.
    pub ctx: Arc<Context>,
    /// The IOAS.
    pub ioas: Handle<Ioas>,
    /// The IOAS's object ID.
    pub ioas_id: u32,
}

impl Rig {
    /// A context over `iommu` with an empty IOAS; pins are never charged.
    pub fn new(iommu: Arc<dyn IommuDriver>) -> Rig {
        let mem = Arc::new(TestMemory::new());
        let process = Process {
            memory: Arc::new(ProbeMemory(Arc::clone(&mem))),
            registry: Arc::new(PinRegistry::new()),
            user_locked: Arc::new(LockedVm::new(1 << 30)),
            mm_locked: Arc::new(LockedVm::new(1 << 30)),
            cap_ipc_lock: true,
            cap_sys_resource: true,
        };
        let ctx = Context::new(process, Node::Iommu, iommu);
        let pending = ctx.objects.reserve().expect("an empty context has room");
        let ioas_id = pending.id();
        let ioas = Handle::new(pending.finalize(Object::Ioas(Ioas::default())))
            .expect("the object just made is an IOAS");
        Rig {
            mem,
            ctx,
            ioas,
            ioas_id,
        }
    }

    /// A new function's physical device: what the context's IOMMU probes.
    pub fn probe(&self) -> Arc<PhysDevice> {
        let driver = Arc::clone(self.ctx.iommu());
        Arc::new(driver.probe_device(DeviceSpec::default()).expect("probe"))
    }

    /// Binds `function` to the context and attaches its RID to the IOAS.
    pub fn bind(&self, function: &mut dyn PciFunction) -> Handle<Device> {
        let phys = Arc::clone(function.dma().phys());
        let obj = device::bind(&self.ctx, phys).expect("bind");
        let dev: Handle<Device> = Handle::new(obj).expect("a device");
        device::attach(&self.ctx, &dev, NO_PASID, self.ioas_id).expect("attach");
        let mem: crate::dma::ProcessMemory = self.mem.clone();
        function
            .dma()
            .bind(dev.clone(), mem)
            .expect("its own device");
        dev
    }

    /// Makes `len` bytes of process memory at `uva` and maps them at `iova`, read-write.
    pub fn map(&self, iova: u64, uva: u64, len: u64) {
        self.mem.map(uva, len);
        let owner = self.ctx.pin_owner();
        let prot = Prot(Prot::RW.0 | Prot::CACHE.0);
        self.ioas
            .iopt
            .map_user(Iova::Fixed(iova), uva, len, prot, &owner)
            .expect("map");
    }
}

/// A PCI Express function that declares every kind of BAR and capability: BAR 0-1 64-bit
/// prefetchable 16 KiB, BAR 2 32-bit 4 KiB, BAR 3 I/O 256 bytes, BAR 4 32-bit 64 KiB with the
/// MSI-X table (16 vectors) at 0 and its PBA at 0x800, a 64 KiB ROM, pin A; PM at 0x40, MSI
/// (4 vectors, 64-bit, per-vector mask) at 0x48, MSI-X at 0x60, PCI Express with FLR at 0x6c.
pub fn every_feature() -> crate::Description {
    use crate::describe::*;
    let mem32 = |size| Bar {
        size,
        kind: BarKind::Memory32 {
            prefetchable: false,
        },
    };
    crate::Description {
        vendor_id: 0x1af4,
        device_id: 0x10f0,
        subsystem_vendor_id: 0x1af4,
        subsystem_id: 0x0001,
        class_code: 0x01_0802,
        revision: 2,
        bars: [
            Some(Bar {
                size: 16 << 10,
                kind: BarKind::Memory64 { prefetchable: true },
            }),
            None,
            Some(mem32(4 << 10)),
            Some(Bar {
                size: 256,
                kind: BarKind::Io,
            }),
            Some(mem32(64 << 10)),
            None,
        ],
        rom_size: Some(64 << 10),
        interrupt_pin: 1,
        capabilities: vec![
            Capability::PowerManagement {
                no_soft_reset: true,
            },
            Capability::Msi(MsiDecl {
                vectors: 4,
                address_64: true,
                per_vector_mask: true,
            }),
            Capability::Msix(MsixDecl {
                vectors: 16,
                table_bar: 4,
                table_offset: 0,
                pba_bar: 4,
                pba_offset: 0x800,
            }),
            Capability::Express(ExpressDecl {
                flr: true,
                max_payload: 1,
            }),
        ],
    }
}
