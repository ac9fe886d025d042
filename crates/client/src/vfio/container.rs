//! [`VfioContainer`]: `VFIO_GET_API_VERSION`, `VFIO_CHECK_EXTENSION`, `VFIO_SET_IOMMU`, and
//! the type1 `VFIO_IOMMU_GET_INFO` (capability chain parsed), `VFIO_IOMMU_MAP_DMA`,
//! `VFIO_IOMMU_UNMAP_DMA` (ranges and `UNMAP_ALL`) and `VFIO_IOMMU_DIRTY_PAGES`.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::{Arc, Mutex};

use uiommu_uapi::vfio::*;
use zerocopy::FromBytes;

use crate::buffer::MappedBuffer;
use crate::error::{Context, Error, Result};
use crate::flags::flags;
use crate::ioctl;
use crate::iommufd::Iommufd;
use crate::spans::{Spans, last_of};

flags! {
    /// `vfio_iommu_type1_dma_map.flags` (`VFIO_DMA_MAP_FLAG_*`).
    pub struct DmaMapFlags: u32 {
        /// `VFIO_DMA_MAP_FLAG_READ`.
        const READ = VFIO_DMA_MAP_FLAG_READ;
        /// `VFIO_DMA_MAP_FLAG_WRITE`.
        const WRITE = VFIO_DMA_MAP_FLAG_WRITE;
        /// `VFIO_DMA_MAP_FLAG_VADDR`.
        const VADDR = VFIO_DMA_MAP_FLAG_VADDR;
    }
}

/// `VFIO_IOMMU_GET_INFO` decoded: `struct vfio_iommu_type1_info` and its capabilities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Type1Info {
    /// `flags` (`VFIO_IOMMU_INFO_*`).
    pub flags: u32,
    /// `iova_pgsizes`.
    pub iova_pgsizes: u64,
    /// `VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE`: the usable IOVA ranges.
    pub iova_ranges: Option<Vec<VfioIovaRange>>,
    /// `VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION`.
    pub migration: Option<VfioIommuType1InfoCapMigration>,
    /// `VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL`: mappings still allowed.
    pub dma_avail: Option<u32>,
    /// Every capability's (`id`, `version`), in chain order.
    pub caps: Vec<(u16, u16)>,
}

/// A VFIO container: `/dev/vfio/vfio`, or an iommufd used through its VFIO compatibility
/// ioctls (which act on the IOAS set with `IOMMU_VFIO_IOAS`).
///
/// ```no_run
/// use uiommu_client::{DmaMapFlags, Iommufd, MappedBuffer, VfioContainer};
/// use uiommu_client::uapi::vfio::VFIO_TYPE1v2_IOMMU;
///
/// let fd = Iommufd::open()?;
/// let ioas = fd.alloc_ioas()?;
/// fd.vfio_ioas_set(&ioas)?;
/// let c = VfioContainer::from_iommufd(&fd);
/// c.set_iommu(VFIO_TYPE1v2_IOMMU)?;
/// let buf = MappedBuffer::new(1 << 16)?;
/// c.map_dma(&buf, 0, 1 << 16, 0x10_0000, DmaMapFlags::READ | DmaMapFlags::WRITE)?;
/// assert_eq!(buf.holders(), 2); // `buf` and the mapping
/// let info = c.get_info()?;
/// assert_eq!(c.unmap_all()?, 1 << 16);
/// assert_eq!(buf.holders(), 1);
/// # Ok::<(), uiommu_client::Error>(())
/// ```
///
/// Memory: like an [`Ioas`](crate::Ioas), the container holds a [`MappedBuffer`] while some
/// IOVA range maps it (`VFIO_IOMMU_MAP_DMA` until the `VFIO_IOMMU_UNMAP_DMA` covering it) and,
/// for SPAPR, while it is registered. Unmap before dropping the container to get the memory
/// back: the mappings may outlive the handle (a group attached to the container keeps them
/// after its fd is closed; through [`from_iommufd`](Self::from_iommufd) they belong to the
/// compatibility IOAS), so a container dropped with ranges still mapped leaks their buffers
/// rather than let a device reach freed memory.
#[derive(Debug)]
pub struct VfioContainer {
    fd: Arc<OwnedFd>,
    // What MAP_DMA mappings point at, by IOVA; dropped after the fd is closed.
    pub(super) dma: Mutex<Spans>,
    // SPAPR preregistered memory, by user address.
    pub(super) registered: Mutex<Spans>,
}

