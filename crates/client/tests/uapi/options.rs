//! IOMMU_OPTION, IOMMU_VFIO_IOAS, and the size rules every iommufd command applies.

use uiommu_client::{IoasId, RlimitMode};
use uiommu_uapi::Errno;
use uiommu_uapi::iommufd::*;
use zerocopy::IntoBytes;

use crate::common::{assert_errno, scenario};

/// Whether this process has `CAP_SYS_RESOURCE` (bit 24 of `CapEff`), which setting the
/// accounting mode requires: root in a container may lack it.
fn root() -> bool {
    const CAP_SYS_RESOURCE: u32 = 24;
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << CAP_SYS_RESOURCE) != 0)
}

scenario! {
    /// RLIMIT_MODE reads 0 on a new context; setting needs CAP_SYS_RESOURCE and an empty
    /// context; only 0 and 1 are values; it has no object.
    fn option_rlimit_mode(fd) {
        assert_eq!(fd.rlimit_mode().unwrap(), RlimitMode::User);
        assert_errno(fd.get_option(IOMMU_OPTION_RLIMIT_MODE, 1), Errno::EOPNOTSUPP);
        if !root() {
            assert_errno(fd.set_rlimit_mode(RlimitMode::Process), Errno::EPERM);
            return;
        }
        fd.set_rlimit_mode(RlimitMode::Process).unwrap();
        assert_eq!(fd.rlimit_mode().unwrap(), RlimitMode::Process);
        assert_errno(fd.set_option(IOMMU_OPTION_RLIMIT_MODE, 0, 2), Errno::EINVAL);
        let _ioas = fd.alloc_ioas().unwrap();
        assert_errno(fd.set_rlimit_mode(RlimitMode::User), Errno::EBUSY);
        assert_eq!(fd.rlimit_mode().unwrap(), RlimitMode::Process);
    }
}

scenario! {
    /// HUGE_PAGES is per IOAS, on by default, 0 or 1 only; other options and objects fail.
    fn option_huge_pages(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        assert!(ioas.huge_pages().unwrap());
        ioas.set_huge_pages(false).unwrap();
        assert!(!ioas.huge_pages().unwrap());
        assert_errno(fd.set_option(IOMMU_OPTION_HUGE_PAGES, ioas.id(), 2), Errno::EINVAL);
        ioas.set_huge_pages(true).unwrap();
        assert!(ioas.huge_pages().unwrap());
        // The context is not an IOAS.
        assert_errno(fd.get_option(IOMMU_OPTION_HUGE_PAGES, 0), Errno::ENOENT);
        assert_errno(fd.get_option(99, 0), Errno::EOPNOTSUPP);
    }
}

scenario! {
    /// A bad `op` and a non-zero `__reserved` are EOPNOTSUPP.
    fn option_bad_op_and_reserved(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        let mut cmd = IommuOption {
            size: size_of::<IommuOption>() as u32,
            option_id: IOMMU_OPTION_HUGE_PAGES,
            op: 2,
            object_id: ioas.id().raw(),
            ..Default::default()
        };
        assert_errno(fd.raw_command("IOMMU_OPTION", IOMMU_OPTION, cmd.as_mut_bytes()), Errno::EOPNOTSUPP);
        cmd.op = IOMMU_OPTION_OP_GET;
        cmd.__reserved = 1;
        assert_errno(fd.raw_command("IOMMU_OPTION", IOMMU_OPTION, cmd.as_mut_bytes()), Errno::EOPNOTSUPP);
    }
}

scenario! {
    /// main.c's size rules: below the minimum is EINVAL, a longer struct with a non-zero
    /// tail is E2BIG, a longer one with a zero tail is fine, an unknown number is ENOTTY.
    fn command_size_rules(fd) {
        let mut buf = [0u8; 64];
        let min = size_of::<IommuIoasAlloc>();
        buf[..4].copy_from_slice(&((min - 4) as u32).to_ne_bytes());
        assert_errno(fd.raw_command("IOMMU_IOAS_ALLOC", IOMMU_IOAS_ALLOC, &mut buf), Errno::EINVAL);
        buf[..4].copy_from_slice(&64u32.to_ne_bytes());
        buf[40] = 1;
        assert_errno(fd.raw_command("IOMMU_IOAS_ALLOC", IOMMU_IOAS_ALLOC, &mut buf), Errno::E2BIG);
        buf[40] = 0;
        fd.raw_command("IOMMU_IOAS_ALLOC", IOMMU_IOAS_ALLOC, &mut buf).unwrap();
        let id = u32::from_ne_bytes(buf[8..12].try_into().unwrap());
        assert_eq!(id, 1, "out_ioas_id written back");
        // Flags must be 0.
        let mut cmd = IommuIoasAlloc { size: min as u32, flags: 1, out_ioas_id: 0 };
        assert_errno(fd.raw_command("IOMMU_IOAS_ALLOC", IOMMU_IOAS_ALLOC, cmd.as_mut_bytes()), Errno::EOPNOTSUPP);
        // A number inside the iommufd range with no command.
        let unknown = uiommu_uapi::ioctl::io(IOMMUFD_TYPE, IOMMUFD_CMD_BASE + 0x30);
        assert_errno(fd.raw_command("unknown", unknown, &mut buf), Errno::ENOTTY);
    }
}

scenario! {
    /// IOMMU_VFIO_IOAS: GET with none is ENODEV; SET takes an existing IOAS; CLEAR forgets
    /// it; other ops are EOPNOTSUPP.
    fn vfio_ioas_get_set_clear(fd) {
        assert_errno(fd.vfio_ioas_get(), Errno::ENODEV);
        let ioas = fd.alloc_ioas().unwrap();
        fd.vfio_ioas_set(&ioas).unwrap();
        assert_eq!(fd.vfio_ioas_get().unwrap(), ioas.id());
        fd.vfio_ioas_clear().unwrap();
        assert_errno(fd.vfio_ioas_get(), Errno::ENODEV);
        assert_errno(fd.vfio_ioas_set_id(IoasId::from_raw(77)), Errno::ENOENT);
        assert_errno(fd.vfio_ioas_raw(3, ioas.id().raw()), Errno::EOPNOTSUPP);
        // Destroying the compatibility IOAS leaves none.
        fd.vfio_ioas_set(&ioas).unwrap();
        ioas.destroy().unwrap();
        assert_errno(fd.vfio_ioas_get(), Errno::ENODEV);
    }
}
