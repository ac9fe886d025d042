//! Which buffer each mapped IOVA range points at, so that an IOAS (or VFIO container) keeps a
//! [`MappedBuffer`] alive exactly as long as some range maps it.
//!
//! The kernel never maps a range twice (`EEXIST`), so the spans never overlap. Unmapping cuts
//! spans at the edges of the unmapped range and keeps the rest; the buffer goes when its last
//! span does. Ranges mapped from memory the client does not own (`IOMMU_IOAS_MAP_FILE`, the
//! unsafe raw map) are not recorded: nothing here needs to live for them.

use std::collections::BTreeMap;

use crate::buffer::MappedBuffer;

/// One mapped range `start..=last` and the buffer behind it.
#[derive(Debug, Clone)]
struct Span {
    last: u64,
    buf: MappedBuffer,
}

/// The spans of one address space, by first IOVA.
#[derive(Debug, Default)]
pub(crate) struct Spans {
    by_start: BTreeMap<u64, Span>,
}

/// A span cut out of an address space, for copying into another.
#[derive(Debug, Clone)]
pub(crate) struct Cut {
    /// Offset of the span from the start of the range it was cut from.
    offset: u64,
    /// Length minus one.
    len_m1: u64,
    buf: MappedBuffer,
}

/// The inclusive last IOVA of `start + length`, or `None` for an empty or wrapping range.
pub(crate) fn last_of(start: u64, length: u64) -> Option<u64> {
    length.checked_sub(1).and_then(|l| start.checked_add(l))
}

impl Spans {
    /// Records that `start..start + length` maps `buf`.
    pub(crate) fn insert(&mut self, start: u64, length: u64, buf: &MappedBuffer) {
        if let Some(last) = last_of(start, length) {
            // A stale span left by a racing unmap can only be where the kernel just mapped
            // something new; it is gone from the kernel, so it goes here too.
            self.remove(start, last);
            self.by_start.insert(
                start,
                Span {
                    last,
                    buf: buf.clone(),
                },
            );
        }
    }

    /// Forgets everything mapped in `start..=last`, cutting spans that stick out of it.
    pub(crate) fn remove(&mut self, start: u64, last: u64) {
        let hit: Vec<u64> = self.overlapping(start, last).map(|(&s, _)| s).collect();
        for s in hit {
            let Some(span) = self.by_start.remove(&s) else {
                continue;
            };
            if s < start {
                self.by_start.insert(
                    s,
                    Span {
                        last: start - 1,
                        buf: span.buf.clone(),
                    },
                );
            }
            if span.last > last {
                self.by_start.insert(last + 1, span);
            }
        }
    }

    /// Whether no range is recorded.
    pub(crate) fn is_empty(&self) -> bool {
        self.by_start.is_empty()
    }

    /// Forgets everything.
    pub(crate) fn clear(&mut self) {
        self.by_start.clear();
    }

    /// The spans in `start..=last`, clipped to it, with offsets from `start`.
    pub(crate) fn cut(&self, start: u64, last: u64) -> Vec<Cut> {
        self.overlapping(start, last)
            .map(|(&s, span)| {
                let from = s.max(start);
                let to = span.last.min(last);
                Cut {
                    offset: from - start,
                    len_m1: to - from,
                    buf: span.buf.clone(),
                }
            })
            .collect()
    }

    /// Records `cuts` (from [`Spans::cut`]) at `start`.
    pub(crate) fn paste(&mut self, start: u64, cuts: Vec<Cut>) {
        for c in cuts {
            if let Some(s) = start.checked_add(c.offset) {
                self.insert(s, c.len_m1.saturating_add(1), &c.buf);
            }
        }
    }

    /// How many spans there are.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.by_start.len()
    }

    fn overlapping(&self, start: u64, last: u64) -> impl Iterator<Item = (&u64, &Span)> {
        // The span starting at or before `start` may reach into the range; every other
        // overlapping span starts inside it.
        let before = self
            .by_start
            .range(..start)
            .next_back()
            .filter(|(_, sp)| sp.last >= start);
        before.into_iter().chain(self.by_start.range(start..=last))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmap_cuts_and_releases() {
        let a = MappedBuffer::new(4 * 4096).unwrap();
        let b = MappedBuffer::new(4096).unwrap();
        let mut s = Spans::default();
        s.insert(0x10000, 0x4000, &a);
        s.insert(0x20000, 0x1000, &b);
        assert_eq!(a.holders(), 2);
        // A cut in the middle leaves two pieces of `a`.
        s.remove(0x11000, 0x11fff);
        assert_eq!((s.len(), a.holders()), (3, 3));
        s.remove(0x10000, 0x10fff);
        s.remove(0x12000, 0x13fff);
        assert_eq!((s.len(), a.holders()), (1, 1));
        s.remove(0, u64::MAX);
        assert_eq!((s.len(), b.holders()), (0, 1));
    }

    #[test]
    fn copy_shares_only_the_copied_range() {
        let a = MappedBuffer::new(4096).unwrap();
        let b = MappedBuffer::new(4096).unwrap();
        let mut src = Spans::default();
        src.insert(0x1000, 0x1000, &a);
        src.insert(0x3000, 0x1000, &b);
        let mut dst = Spans::default();
        dst.paste(0x9000, src.cut(0x1000, 0x1fff));
        assert_eq!((a.holders(), b.holders()), (3, 2));
        src.clear();
        assert_eq!((a.holders(), b.holders()), (2, 1));
        dst.remove(0x9000, 0x9fff);
        assert_eq!(a.holders(), 1);
    }
}
