//! A coverage counter over inclusive `u64` ranges.
//!
//! The IOAS needs three "how many holders cover this point" structures: reserved IOVA ranges
//! (which may overlap one another, as `iopt_reserve_iova` only refuses areas and allowed ranges),
//! the page indices of one pages object that domains and accesses hold pinned (`iopt_pages`'
//! `domains_itree` and `access_itree`), and the per-page pin counts of a whole process (what
//! `IOMMU_TEST_OP_MD_CHECK_REFS` reads). Each is a map of disjoint segments with a non-zero count;
//! a point outside every segment has count 0. Touching segments always have different counts, so
//! the map stays as small as the number of distinct boundaries.

use std::collections::BTreeMap;

/// Disjoint segments `start -> (last, count)`, every count non-zero.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct RangeCount {
    segs: BTreeMap<u64, (u64, u32)>,
    /// Number of points with a non-zero count (saturating: the full `u64` space is one more).
    covered: u64,
}

impl RangeCount {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// The count at `point`.
    pub(crate) fn get(&self, point: u64) -> u32 {
        match self.segs.range(..=point).next_back() {
            Some((_, &(last, count))) if last >= point => count,
            _ => 0,
        }
    }

    /// Points with a non-zero count.
    #[cfg(test)]
    pub(crate) fn covered(&self) -> u64 {
        self.covered
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.segs.is_empty()
    }

    /// Whether any point of `start..=last` has a non-zero count.
    pub(crate) fn intersects(&self, start: u64, last: u64) -> bool {
        match self.segs.range(..=last).next_back() {
            Some((_, &(seg_last, _))) => seg_last >= start,
            None => false,
        }
    }