impl VfioContainer {
    /// The VFIO container device.
    pub const PATH: &'static str = "/dev/vfio/vfio";

    /// Opens [`Self::PATH`].
    pub fn open() -> Result<Self> {
        Self::open_path(Self::PATH)
    }

    /// Opens a container device at `path`.
    pub fn open_path(path: impl AsRef<Path>) -> Result<Self> {
        Ok(Self::from_fd(super::open_rw(path.as_ref())?.into()))
    }

    /// Wraps an open container fd.
    pub fn from_fd(fd: OwnedFd) -> Self {
        VfioContainer {
            fd: Arc::new(fd),
            dma: Mutex::default(),
            registered: Mutex::default(),
        }
    }

    /// The same fd as `iommufd`, used through the VFIO compatibility ioctls.
    pub fn from_iommufd(iommufd: &Iommufd) -> Self {
        VfioContainer {
            fd: iommufd.shared_fd(),
            dma: Mutex::default(),
            registered: Mutex::default(),
        }
    }

    /// The IOVA spans, locked.
    pub(super) fn dma(&self) -> std::sync::MutexGuard<'_, Spans> {
        self.dma.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// ioctl(VFIO_GET_API_VERSION).
    pub fn api_version(&self) -> Result<i32> {
        ioctl::ioctl_value(self.as_fd(), VFIO_GET_API_VERSION, 0).op("VFIO_GET_API_VERSION")
    }

    /// ioctl(VFIO_CHECK_EXTENSION, `extension`): 0 if unsupported, positive if supported.
    pub fn check_extension(&self, extension: u32) -> Result<i32> {
        ioctl::ioctl_value(self.as_fd(), VFIO_CHECK_EXTENSION, extension.into())
            .op("VFIO_CHECK_EXTENSION")
    }

    /// ioctl(VFIO_SET_IOMMU, `iommu_type`).
    pub fn set_iommu(&self, iommu_type: u32) -> Result<()> {
        ioctl::ioctl_value(self.as_fd(), VFIO_SET_IOMMU, iommu_type.into())
            .op("VFIO_SET_IOMMU")
            .map(|_| ())
    }

    /// ioctl(VFIO_IOMMU_MAP_DMA) of `buf[offset..offset + size]` at `iova`. The container
    /// holds `buf` until the range is unmapped; a failed map holds nothing. With
    /// [`DmaMapFlags::VADDR`] (a new address for memory already mapped) the range's buffer
    /// becomes `buf`.
    pub fn map_dma(
        &self,
        buf: &MappedBuffer,
        offset: u64,
        size: u64,
        iova: u64,
        flags: DmaMapFlags,
    ) -> Result<()> {
        buf.check_range("VFIO_IOMMU_MAP_DMA", offset, size)?;
        let mut spans = self.dma();
        // SAFETY: the range lies in `buf` (checked above), which `spans` holds from here
        // until an unmap covers the range.
        #[allow(unsafe_code)]
        unsafe { self.map_dma_raw(buf.addr() + offset, size, iova, flags) }?;
        spans.insert(iova, size, buf);
        Ok(())
    }

