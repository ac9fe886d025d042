//! Page-size selection: the largest page that alignment, length and the
//! domain's page-size bitmap allow (the kernel's `pt_compute_best_pgsize` and
//! `pt_pgsz_count` rules, so the same leaves result).

/// log2 of the best page size for mapping `va..=last` to `oa`, or `None`.
///
/// The page must be aligned in both IOVA and output address and no larger than
/// the highest power of two not above the length.
#[inline]
pub fn best_pgsize(bitmap: u64, va: u64, last: u64, oa: u64) -> Option<u32> {
    if va > last {
        return None;
    }
    let len = (last - va).wrapping_add(1);
    // A zero length here means the full 2^64 span.
    let len_bit = if len == 0 {
        1 << 63
    } else {
        1 << (63 - len.leading_zeros())
    };
    let best = (va | oa | len_bit).trailing_zeros();
    let allowed = if best < 63 {
        bitmap & ((2u64 << best) - 1)
    } else {
        bitmap
    };
    if allowed == 0 {
        None
    } else {
        Some(63 - allowed.leading_zeros())
    }
}

/// How many pages of `1 << lg2` to map from `va` before a larger page size
/// could take over (or the range ends).
#[inline]
pub fn pgsize_count(bitmap: u64, va: u64, last: u64, oa: u64, lg2: u32) -> u64 {
    let mut len = (last - va).wrapping_add(1);
    let bigger = if lg2 >= 63 {
        0
    } else {
        bitmap & !((2u64 << lg2) - 1)
    };
    if bigger != 0 {
        let next = bigger.trailing_zeros();
        let mask = (1u64 << next) - 1;
        if (va ^ oa) & mask == 0 {
            let to_boundary = (va | mask) - va + 1;
            if len == 0 || to_boundary < len {
                len = to_boundary;
            }
        }
    }
    if len == 0 {
        1u64 << (64 - lg2)
    } else {
        len >> lg2
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    const K4: u64 = 1 << 12;
    const M2: u64 = 1 << 21;
    const G1: u64 = 1 << 30;
    const X86: u64 = K4 | M2 | G1;

    #[test]
    fn picks_largest_aligned() {
        assert_eq!(best_pgsize(X86, 0, G1 - 1, 0), Some(30));
        assert_eq!(best_pgsize(X86, 0, G1 - 1, K4), Some(12));
        assert_eq!(best_pgsize(X86, M2, M2 + 3 * M2 - 1, 5 * M2), Some(21));
        assert_eq!(best_pgsize(X86, 0, 2 * G1 + K4 - 1, 0), Some(30));
        assert_eq!(best_pgsize(X86, 0x800, 0x17ff, 0), None);
        assert_eq!(best_pgsize(X86, 0, u64::MAX, 0), Some(30));
    }

    #[test]
    fn counts_until_larger_size_fits() {
        // 4K pages until the 2M boundary, where 2M pages take over.
        assert_eq!(
            pgsize_count(X86, M2 - 2 * K4, 3 * M2 - 1, M2 - 2 * K4, 12),
            2
        );
        // IOVA and OA disagree mod 2M: 4K pages all the way.
        assert_eq!(pgsize_count(X86, 0, M2 * 2 - 1, K4, 12), 1024);
        assert_eq!(pgsize_count(X86, 0, 3 * M2 - 1, 0, 21), 3);
    }
}
