//! The argument checks of the selftest's operations (`drivers/iommu/iommufd/selftest.c`): what
//! `dev_flags` and the access operations' `flags` ask for, as the typed values core takes.

use uiommu_core::ioas::AccessFlags;
use uiommu_core::iommu::DeviceSpec;
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;
use uiommu_uapi::selftest::{
    MOCK_ACCESS_RW_SLOW_PATH, MOCK_ACCESS_RW_WRITE, MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES,
    MOCK_FLAGS_ACCESS_SYZ, MOCK_FLAGS_ACCESS_WRITE, MOCK_FLAGS_DEVICE_NO_DIRTY,
    MOCK_FLAGS_DEVICE_PASID, MOCK_PASID_WIDTH,
};

/// Largest range one access operation takes (the kernel bounds its temporary buffers so).
const MAX_LENGTH: u64 = 16 * 1024 * 1024;

/// The device `dev_flags` describe (`mock_dev_create`): `EINVAL` for an unknown flag.
/// `MOCK_FLAGS_DEVICE_PASID` gives the function a 20-bit PASID capability (without it, it has
/// none); `MOCK_FLAGS_DEVICE_NO_DIRTY` takes dirty tracking from a mock device, and changes
/// nothing behind a hardware model, where dirty tracking is the IOMMU's (ECAP_REG.SSADS,
/// SMMU_IDR0.HTTU, EFR.HDSup).
pub(super) fn device_spec(dev_flags: u32) -> Result<DeviceSpec> {
    if dev_flags & !(MOCK_FLAGS_DEVICE_NO_DIRTY | MOCK_FLAGS_DEVICE_PASID) != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(DeviceSpec {
        pasid_bits: if dev_flags & MOCK_FLAGS_DEVICE_PASID != 0 {
            MOCK_PASID_WIDTH as u8
        } else {
            0
        },
        no_dirty: dev_flags & MOCK_FLAGS_DEVICE_NO_DIRTY != 0,
    })
}

/// `iommufd_test_create_access`'s check: `EOPNOTSUPP` for an unknown flag; whether the access
/// pins pages.
pub(super) fn create_access(flags: u32) -> Result<bool> {
    if flags & !MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    Ok(flags & MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES != 0)
}

/// `ENOMEM` past 16 MiB, then `EOPNOTSUPP` for a flag outside `known`.
fn bounded(length: u64, flags: u32, known: u32) -> Result<()> {
    if length > MAX_LENGTH {
        return Err(Errno::ENOMEM);
    }
    if flags & !known != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    Ok(())
}

/// `iommufd_test_access_pages`'s checks, before the access is looked up; whether to pin for
/// writing.
pub(super) fn access_pages(length: u64, flags: u32) -> Result<bool> {
    bounded(
        length,
        flags,
        MOCK_FLAGS_ACCESS_WRITE | MOCK_FLAGS_ACCESS_SYZ,
    )?;
    Ok(flags & MOCK_FLAGS_ACCESS_WRITE != 0)
}

/// `iommufd_test_access_rw`'s checks, before the access is looked up; the direction and path.
pub(super) fn access_rw(length: u64, flags: u32) -> Result<AccessFlags> {
    let known = MOCK_ACCESS_RW_WRITE | MOCK_ACCESS_RW_SLOW_PATH | MOCK_FLAGS_ACCESS_SYZ;
    bounded(length, flags, known)?;
    Ok(AccessFlags {
        write: flags & MOCK_ACCESS_RW_WRITE != 0,
        slow_path: flags & MOCK_ACCESS_RW_SLOW_PATH != 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_flags() {
        assert_eq!(device_spec(1 << 7), Err(Errno::EINVAL));
        assert_eq!(device_spec(0), Ok(DeviceSpec::default()));
        let both = device_spec(MOCK_FLAGS_DEVICE_PASID | MOCK_FLAGS_DEVICE_NO_DIRTY).unwrap();
        assert_eq!(both.pasid_bits, MOCK_PASID_WIDTH as u8);
        assert!(both.no_dirty);
    }

    #[test]
    fn access_flags_after_the_length() {
        assert_eq!(create_access(1 << 7), Err(Errno::EOPNOTSUPP));
        assert_eq!(
            create_access(MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES),
            Ok(true)
        );
        assert_eq!(access_pages(MAX_LENGTH + 1, 1 << 7), Err(Errno::ENOMEM));
        assert_eq!(access_pages(MAX_LENGTH, 1 << 7), Err(Errno::EOPNOTSUPP));
        assert_eq!(
            access_pages(1, MOCK_FLAGS_ACCESS_WRITE | MOCK_FLAGS_ACCESS_SYZ),
            Ok(true)
        );
        assert_eq!(access_rw(MAX_LENGTH + 1, 1 << 7), Err(Errno::ENOMEM));
        assert_eq!(access_rw(1, 1 << 7), Err(Errno::EOPNOTSUPP));
        assert_eq!(
            access_rw(1, MOCK_ACCESS_RW_SLOW_PATH),
            Ok(AccessFlags {
                write: false,
                slow_path: true
            })
        );
    }
}