    /// The maximal sub-ranges of `start..=last` whose count is zero, ascending.
    pub(crate) fn holes(&self, start: u64, last: u64) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut cursor = Some(start);
        for (a, b) in self.overlapping(start, last) {
            let Some(c) = cursor else { break };
            if a > c {
                out.push((c, a - 1));
            }
            cursor = b.checked_add(1);
        }
        if let Some(c) = cursor {
            if c <= last {
                out.push((c, last));
            }
        }
        out
    }

    /// The maximal covered sub-ranges of `start..=last` (counts ignored), ascending.
    pub(crate) fn used(&self, start: u64, last: u64) -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> = Vec::new();
        for (a, b) in self.overlapping(start, last) {
            let (a, b) = (a.max(start), b.min(last));
            match out.last_mut() {
                Some(prev) if prev.1.checked_add(1) == Some(a) => prev.1 = b,
                _ => out.push((a, b)),
            }
        }
        out
    }

    /// Segments intersecting `start..=last`, unclipped, as `(first, last)`.
    fn overlapping(&self, start: u64, last: u64) -> impl Iterator<Item = (u64, u64)> + '_ {
        let first = match self.segs.range(..start).next_back() {
            Some((&a, &(b, _))) if b >= start => Some((a, b)),
            _ => None,
        };
        first
            .into_iter()
            .chain(self.segs.range(start..=last).map(|(&a, &(b, _))| (a, b)))
    }

    /// Adds one holder over `start..=last`; returns the sub-ranges that were at zero.
    pub(crate) fn add(&mut self, start: u64, last: u64) -> Vec<(u64, u64)> {
        let fresh = self.holes(start, last);
        self.split_at(start);
        if let Some(end) = last.checked_add(1) {
            self.split_at(end);
        }
        for (_, (_, count)) in self.segs.range_mut(start..=last) {
            *count = count.saturating_add(1);
        }
        for &(a, b) in &fresh {
            self.segs.insert(a, (b, 1));
            self.covered = self.covered.saturating_add(b - a).saturating_add(1);
        }
        self.merge_at(start);
        if let Some(end) = last.checked_add(1) {
            self.merge_at(end);
        }
        fresh
    }

    /// Removes one holder over `start..=last`; returns the sub-ranges that dropped to zero.
    /// Points already at zero stay there.
    pub(crate) fn remove(&mut self, start: u64, last: u64) -> Vec<(u64, u64)> {
        self.split_at(start);
        if let Some(end) = last.checked_add(1) {
            self.split_at(end);
        }
        let mut gone = Vec::new();
        for (&a, (b, count)) in self.segs.range_mut(start..=last) {
            *count -= 1;
            if *count == 0 {
                gone.push((a, *b));
            }
        }
        let mut merged: Vec<(u64, u64)> = Vec::new();
        for &(a, b) in &gone {
            self.segs.remove(&a);
            self.covered = self.covered.saturating_sub((b - a).saturating_add(1));
            match merged.last_mut() {
                Some(prev) if prev.1.checked_add(1) == Some(a) => prev.1 = b,
                _ => merged.push((a, b)),
            }
        }
        // Segments that met only through a now-removed one need no merge; the outer
        // boundaries and every interior decrement keep touching counts distinct.
        self.merge_at(start);
        if let Some(end) = last.checked_add(1) {
            self.merge_at(end);
        }
        merged
    }

    /// Splits the segment containing `point` so that a segment starts exactly at `point`.
    fn split_at(&mut self, point: u64) {
        if let Some((&a, &(b, count))) = self.segs.range(..point).next_back() {
            if b >= point {
                self.segs.insert(a, (point - 1, count));
                self.segs.insert(point, (b, count));
            }
        }
    }

    /// Merges the segment starting at `point` with the one ending at `point - 1` when equal.
    fn merge_at(&mut self, point: u64) {
        let Some(&(b, count)) = self.segs.get(&point) else {
            return;
        };
        if let Some((&a, &(prev_last, prev_count))) = self.segs.range(..point).next_back() {
            if prev_last.checked_add(1) == Some(point) && prev_count == count {
                self.segs.remove(&point);
                self.segs.insert(a, (b, count));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RangeCount;
    use proptest::prelude::*;

    #[test]
    fn add_remove_and_queries() {
        let mut rc = RangeCount::new();
        assert_eq!(rc.add(10, 19), vec![(10, 19)]);
        assert_eq!(rc.add(15, 24), vec![(20, 24)]);
        assert_eq!(rc.get(9), 0);
        assert_eq!(rc.get(12), 1);
        assert_eq!(rc.get(17), 2);
        assert_eq!(rc.covered(), 15);
        assert_eq!(rc.holes(0, 30), vec![(0, 9), (25, 30)]);
        assert_eq!(rc.used(0, 30), vec![(10, 24)]);
        assert!(rc.intersects(24, 100));
        assert!(!rc.intersects(25, 100));
        assert_eq!(rc.remove(10, 19), vec![(10, 14)]);
        assert_eq!(rc.remove(15, 24), vec![(15, 24)]);
        assert!(rc.is_empty());
        assert_eq!(rc.covered(), 0);
    }

    #[test]
    fn full_space() {
        let mut rc = RangeCount::new();
        assert_eq!(rc.add(0, u64::MAX), vec![(0, u64::MAX)]);
        assert_eq!(rc.get(u64::MAX), 1);
        assert_eq!(rc.holes(0, u64::MAX), vec![]);
        assert_eq!(rc.add(u64::MAX, u64::MAX), vec![]);
        assert_eq!(rc.remove(0, u64::MAX), vec![(0, u64::MAX - 1)]);
        assert_eq!(rc.remove(u64::MAX, u64::MAX), vec![(u64::MAX, u64::MAX)]);
        assert!(rc.is_empty());
    }

    proptest! {
        #[test]
        fn matches_a_point_model(ops in proptest::collection::vec((any::<bool>(), 0u64..64, 0u64..16), 1..60)) {
            let mut rc = RangeCount::new();
            let mut model = [0u32; 80];
            let mut added: Vec<(u64, u64)> = Vec::new();
            for (add, start, len) in ops {
                let last = start + len;
                if add || added.is_empty() {
                    let fresh = rc.add(start, last);
                    let want: Vec<u64> = (start..=last).filter(|&p| model[p as usize] == 0).collect();
                    let got: Vec<u64> = fresh.iter().flat_map(|&(a, b)| a..=b).collect();
                    prop_assert_eq!(got, want);
                    for p in start..=last { model[p as usize] += 1; }
                    added.push((start, last));
                } else {
                    let (s, l) = added.remove((start as usize) % added.len());
                    let gone = rc.remove(s, l);
                    for p in s..=l { model[p as usize] -= 1; }
                    let want: Vec<u64> = (s..=l).filter(|&p| model[p as usize] == 0).collect();
                    let got: Vec<u64> = gone.iter().flat_map(|&(a, b)| a..=b).collect();
                    prop_assert_eq!(got, want);
                }
                for p in 0..80u64 { prop_assert_eq!(rc.get(p), model[p as usize]); }
                prop_assert_eq!(rc.covered(), model.iter().filter(|&&c| c > 0).count() as u64);
                // Touching segments differ: the map is canonical.
                let segs: Vec<_> = rc.segs.iter().map(|(&a, &(b, c))| (a, b, c)).collect();
                for w in segs.windows(2) {
                    prop_assert!(!(w[0].1 + 1 == w[1].0 && w[0].2 == w[1].2));
                }
            }
        }
    }
}
