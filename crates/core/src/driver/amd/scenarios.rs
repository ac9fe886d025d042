//! Scenarios of the DMA engine over the AMD model: a guest builds its GCR3 table and v2 page
//! tables in its RAM, hands its DTE over through a vIOMMU, and its device DMAs through the
//! nested translation; the IOTLB serves stale translations until the host DomainID is
//! invalidated; faults are logged; PASIDs are isolated.

use super::tests::gdte;
use super::*;
use crate::context::{Context, Handle};
use crate::device::Device;
use crate::dma::test_rig::GuestRam;
use crate::dma::{DmaError, dma_read, dma_write};
use crate::hwpt::{AllocFlags, HwptView};
use crate::ioas::Iova;
use crate::iommu::NO_PASID;
use crate::iommu::Prot;
use crate::iommu::translate::{FaultReason, Stage};
use crate::object::Ioas;
use uiommu_pt::format::x86_64::spec as x86;
use uiommu_uapi::UserMemory;
use uiommu_uapi::copy::UserData;
use uiommu_uapi::iommufd::{IOMMU_HWPT_DATA_AMD_GUEST, IOMMU_VIOMMU_TYPE_ARM_SMMUV3};
use uiommu_uapi::user::testing::TestMemory;

const RAM_UVA: u64 = 0x7e00_0000_0000;
const RAM_LEN: u64 = 2 << 20;
const TABLES_GPA: u64 = 0x10_0000;
const SCRATCH: u64 = 0x6100_0000;
const PAGE: u64 = 4096;

struct Rig {
    mem: Arc<TestMemory>,
    ctx: Arc<Context>,
    drv: Arc<AmdDriver>,
    ioas: Handle<Ioas>,
    ioas_id: u32,
    ram: GuestRam,
}

impl Rig {
    /// Guest RAM at GPA 0 in an IOAS (each low page its own area), a unit with nesting wired.
    fn new() -> Rig {
        let mem = Arc::new(TestMemory::new());
        mem.map(RAM_UVA, RAM_LEN);
        mem.map(SCRATCH, 4 * PAGE);
        let (ctx, ioas, ioas_id) = crate::dma::test_rig::context_with_ioas(&mem);
        let ram = GuestRam::new(&mem, RAM_UVA, TABLES_GPA);
        let rig = Rig {
            mem,
            ctx,
            drv: AmdDriver::new(AmdConfig {
                viommu_nesting: true,
                ..AmdConfig::default()
            }),
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
        let prot = Prot(Prot::RW.0 | Prot::CACHE.0);
        self.ioas
            .iopt
            .map_user(
                Iova::Fixed(gpa),
                RAM_UVA + gpa,
                len,
                prot,
                &self.ctx.pin_owner(),
            )
            .unwrap();
    }

    fn device(&self) -> Handle<Device> {
        let phys = Arc::new(self.drv.create_device(AmdDeviceConfig::default()));
        Handle::new(crate::device::bind(&self.ctx, phys).unwrap()).unwrap()
    }

    fn data(&self, data_type: u32, bytes: &[u8]) -> DriverData<'_> {
        self.mem.write(SCRATCH, bytes).unwrap();
        DriverData {
            data: UserData {
                data_type,
                uptr: SCRATCH,
                len: bytes.len() as u32,
            },
            mem: &*self.mem,
        }
    }

    fn hwpt(
        &self,
        idev: &Handle<Device>,
        pt_id: u32,
        flags: AllocFlags,
        dte: Option<[u64; 4]>,
    ) -> u32 {
        let data = match dte {
            Some(d) => self.data(IOMMU_HWPT_DATA_AMD_GUEST, d.as_bytes()),
            None => self.data(0, &[]),
        };
        let mut id = 0;
        crate::hwpt::alloc_user(&self.ctx, idev, pt_id, flags, data, |i| {
            id = i;
            Ok(())
        })
        .unwrap();
        id
    }

    /// A nest parent over the IOAS and a vIOMMU on it.
    fn viommu(&self, idev: &Handle<Device>) -> u32 {
        let parent = self.hwpt(idev, self.ioas_id, AllocFlags::NEST_PARENT, None);
        let mut id = 0;
        let data = self.data(0, &[]);
        crate::viommu::alloc(
            &self.ctx,
            IOMMU_VIOMMU_TYPE_ARM_SMMUV3,
            idev.id(),
            parent,
            data,
            |i| {
                id = i;
                Ok(())
            },
        )
        .unwrap();
        id
    }

    fn nested(&self, idev: &Handle<Device>, viommu: u32, dte: [u64; 4]) -> u32 {
        let id = self.hwpt(idev, viommu, AllocFlags::NONE, Some(dte));
        if crate::device::attached_hwpt(idev, NO_PASID).is_some() {
            crate::device::replace(&self.ctx, idev, NO_PASID, id).unwrap();
        } else {
            crate::device::attach(&self.ctx, idev, NO_PASID, id).unwrap();
        }
        id
    }