    /// ioctl(VFIO_IOMMU_MAP_DMA) of `size` bytes of process memory at `vaddr`, which the
    /// caller owns (guest RAM); the container holds nothing for it.
    ///
    /// # Safety
    ///
    /// As for [`Ioas::map_raw`](crate::Ioas::map_raw): `vaddr..vaddr + size` must stay
    /// mapped, and be treated as memory a device reads and writes at any time, until the
    /// range is unmapped (`VFIO_IOMMU_UNMAP_DMA` covering it, or the container closed).
    #[allow(unsafe_code)]
    pub unsafe fn map_dma_raw(
        &self,
        vaddr: u64,
        size: u64,
        iova: u64,
        flags: DmaMapFlags,
    ) -> Result<()> {
        let mut cmd = VfioIommuType1DmaMap {
            argsz: size_of::<VfioIommuType1DmaMap>() as u32,
            flags: flags.bits(),
            vaddr,
            iova,
            size,
        };
        ioctl::ioctl(self.as_fd(), VFIO_IOMMU_MAP_DMA, &mut cmd).op("VFIO_IOMMU_MAP_DMA")?;
        Ok(())
    }

    /// ioctl(VFIO_IOMMU_UNMAP_DMA) with raw `flags`; returns `size` as written back.
    /// Buffers no range maps any more are released (`VFIO_DMA_UNMAP_FLAG_VADDR` keeps the
    /// mappings, so it releases nothing).
    pub fn unmap_dma_flags(&self, flags: u32, iova: u64, size: u64) -> Result<u64> {
        let mut cmd = VfioIommuType1DmaUnmap {
            argsz: size_of::<VfioIommuType1DmaUnmap>() as u32,
            flags,
            iova,
            size,
        };
        let mut spans = self.dma();
        ioctl::ioctl(self.as_fd(), VFIO_IOMMU_UNMAP_DMA, &mut cmd).op("VFIO_IOMMU_UNMAP_DMA")?;
        if flags & VFIO_DMA_UNMAP_FLAG_VADDR != 0 {
            // Only the user address was invalidated; the pages stay mapped.
        } else if flags & VFIO_DMA_UNMAP_FLAG_ALL != 0 {
            spans.clear();
        } else if let Some(last) = last_of(iova, size) {
            spans.remove(iova, last);
        }
        Ok(cmd.size)
    }

    /// ioctl(VFIO_IOMMU_UNMAP_DMA) of `iova..iova + size`; returns the bytes unmapped.
    pub fn unmap_dma(&self, iova: u64, size: u64) -> Result<u64> {
        self.unmap_dma_flags(0, iova, size)
    }

    /// ioctl(VFIO_IOMMU_UNMAP_DMA, `VFIO_DMA_UNMAP_FLAG_ALL`); returns the bytes unmapped.
    pub fn unmap_all(&self) -> Result<u64> {
        self.unmap_dma_flags(VFIO_DMA_UNMAP_FLAG_ALL, 0, 0)
    }

    /// ioctl(VFIO_IOMMU_DIRTY_PAGES) with `VFIO_IOMMU_DIRTY_PAGES_FLAG_START` or `_STOP`.
    pub fn dirty_pages(&self, start: bool) -> Result<()> {
        let mut cmd = VfioIommuType1DirtyBitmap {
            argsz: size_of::<VfioIommuType1DirtyBitmap>() as u32,
            flags: if start {
                VFIO_IOMMU_DIRTY_PAGES_FLAG_START
            } else {
                VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP
            },
        };
        ioctl::ioctl(self.as_fd(), VFIO_IOMMU_DIRTY_PAGES, &mut cmd)
            .op("VFIO_IOMMU_DIRTY_PAGES")
            .map(|_| ())
    }

    /// ioctl(VFIO_IOMMU_GET_INFO) with an `argsz`-byte buffer: the raw reply (fixed struct,
    /// then whatever capabilities fit).
    pub fn get_info_raw(&self, argsz: u32) -> Result<Vec<u8>> {
        let fixed = size_of::<VfioIommuType1Info>();
        let mut buf = vec![0u8; (argsz as usize).max(fixed)];
        buf[..4].copy_from_slice(&argsz.to_ne_bytes());
        ioctl::ioctl_bytes(self.as_fd(), VFIO_IOMMU_GET_INFO, &mut buf)
            .op("VFIO_IOMMU_GET_INFO")?;
        Ok(buf)
    }

