//! [`IommufdTest`]: `IOMMU_TEST_CMD`, the selftest mock driver's interface (mock devices and
//! domains, map and pin checks, emulated-device accesses, dirty-bit injection, IOTLB and
//! device-cache checks, fault and vEVENT triggers, PASID operations, test dma-bufs).
//!
//! It exists on kernels built with `CONFIG_IOMMUFD_TEST` and on uiommu; elsewhere every
//! command is `ENOTTY`.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::sync::Arc;

use uiommu_uapi::selftest::*;

use crate::buffer::MappedBuffer;
use crate::error::Result;
use crate::fault::owned_file;
use crate::ioas::Ioas;
use crate::iommufd::Iommufd;
use crate::object::{Keep, Object};
use crate::pt::{PageTable, sealed};

/// The selftest command interface of an iommufd.
///
/// ```no_run
/// use uiommu_client::{Iommufd, Iova, MapFlags, MappedBuffer};
///
/// let fd = Iommufd::open()?;
/// let ioas = fd.alloc_ioas()?;
/// let dev = fd.test().mock_domain(&ioas)?;
/// let buf = MappedBuffer::new(1 << 16)?;
/// let iova = ioas.map(&buf, Iova::Auto, MapFlags::RW)?;
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
    pub fn cmd<T: TestCmdMember>(&self, id: u32, member: T) -> Result<T> {
        if T::OP == IOMMU_TEST_OP_ACCESS_RW {
            return Err(crate::Error::Protocol {
                op: "IOMMU_TEST_CMD",
                what: "ACCESS_RW goes through Access::read/write".into(),
            });
        }
        self.cmd_unchecked(id, member)
    }

    /// `cmd` for members whose user pointers the caller has made valid.
    fn cmd_unchecked<T: TestCmdMember>(&self, id: u32, member: T) -> Result<T> {
        let mut cmd = IommuTestCmd::new(id, member);
        self.ctx.ioctl("IOMMU_TEST_CMD", IOMMU_TEST_CMD, &mut cmd)?;
        Ok(*cmd.member::<T>())
    }

    /// Whether the mock driver is there: a harmless command is not `ENOTTY`.
    pub fn available(&self) -> bool {
        // SET_TEMP_MEMORY_LIMIT with 0 restores the default limit.
        !matches!(
            self.cmd(0, TestMemoryLimit { limit: 0 }),
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
        let m = self.cmd(pt.pt_id(), TestMockDomain::default())?;
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
            pt.pt_id(),
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
        id: u32,
        iova: u64,
        buf: &MappedBuffer,
        offset: usize,
        len: usize,
    ) -> Result<()> {
        buf.check_range("IOMMU_TEST_OP_MD_CHECK_MAP", offset, len)?;
        self.cmd(
            id,
            TestCheckMap {
                iova,
                length: len as u64,
                uptr: buf.addr() + offset as u64,
            },
        )
        .map(|_| ())
    }

    /// `IOMMU_TEST_OP_MD_CHECK_REFS`: every page of `buf[offset..offset + len]` is pinned
    /// `refs` times (`EIO` if not).
    pub fn check_refs(
        &self,
        buf: &MappedBuffer,
        offset: usize,
        len: usize,
        refs: u32,
    ) -> Result<()> {
        buf.check_range("IOMMU_TEST_OP_MD_CHECK_REFS", offset, len)?;
        self.cmd(
            0,
            TestCheckRefs {
                length: len as u64,
                uptr: buf.addr() + offset as u64,
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
        Ok(Access {
            file: owned_file(m.out_access_fd),
            test: self.clone(),
            ioas: vec![sealed::Sealed::object(ioas).clone()],
        })
    }

    /// `IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT` (0 restores the default).
    pub fn set_temp_memory_limit(&self, limit: u32) -> Result<()> {
        self.cmd(0, TestMemoryLimit { limit }).map(|_| ())
    }

    /// `IOMMU_TEST_OP_DIRTY`: marks dirty, in mock HWPT `hwpt_id`, the pages of
    /// `iova..iova + length` whose bits are set in `bitmap`. Returns `out_nr_dirty`.
    pub fn dirty(
        &self,
        hwpt_id: u32,
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
    pub fn check_iotlb(&self, hwpt_id: u32, index: u32, value: u32) -> Result<()> {
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
    pub fn check_dev_cache(&self, dev_id: u32, index: u32, value: u32) -> Result<()> {
        self.cmd(
            dev_id,
            TestCheckDevCache {
                id: index,
                cache: value,
            },
        )
        .map(|_| ())
    }

    /// `IOMMU_TEST_OP_TRIGGER_IOPF`: device `dev_id` faults at `addr`.
    pub fn trigger_iopf(&self, fault: TestTriggerIopf) -> Result<()> {
        self.cmd(0, fault).map(|_| ())
    }

    /// `IOMMU_TEST_OP_TRIGGER_VEVENT`: device `dev_id` raises a mock vEVENT.
    pub fn trigger_vevent(&self, dev_id: u32) -> Result<()> {
        self.cmd(0, TestTriggerVevent { dev_id }).map(|_| ())
    }

    /// `IOMMU_TEST_OP_DMABUF_GET`: a test dma-buf of `length` bytes.
    pub fn dmabuf_get(&self, length: u32, open_flags: u32) -> Result<File> {
        let mut cmd = IommuTestCmd::new(0, TestDmabufGet { length, open_flags });
        let fd = self.ctx.ioctl("IOMMU_TEST_CMD", IOMMU_TEST_CMD, &mut cmd)?;
        Ok(File::from(crate::ioctl::own_fd(fd)))
    }

    /// `IOMMU_TEST_OP_DMABUF_REVOKE`: revoke (or restore) a test dma-buf.
    pub fn dmabuf_revoke(&self, dmabuf: impl AsFd, revoked: bool) -> Result<()> {
        self.cmd(
            0,
            TestDmabufRevoke {
                dmabuf_fd: dmabuf.as_fd().as_raw_fd(),
                revoked: revoked.into(),
            },
        )
        .map(|_| ())
    }
}

/// A mock device: its selftest object (destroyed on drop, which unbinds it), its iommufd
/// device ID and the HWPT it is attached to.
///
/// ```no_run
/// use uiommu_client::Iommufd;
///
/// let fd = Iommufd::open()?;
/// let ioas = fd.alloc_ioas()?;
/// let dev = fd.test().mock_domain(&ioas)?;
/// let info = fd.hw_info(dev.dev_id())?;
/// # Ok::<(), uiommu_client::Error>(())
/// ```
#[derive(Debug)]
pub struct MockDevice {
    obj: Arc<Object>,
    dev_id: u32,
    hwpt_id: std::sync::atomic::AtomicU32,
}

impl MockDevice {
    fn new(ctx: &Iommufd, stdev_id: u32, dev_id: u32, hwpt_id: u32, pt: &dyn PageTable) -> Self {
        MockDevice {
            obj: Object::new(ctx, stdev_id, vec![Keep::Object(pt.object().clone())]),
            dev_id,
            hwpt_id: hwpt_id.into(),
        }
    }

    fn test(&self) -> IommufdTest {
        IommufdTest::new(&self.obj.ctx)
    }

    /// The selftest device object ID (`out_stdev_id`).
    pub fn stdev_id(&self) -> u32 {
        self.obj.id
    }

    /// The iommufd device ID (`out_idev_id`): the `dev_id` of HWPT, vIOMMU and hw_info
    /// commands.
    pub fn dev_id(&self) -> u32 {
        self.dev_id
    }

    /// The HWPT the device is attached to (`out_hwpt_id`, or the last replace's `pt_id`).
    pub fn hwpt_id(&self) -> u32 {
        self.hwpt_id.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// `IOMMU_DESTROY` of the selftest device now rather than on drop.
    pub fn destroy(&self) -> Result<()> {
        self.obj.destroy()
    }

    /// `IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE`: attach to `pt` instead. Returns the HWPT.
    pub fn replace(&self, pt: &dyn PageTable) -> Result<u32> {
        self.replace_id(pt.pt_id()).inspect(|_| {
            self.obj.keep(Keep::Object(pt.object().clone()));
        })
    }

    /// `IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE` with a raw ID.
    pub fn replace_id(&self, pt_id: u32) -> Result<u32> {
        let m = self
            .test()
            .cmd(self.stdev_id(), TestMockDomainReplace { pt_id })?;
        self.hwpt_id
            .store(m.pt_id, std::sync::atomic::Ordering::Relaxed);
        Ok(m.pt_id)
    }

    /// `IOMMU_TEST_OP_PASID_ATTACH`. Returns the HWPT attached.
    pub fn pasid_attach(&self, pasid: u32, pt: &dyn PageTable) -> Result<u32> {
        let m = self.test().cmd(
            self.stdev_id(),
            TestPasidAttach {
                pasid,
                pt_id: pt.pt_id(),
            },
        )?;
        self.obj.keep(Keep::Object(pt.object().clone()));
        Ok(m.pt_id)
    }

    /// `IOMMU_TEST_OP_PASID_REPLACE`. Returns the HWPT attached.
    pub fn pasid_replace(&self, pasid: u32, pt: &dyn PageTable) -> Result<u32> {
        let m = self.test().cmd(
            self.stdev_id(),
            TestPasidReplace {
                pasid,
                pt_id: pt.pt_id(),
            },
        )?;
        self.obj.keep(Keep::Object(pt.object().clone()));
        Ok(m.pt_id)
    }

    /// `IOMMU_TEST_OP_PASID_DETACH`.
    pub fn pasid_detach(&self, pasid: u32) -> Result<()> {
        self.test()
            .cmd(self.stdev_id(), TestPasidDetach { pasid })
            .map(|_| ())
    }

    /// `IOMMU_TEST_OP_PASID_CHECK_HWPT`: `pasid` is attached to `hwpt_id` (0: nothing).
    pub fn pasid_check(&self, pasid: u32, hwpt_id: u32) -> Result<()> {
        self.test()
            .cmd(self.stdev_id(), TestPasidCheck { pasid, hwpt_id })
            .map(|_| ())
    }
}

/// An emulated-device access on an IOAS (the fd `IOMMU_TEST_OP_CREATE_ACCESS` returns);
/// closing it destroys the access.
///
/// ```no_run
/// use uiommu_client::{Iommufd, Iova, MapFlags, MappedBuffer};
///
/// let fd = Iommufd::open()?;
/// let ioas = fd.alloc_ioas()?;
/// let buf = MappedBuffer::new(4096)?;
/// let iova = ioas.map(&buf, Iova::Auto, MapFlags::RW)?;
/// let access = fd.test().create_access(&ioas, 0)?;
/// access.write(iova, b"dma")?;
/// assert_eq!(&buf.to_vec()[..3], b"dma");
/// # Ok::<(), uiommu_client::Error>(())
/// ```
#[derive(Debug)]
pub struct Access {
    // Dropped first: closing the fd destroys the access before its IOAS may go.
    file: File,
    test: IommufdTest,
    ioas: Vec<Arc<Object>>,
}

impl Access {
    fn id(&self) -> u32 {
        self.file.as_raw_fd() as u32
    }

    /// `IOMMU_TEST_OP_ACCESS_PAGES`: pin `iova..iova + len`, checking the pages are
    /// `buf[offset..]`. Returns the ID to unpin with.
    pub fn pin_pages(
        &self,
        iova: u64,
        buf: &MappedBuffer,
        offset: usize,
        len: usize,
        flags: u32,
    ) -> Result<u32> {
        buf.check_range("IOMMU_TEST_OP_ACCESS_PAGES", offset, len)?;
        let m = self.test.cmd(
            self.id(),
            TestAccessPages {
                flags,
                iova,
                length: len as u64,
                uptr: buf.addr() + offset as u64,
                ..Default::default()
            },
        )?;
        Ok(m.out_access_pages_id)
    }

    /// `IOMMU_TEST_OP_DESTROY_ACCESS_PAGES`.
    pub fn unpin_pages(&self, access_pages_id: u32) -> Result<()> {
        self.test
            .cmd(self.id(), TestDestroyAccessPages { access_pages_id })
            .map(|_| ())
    }

    /// `IOMMU_TEST_OP_ACCESS_RW` reading `out.len()` bytes of IOVA memory at `iova`.
    pub fn read(&self, iova: u64, out: &mut [u8]) -> Result<()> {
        self.rw(iova, out.as_mut_ptr() as u64, out.len(), 0)
    }

    /// `IOMMU_TEST_OP_ACCESS_RW` writing `data` to IOVA memory at `iova`.
    pub fn write(&self, iova: u64, data: &[u8]) -> Result<()> {
        self.rw(iova, data.as_ptr() as u64, data.len(), MOCK_ACCESS_RW_WRITE)
    }

    /// `IOMMU_TEST_OP_ACCESS_RW` with extra flags (`MOCK_ACCESS_RW_SLOW_PATH`), reading.
    pub fn read_flags(&self, iova: u64, out: &mut [u8], flags: u32) -> Result<()> {
        self.rw(
            iova,
            out.as_mut_ptr() as u64,
            out.len(),
            flags & !MOCK_ACCESS_RW_WRITE,
        )
    }

    fn rw(&self, iova: u64, uptr: u64, len: usize, flags: u32) -> Result<()> {
        self.test
            .cmd_unchecked(
                self.id(),
                TestAccessRw {
                    iova,
                    length: len as u64,
                    uptr,
                    flags,
                    ..Default::default()
                },
            )
            .map(|_| ())
    }

    /// `IOMMU_TEST_OP_ACCESS_REPLACE_IOAS`: move the access to `ioas`.
    pub fn replace_ioas(&mut self, ioas: &Ioas) -> Result<()> {
        self.test
            .cmd(self.id(), TestAccessReplaceIoas { ioas_id: ioas.id() })?;
        self.ioas.push(sealed::Sealed::object(ioas).clone());
        Ok(())
    }
}

impl AsFd for Access {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}