    fn hdom(&self, hwpt: u32) -> u16 {
        let obj = self.ctx.get_any(hwpt).unwrap();
        let d = HwptView::of(&obj).unwrap().domain().clone();
        d.as_any()
            .downcast_ref::<AmdNested>()
            .unwrap()
            .host_domain_id()
    }

    /// A 1-level GCR3 table with `(pasid, guest CR3)` entries.
    fn gcr3_table(&self, entries: &[(u32, u64)]) -> u64 {
        let t = self.ram.new_table();
        for &(pasid, cr3) in entries {
            self.ram
                .write(t + u64::from(pasid) * 8, cr3 | dte::GCR3_VALID);
        }
        t
    }

    /// Maps `iova` to `gpa` (4 KiB) in the guest's 4-level table at `root`; the leaf's GPA.
    fn guest_map(&self, root: u64, iova: u64, gpa: u64) -> u64 {
        let mut table = root;
        for level in (1..4u32).rev() {
            let slot = table + ((iova >> (12 + 9 * level)) & 511) * 8;
            let e = self.ram.read(slot);
            table = if e & x86::P != 0 {
                e & x86::ADDR
            } else {
                let next = self.ram.new_table();
                self.ram.write(slot, next | x86::P | x86::RW | x86::US);
                next
            };
        }
        let leaf = table + ((iova >> 12) & 511) * 8;
        self.ram.write(leaf, gpa | x86::P | x86::US | x86::RW);
        leaf
    }
}

use super::spec::dte;
use zerocopy::IntoBytes;

fn read(
    idev: &Handle<Device>,
    pasid: u32,
    iova: u64,
    mem: &TestMemory,
) -> std::result::Result<Vec<u8>, DmaError> {
    let mut buf = vec![0; 5];
    dma_read(idev, pasid, iova, &mut buf, mem)?;
    Ok(buf)
}

/// GIOV set: requests without PASID take the guest table of PASID 0.
fn giov(mut g: [u64; 4]) -> [u64; 4] {
    g[0] |= dte::GIOV;
    g
}

#[test]
fn guest_table_changes_are_stale_until_the_host_domain_id_is_invalidated() {
    let rig = Rig::new();
    let mem = &*rig.mem;
    let idev = rig.device();
    let viommu = rig.viommu(&idev);
    mem.write(RAM_UVA + 0x2000, b"hello").unwrap();
    mem.write(RAM_UVA + 0x3000, b"world").unwrap();
    let root = rig.ram.new_table();
    let iova = 0x40_0000;
    let leaf = rig.guest_map(root, iova, 0x2000);
    let gcr3 = rig.gcr3_table(&[(0, root)]);
    let nested = rig.nested(&idev, viommu, giov(gdte(gcr3, 5)));
    assert_eq!(read(&idev, NO_PASID, iova, mem).unwrap(), b"hello");
    assert_eq!(
        rig.ram.read(leaf) & x86::A,
        x86::A,
        "accessed, through the host table"
    );
    dma_write(&idev, NO_PASID, iova, b"HELLO", mem).unwrap();
    assert_eq!(mem.get(RAM_UVA + 0x2000, 5), b"HELLO");

    // The guest repoints the page. 7.3 offers no invalidation for AMD: still the old page,
    // and re-attaching the same guest DomainID (same host DomainID) does not help.
    rig.ram.write(leaf, 0x3000 | x86::P | x86::US | x86::RW);
    assert_eq!(read(&idev, NO_PASID, iova, mem).unwrap(), b"HELLO");
    let again = rig.nested(&idev, viommu, giov(gdte(gcr3, 5)));
    assert_eq!(rig.hdom(again), rig.hdom(nested));
    assert_eq!(read(&idev, NO_PASID, iova, mem).unwrap(), b"HELLO");

    // A change of the nest parent invalidates every host DomainID nested over it.
    let owner = rig.ctx.pin_owner();
    rig.ioas.iopt.unmap_iova_counted(0x7000, PAGE).1.unwrap();
    let prot = Prot(Prot::RW.0 | Prot::CACHE.0);
    rig.ioas
        .iopt
        .map_user(Iova::Fixed(0x7000), RAM_UVA + 0x7000, PAGE, prot, &owner)
        .unwrap();
    assert_eq!(read(&idev, NO_PASID, iova, mem).unwrap(), b"world");
}

