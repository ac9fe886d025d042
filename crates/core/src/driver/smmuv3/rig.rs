//! A guest for the scenario tests: RAM at GPA 0 in an IOAS, a stage-2 nest parent over it,
//! a vSMMU with a vEVENTQ, and helpers to build CD tables and stage-1 tables in guest
//! memory (Arm IHI 0070 §5.4, VMSAv8-64 4K-granule descriptors).

use super::spec::{cd, put, ste};
use super::*;
use crate::context::{Context, Handle};
use crate::device::Device;
use crate::dma::test_rig::GuestRam;
use crate::hwpt::{AllocFlags, HwptView};
use crate::ioas::Iova;
use crate::iommu::Prot;
use crate::veventq::Veventq;
use crate::viommu::Viommu;
use std::cell::Cell;
use uiommu_pt::format::arm_lpae::spec as lpae;
use uiommu_uapi::UserMemory;
use uiommu_uapi::copy::{UserData, UserDataArray};
use uiommu_uapi::iommufd::{
    IOMMU_HWPT_DATA_ARM_SMMUV3, IOMMU_VEVENTQ_TYPE_ARM_SMMUV3,
    IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3, IommuHwptArmSmmuv3, IommuViommuArmSmmuv3Invalidate,
};
use uiommu_uapi::user::testing::TestMemory;
use zerocopy::IntoBytes;

pub const RAM_UVA: u64 = 0x7f00_0000_0000;
pub const RAM_LEN: u64 = 2 << 20;
const TABLES_GPA: u64 = 0x10_0000;
const SCRATCH: u64 = 0x6000_0000;
pub const PAGE: u64 = 4096;

pub struct Rig {
    pub mem: Arc<TestMemory>,
    pub ctx: Arc<Context>,
    pub drv: Arc<SmmuDriver>,
    pub ioas_id: u32,
    pub ram: GuestRam,
}

impl Rig {
    pub fn new() -> Rig {
        let mem = Arc::new(TestMemory::new());
        mem.map(RAM_UVA, RAM_LEN);
        mem.map(SCRATCH, 16 * PAGE);
        let (ctx, ioas, ioas_id) = crate::dma::test_rig::context_with_ioas(&mem);
        let owner = ctx.pin_owner();
        let prot = Prot(Prot::RW.0 | Prot::CACHE.0);
        ioas.iopt
            .map_user(Iova::Fixed(0), RAM_UVA, RAM_LEN, prot, &owner)
            .unwrap();
        let ram = GuestRam::new(&mem, RAM_UVA, TABLES_GPA);
        Rig {
            mem,
            ctx,
            drv: SmmuDriver::new(SmmuConfig::default()),
            ioas_id,
            ram,
        }
    }

    pub fn device(&self, pasid_bits: u8) -> Handle<Device> {
        let cfg = SmmuDeviceConfig {
            pasid_bits,
            ..Default::default()
        };
        let phys = Arc::new(self.drv.create_device(cfg));
        Handle::new(crate::device::bind(&self.ctx, phys).unwrap()).unwrap()
    }

