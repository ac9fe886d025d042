//! HWPT commands (`drivers/iommu/iommufd/hw_pagetable.c`) and IOMMU_GET_HW_INFO
//! (`device.c`).

use super::Cmd;
use super::user_bitmap::UserBitmap;
use uiommu_core::device::Device;
use uiommu_core::hwpt::{self, AllocFlags, HwptPaging};
use uiommu_core::iommu::{Capability, DriverData};
use uiommu_core::object::Object;
use uiommu_core::viommu;
use uiommu_uapi::Errno;
use uiommu_uapi::copy::{UserData, UserDataArray, clear_user};
use uiommu_uapi::errno::Result;
use uiommu_uapi::iommufd::*;

/// Every `IOMMU_HWPT_ALLOC_*` flag.
const ALLOC_FLAGS: u32 = IOMMU_HWPT_ALLOC_NEST_PARENT
    | IOMMU_HWPT_ALLOC_DIRTY_TRACKING
    | IOMMU_HWPT_FAULT_ID_VALID
    | IOMMU_HWPT_ALLOC_PASID;

/// `flags` and `fault_id` of IOMMU_HWPT_ALLOC as core takes them. The kernel checks them only
/// once the target is found, against what the target accepts (`iommufd_hwpt_paging_alloc`,
/// `iommufd_hwpt_nested_alloc`, `iommufd_viommu_alloc_hwpt_nested`), so core decides.
fn alloc_flags(flags: u32, fault_id: u32) -> AllocFlags {
    AllocFlags {
        nest_parent: flags & IOMMU_HWPT_ALLOC_NEST_PARENT != 0,
        dirty_tracking: flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING != 0,
        pasid: flags & IOMMU_HWPT_ALLOC_PASID != 0,
        fault_id: (flags & IOMMU_HWPT_FAULT_ID_VALID != 0).then_some(fault_id),
        unknown: flags & !ALLOC_FLAGS != 0,
    }
}

/// IOMMU_HWPT_ALLOC (`iommufd_hwpt_alloc`): `EOPNOTSUPP` for `__reserved`, `EINVAL` for a data
/// type without data or data without a type, then the device is looked up.
pub(super) fn alloc(c: &Cmd) -> Result<()> {
    let mut cmd: IommuHwptAlloc = c.get();
    if cmd.__reserved != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    if (cmd.data_type == IOMMU_HWPT_DATA_NONE) != (cmd.data_len == 0) {
        return Err(Errno::EINVAL);
    }
    let idev = c.ctx.get::<Device>(cmd.dev_id)?;
    let data = DriverData {
        data: UserData {
            data_type: cmd.data_type,
            uptr: cmd.data_uptr,
            len: cmd.data_len,
        },
        mem: c.mem,
    };
    let flags = alloc_flags(cmd.flags, cmd.fault_id);
    hwpt::alloc_user(c.ctx, &idev, cmd.pt_id, flags, data, |id| {
        cmd.out_hwpt_id = id;
        c.respond(&cmd)
    })
}

/// IOMMU_HWPT_SET_DIRTY_TRACKING (`iommufd_hwpt_set_dirty_tracking`).
pub(super) fn set_dirty_tracking(c: &Cmd) -> Result<()> {
    let cmd: IommuHwptSetDirtyTracking = c.get();
    if cmd.flags & !IOMMU_HWPT_DIRTY_TRACKING_ENABLE != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let hwpt = c.ctx.get::<HwptPaging>(cmd.hwpt_id)?;
    let enable = cmd.flags & IOMMU_HWPT_DIRTY_TRACKING_ENABLE != 0;
    hwpt.ioas
        .iopt
        .set_dirty_tracking(hwpt.domain.as_ref(), enable)
}

/// IOMMU_HWPT_GET_DIRTY_BITMAP (`iommufd_hwpt_get_dirty_bitmap`). Bits go straight into the
/// caller's bitmap; like the kernel, a bitmap that cannot be written ends the report silently.
pub(super) fn get_dirty_bitmap(c: &Cmd) -> Result<()> {
    let cmd: IommuHwptGetDirtyBitmap = c.get();
    if cmd.flags & !IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR != 0 || cmd.__reserved != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let hwpt = c.ctx.get::<HwptPaging>(cmd.hwpt_id)?;
    hwpt.ioas
        .iopt
        .check_dirty_range(cmd.iova, cmd.length, cmd.page_size)?;
    let mut bitmap = UserBitmap::new(c.mem, cmd.data, cmd.iova, cmd.length, cmd.page_size);
    let no_clear = cmd.flags & IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR != 0;
    hwpt.ioas.iopt.read_and_clear_dirty(
        hwpt.domain.as_ref(),
        cmd.iova,
        cmd.length,
        cmd.page_size,
        no_clear,
        &mut bitmap,
    )
}