#[test]
fn a_new_guest_domain_id_translates_afresh_and_faults_are_logged() {
    let rig = Rig::new();
    let mem = &*rig.mem;
    let idev = rig.device();
    let viommu = rig.viommu(&idev);
    mem.write(RAM_UVA + 0x2000, b"first").unwrap();
    mem.write(RAM_UVA + 0x3000, b"again").unwrap();
    let root = rig.ram.new_table();
    let leaf = rig.guest_map(root, 0x1000, 0x2000);
    let gcr3 = rig.gcr3_table(&[(0, root)]);
    let a = rig.nested(&idev, viommu, giov(gdte(gcr3, 1)));
    assert_eq!(read(&idev, NO_PASID, 0x1000, mem).unwrap(), b"first");
    rig.ram.write(leaf, 0x3000 | x86::P | x86::US | x86::RW);
    let b = rig.nested(&idev, viommu, giov(gdte(gcr3, 2)));
    assert_ne!(rig.hdom(a), rig.hdom(b));
    assert_eq!(read(&idev, NO_PASID, 0x1000, mem).unwrap(), b"again");

    // Not mapped in the guest: an IO_PAGE_FAULT under the host DomainID.
    let err = read(&idev, NO_PASID, 0x5000, mem).unwrap_err();
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
    let (events, overflow) = rig.drv.unit().take_events();
    assert!(!overflow);
    assert_eq!(events.len(), 1);
    let adev = idev.phys.state::<AmdDev>().unwrap();
    assert_eq!(
        (events[0].device_id, events[0].domain_id, events[0].addr),
        (adev.device_id, Some(rig.hdom(b)), 0x5000)
    );
    // The guest maps a GPA the host never mapped: a host-table fault.
    rig.guest_map(root, 0x6000, 0x1f_0000_0000);
    let DmaError::Fault(f) = read(&idev, NO_PASID, 0x6000, mem).unwrap_err() else {
        panic!()
    };
    assert!(
        matches!(
            f.reason,
            FaultReason::OutOfRange {
                stage: Stage::Second
            } | FaultReason::NotPresent {
                stage: Stage::Second,
                ..
            }
        ),
        "{f:?}"
    );
}

#[test]
fn pasids_are_isolated_by_the_gcr3_table() {
    let rig = Rig::new();
    let mem = &*rig.mem;
    let idev = rig.device();
    let viommu = rig.viommu(&idev);
    mem.write(RAM_UVA + 0x2000, b"pasid").unwrap();
    mem.write(RAM_UVA + 0x3000, b"other").unwrap();
    mem.write(RAM_UVA + 0x4000, b"host!").unwrap();
    let r1 = rig.ram.new_table();
    let r2 = rig.ram.new_table();
    rig.guest_map(r1, 0x1000, 0x2000);
    rig.guest_map(r2, 0x1000, 0x3000);
    let gcr3 = rig.gcr3_table(&[(1, r1), (2, r2)]);
    // No GIOV: requests without PASID use the host table alone (GPA = IOVA).
    rig.nested(&idev, viommu, gdte(gcr3, 9));
    assert_eq!(read(&idev, 1, 0x1000, mem).unwrap(), b"pasid");
    assert_eq!(read(&idev, 2, 0x1000, mem).unwrap(), b"other");
    assert_eq!(read(&idev, NO_PASID, 0x4000, mem).unwrap(), b"host!");
    // PASID 3 has no GCR3 entry, and 512 is beyond a 1-level table.
    for pasid in [3, 512] {
        let DmaError::Fault(f) = read(&idev, pasid, 0x1000, mem).unwrap_err() else {
            panic!()
        };
        assert_eq!(f.reason, FaultReason::Blocked);
    }
    // PASID 1's cached translation is not PASID 2's.
    rig.ram.write(gcr3 + 8, 0);
    assert_eq!(read(&idev, 1, 0x1000, mem).unwrap(), b"pasid", "cached");
    assert_eq!(read(&idev, 2, 0x1000, mem).unwrap(), b"other");
}

#[test]
fn a_two_level_gcr3_table_reaches_wide_pasids() {
    let rig = Rig::new();
    let mem = &*rig.mem;
    let idev = rig.device();
    let viommu = rig.viommu(&idev);
    mem.write(RAM_UVA + 0x2000, b"wide!").unwrap();
    let root = rig.ram.new_table();
    rig.guest_map(root, 0x1000, 0x2000);
    let pasid = (3 << 9) | 7;
    let bottom = rig.gcr3_table(&[(7, root)]);
    let top = rig.gcr3_table(&[(3, bottom)]);
    let mut g = gdte(top, 4);
    g[0] |= 1 << dte::GLX_SHIFT;
    rig.nested(&idev, viommu, g);
    assert_eq!(read(&idev, pasid, 0x1000, mem).unwrap(), b"wide!");
    assert!(read(&idev, 7, 0x1000, mem).is_err());
}