    fn report(slot: &Cell<u32>) -> impl FnOnce(u32) -> Result<()> + '_ {
        |id| {
            slot.set(id);
            Ok(())
        }
    }

    fn no_data(&self) -> DriverData<'_> {
        DriverData {
            data: UserData {
                data_type: 0,
                uptr: 0,
                len: 0,
            },
            mem: &*self.mem,
        }
    }

    /// The nest parent, a vSMMU over it with a vEVENTQ, and `idev` as vSID `vsid` (none
    /// for `None`): (parent, vSMMU, vEVENTQ) IDs.
    pub fn vsmmu(&self, idev: &Handle<Device>, vsid: Option<u64>) -> (u32, u32, u32) {
        let id = Cell::new(0);
        let flags = AllocFlags::NEST_PARENT;
        crate::hwpt::alloc_user(&self.ctx, idev, self.ioas_id, flags, self.no_data(), |i| {
            id.set(i);
            Ok(())
        })
        .unwrap();
        let parent = id.get();
        let ty = IOMMU_VIOMMU_TYPE_ARM_SMMUV3;
        crate::viommu::alloc(
            &self.ctx,
            ty,
            idev.id(),
            parent,
            self.no_data(),
            Self::report(&id),
        )
        .unwrap();
        let viommu = id.get();
        if let Some(vsid) = vsid {
            crate::vdevice::alloc(&self.ctx, viommu, idev.id(), vsid, Self::report(&id)).unwrap();
        }
        let ty = IOMMU_VEVENTQ_TYPE_ARM_SMMUV3;
        crate::veventq::alloc(&self.ctx, viommu, ty, 16, |p| {
            id.set(p.id());
            Ok(())
        })
        .unwrap();
        (parent, viommu, id.get())
    }

    /// A nested HWPT on the vSMMU from STE words 0 and 1.
    pub fn nested(&self, idev: &Handle<Device>, viommu: u32, w0: u64, w1: u64) -> Result<u32> {
        let arg = IommuHwptArmSmmuv3 {
            ste: [w0.to_le(), w1.to_le()],
        };
        self.mem.write(SCRATCH, arg.as_bytes()).unwrap();
        let data = DriverData {
            data: UserData {
                data_type: IOMMU_HWPT_DATA_ARM_SMMUV3,
                uptr: SCRATCH,
                len: 16,
            },
            mem: &*self.mem,
        };
        let id = Cell::new(0);
        crate::hwpt::alloc_user(
            &self.ctx,
            idev,
            viommu,
            AllocFlags::NONE,
            data,
            Self::report(&id),
        )?;
        Ok(id.get())
    }

    pub fn domain(&self, hwpt_id: u32) -> Arc<dyn Domain> {
        let obj = self.ctx.get_any(hwpt_id).unwrap();
        HwptView::of(&obj).unwrap().domain().clone()
    }

    /// `IOMMU_HWPT_INVALIDATE` on the vSMMU with CMDQ commands: (handled, result).
    pub fn cmdq(&self, viommu: u32, cmds: &[[u64; 2]]) -> (u32, Result<()>) {
        let at = SCRATCH + 4 * PAGE;
        let entries: Vec<IommuViommuArmSmmuv3Invalidate> = cmds
            .iter()
            .map(|c| IommuViommuArmSmmuv3Invalidate {
                cmd: c.map(u64::to_le),
            })
            .collect();
        self.mem.write(at, entries.as_bytes()).unwrap();
        let requests = UserDataArray {
            data_type: IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3,
            uptr: at,
            entry_len: 16,
            entry_num: cmds.len() as u32,
        };
        let v = self.ctx.get::<Viommu>(viommu).unwrap();
        crate::viommu::cache_invalidate(&v, &requests, &*self.mem)
    }

    /// The vEVENTQ's records, oldest first.
    pub fn vevents(&self, veventq: u32) -> Vec<[u64; 4]> {
        let q = self.ctx.get::<Veventq>(veventq).unwrap();
        let at = SCRATCH + 8 * PAGE;
        let n = q.queue.read(&*self.mem, at, 4096).unwrap();
        let bytes = self.mem.get(at, n);
        // Header (flags, sequence) then 32 bytes of record, per event.
        bytes
            .chunks(8 + 32)
            .map(|c| {
                let w = |i: usize| u64::from_le_bytes(c[8 + 8 * i..16 + 8 * i].try_into().unwrap());
                [w(0), w(1), w(2), w(3)]
            })
            .collect()
    }

    /// The guest maps `iova` to `gpa` (4 KiB page) in its 4-level stage-1 table at `root`,
    /// with `bits` added to the page descriptor; returns the descriptor's GPA.
    pub fn guest_map(&self, root: u64, iova: u64, gpa: u64, bits: u64) -> u64 {
        let mut table = root;
        for level in (1..4u32).rev() {
            let slot = table + ((iova >> (12 + 9 * level)) & 511) * 8;
            let e = self.ram.read(slot);
            table = if e & lpae::VALID != 0 {
                e & lpae::addr(12)
            } else {
                let next = self.ram.new_table();
                self.ram
                    .write(slot, next | lpae::VALID | lpae::TABLE_OR_PAGE);
                next
            };
        }
        let leaf = table + ((iova >> 12) & 511) * 8;
        let page = gpa | lpae::VALID | lpae::TABLE_OR_PAGE | lpae::AP_UNPRIV | bits;
        self.ram.write(leaf, page);
        leaf
    }

    /// Writes a valid CD (4K granule, 48-bit input, AArch64) at `at`.
    pub fn write_cd(&self, at: u64, asid: u16, ttb0: u64) {
        let w0 = put(cd::T0SZ, 16) | cd::V | cd::AA64 | put(cd::ASID, u64::from(asid));
        self.ram.write(at, w0);
        self.ram.write(at + 8, ttb0);
    }

    /// STE word 0 of a stage-1 translate STE over the CD table at `cdtab`.
    pub fn s1_ste(cdtab: u64, cdmax: u64, fmt: u64) -> u64 {
        ste::V
            | put(ste::CFG, ste::CFG_S1_TRANS)
            | (cdtab & ste::S1CTXPTR)
            | put(ste::S1CDMAX, cdmax)
            | put(ste::S1FMT, fmt)
    }
}

pub fn read(
    rig: &Rig,
    idev: &Handle<Device>,
    pasid: u32,
    iova: u64,
    len: usize,
) -> std::result::Result<Vec<u8>, crate::dma::DmaError> {
    let mut buf = vec![0; len];
    crate::dma::dma_read(idev, pasid, iova, &mut buf, &*rig.mem)?;
    Ok(buf)
}
