//! IOAS commands (`drivers/iommu/iommufd/ioas.c`) and IOMMU_DESTROY.

use super::{Cmd, map_args};
use uiommu_core::object::{Ioas, Object};
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;
use uiommu_uapi::iommufd::*;
use zerocopy::{FromBytes, IntoBytes};

/// IOMMU_DESTROY (`iommufd_destroy`).
pub(super) fn destroy(c: &Cmd) -> Result<()> {
    let cmd: IommuDestroy = c.get();
    c.ctx.destroy(cmd.id)
}

/// IOMMU_IOAS_ALLOC (`iommufd_ioas_alloc_ioctl`): the ID is reported before the IOAS is
/// published; if the report faults the IOAS is never seen.
pub(super) fn alloc(c: &Cmd) -> Result<()> {
    let mut cmd: IommuIoasAlloc = c.get();
    if cmd.flags != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let pending = c.ctx.objects.reserve()?;
    cmd.out_ioas_id = pending.id();
    c.respond(&cmd)?;
    pending.finalize(Object::Ioas(Ioas::default()));
    Ok(())
}

/// IOMMU_IOAS_IOVA_RANGES (`iommufd_ioas_iova_ranges`): ranges are written one by one while
/// they fit; the count and alignment are always reported, then `EMSGSIZE` if the array was short.
pub(super) fn iova_ranges(c: &Cmd) -> Result<()> {
    let mut cmd: IommuIoasIovaRanges = c.get();
    if cmd.__reserved != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let ioas = c.ctx.get::<Ioas>(cmd.ioas_id)?;
    let capacity = cmd.num_iovas;
    let ranges = ioas.iopt.iova_ranges();
    cmd.out_iova_alignment = ioas.iopt.iova_alignment();
    let elem = size_of::<IommuIovaRange>() as u64;
    for (i, &(start, last)) in ranges.iter().enumerate().take(capacity as usize) {
        let at = cmd.allowed_iovas.wrapping_add(i as u64 * elem);
        c.mem.write(at, IommuIovaRange { start, last }.as_bytes())?;
    }
    cmd.num_iovas = ranges.len() as u32;
    c.respond(&cmd)?;
    if cmd.num_iovas > capacity {
        return Err(Errno::EMSGSIZE);
    }
    Ok(())
}

/// IOMMU_IOAS_ALLOW_IOVAS (`iommufd_ioas_allow_iovas`): the IOAS is looked up before the
/// array is read; a fault while reading is `EFAULT`.
pub(super) fn allow_iovas(c: &Cmd) -> Result<()> {
    let cmd: IommuIoasAllowIovas = c.get();
    if cmd.__reserved != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let ioas = c.ctx.get::<Ioas>(cmd.ioas_id)?;
    let elem = size_of::<IommuIovaRange>() as u64;
    let mut ranges = Vec::new();
    for i in 0..u64::from(cmd.num_iovas) {
        let mut raw = [0u8; 16];
        c.mem
            .read(cmd.allowed_iovas.wrapping_add(i * elem), &mut raw)?;
        let r = IommuIovaRange::read_from_bytes(&raw).map_err(|_| Errno::EFAULT)?;
        ranges.push((r.start, r.last));
    }
    ioas.iopt.set_allow_iovas(&ranges)
}

/// IOMMU_IOAS_MAP (`iommufd_ioas_map`).
pub(super) fn map(c: &Cmd) -> Result<()> {
    let mut cmd: IommuIoasMap = c.get();
    let (iova, prot) = map_args::map(cmd.flags, cmd.__reserved, cmd.iova, cmd.length)?;
    let ioas = c.ctx.get::<Ioas>(cmd.ioas_id)?;
    cmd.iova = ioas.iopt.map_user(
        iova,
        cmd.user_va,
        cmd.length,
        prot,
        &c.caller.pin_owner(c.ctx),
    )?;
    c.respond(&cmd)
}

