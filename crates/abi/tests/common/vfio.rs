//! Helpers for the VFIO compatibility tests: a context whose compatibility IOAS has a mock
//! domain attached (what the kernel selftests' `vfio_compat_mock_domain` fixture sets up), and
//! the VFIO ioctls with real buffers.
#![allow(dead_code)]

use super::{Buffer, ctx, ioas_alloc, ioctl, ioctl_at};
use std::sync::Arc;
use uiommu_core::context::Context;
use uiommu_core::driver::mock::domain::MockPagingDomain;
use uiommu_core::ioas::AreaInfo;
use uiommu_core::iommu::IoptDomain;
use uiommu_core::object::Ioas;
use uiommu_uapi::Errno;
use uiommu_uapi::iommufd::{IOMMU_VFIO_IOAS, IOMMU_VFIO_IOAS_SET, IommuVfioIoas};
use uiommu_uapi::selftest::MOCK_IOMMUPT_HUGE;
use uiommu_uapi::vfio::*;

/// `PAGE_SIZE` of the host.
pub const PAGE: u64 = 4096;

/// `IOMMU_VFIO_IOAS_SET`.
pub fn set_compat(ctx: &Context, ioas: u32) {
    let mut cmd = IommuVfioIoas {
        size: size_of::<IommuVfioIoas>() as u32,
        ioas_id: ioas,
        op: IOMMU_VFIO_IOAS_SET,
        __reserved: 0,
    };
    ioctl(ctx, IOMMU_VFIO_IOAS, &mut cmd).unwrap();
}

/// Attaches a fresh mock paging domain of `pagetable_type` to IOAS `ioas`.
pub fn attach_mock(ctx: &Context, ioas: u32, pagetable_type: u32) -> Arc<dyn IoptDomain> {
    let d: Arc<dyn IoptDomain> = Arc::new(MockPagingDomain::new(pagetable_type, false).unwrap());
    ctx.get::<Ioas>(ioas)
        .unwrap()
        .iopt
        .add_domain(d.clone())
        .unwrap();
    d
}

/// The selftests' `vfio_compat_mock_domain` fixture: a context with an IOAS, a mock device
/// attached to it through `IOMMU_TEST_OP_MOCK_DOMAIN` (an automatic mock paging HWPT), the
/// IOAS set as the compatibility IOAS, and `version` passed to `VFIO_SET_IOMMU` unless it
/// is 0. Returns the IOAS ID too.
pub fn compat(version: u32) -> (Arc<Context>, u32) {
    let ctx = ctx();
    let ioas = ioas_alloc(&ctx);
    super::mock::mock_domain(&ctx, ioas).unwrap();
    finish(ctx, ioas, version)
}

/// As [`compat`] with a huge-page mock domain attached to the IOAS directly (no HWPT).
pub fn compat_huge(version: u32) -> (Arc<Context>, u32) {
    let ctx = ctx();
    let ioas = ioas_alloc(&ctx);
    attach_mock(&ctx, ioas, MOCK_IOMMUPT_HUGE);
    finish(ctx, ioas, version)
}

fn finish(ctx: Arc<Context>, ioas: u32, version: u32) -> (Arc<Context>, u32) {
    set_compat(&ctx, ioas);
    if version != 0 {
        assert_eq!(set_iommu(&ctx, u64::from(version)), Ok(0));
    }
    (ctx, ioas)
}

/// `ioctl(fd, VFIO_SET_IOMMU, type)`.
pub fn set_iommu(ctx: &Context, ty: u64) -> Result<i64, Errno> {
    ioctl_at(ctx, VFIO_SET_IOMMU, ty)
}

/// `ioctl(fd, VFIO_CHECK_EXTENSION, ext)`.
pub fn check_extension(ctx: &Context, ext: u64) -> Result<i64, Errno> {
    ioctl_at(ctx, VFIO_CHECK_EXTENSION, ext)
}

/// A MAP_DMA request.
pub fn map_cmd(vaddr: u64, iova: u64, size: u64) -> VfioIommuType1DmaMap {
    VfioIommuType1DmaMap {
        argsz: size_of::<VfioIommuType1DmaMap>() as u32,
        flags: VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
        vaddr,
        iova,
        size,
    }
}

/// `VFIO_IOMMU_MAP_DMA` with read and write access.
pub fn map_dma(ctx: &Context, vaddr: u64, iova: u64, size: u64) -> Result<i64, Errno> {
    ioctl(ctx, VFIO_IOMMU_MAP_DMA, &mut map_cmd(vaddr, iova, size))
}

/// `VFIO_IOMMU_MAP_DMA` of `buf[off..off + size]` at `iova`.
pub fn map_buf(ctx: &Context, buf: &Buffer, off: u64, iova: u64, size: u64) -> Result<i64, Errno> {
    map_dma(ctx, buf.addr() + off, iova, size)
}

/// An UNMAP_DMA request.
pub fn unmap_cmd(flags: u32, iova: u64, size: u64) -> VfioIommuType1DmaUnmap {
    VfioIommuType1DmaUnmap {
        argsz: size_of::<VfioIommuType1DmaUnmap>() as u32,
        flags,
        iova,
        size,
    }
}

/// `VFIO_IOMMU_UNMAP_DMA`: the result and the `size` written back.
pub fn unmap_dma(ctx: &Context, iova: u64, size: u64) -> (Result<i64, Errno>, u64) {
    let mut cmd = unmap_cmd(0, iova, size);
    let r = ioctl(ctx, VFIO_IOMMU_UNMAP_DMA, &mut cmd);
    (r, cmd.size)
}

/// The areas of IOAS `ioas` as `(iova, length)`.
pub fn areas(ctx: &Context, ioas: u32) -> Vec<(u64, u64)> {
    areas_full(ctx, ioas)
        .into_iter()
        .map(|a| (a.iova, a.length))
        .collect()
}

/// The areas of IOAS `ioas`.
pub fn areas_full(ctx: &Context, ioas: u32) -> Vec<AreaInfo> {
    ctx.get::<Ioas>(ioas).unwrap().iopt.areas()
}

/// A buffer of `len` bytes filled with `fill`, for `VFIO_IOMMU_GET_INFO`.
pub fn info_buffer(len: usize, fill: u8) -> Vec<u8> {
    vec![fill; len]
}

/// `VFIO_IOMMU_GET_INFO` on `buf`, whose first field is set to `argsz` first.
pub fn get_info(ctx: &Context, buf: &mut [u8], argsz: u32) -> Result<i64, Errno> {
    buf[..4].copy_from_slice(&argsz.to_ne_bytes());
    ioctl_at(ctx, VFIO_IOMMU_GET_INFO, buf.as_mut_ptr() as u64)
}
