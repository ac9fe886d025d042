//! IOMMU_OPTION (`main.c`: `iommufd_option`; `ioas.c`: `iommufd_option_rlimit_mode`,
//! `iommufd_ioas_option`) and IOMMU_VFIO_IOAS (`vfio_compat.c`: `iommufd_vfio_ioas`).

use super::Cmd;
use uiommu_core::object::Ioas;
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;
use uiommu_uapi::iommufd::*;
use zerocopy::IntoBytes;

/// IOMMU_OPTION. On success only `val64` is written back.
pub(super) fn option(c: &Cmd) -> Result<()> {
    let mut cmd: IommuOption = c.get();
    if cmd.__reserved != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    match cmd.option_id {
        IOMMU_OPTION_RLIMIT_MODE => rlimit_mode(c, &mut cmd)?,
        IOMMU_OPTION_HUGE_PAGES => huge_pages(c, &mut cmd)?,
        _ => return Err(Errno::EOPNOTSUPP),
    }
    let at = c.ucmd.arg + std::mem::offset_of!(IommuOption, val64) as u64;
    c.mem.write(at, cmd.val64.as_bytes())
}

fn rlimit_mode(c: &Cmd, cmd: &mut IommuOption) -> Result<()> {
    if cmd.object_id != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    match cmd.op {
        IOMMU_OPTION_OP_GET => {
            cmd.val64 = c.ctx.rlimit_mode().val64();
            Ok(())
        }
        IOMMU_OPTION_OP_SET => c.ctx.set_rlimit_mode(cmd.val64),
        _ => Err(Errno::EOPNOTSUPP),
    }
}

fn huge_pages(c: &Cmd, cmd: &mut IommuOption) -> Result<()> {
    let ioas = c.ctx.get::<Ioas>(cmd.object_id)?;
    match cmd.op {
        IOMMU_OPTION_OP_GET => {
            cmd.val64 = u64::from(ioas.iopt.huge_pages());
            Ok(())
        }
        IOMMU_OPTION_OP_SET => match cmd.val64 {
            0 => ioas.iopt.set_huge_pages(false),
            1 => ioas.iopt.set_huge_pages(true),
            _ => Err(Errno::EINVAL),
        },
        _ => Err(Errno::EOPNOTSUPP),
    }
}

/// IOMMU_VFIO_IOAS.
pub(super) fn vfio_ioas(c: &Cmd) -> Result<()> {
    let mut cmd: IommuVfioIoas = c.get();
    if cmd.__reserved != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    match cmd.op {
        IOMMU_VFIO_IOAS_GET => {
            cmd.ioas_id = c.ctx.vfio_ioas()?.id();
            c.respond(&cmd)
        }
        IOMMU_VFIO_IOAS_SET => {
            let ioas = c.ctx.get::<Ioas>(cmd.ioas_id)?;
            c.ctx.set_vfio_ioas(Some(ioas.object()));
            Ok(())
        }
        IOMMU_VFIO_IOAS_CLEAR => {
            c.ctx.set_vfio_ioas(None);
            Ok(())
        }
        _ => Err(Errno::EOPNOTSUPP),
    }
}
