//! The iommufd commands the stress threads make, one function each: the result, or the errno.

use crate::sys::ioctl;
use uiommu_uapi::iommufd::*;
use uiommu_uapi::selftest::*;

pub type R<T> = Result<T, i32>;

fn size<T>() -> u32 {
    size_of::<T>() as u32
}

pub fn ioas_alloc(fd: i32) -> R<u32> {
    let mut c = IommuIoasAlloc {
        size: size::<IommuIoasAlloc>(),
        ..Default::default()
    };
    ioctl(fd, IOMMU_IOAS_ALLOC, &mut c).map(|_| c.out_ioas_id)
}

pub fn destroy(fd: i32, id: u32) -> R<()> {
    let mut c = IommuDestroy {
        size: size::<IommuDestroy>(),
        id,
    };
    ioctl(fd, IOMMU_DESTROY, &mut c).map(drop)
}

/// A fixed-IOVA, read-write map of `len` bytes at `uva`.
pub fn map(fd: i32, ioas: u32, iova: u64, uva: u64, len: u64) -> R<()> {
    let mut c = IommuIoasMap {
        size: size::<IommuIoasMap>(),
        flags: IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
        ioas_id: ioas,
        user_va: uva,
        length: len,
        iova,
        ..Default::default()
    };
    ioctl(fd, IOMMU_IOAS_MAP, &mut c).map(drop)
}

/// Unmaps `iova..iova + len` (everything for `0, u64::MAX`); the bytes unmapped.
pub fn unmap(fd: i32, ioas: u32, iova: u64, len: u64) -> R<u64> {
    let mut c = IommuIoasUnmap {
        size: size::<IommuIoasUnmap>(),
        ioas_id: ioas,
        iova,
        length: len,
    };
    ioctl(fd, IOMMU_IOAS_UNMAP, &mut c).map(|_| c.length)
}

pub fn copy(fd: i32, dst: u32, dst_iova: u64, src: u32, src_iova: u64, len: u64) -> R<()> {
    let mut c = IommuIoasCopy {
        size: size::<IommuIoasCopy>(),
        flags: IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
        dst_ioas_id: dst,
        src_ioas_id: src,
        length: len,
        dst_iova,
        src_iova,
    };
    ioctl(fd, IOMMU_IOAS_COPY, &mut c).map(drop)
}

/// The number of allowed IOVA ranges.
pub fn iova_ranges(fd: i32, ioas: u32) -> R<u32> {
    let mut ranges = [IommuIovaRange::default(); 16];
    let mut c = IommuIoasIovaRanges {
        size: size::<IommuIoasIovaRanges>(),
        ioas_id: ioas,
        num_iovas: ranges.len() as u32,
        allowed_iovas: ranges.as_mut_ptr() as u64,
        ..Default::default()
    };
    ioctl(fd, IOMMU_IOAS_IOVA_RANGES, &mut c).map(|_| c.num_iovas)
}

fn test<T: TestCmdMember>(fd: i32, id: u32, member: T) -> R<T> {
    let mut c = IommuTestCmd::new(id, member);
    ioctl(fd, IOMMU_TEST_CMD, &mut c).map(|_| *c.member::<T>())
}

/// A mock device attached to `pt`: its selftest device ID.
pub fn mock_domain(fd: i32, pt: u32) -> R<u32> {
    test(fd, pt, TestMockDomain::default()).map(|m| m.out_stdev_id)
}

/// Attaches mock device `stdev` to `pt` instead.
pub fn replace(fd: i32, stdev: u32, pt: u32) -> R<u32> {
    test(fd, stdev, TestMockDomainReplace { pt_id: pt }).map(|m| m.pt_id)
}

/// Whether every page of `uptr..uptr + len` has `refs` pins (`EIO` if not).
pub fn check_refs(fd: i32, uptr: u64, len: u64, refs: u32) -> R<()> {
    let m = TestCheckRefs {
        length: len,
        uptr,
        refs,
        ..Default::default()
    };
    test(fd, 0, m).map(drop)
}
