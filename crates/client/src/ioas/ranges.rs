//! The IOVA space of an [`Ioas`]: `IOMMU_IOAS_IOVA_RANGES`, `IOMMU_IOAS_ALLOW_IOVAS`, the
//! per-IOAS `IOMMU_OPTION_HUGE_PAGES` and `IOMMU_IOAS_NOIOMMU_GET_PA`.

use uiommu_uapi::Errno;
use uiommu_uapi::iommufd::*;

use super::Ioas;
use crate::error::{Error, Result};

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

impl IovaRanges {
    /// The ranges, ascending.
    pub fn iter(&self) -> std::slice::Iter<'_, IovaRange> {
        self.ranges.iter()
    }

    /// Whether `start..=last` lies inside one usable range.
    pub fn contains(&self, start: u64, last: u64) -> bool {
        self.ranges
            .iter()
            .any(|r| r.start <= start && last <= r.last)
    }
}

impl<'a> IntoIterator for &'a IovaRanges {
    type Item = &'a IovaRange;
    type IntoIter = std::slice::Iter<'a, IovaRange>;
    fn into_iter(self) -> Self::IntoIter {
        self.ranges.iter()
    }
}

impl IntoIterator for IovaRanges {
    type Item = IovaRange;
    type IntoIter = std::vec::IntoIter<IovaRange>;
    fn into_iter(self) -> Self::IntoIter {
        self.ranges.into_iter()
    }
}

impl Ioas {
    /// One ioctl(IOMMU_IOAS_IOVA_RANGES) with room for `capacity` ranges.
    pub fn iova_ranges_with_capacity(&self, capacity: u32) -> IovaRangesReply {
        let mut out = vec![IommuIovaRange::default(); capacity as usize];
        let mut cmd = IommuIoasIovaRanges {
            size: size_of::<IommuIoasIovaRanges>() as u32,
            ioas_id: self.id().raw(),
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
    ///
    /// **Ordering.** The ranges are those of the devices attached *now*: an IOAS with no
    /// device reports the whole 64-bit space (`0..=u64::MAX`, alignment 1), and each attach
    /// narrows it to the IOMMU's aperture minus its reserved regions (MSI windows and the
    /// like). A mapping made before the attach, outside the aperture, makes the attach fail
    /// with `EADDRINUSE` — the kernel's rule, which uiommu follows. So attach the device(s)
    /// first, then read the ranges, then map; or confine automatic IOVAs beforehand with
    /// [`allow_iovas`](Ioas::allow_iovas). The selftest mock IOMMU's aperture is
    /// [`MOCK_APERTURE_START`](crate::uapi::selftest::MOCK_APERTURE_START)`..=`
    /// [`MOCK_APERTURE_LAST`](crate::uapi::selftest::MOCK_APERTURE_LAST), with
    /// [`MOCK_PAGE_SIZE`](crate::uapi::selftest::MOCK_PAGE_SIZE) alignment.
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
            ioas_id: self.id().raw(),
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
            ioas_id: self.id().raw(),
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
