//! The command-level checks of the IOAS ioctls, which run before the IOAS is looked up
//! (`ioas.c`: `iommufd_ioas_map`, `iommufd_ioas_map_file`, `iommufd_ioas_copy`,
//! `conv_iommu_prot`). The ABI layer calls these, then finds the IOAS (`ENOENT`), then calls
//! the [`super::IoPagetable`] method.

use super::map::Iova;
use crate::iommu::Prot;
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;
use uiommu_uapi::iommufd::ioas::{
    IOMMU_IOAS_MAP_FIXED_IOVA, IOMMU_IOAS_MAP_READABLE, IOMMU_IOAS_MAP_WRITEABLE,
};

const KNOWN: u32 = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE;

/// `conv_iommu_prot` plus the checks every map command shares: `EOPNOTSUPP` for unknown flags,
/// `EOVERFLOW` if any of `values` is `u64::MAX`, `EINVAL` without READABLE or WRITEABLE.
fn check(flags: u32, iova: u64, values: &[u64]) -> Result<(Iova, Prot)> {
    if flags & !KNOWN != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    if values.contains(&u64::MAX) {
        return Err(Errno::EOVERFLOW);
    }
    if flags & (IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE) == 0 {
        return Err(Errno::EINVAL);
    }
    let mut prot = Prot::CACHE;
    if flags & IOMMU_IOAS_MAP_WRITEABLE != 0 {
        prot = prot | Prot::WRITE;
    }
    if flags & IOMMU_IOAS_MAP_READABLE != 0 {
        prot = prot | Prot::READ;
    }
    let iova = if flags & IOMMU_IOAS_MAP_FIXED_IOVA != 0 {
        Iova::Fixed(iova)
    } else {
        Iova::Auto
    };
    Ok((iova, prot))
}

/// `IOMMU_IOAS_MAP`: `EOPNOTSUPP` for unknown flags or a non-zero `__reserved`, `EOVERFLOW` for
/// `iova` or `length` of `u64::MAX`, `EINVAL` without access rights.
pub fn check_map_cmd(flags: u32, reserved: u32, iova: u64, length: u64) -> Result<(Iova, Prot)> {
    if reserved != 0 && flags & !KNOWN == 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    check(flags, iova, &[iova, length])
}

/// `IOMMU_IOAS_MAP_FILE`: as [`check_map_cmd`] without `__reserved` (the fd sits there).
pub fn check_map_file_cmd(flags: u32, iova: u64, length: u64) -> Result<(Iova, Prot)> {
    check(flags, iova, &[iova, length])
}

/// `IOMMU_IOAS_COPY`: as [`check_map_cmd`] over `length`, `src_iova` and `dst_iova`.
pub fn check_copy_cmd(
    flags: u32,
    length: u64,
    src_iova: u64,
    dst_iova: u64,
) -> Result<(Iova, Prot)> {
    check(flags, dst_iova, &[length, src_iova, dst_iova])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_cmd_checks_in_kernel_order() {
        assert_eq!(check_map_cmd(1 << 3, 0, 0, 0), Err(Errno::EOPNOTSUPP));
        assert_eq!(
            check_map_cmd(IOMMU_IOAS_MAP_READABLE, 1, 0, 0),
            Err(Errno::EOPNOTSUPP)
        );
        assert_eq!(check_map_cmd(0, 0, u64::MAX, 1), Err(Errno::EOVERFLOW));
        assert_eq!(check_map_cmd(0, 0, 0, 1), Err(Errno::EINVAL));
        assert_eq!(
            check_map_cmd(IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_FIXED_IOVA, 0, 7, 1),
            Ok((Iova::Fixed(7), Prot(Prot::READ.0 | Prot::CACHE.0)))
        );
        assert_eq!(
            check_copy_cmd(IOMMU_IOAS_MAP_WRITEABLE, 1, 0, 9),
            Ok((Iova::Auto, Prot(Prot::WRITE.0 | Prot::CACHE.0)))
        );
        assert_eq!(
            check_copy_cmd(IOMMU_IOAS_MAP_WRITEABLE, 1, u64::MAX, 9),
            Err(Errno::EOVERFLOW)
        );
        assert_eq!(
            check_map_file_cmd(IOMMU_IOAS_MAP_READABLE, 0, u64::MAX),
            Err(Errno::EOVERFLOW)
        );
    }
}
