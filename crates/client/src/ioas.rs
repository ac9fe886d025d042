//! [`Ioas`]: an I/O address space and its mappings — `IOMMU_IOAS_ALLOC`, `_MAP`, `_MAP_FILE`,
//! `_UNMAP`, `_COPY`, `_IOVA_RANGES`, `_ALLOW_IOVAS`, the per-IOAS `IOMMU_OPTION_HUGE_PAGES`
//! and `IOMMU_IOAS_NOIOMMU_GET_PA`.

use std::os::fd::{AsFd, AsRawFd};
use std::sync::Arc;

use uiommu_uapi::Errno;
use uiommu_uapi::iommufd::*;

use crate::buffer::MappedBuffer;
use crate::error::{Error, Result};
use crate::flags::flags;
use crate::iommufd::Iommufd;
use crate::object::{Keep, Object};
use crate::pt::{PageTable, sealed};

flags! {
    /// `iommu_ioas_map.flags` and friends (`IOMMU_IOAS_MAP_*`), without `FIXED_IOVA`, which
    /// [`Iova::Fixed`] sets.
    pub struct MapFlags: u32 {
        /// `IOMMU_IOAS_MAP_READABLE`: the device may read.
        const READABLE = IOMMU_IOAS_MAP_READABLE;
        /// `IOMMU_IOAS_MAP_WRITEABLE`: the device may write.
        const WRITEABLE = IOMMU_IOAS_MAP_WRITEABLE;
        /// Both.
        const RW = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;
    }
}

/// Where a mapping goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Iova {
    /// The kernel picks an IOVA in the allowed ranges (`iova` is an output).
    Auto,
    /// Exactly here (`IOMMU_IOAS_MAP_FIXED_IOVA`).
    Fixed(u64),
}

impl Iova {
    fn apply(self, flags: MapFlags) -> (u32, u64) {
        match self {
            Iova::Auto => (flags.bits(), 0),
            Iova::Fixed(iova) => (flags.bits() | IOMMU_IOAS_MAP_FIXED_IOVA, iova),
        }
    }
}

/// An inclusive IOVA range (`struct iommu_iova_range`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IovaRange {
    /// First IOVA.
    pub start: u64,
    /// Last IOVA, inclusive.
    pub last: u64,
}

impl IovaRange {
    /// `start..=last`.
    pub const fn new(start: u64, last: u64) -> Self {
        IovaRange { start, last }
    }
}

/// The reply of `IOMMU_IOAS_IOVA_RANGES`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IovaRanges {
    /// `allowed_iovas`: the usable ranges, ascending.
    pub ranges: Vec<IovaRange>,
    /// `out_iova_alignment`: the alignment every mapping must have.
    pub alignment: u64,
}

/// One raw `IOMMU_IOAS_IOVA_RANGES` call with a caller-chosen array capacity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IovaRangesReply {
    /// The ioctl's result: `EMSGSIZE` when the array was too small.
    pub result: Result<()>,
    /// `num_iovas` as written back: the number of ranges, even on `EMSGSIZE`.
    pub num_iovas: u32,
    /// The entries filled (at most the capacity).
    pub ranges: Vec<IovaRange>,
    /// `out_iova_alignment`.
    pub alignment: u64,
}

/// An I/O address space.
///
/// ```no_run
/// use uiommu_client::{Iommufd, Iova, MapFlags, MappedBuffer};
///
/// let fd = Iommufd::open()?;
/// let ioas = fd.alloc_ioas()?;
/// let buf = MappedBuffer::new(1 << 16)?;
/// let iova = ioas.map(&buf, Iova::Auto, MapFlags::RW)?;
/// assert_eq!(ioas.unmap(iova, 1 << 16)?, 1 << 16);
/// # Ok::<(), uiommu_client::Error>(())
/// ```
#[derive(Debug)]
pub struct Ioas {
    obj: Arc<Object>,
}

impl sealed::Sealed for Ioas {
    fn object(&self) -> &Arc<Object> {
        &self.obj
    }
}
impl PageTable for Ioas {}

impl Ioas {
    pub(crate) fn alloc(ctx: &Iommufd) -> Result<Ioas> {
        let mut cmd = IommuIoasAlloc {
            size: size_of::<IommuIoasAlloc>() as u32,
            ..Default::default()
        };
        ctx.ioctl("IOMMU_IOAS_ALLOC", IOMMU_IOAS_ALLOC, &mut cmd)?;
        Ok(Ioas {
            obj: Object::new(ctx, cmd.out_ioas_id, Vec::new()),
        })
    }

