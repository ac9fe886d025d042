//! The argument checks of the IOAS map commands, which run before the IOAS is looked up
//! (`drivers/iommu/iommufd/ioas.c`: `iommufd_ioas_map`, `iommufd_ioas_map_file`,
//! `iommufd_ioas_copy`, `conv_iommu_prot`): unknown flags (`EOPNOTSUPP`), an address or length
//! of `ULONG_MAX` (`EOVERFLOW`), no access right (`EINVAL`). What passes becomes the typed
//! placement and protection core maps with.

use uiommu_core::ioas::Iova;
use uiommu_core::iommu::Prot;
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;
use uiommu_uapi::iommufd::ioas::{
    IOMMU_IOAS_MAP_FIXED_IOVA, IOMMU_IOAS_MAP_READABLE, IOMMU_IOAS_MAP_WRITEABLE,
};

const KNOWN: u32 = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE;

/// The checks after the flags: `EOVERFLOW` if any of `values` is `u64::MAX`, `EINVAL` without
/// READABLE or WRITEABLE; then `IOPT_ALLOC_IOVA` unless FIXED_IOVA, and `conv_iommu_prot`.
fn convert(flags: u32, iova: u64, values: &[u64]) -> Result<(Iova, Prot)> {
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

/// `EOPNOTSUPP` for a flag no map command knows, or a non-zero reserved word.
fn known(flags: u32, reserved: u32) -> Result<()> {
    if flags & !KNOWN != 0 || reserved != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    Ok(())
}

/// `iommufd_ioas_map`: the flags and `__reserved`, then `iova` and `length`.
pub(super) fn map(flags: u32, reserved: u32, iova: u64, length: u64) -> Result<(Iova, Prot)> {
    known(flags, reserved)?;
    convert(flags, iova, &[iova, length])
}

/// `iommufd_ioas_map_file`: as [`map`] without `__reserved` (the fd sits there).
pub(super) fn map_file(flags: u32, iova: u64, length: u64) -> Result<(Iova, Prot)> {
    known(flags, 0)?;
    convert(flags, iova, &[iova, length])
}

/// `iommufd_ioas_copy`: as [`map_file`] over `length`, `src_iova` and `dst_iova`, placed at
/// `dst_iova`.
pub(super) fn copy(flags: u32, length: u64, src_iova: u64, dst_iova: u64) -> Result<(Iova, Prot)> {
    known(flags, 0)?;
    convert(flags, dst_iova, &[length, src_iova, dst_iova])
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: u32 = IOMMU_IOAS_MAP_READABLE;
    const W: u32 = IOMMU_IOAS_MAP_WRITEABLE;

    #[test]
    fn map_checks_in_kernel_order() {
        assert_eq!(map(1 << 3, 0, u64::MAX, 0), Err(Errno::EOPNOTSUPP));
        assert_eq!(map(R, 1, u64::MAX, 0), Err(Errno::EOPNOTSUPP));
        assert_eq!(map(0, 0, u64::MAX, 1), Err(Errno::EOVERFLOW));
        assert_eq!(map(0, 0, 0, u64::MAX), Err(Errno::EOVERFLOW));
        assert_eq!(map(0, 0, 0, 1), Err(Errno::EINVAL));
        assert_eq!(
            map(R | IOMMU_IOAS_MAP_FIXED_IOVA, 0, 7, 1),
            Ok((Iova::Fixed(7), Prot(Prot::READ.0 | Prot::CACHE.0)))
        );
        assert_eq!(
            map(R | W, 0, 7, 1),
            Ok((
                Iova::Auto,
                Prot(Prot::READ.0 | Prot::WRITE.0 | Prot::CACHE.0)
            ))
        );
    }

    #[test]
    fn map_file_has_no_reserved_word() {
        assert_eq!(map_file(1 << 3, u64::MAX, 0), Err(Errno::EOPNOTSUPP));
        assert_eq!(map_file(R, 0, u64::MAX), Err(Errno::EOVERFLOW));
        assert_eq!(map_file(0, 0, 1), Err(Errno::EINVAL));
        assert_eq!(
            map_file(W, 0, 1),
            Ok((Iova::Auto, Prot(Prot::WRITE.0 | Prot::CACHE.0)))
        );
    }

    #[test]
    fn copy_checks_every_address_and_places_at_the_destination() {
        assert_eq!(copy(1 << 3, u64::MAX, 0, 0), Err(Errno::EOPNOTSUPP));
        for (length, src, dst) in [(u64::MAX, 0, 0), (1, u64::MAX, 9), (1, 0, u64::MAX)] {
            assert_eq!(copy(W, length, src, dst), Err(Errno::EOVERFLOW));
        }
        assert_eq!(
            copy(0, 1, u64::MAX, 9),
            Err(Errno::EOVERFLOW),
            "before the rights"
        );
        assert_eq!(copy(0, 1, 0, 9), Err(Errno::EINVAL));
        assert_eq!(
            copy(W, 1, 0, 9),
            Ok((Iova::Auto, Prot(Prot::WRITE.0 | Prot::CACHE.0)))
        );
        assert_eq!(
            copy(W | IOMMU_IOAS_MAP_FIXED_IOVA, 1, 0, 9),
            Ok((Iova::Fixed(9), Prot(Prot::WRITE.0 | Prot::CACHE.0)))
        );
    }
}
