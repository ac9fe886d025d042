//! [`Ioas`]: an I/O address space and its mappings — `IOMMU_IOAS_ALLOC`, `_MAP`, `_MAP_FILE`,
//! `_UNMAP`, `_COPY`; the IOVA space itself is in [`ranges`], the unmap-on-drop guard in
//! [`guard`].
//!
//! Memory ownership: an IOAS keeps a [`MappedBuffer`] alive exactly as long as some IOVA
//! range of it maps that buffer. The client records, per successful map, which range maps
//! which buffer; a successful unmap (whole, partial or all) forgets the ranges it removed and
//! drops the buffers no range maps any more; a failed map records nothing; a copy shares the
//! source's buffers for the copied range only. A failed unmap forgets nothing: the kernel may
//! have removed some areas before failing, and keeping their buffers a little longer is safe
//! where freeing memory a device may still reach is not.

mod guard;
mod ranges;

pub use guard::MapGuard;
pub use ranges::{IovaRange, IovaRanges, IovaRangesReply};

use std::os::fd::{AsFd, AsRawFd};
use std::sync::Arc;

use uiommu_uapi::iommufd::*;

use crate::buffer::MappedBuffer;
use crate::error::Result;
use crate::flags::flags;
use crate::ids::IoasId;
use crate::iommufd::Iommufd;
use crate::object::Object;
use crate::pt::{PageTable, sealed};
use crate::spans::{Spans, last_of};

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

