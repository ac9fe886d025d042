//! [`IommufdTest`]: `IOMMU_TEST_CMD`, the selftest mock driver's interface (mock devices and
//! domains, map and pin checks, emulated-device accesses, dirty-bit injection, IOTLB and
//! device-cache checks, fault and vEVENT triggers, PASID operations, test dma-bufs).
//!
//! It exists on kernels built with `CONFIG_IOMMUFD_TEST` and on uiommu; elsewhere every
//! command is `ENOTTY`. The whole module is behind the `selftest` feature: a VMM has no use
//! for it, and a test suite turns it on (`uiommu-client = { features = ["selftest"] }`).
//!
//! Errors name the operation (`IOMMU_TEST_OP_MD_CHECK_REFS: EIO (...)`), not the ioctl.

mod access;
mod device;

pub use access::Access;
pub use device::MockDevice;

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd};

use uiommu_uapi::selftest::*;

use crate::buffer::MappedBuffer;
use crate::error::{Context, Result};
use crate::fault::owned_file;
use crate::ids::{DeviceId, HwptId, ObjectId};
use crate::ioas::Ioas;
use crate::iommufd::Iommufd;
use crate::pt::{PageTable, sealed};

/// The selftest command interface of an iommufd.
///
/// ```no_run
/// use uiommu_client::{Iommufd, Iova, MapFlags, MappedBuffer};
///
/// let fd = Iommufd::open()?;
/// let ioas = fd.alloc_ioas()?;
/// let dev = fd.test().mock_domain(&ioas)?;
/// // Attached first: automatic IOVAs then come from the mock's aperture.
/// let buf = MappedBuffer::new(1 << 16)?;
/// let iova = ioas.map(&buf, Iova::Auto, MapFlags::RW)?;
/// assert!(iova >= uiommu_client::uapi::selftest::MOCK_APERTURE_START);
/// fd.test().check_map(dev.hwpt_id(), iova, &buf, 0, 1 << 16)?;
/// fd.test().check_refs(&buf, 0, 1 << 16, 1)?;
/// # Ok::<(), uiommu_client::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct IommufdTest {
    ctx: Iommufd,
}

impl IommufdTest {
    pub(crate) fn new(ctx: &Iommufd) -> Self {
        IommufdTest { ctx: ctx.clone() }
    }

    /// ioctl(IOMMU_TEST_CMD) with operation `T` on object `id`; returns the union member as
    /// the kernel wrote it back.
    ///
    /// `IOMMU_TEST_OP_ACCESS_RW` is refused here (it writes to its `uptr`): use
    /// [`Access::read`] and [`Access::write`], which own their buffers.
    pub fn cmd<T: TestCmdMember>(&self, id: impl Into<ObjectId>, member: T) -> Result<T> {
        if T::OP == IOMMU_TEST_OP_ACCESS_RW {
            return Err(crate::Error::Protocol {
                op: op_name(T::OP),
                what: "ACCESS_RW goes through Access::read/write".into(),
            });
        }
        self.cmd_unchecked(id.into(), member)
    }

    /// `cmd` for members whose user pointers the caller has made valid.
    pub(super) fn cmd_unchecked<T: TestCmdMember>(&self, id: ObjectId, member: T) -> Result<T> {
        let mut cmd = IommuTestCmd::new(id.raw(), member);
        self.ctx.ioctl(op_name(T::OP), IOMMU_TEST_CMD, &mut cmd)?;
        Ok(*cmd.member::<T>())
    }

    /// Whether the mock driver is there: a harmless command is not `ENOTTY`.
    pub fn available(&self) -> bool {
        // SET_TEMP_MEMORY_LIMIT with 0 restores the default limit.
        !matches!(
            self.cmd(0u32, TestMemoryLimit { limit: 0 }),
            Err(e) if e.errno() == Some(uiommu_uapi::Errno::ENOTTY)
        )
    }

    /// `IOMMU_TEST_OP_ADD_RESERVED`: reserve `start..start + length` in `ioas`.
    pub fn add_reserved(&self, ioas: &Ioas, start: u64, length: u64) -> Result<()> {
        self.cmd(ioas.id(), TestAddReserved { start, length })
            .map(|_| ())
    }

    /// `IOMMU_TEST_OP_MOCK_DOMAIN`: a mock device bound to this iommufd and attached to `pt`.
    pub fn mock_domain(&self, pt: &dyn PageTable) -> Result<MockDevice> {
        let m = self.cmd(pt.as_pt_id().raw(), TestMockDomain::default())?;
        Ok(MockDevice::new(
            &self.ctx,
            m.out_stdev_id,
            m.out_idev_id,
            m.out_hwpt_id,
            pt,
        ))
    }

    /// `IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS`: a mock device with `MOCK_FLAGS_DEVICE_*`.
    pub fn mock_domain_flags(&self, pt: &dyn PageTable, dev_flags: u32) -> Result<MockDevice> {
        let m = self.cmd(
            pt.as_pt_id().raw(),
            TestMockDomainFlags {
                dev_flags,
                ..Default::default()
            },
        )?;
        Ok(MockDevice::new(
            &self.ctx,
            m.out_stdev_id,
            m.out_idev_id,
            m.out_hwpt_id,
            pt,
        ))
    }

