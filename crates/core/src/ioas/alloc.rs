//! Automatic IOVA allocation and fixed-IOVA checks (`io_pagetable.c`: `iopt_alloc_iova`,
//! `__alloc_iova_check_range`, `iopt_check_iova`).

use super::Inner;
use super::pages::PAGE_SIZE;
use uiommu_uapi::{Errno, errno::Result};

/// `HPAGE_SIZE` of x86-64 with transparent huge pages: the largest alignment an automatic IOVA
/// inherits from its address.
pub const HPAGE_SIZE: u64 = 2 << 20;

/// `__alloc_iova_check_range`: aligns `start` up (failing on overflow), puts the address's
/// in-page offset back, and checks that `length` bytes fit before `last`. The kernel's
/// `aligned >= last` also refuses an exact one-byte fit at `last`; kept as is.
fn fit(start: u64, last: u64, length: u64, align: u64, page_offset: u64) -> Option<u64> {
    let aligned = (start.checked_add(align - 1)? & !(align - 1)) | page_offset;
    if aligned >= last || last - aligned < length - 1 {
        return None;
    }
    Some(aligned)
}

/// Merges two ascending lists of inclusive ranges and returns the gaps of their union inside
/// `start..=last` (the holes of `interval_tree_double_span_iter`).
fn holes_of_union(a: &[(u64, u64)], b: &[(u64, u64)], start: u64, last: u64) -> Vec<(u64, u64)> {
    let mut all: Vec<(u64, u64)> = a.iter().chain(b.iter()).copied().collect();
    all.sort_unstable();
    let mut out = Vec::new();
    let mut cursor = Some(start);
    for (s, l) in all {
        let Some(c) = cursor else { break };
        if s > c {
            out.push((c, s - 1));
        }
        if l >= c {
            cursor = l.checked_add(1);
        }
    }
    if let Some(c) = cursor {
        if c <= last {
            out.push((c, last));
        }
    }
    out
}

impl Inner {
    /// `iopt_alloc_iova`: the lowest IOVA in an allowed span (or `PAGE_SIZE..=MAX - PAGE_SIZE`
    /// when none is set), clear of reserved ranges and areas, aligned like `addr` up to the
    /// next power of two of `length` and at most [`HPAGE_SIZE`], with `addr`'s in-page offset.
    /// Never returns IOVA 0.
    ///
    /// `EOVERFLOW` for a zero length or one of half the space; `EINVAL` if that alignment is
    /// below the IOAS's; `ENOSPC` if nothing fits.
    pub(crate) fn alloc_iova(&self, addr: u64, length: u64) -> Result<u64> {
        let page_offset = addr % PAGE_SIZE;
        if length == 0 || length >= u64::MAX / 2 {
            return Err(Errno::EOVERFLOW);
        }
        let pow2 = length.next_power_of_two();
        let mut align = if addr == 0 {
            pow2
        } else {
            pow2.min(1u64 << addr.trailing_zeros())
        };
        align = align.min(HPAGE_SIZE);
        if align < self.iova_alignment {
            return Err(Errno::EINVAL);
        }
        let (lo, hi) = (PAGE_SIZE, u64::MAX - PAGE_SIZE);
        let spans = if self.allowed.is_empty() {
            vec![(lo, hi)]
        } else {
            self.allowed.used(lo, hi)
        };
        for (s, l) in spans {
            let Some(s) = fit(s, l, length, align, page_offset) else {
                continue;
            };
            let reserved = self.reserved.cover.used(s, l);
            let areas: Vec<(u64, u64)> =
                self.areas.within(s, l).map(|a| (a.iova, a.last)).collect();
            for (hs, hl) in holes_of_union(&reserved, &areas, s, l) {
                if let Some(iova) = fit(hs, hl, length, align, page_offset) {
                    return Ok(iova);
                }
            }
        }
        Err(Errno::ENOSPC)
    }

    /// `iopt_check_iova`: `EINVAL` if `iova` is not aligned, `EOVERFLOW` if the range wraps,
    /// `EINVAL` over a reserved range, `EEXIST` over an existing area. `length` is non-zero.
    pub(crate) fn check_iova(&self, iova: u64, length: u64) -> Result<()> {
        if iova & (self.iova_alignment - 1) != 0 {
            return Err(Errno::EINVAL);
        }
        let last = iova.checked_add(length - 1).ok_or(Errno::EOVERFLOW)?;
        if self.reserved.cover.intersects(iova, last) {
            return Err(Errno::EINVAL);
        }
        if self.areas.first_in(iova, last).is_some() {
            return Err(Errno::EEXIST);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{fit, holes_of_union};

    #[test]
    fn fit_rules() {
        assert_eq!(fit(0x1001, 0xffff, 0x1000, 0x1000, 0), Some(0x2000));
        assert_eq!(fit(0x1000, 0x1fff, 0x1000, 0x1000, 0), Some(0x1000));
        assert_eq!(fit(0x1000, 0x1ffe, 0x1000, 0x1000, 0), None);
        // The in-page offset of the address is kept.
        assert_eq!(fit(0x1000, 0xffff, 0x800, 0x800, 0x800), Some(0x1800));
        // ALIGN() overflow refuses the span.
        assert_eq!(fit(u64::MAX - 10, u64::MAX, 1, 0x1000, 0), None);
        // A one-byte fit exactly at `last` is refused, as in the kernel.
        assert_eq!(fit(5, 5, 1, 1, 0), None);
    }

    #[test]
    fn union_holes() {
        let h = holes_of_union(&[(10, 19), (40, 49)], &[(15, 29)], 0, 60);
        assert_eq!(h, vec![(0, 9), (30, 39), (50, 60)]);
        assert_eq!(holes_of_union(&[(0, u64::MAX)], &[], 0, u64::MAX), vec![]);
    }
}