    /// The IOAS ID (`out_ioas_id`).
    pub fn id(&self) -> u32 {
        self.obj.id
    }

    /// The context the IOAS lives in.
    pub fn iommufd(&self) -> &Iommufd {
        &self.obj.ctx
    }

    /// `IOMMU_DESTROY` now rather than on drop (`EBUSY` while a device or HWPT uses it).
    pub fn destroy(&self) -> Result<()> {
        self.obj.destroy()
    }

    /// ioctl(IOMMU_IOAS_MAP) of the whole of `buf`. Returns the IOVA (`iova`).
    pub fn map(&self, buf: &MappedBuffer, iova: Iova, flags: MapFlags) -> Result<u64> {
        self.map_range(buf, 0, buf.len(), iova, flags)
    }

    /// ioctl(IOMMU_IOAS_MAP) of `len` bytes of `buf` from `offset` (`user_va`, `length`).
    /// The IOAS keeps `buf` alive until it is destroyed.
    pub fn map_range(
        &self,
        buf: &MappedBuffer,
        offset: usize,
        len: usize,
        iova: Iova,
        flags: MapFlags,
    ) -> Result<u64> {
        buf.check_range("IOMMU_IOAS_MAP", offset, len)?;
        // The kernel records the address; the memory must not go away before the IOAS.
        self.obj.keep(Keep::Buffer(buf.clone()));
        let (flags, iova) = iova.apply(flags);
        let mut cmd = IommuIoasMap {
            size: size_of::<IommuIoasMap>() as u32,
            flags,
            ioas_id: self.id(),
            user_va: buf.addr() + offset as u64,
            length: len as u64,
            iova,
            ..Default::default()
        };
        self.obj
            .ctx
            .ioctl("IOMMU_IOAS_MAP", IOMMU_IOAS_MAP, &mut cmd)?;
        Ok(cmd.iova)
    }

    /// ioctl(IOMMU_IOAS_MAP_FILE): `length` bytes of `file` (a memfd) from byte `start`.
    /// The kernel holds the file; the caller need not keep it open.
    pub fn map_file(
        &self,
        file: impl AsFd,
        start: u64,
        length: u64,
        iova: Iova,
        flags: MapFlags,
    ) -> Result<u64> {
        let (flags, iova) = iova.apply(flags);
        let mut cmd = IommuIoasMapFile {
            size: size_of::<IommuIoasMapFile>() as u32,
            flags,
            ioas_id: self.id(),
            fd: file.as_fd().as_raw_fd(),
            start,
            length,
            iova,
        };
        self.obj
            .ctx
            .ioctl("IOMMU_IOAS_MAP_FILE", IOMMU_IOAS_MAP_FILE, &mut cmd)?;
        Ok(cmd.iova)
    }

    /// ioctl(IOMMU_IOAS_UNMAP) of `iova..iova + length`, which must cover whole mappings.
    /// Returns the bytes unmapped (`length` written back).
    pub fn unmap(&self, iova: u64, length: u64) -> Result<u64> {
        let mut cmd = IommuIoasUnmap {
            size: size_of::<IommuIoasUnmap>() as u32,
            ioas_id: self.id(),
            iova,
            length,
        };
        self.obj
            .ctx
            .ioctl("IOMMU_IOAS_UNMAP", IOMMU_IOAS_UNMAP, &mut cmd)?;
        Ok(cmd.length)
    }

    /// ioctl(IOMMU_IOAS_UNMAP) with `iova = 0, length = U64_MAX`: everything. Returns the
    /// bytes unmapped.
    pub fn unmap_all(&self) -> Result<u64> {
        self.unmap(0, u64::MAX)
    }

    /// ioctl(IOMMU_IOAS_COPY): maps the pages mapped at `src_iova..src_iova + length` of
    /// `src` into this IOAS. Returns the destination IOVA.
    pub fn copy_from(
        &self,
        src: &Ioas,
        src_iova: u64,
        length: u64,
        dst_iova: Iova,
        flags: MapFlags,
    ) -> Result<u64> {
        // The copied pages are the source's buffers: keep them as long as this IOAS.
        for b in src.obj.buffers() {
            self.obj.keep(Keep::Buffer(b));
        }
        let (flags, iova) = dst_iova.apply(flags);
        let mut cmd = IommuIoasCopy {
            size: size_of::<IommuIoasCopy>() as u32,
            flags,
            dst_ioas_id: self.id(),
            src_ioas_id: src.id(),
            length,
            dst_iova: iova,
            src_iova,
        };
        self.obj
            .ctx
            .ioctl("IOMMU_IOAS_COPY", IOMMU_IOAS_COPY, &mut cmd)?;
        Ok(cmd.dst_iova)
    }

