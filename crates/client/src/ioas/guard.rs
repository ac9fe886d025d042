//! [`MapGuard`]: an IOVA range of an IOAS that is unmapped when the guard drops.

use std::sync::Arc;

use crate::error::Result;
use crate::ids::IoasId;
use crate::object::Object;

use super::Ioas;

/// A mapped IOVA range, `IOMMU_IOAS_UNMAP`ped when dropped. Made by
/// [`Ioas::map_guard`] or, for any other mapping, [`Ioas::guard`].
///
/// The guard holds its IOAS (the IOAS is not destroyed before the guard goes), so it can be
/// stored apart from the [`Ioas`] handle, e.g. beside the guest memory region it maps.
/// Dropping cannot report an error: call [`unmap`](Self::unmap) to see it. Do not unmap the
/// guarded range by other means, since the guard would later unmap whatever was mapped there
/// since; [`into_raw`](Self::into_raw) hands the range back to manual unmapping.
///
/// ```no_run
/// use uiommu_client::{Iommufd, Iova, MapFlags, MappedBuffer};
///
/// let fd = Iommufd::open()?;
/// let ioas = fd.alloc_ioas()?;
/// let buf = MappedBuffer::new(2 << 20)?;
/// {
///     let m = ioas.map_guard(&buf, Iova::Fixed(0x4000_0000), MapFlags::RW)?;
///     assert_eq!((m.iova(), m.len()), (0x4000_0000, 2 << 20));
/// } // unmapped here, and the IOAS no longer holds `buf`
/// let m = ioas.map_guard(&buf, Iova::Auto, MapFlags::RW)?;
/// assert_eq!(m.unmap()?, 2 << 20);
/// # Ok::<(), uiommu_client::Error>(())
/// ```
#[derive(Debug)]
#[must_use = "dropping the guard unmaps the range at once"]
pub struct MapGuard {
    ioas: Arc<Object>,
    iova: u64,
    length: u64,
    armed: bool,
}

impl MapGuard {
    pub(super) fn new(ioas: Arc<Object>, iova: u64, length: u64) -> Self {
        MapGuard {
            ioas,
            iova,
            length,
            armed: true,
        }
    }

    /// The first IOVA of the range.
    pub fn iova(&self) -> u64 {
        self.iova
    }

    /// The length of the range in bytes.
    pub fn len(&self) -> u64 {
        self.length
    }

    /// Whether the range is empty (never for a successful map).
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// The IOAS the range is in.
    pub fn ioas_id(&self) -> IoasId {
        IoasId::from_raw(self.ioas.id)
    }

    /// Unmaps now, reporting the result: the bytes unmapped.
    pub fn unmap(mut self) -> Result<u64> {
        self.armed = false;
        self.ioas().unmap(self.iova, self.length)
    }

    /// Leaves the range mapped and returns `(iova, length)`; unmapping is the caller's
    /// business again (the IOAS still holds the buffer until then).
    pub fn into_raw(mut self) -> (u64, u64) {
        self.armed = false;
        (self.iova, self.length)
    }

    fn ioas(&self) -> Ioas {
        Ioas {
            obj: self.ioas.clone(),
        }
    }
}

impl Drop for MapGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.ioas().unmap(self.iova, self.length);
        }
    }
}