/// An I/O address space: the `ioas_id` devices and HWPTs are attached to, and the mappings
/// from IOVAs to process memory they see.
///
/// Dropping the handle destroys the IOAS (`IOMMU_DESTROY`) once nothing built on it
/// remains: a [`Hwpt`](crate::Hwpt) on it, a [`VfioDevice`](crate::VfioDevice) attached to
/// it, a [`MapGuard`] of it each hold it. Destroying it unmaps everything and releases every
/// buffer it held.
///
/// The handle is `Send` and `Sync`. Its maps, unmaps and copies are serialized by the
/// client (each records what it changed while the kernel applies it, so that the record
/// follows the kernel's order); other commands run concurrently.
///
/// ```no_run
/// use uiommu_client::{Iommufd, Iova, MapFlags, MappedBuffer};
///
/// let fd = Iommufd::open()?;
/// let ioas = fd.alloc_ioas()?;
/// let buf = MappedBuffer::new(1 << 16)?;
/// let iova = ioas.map(&buf, Iova::Auto, MapFlags::RW)?;
/// assert_eq!(ioas.unmap(iova, 1 << 16)?, 1 << 16); // the IOAS lets go of `buf` here
///
/// // Or let a guard unmap it.
/// let m = ioas.map_guard(&buf, Iova::Auto, MapFlags::READABLE)?;
/// println!("mapped at {:#x}", m.iova());
/// drop(m); // IOMMU_IOAS_UNMAP
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
    pub fn id(&self) -> IoasId {
        IoasId::from_raw(self.obj.id)
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
        self.map_range(buf, 0, buf.size(), iova, flags)
    }

    /// ioctl(IOMMU_IOAS_MAP) of `length` bytes of `buf` from byte `offset` (`user_va` is the
    /// buffer's address plus `offset`, `length`). Returns the IOVA (`iova`).
    ///
    /// The IOAS keeps `buf` alive while this range maps it: until an unmap covers it, the
    /// IOAS is destroyed, or (for the bytes copied) every copy of it is unmapped too. A range
    /// outside the buffer is [`Error::OutOfBounds`](crate::Error::OutOfBounds), with nothing
    /// sent; a failed map keeps nothing.
    pub fn map_range(
        &self,
        buf: &MappedBuffer,
        offset: u64,
        length: u64,
        iova: Iova,
        flags: MapFlags,
    ) -> Result<u64> {
        buf.check_range("IOMMU_IOAS_MAP", offset, length)?;
        // Held across the ioctl so that racing maps and unmaps of this IOAS record their
        // ranges in the order the kernel applied them.
        let mut spans = self.obj.spans();
        let at = self.map_user_va(buf.addr() + offset, length, iova, flags)?;
        spans.insert(at, length, buf);
        Ok(at)
    }

    /// ioctl(IOMMU_IOAS_MAP) of `length` bytes of process memory at `ptr`, which the caller
    /// owns: guest RAM from a VMM's own allocator (`vm-memory` and the like), a hugetlbfs
    /// mapping, a buffer shared with another library. The IOAS keeps nothing alive for it.
    /// Returns the IOVA; [`guard`](Self::guard) makes it unmap on drop.
    ///
    /// # Safety
    ///
    /// From the call until the range is unmapped — by [`unmap`](Self::unmap) or
    /// [`unmap_all`](Self::unmap_all) covering it, by a [`MapGuard`] of it dropping, or by the
    /// IOAS being destroyed (the last handle on it dropping, which waits for every
    /// [`Hwpt`](crate::Hwpt) and device built on it) — the caller guarantees that:
    ///
    /// - `ptr..ptr + length` stays mapped in this process, neither `munmap`ed nor replaced
    ///   (`mmap` with `MAP_FIXED`, `mremap`), and is not handed to an allocator that may
    ///   reuse it. On a real kernel the pages stay pinned anyway, but the device then reaches
    ///   memory the process no longer sees; under uiommu a device's DMA reaches the process's
    ///   addresses directly, so it would write whatever lives there now;
    /// - nothing in the program relies on the memory not changing behind its back: with
    ///   [`MapFlags::WRITEABLE`] a device may write any byte at any time, and may read any
    ///   byte with `READABLE`. No `&[u8]`/`&mut [u8]` into the range may be held across DMA;
    ///   access it through raw pointers or volatile/atomic copies, as `vm-memory` does.
    ///
    /// Everything else (a `ptr` that is not mapped at all, a misaligned IOVA, a `length`
    /// of 0) is checked by the kernel and reported as an error, never undefined behaviour.
    // The one unsafe entry point of the IOAS: the kernel checks everything but the lifetime
    // of the memory, which only the caller knows.
    #[allow(unsafe_code)]
    pub unsafe fn map_raw(
        &self,
        iova: Iova,
        ptr: *mut u8,
        length: u64,
        flags: MapFlags,
    ) -> Result<u64> {
        self.map_user_va(ptr as u64, length, iova, flags)
    }

    /// One IOMMU_IOAS_MAP; the caller records what it maps.
    fn map_user_va(&self, user_va: u64, length: u64, iova: Iova, flags: MapFlags) -> Result<u64> {
        let (flags, iova) = iova.apply(flags);
        let mut cmd = IommuIoasMap {
            size: size_of::<IommuIoasMap>() as u32,
            flags,
            ioas_id: self.obj.id,
            user_va,
            length,
            iova,
            ..Default::default()
        };
        self.obj
            .ctx
            .ioctl("IOMMU_IOAS_MAP", IOMMU_IOAS_MAP, &mut cmd)?;
        Ok(cmd.iova)
    }

    /// [`map`](Self::map) returning a [`MapGuard`] that unmaps the range when dropped.
    pub fn map_guard(&self, buf: &MappedBuffer, iova: Iova, flags: MapFlags) -> Result<MapGuard> {
        let at = self.map(buf, iova, flags)?;
        Ok(self.guard(at, buf.size()))
    }

    /// A [`MapGuard`] for a mapping made otherwise ([`map_file`](Self::map_file),
    /// [`map_raw`](Self::map_raw), [`copy_from`](Self::copy_from)): `iova..iova + length`
    /// must be exactly the range mapped, since unmap must cover whole mappings.
    pub fn guard(&self, iova: u64, length: u64) -> MapGuard {
        MapGuard::new(self.obj.clone(), iova, length)
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
            ioas_id: self.obj.id,
            fd: file.as_fd().as_raw_fd(),
            start,
            length,
            iova,
        };
        let mut spans = self.obj.spans();
        self.obj
            .ctx
            .ioctl("IOMMU_IOAS_MAP_FILE", IOMMU_IOAS_MAP_FILE, &mut cmd)?;
        // Nothing of ours is behind it, but a stale span there would be wrong now.
        if let Some(last) = last_of(cmd.iova, length) {
            spans.remove(cmd.iova, last);
        }
        Ok(cmd.iova)
    }

    /// ioctl(IOMMU_IOAS_UNMAP) of `iova..iova + length`, which must cover whole mappings
    /// (`ENOENT` otherwise). Returns the bytes unmapped (`length` written back). Buffers no
    /// range maps any more are released.
    pub fn unmap(&self, iova: u64, length: u64) -> Result<u64> {
        let mut cmd = IommuIoasUnmap {
            size: size_of::<IommuIoasUnmap>() as u32,
            ioas_id: self.obj.id,
            iova,
            length,
        };
        let mut spans = self.obj.spans();
        self.obj
            .ctx
            .ioctl("IOMMU_IOAS_UNMAP", IOMMU_IOAS_UNMAP, &mut cmd)?;
        if iova == 0 && length == u64::MAX {
            spans.clear();
        } else if let Some(last) = last_of(iova, length) {
            spans.remove(iova, last);
        }
        Ok(cmd.length)
    }

    /// ioctl(IOMMU_IOAS_UNMAP) with `iova = 0, length = U64_MAX`: everything. Returns the
    /// bytes unmapped; every buffer is released.
    pub fn unmap_all(&self) -> Result<u64> {
        self.unmap(0, u64::MAX)
    }

    /// ioctl(IOMMU_IOAS_COPY): maps the pages mapped at `src_iova..src_iova + length` of
    /// `src` (this IOAS or another of the same context) into this IOAS. Returns the
    /// destination IOVA. The copy keeps the source's buffers of that range alive (and only
    /// those) until it is unmapped, whatever happens to the source.
    pub fn copy_from(
        &self,
        src: &Ioas,
        src_iova: u64,
        length: u64,
        dst_iova: Iova,
        flags: MapFlags,
    ) -> Result<u64> {
        let (flags, iova) = dst_iova.apply(flags);
        let mut cmd = IommuIoasCopy {
            size: size_of::<IommuIoasCopy>() as u32,
            flags,
            dst_ioas_id: self.obj.id,
            src_ioas_id: src.obj.id,
            length,
            dst_iova: iova,
            src_iova,
        };
        let same = Arc::ptr_eq(&self.obj, &src.obj);
        // Both locked across the ioctl, in a fixed order so opposite copies cannot deadlock.
        let (mut dst_spans, src_spans) = if same {
            (self.obj.spans(), None)
        } else if Arc::as_ptr(&self.obj) < Arc::as_ptr(&src.obj) {
            let d = self.obj.spans();
            (d, Some(src.obj.spans()))
        } else {
            let s = src.obj.spans();
            (self.obj.spans(), Some(s))
        };
        self.obj
            .ctx
            .ioctl("IOMMU_IOAS_COPY", IOMMU_IOAS_COPY, &mut cmd)?;
        if let Some(last) = last_of(src_iova, length) {
            let from: &Spans = src_spans.as_deref().unwrap_or(&dst_spans);
            let cuts = from.cut(src_iova, last);
            dst_spans.paste(cmd.dst_iova, cuts);
        }
        Ok(cmd.dst_iova)
    }
}

#[cfg(test)]
mod tests {
    /// The handles a VMM shares between threads.
    #[test]
    fn handles_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<super::Ioas>();
        check::<super::MapGuard>();
        check::<crate::Hwpt>();
        check::<crate::VfioDevice>();
        check::<crate::VfioContainer>();
        check::<crate::MappedBuffer>();
    }
}