    /// ioctl(VFIO_IOMMU_GET_INFO), asking again with the `argsz` the kernel reports when the
    /// capabilities do not fit, and the chain parsed.
    pub fn get_info(&self) -> Result<Type1Info> {
        let op = "VFIO_IOMMU_GET_INFO";
        let fixed = size_of::<VfioIommuType1Info>();
        let mut argsz = fixed as u32;
        for _ in 0..4 {
            let buf = self.get_info_raw(argsz)?;
            let info = VfioIommuType1Info::read_from_prefix(&buf)
                .map_err(|_| Error::Protocol {
                    op,
                    what: "short reply".into(),
                })?
                .0;
            if info.argsz as usize > buf.len() {
                argsz = info.argsz;
                continue;
            }
            return parse_info(op, &info, &buf);
        }
        Err(Error::Protocol {
            op,
            what: "argsz keeps growing".into(),
        })
    }
}

fn parse_info(op: &'static str, info: &VfioIommuType1Info, buf: &[u8]) -> Result<Type1Info> {
    let chain = CapChain::new(buf, info.cap_offset, size_of::<VfioIommuType1Info>());
    let err = |source| Error::CapChain { op, source };
    let mut out = Type1Info {
        flags: info.flags,
        iova_pgsizes: info.iova_pgsizes,
        iova_ranges: None,
        migration: None,
        dma_avail: None,
        caps: Vec::new(),
    };
    for cap in chain.iter() {
        let cap = cap.map_err(err)?;
        out.caps.push((cap.header.id, cap.header.version));
        match cap.header.id {
            VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE => {
                let head: VfioIommuType1InfoCapIovaRange = cap.read().map_err(err)?;
                let ranges = cap
                    .trailing::<VfioIommuType1InfoCapIovaRange, VfioIovaRange>(
                        head.nr_iovas as usize,
                    )
                    .map_err(err)?;
                out.iova_ranges = Some(ranges);
            }
            VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION => out.migration = Some(cap.read().map_err(err)?),
            VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL => {
                let c: VfioIommuType1InfoDmaAvail = cap.read().map_err(err)?;
                out.dma_avail = Some(c.avail);
            }
            _ => {}
        }
    }
    Ok(out)
}

impl Drop for VfioContainer {
    fn drop(&mut self) {
        // Whatever is still mapped or registered may still be reached by a device.
        for spans in [&mut self.dma, &mut self.registered] {
            let held = std::mem::take(spans.get_mut().unwrap_or_else(|e| e.into_inner()));
            if !held.is_empty() {
                std::mem::forget(held);
            }
        }
    }
}

impl AsFd for VfioContainer {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zerocopy::IntoBytes;

    #[test]
    fn parses_a_kernel_shaped_chain() {
        let ranges = [
            VfioIovaRange {
                start: 0,
                end: 0xfedf_ffff,
            },
            VfioIovaRange {
                start: 0xfef0_0000,
                end: u64::MAX,
            },
        ];
        let mut b = CapChainBuilder::new();
        b.push_with(
            &VfioIommuType1InfoCapIovaRange {
                nr_iovas: 2,
                ..Default::default()
            },
            &ranges,
        );
        b.push(&VfioIommuType1InfoDmaAvail {
            avail: 65535,
            ..Default::default()
        });
        let fixed = size_of::<VfioIommuType1Info>();
        let caps = b.to_bytes(fixed).unwrap();
        let info = VfioIommuType1Info {
            argsz: (fixed + caps.len()) as u32,
            flags: VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS,
            iova_pgsizes: 4096,
            cap_offset: fixed as u32,
            pad: 0,
        };
        let mut buf = info.as_bytes().to_vec();
        buf.extend_from_slice(&caps);
        let parsed = parse_info("t", &info, &buf).unwrap();
        assert_eq!(parsed.iova_ranges.as_deref(), Some(&ranges[..]));
        assert_eq!(parsed.dma_avail, Some(65535));
        assert_eq!(parsed.caps, vec![(1, 1), (3, 1)]);
    }
}