/// Most entries one IOMMU_HWPT_INVALIDATE may carry (`IOMMU_HWPT_INVALIDATE_ENTRY_NUM_MAX`).
const INVALIDATE_ENTRY_NUM_MAX: u32 = 1 << 19;
/// Largest entry (`PAGE_SIZE`).
const INVALIDATE_ENTRY_LEN_MAX: u32 = 4096;

/// IOMMU_HWPT_INVALIDATE (`iommufd_hwpt_invalidate`) of a nested HWPT or a vIOMMU: `entry_num`
/// is written back with the
/// number of requests handled, on success and on error alike.
pub(super) fn invalidate(c: &Cmd) -> Result<()> {
    let mut cmd: IommuHwptInvalidate = c.get();
    let (done, rc) = run_invalidate(c, &cmd);
    cmd.entry_num = done;
    c.respond(&cmd).map_err(|_| Errno::EFAULT)?;
    rc
}

fn run_invalidate(c: &Cmd, cmd: &IommuHwptInvalidate) -> (u32, Result<()>) {
    if cmd.__reserved != 0 {
        return (0, Err(Errno::EOPNOTSUPP));
    }
    if cmd.entry_num != 0
        && (cmd.data_uptr == 0
            || cmd.entry_len == 0
            || cmd.entry_len > INVALIDATE_ENTRY_LEN_MAX
            || cmd.entry_num > INVALIDATE_ENTRY_NUM_MAX)
    {
        return (0, Err(Errno::EINVAL));
    }
    let pt = match c.ctx.get_any(cmd.hwpt_id) {
        Ok(pt) => pt,
        Err(e) => return (0, Err(e)),
    };
    let requests = UserDataArray {
        data_type: cmd.data_type,
        uptr: cmd.data_uptr,
        entry_len: cmd.entry_len,
        entry_num: cmd.entry_num,
    };
    match &*pt {
        Object::HwptNested(h) => h
            .domain
            .cache_invalidate_user(&requests, c.mem)
            .unwrap_or((0, Err(Errno::EOPNOTSUPP))),
        Object::Viommu(v) => viommu::cache_invalidate(v, &requests, c.mem),
        _ => (0, Err(Errno::EINVAL)),
    }
}

/// IOMMU_GET_HW_INFO (`iommufd_get_hw_info`).
pub(super) fn get_hw_info(c: &Cmd) -> Result<()> {
    let mut cmd: IommuHwInfo = c.get();
    if cmd.flags & !IOMMU_HW_INFO_FLAG_INPUT_TYPE != 0 || cmd.__reserved != [0; 3] {
        return Err(Errno::EOPNOTSUPP);
    }
    if cmd.flags & IOMMU_HW_INFO_FLAG_INPUT_TYPE == 0 {
        cmd.out_data_type = IOMMU_HW_INFO_TYPE_DEFAULT;
    }
    let idev = c.ctx.get::<Device>(cmd.dev_id)?;
    let dev = &idev.phys;
    let (data_type, data) = match dev.driver.hw_info(dev, cmd.out_data_type) {
        Some(info) => {
            let info = info?;
            (info.data_type, info.data)
        }
        None => (IOMMU_HW_INFO_TYPE_NONE, Vec::new()),
    };
    let copy_len = (cmd.data_len as usize).min(data.len());
    c.mem.write(cmd.data_uptr, &data[..copy_len])?;
    if copy_len < cmd.data_len as usize {
        let rest = u64::from(cmd.data_len) - copy_len as u64;
        clear_user(&c.mem, cmd.data_uptr.wrapping_add(copy_len as u64), rest)?;
    }
    cmd.out_data_type = data_type;
    cmd.data_len = data.len() as u32;
    cmd.out_capabilities = 0;
    if dev.driver.capable(dev, Capability::DirtyTracking) {
        cmd.out_capabilities |= IOMMU_HW_CAP_DIRTY_TRACKING;
    }
    if !dev.driver.capable(dev, Capability::PciAtsSupported) {
        cmd.out_capabilities |= IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED;
    }
    cmd.out_max_pasid_log2 = dev.max_pasid_log2;
    c.respond(&cmd)
}