    /// One ioctl(IOMMU_IOAS_IOVA_RANGES) with room for `capacity` ranges.
    pub fn iova_ranges_with_capacity(&self, capacity: u32) -> IovaRangesReply {
        let mut out = vec![IommuIovaRange::default(); capacity as usize];
        let mut cmd = IommuIoasIovaRanges {
            size: size_of::<IommuIoasIovaRanges>() as u32,
            ioas_id: self.id(),
            num_iovas: capacity,
            allowed_iovas: if capacity == 0 {
                0
            } else {
                out.as_mut_ptr() as u64
            },
            ..Default::default()
        };
        let result = self
            .obj
            .ctx
            .ioctl("IOMMU_IOAS_IOVA_RANGES", IOMMU_IOAS_IOVA_RANGES, &mut cmd)
            .map(|_| ());
        let filled = cmd.num_iovas.min(capacity) as usize;
        IovaRangesReply {
            result,
            num_iovas: cmd.num_iovas,
            ranges: out[..filled]
                .iter()
                .map(|r| IovaRange::new(r.start, r.last))
                .collect(),
            alignment: cmd.out_iova_alignment,
        }
    }

    /// ioctl(IOMMU_IOAS_IOVA_RANGES): every usable range, retrying with the count the kernel
    /// reports when the first array is too small.
    pub fn iova_ranges(&self) -> Result<IovaRanges> {
        let mut capacity = 4;
        for _ in 0..8 {
            let reply = self.iova_ranges_with_capacity(capacity);
            match reply.result {
                Ok(()) => {
                    return Ok(IovaRanges {
                        ranges: reply.ranges,
                        alignment: reply.alignment,
                    });
                }
                Err(e) if e.errno() == Some(Errno::EMSGSIZE) => capacity = reply.num_iovas,
                Err(e) => return Err(e),
            }
        }
        Err(Error::Protocol {
            op: "IOMMU_IOAS_IOVA_RANGES",
            what: "range count keeps changing".into(),
        })
    }

    /// ioctl(IOMMU_IOAS_ALLOW_IOVAS): automatic IOVAs come only from `ranges`; an empty
    /// slice lifts the restriction.
    pub fn allow_iovas(&self, ranges: &[IovaRange]) -> Result<()> {
        let arr: Vec<IommuIovaRange> = ranges
            .iter()
            .map(|r| IommuIovaRange {
                start: r.start,
                last: r.last,
            })
            .collect();
        let mut cmd = IommuIoasAllowIovas {
            size: size_of::<IommuIoasAllowIovas>() as u32,
            ioas_id: self.id(),
            num_iovas: arr.len() as u32,
            allowed_iovas: if arr.is_empty() {
                0
            } else {
                arr.as_ptr() as u64
            },
            ..Default::default()
        };
        self.obj
            .ctx
            .ioctl("IOMMU_IOAS_ALLOW_IOVAS", IOMMU_IOAS_ALLOW_IOVAS, &mut cmd)?;
        Ok(())
    }

    /// `IOMMU_OPTION_HUGE_PAGES` of this IOAS.
    pub fn huge_pages(&self) -> Result<bool> {
        Ok(self
            .obj
            .ctx
            .get_option(IOMMU_OPTION_HUGE_PAGES, self.id())?
            != 0)
    }

    /// Sets `IOMMU_OPTION_HUGE_PAGES` of this IOAS.
    pub fn set_huge_pages(&self, on: bool) -> Result<()> {
        self.obj
            .ctx
            .set_option(IOMMU_OPTION_HUGE_PAGES, self.id(), on.into())
    }

    /// ioctl(IOMMU_IOAS_NOIOMMU_GET_PA): the physical address behind `iova` and how many
    /// bytes are contiguous from there (no-IOMMU mode only).
    pub fn noiommu_get_pa(&self, iova: u64) -> Result<(u64, u64)> {
        let mut cmd = IommuIoasNoiommuGetPa {
            size: size_of::<IommuIoasNoiommuGetPa>() as u32,
            ioas_id: self.id(),
            iova,
            ..Default::default()
        };
        self.obj.ctx.ioctl(
            "IOMMU_IOAS_NOIOMMU_GET_PA",
            IOMMU_IOAS_NOIOMMU_GET_PA,
            &mut cmd,
        )?;
        Ok((cmd.out_phys, cmd.length))
    }
}