/// IOMMU_IOAS_MAP_FILE (`iommufd_ioas_map_file`, `iopt_map_file_pages`): the length checks
/// come before the fd is looked up.
pub(super) fn map_file(c: &Cmd) -> Result<()> {
    let mut cmd: IommuIoasMapFile = c.get();
    let (iova, prot) = map_args::map_file(cmd.flags, cmd.iova, cmd.length)?;
    let ioas = c.ctx.get::<Ioas>(cmd.ioas_id)?;
    if cmd.length == 0 {
        return Err(Errno::EINVAL);
    }
    cmd.start
        .checked_add(cmd.length - 1)
        .ok_or(Errno::EOVERFLOW)?;
    let owner = c.caller.pin_owner(c.ctx);
    // `dma_buf_get` first; any other fd is a file to pin (`fget`).
    cmd.iova = match crate::files::dma_buf_to_map(c.fds, cmd.fd) {
        Some(buf) => ioas
            .iopt
            .map_dmabuf(iova, buf, cmd.start, cmd.length, prot, &owner)?,
        None => {
            let file = c.fds.map_file(cmd.fd)?;
            ioas.iopt
                .map_file(iova, file, cmd.start, cmd.length, prot, &owner)?
        }
    };
    c.respond(&cmd)
}

/// IOMMU_IOAS_COPY (`iommufd_ioas_copy`): the source is looked up and its pages taken before
/// the destination is looked up.
pub(super) fn copy(c: &Cmd) -> Result<()> {
    let mut cmd: IommuIoasCopy = c.get();
    let (iova, prot) = map_args::copy(cmd.flags, cmd.length, cmd.src_iova, cmd.dst_iova)?;
    let src = c.ctx.get::<Ioas>(cmd.src_ioas_id)?;
    let dst = c.ctx.get::<Ioas>(cmd.dst_ioas_id)?;
    cmd.dst_iova = dst
        .iopt
        .copy(&src.iopt, cmd.src_iova, cmd.length, iova, prot)?;
    c.respond(&cmd)
}

/// IOMMU_IOAS_UNMAP (`iommufd_ioas_unmap`): `iova == 0, length == U64_MAX` unmaps all;
/// otherwise unmapping nothing is `ENOENT`.
pub(super) fn unmap(c: &Cmd) -> Result<()> {
    let mut cmd: IommuIoasUnmap = c.get();
    let ioas = c.ctx.get::<Ioas>(cmd.ioas_id)?;
    cmd.length = if cmd.iova == 0 && cmd.length == u64::MAX {
        ioas.iopt.unmap_all()?
    } else {
        if cmd.iova == u64::MAX || cmd.length == u64::MAX {
            return Err(Errno::EOVERFLOW);
        }
        match ioas.iopt.unmap(cmd.iova, cmd.length)? {
            0 => return Err(Errno::ENOENT),
            n => n,
        }
    };
    c.respond(&cmd)
}

/// IOMMU_IOAS_CHANGE_PROCESS (`iommufd_ioas_change_process`): every IOAS of the context may
/// hold file-backed areas only (`EINVAL`). Their pins are then charged to the calling process;
/// in process the caller is always the process that pinned them, so no charge moves
/// (`need_charge_update` is false for every pages object).
pub(super) fn change_process(c: &Cmd) -> Result<()> {
    let cmd: IommuIoasChangeProcess = c.get();
    if cmd.__reserved != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    for id in c.ctx.objects.ids() {
        if let Ok(ioas) = c.ctx.get::<Ioas>(id) {
            if !ioas.iopt.all_areas_file_backed() {
                return Err(Errno::EINVAL);
            }
        }
    }
    Ok(())
}

/// IOMMU_IOAS_NOIOMMU_GET_PA: uiommu is built like a kernel without
/// `CONFIG_IOMMUFD_NOIOMMU`, whose handler only says `EOPNOTSUPP`.
pub(super) fn noiommu_get_pa(_c: &Cmd) -> Result<()> {
    Err(Errno::EOPNOTSUPP)
}