    /// `IOMMU_TEST_OP_MD_CHECK_MAP`: HWPT (or IOAS) `id` maps `iova..iova + len` to
    /// `buf[offset..offset + len]` (`EINVAL` if not).
    pub fn check_map(
        &self,
        id: impl Into<ObjectId>,
        iova: u64,
        buf: &MappedBuffer,
        offset: u64,
        len: u64,
    ) -> Result<()> {
        buf.check_range("IOMMU_TEST_OP_MD_CHECK_MAP", offset, len)?;
        self.cmd(
            id,
            TestCheckMap {
                iova,
                length: len,
                uptr: buf.addr() + offset,
            },
        )
        .map(|_| ())
    }

    /// `IOMMU_TEST_OP_MD_CHECK_REFS`: every page of `buf[offset..offset + len]` is pinned
    /// `refs` times (`EIO` if not).
    pub fn check_refs(&self, buf: &MappedBuffer, offset: u64, len: u64, refs: u32) -> Result<()> {
        buf.check_range("IOMMU_TEST_OP_MD_CHECK_REFS", offset, len)?;
        self.cmd(
            0u32,
            TestCheckRefs {
                length: len,
                uptr: buf.addr() + offset,
                refs,
                ..Default::default()
            },
        )
        .map(|_| ())
    }

    /// `IOMMU_TEST_OP_CREATE_ACCESS`: an emulated-device access on `ioas`.
    pub fn create_access(&self, ioas: &Ioas, flags: u32) -> Result<Access> {
        let m = self.cmd(
            ioas.id(),
            TestCreateAccess {
                flags,
                ..Default::default()
            },
        )?;
        Ok(Access::new(
            owned_file(m.out_access_fd),
            self.clone(),
            sealed::Sealed::object(ioas).clone(),
        ))
    }

    /// `IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT` (0 restores the default).
    pub fn set_temp_memory_limit(&self, limit: u32) -> Result<()> {
        self.cmd(0u32, TestMemoryLimit { limit }).map(|_| ())
    }

    /// `IOMMU_TEST_OP_DIRTY`: marks dirty, in mock HWPT `hwpt_id`, the pages of
    /// `iova..iova + length` whose bits are set in `bitmap`. Returns `out_nr_dirty`.
    pub fn dirty(
        &self,
        hwpt_id: HwptId,
        iova: u64,
        length: u64,
        page_size: u64,
        bitmap: &[u64],
    ) -> Result<u64> {
        let m = self.cmd(
            hwpt_id,
            TestDirty {
                iova,
                length,
                page_size,
                uptr: bitmap.as_ptr() as u64,
                ..Default::default()
            },
        )?;
        Ok(m.out_nr_dirty)
    }

    /// `IOMMU_TEST_OP_MD_CHECK_IOTLB`: IOTLB entry `index` of nested mock HWPT `hwpt_id` is
    /// `value`.
    pub fn check_iotlb(&self, hwpt_id: HwptId, index: u32, value: u32) -> Result<()> {
        self.cmd(
            hwpt_id,
            TestCheckIotlb {
                id: index,
                iotlb: value,
            },
        )
        .map(|_| ())
    }

    /// `IOMMU_TEST_OP_DEV_CHECK_CACHE`: cache entry `index` of mock device `dev_id` is
    /// `value`.
    pub fn check_dev_cache(&self, dev_id: DeviceId, index: u32, value: u32) -> Result<()> {
        self.cmd(
            dev_id,
            TestCheckDevCache {
                id: index,
                cache: value,
            },
        )
        .map(|_| ())
    }

    /// `IOMMU_TEST_OP_TRIGGER_IOPF`: device `fault.dev_id` faults at `fault.addr` (see
    /// [`TestTriggerIopf`](crate::uapi::selftest::TestTriggerIopf) for every field).
    pub fn trigger_iopf(&self, fault: TestTriggerIopf) -> Result<()> {
        self.cmd(0u32, fault).map(|_| ())
    }

    /// `IOMMU_TEST_OP_TRIGGER_VEVENT`: device `dev_id` raises a mock vEVENT.
    pub fn trigger_vevent(&self, dev_id: DeviceId) -> Result<()> {
        self.cmd(
            0u32,
            TestTriggerVevent {
                dev_id: dev_id.raw(),
            },
        )
        .map(|_| ())
    }

    /// `IOMMU_TEST_OP_DMABUF_GET`: a test dma-buf of `length` bytes.
    pub fn dmabuf_get(&self, length: u32, open_flags: u32) -> Result<File> {
        let mut cmd = IommuTestCmd::new(0, TestDmabufGet { length, open_flags });
        let fd = crate::ioctl::ioctl(self.ctx.as_fd(), IOMMU_TEST_CMD, &mut cmd)
            .op(op_name(IOMMU_TEST_OP_DMABUF_GET))?;
        Ok(File::from(crate::ioctl::own_fd(fd)))
    }

    /// `IOMMU_TEST_OP_DMABUF_REVOKE`: revoke (or restore) a test dma-buf.
    pub fn dmabuf_revoke(&self, dmabuf: impl AsFd, revoked: bool) -> Result<()> {
        self.cmd(
            0u32,
            TestDmabufRevoke {
                dmabuf_fd: dmabuf.as_fd().as_raw_fd(),
                revoked: revoked.into(),
            },
        )
        .map(|_| ())
    }
}

/// The name of selftest operation `op`, for errors.
fn op_name(op: u32) -> &'static str {
    uiommu_uapi::catalog::test_op_name(op).unwrap_or("IOMMU_TEST_CMD")
}
