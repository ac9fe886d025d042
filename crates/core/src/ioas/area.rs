//! Areas: IOVA ranges backed by a slice of a pages object (`io_pagetable.h`: `iopt_area`,
//! `iopt_area_contig_init`/`iopt_area_contig_next`).

use super::pages::{PAGE_SIZE, Pages};
use crate::iommu::Prot;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One mapping: `iova..=last` shows the bytes of `pages` from `start_byte` on.
pub(crate) struct Area {
    pub(crate) iova: u64,
    pub(crate) last: u64,
    pub(crate) pages: Arc<Pages>,
    /// Byte offset in `pages` of the byte at `iova` (`iopt_area_start_byte(area, iova)`).
    pub(crate) start_byte: u64,
    pub(crate) prot: Prot,
    /// Set while an unmap waits for accesses to let go (`prevent_access`): no new access pins.
    pub(crate) prevent_access: bool,
    /// Access pins inside this area (`num_accesses`).
    pub(crate) num_accesses: u32,
    /// Pins of internal accesses, which make unmap fail with `EBUSY` (`num_locks`).
    pub(crate) num_locks: u32,
    /// Its dma-buf was revoked: no domain maps it, none will.
    pub(crate) revoked: bool,
}

impl Area {
    pub(crate) fn len(&self) -> u64 {
        self.last - self.iova + 1
    }

    /// Offset of the first byte in its page (`page_offset`).
    pub(crate) fn page_offset(&self) -> u64 {
        self.start_byte % PAGE_SIZE
    }

    /// Byte offset in the pages object of `iova`, which must be inside the area.
    pub(crate) fn byte_of(&self, iova: u64) -> u64 {
        iova - self.iova + self.start_byte
    }

    /// Page index of `iova` (`iopt_area_iova_to_index`).
    pub(crate) fn index_of(&self, iova: u64) -> u64 {
        self.byte_of(iova) / PAGE_SIZE
    }

    pub(crate) fn first_index(&self) -> u64 {
        self.index_of(self.iova)
    }

    pub(crate) fn last_index(&self) -> u64 {
        self.index_of(self.last)
    }

    /// Public view.
    pub(crate) fn info(&self) -> AreaInfo {
        AreaInfo {
            iova: self.iova,
            length: self.len(),
            prot: self.prot,
            // Reported as the address a domain maps; a file that no longer resolves shows 0.
            addr: self
                .pages
                .host_addr(self.start_byte, self.len())
                .unwrap_or(0),
        }
    }
}

/// What [`super::IoPagetable::areas`] reports for one mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AreaInfo {
    /// First IOVA.
    pub iova: u64,
    /// Bytes.
    pub length: u64,
    /// Host address of the first byte: the output address domains map.
    pub addr: u64,
    /// Protection the area was mapped with.
    pub prot: Prot,
}

/// The disjoint areas of one IOAS, by first IOVA.
#[derive(Default)]
pub(crate) struct Areas {
    map: BTreeMap<u64, Area>,
}

/// One step of a contiguous walk: the area (by its first IOVA) and the sub-range of it covered.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ContigStep {
    pub(crate) area: u64,
    pub(crate) cur: u64,
    pub(crate) last: u64,
}

impl Areas {
    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub(crate) fn get(&self, iova: u64) -> Option<&Area> {
        self.map.get(&iova)
    }

    pub(crate) fn get_mut(&mut self, iova: u64) -> Option<&mut Area> {
        self.map.get_mut(&iova)
    }

    pub(crate) fn insert(&mut self, area: Area) {
        self.map.insert(area.iova, area);
    }

    pub(crate) fn remove(&mut self, iova: u64) -> Option<Area> {
        self.map.remove(&iova)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Area> {
        self.map.values()
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Area> {
        self.map.values_mut()
    }

    /// The lowest area intersecting `start..=last` (`iopt_area_iter_first`).
    pub(crate) fn first_in(&self, start: u64, last: u64) -> Option<&Area> {
        if let Some((_, a)) = self.map.range(..=start).next_back() {
            if a.last >= start {
                return Some(a);
            }
        }
        self.map.range(start..=last).next().map(|(_, a)| a)
    }

    /// Areas intersecting `start..=last`, ascending.
    pub(crate) fn within(&self, start: u64, last: u64) -> impl Iterator<Item = &Area> {
        let head = match self.map.range(..start).next_back() {
            Some((_, a)) if a.last >= start => Some(a),
            _ => None,
        };
        head.into_iter()
            .chain(self.map.range(start..=last).map(|(_, a)| a))
    }

    /// Walks areas that cover `iova..=last` without a gap (`iopt_for_each_contig_area`).
    /// Returns the steps and whether they reach `last` (`iopt_area_contig_done`).
    pub(crate) fn contig(&self, iova: u64, last: u64) -> (Vec<ContigStep>, bool) {
        let mut walk = self.contig_walk(iova, last);
        let steps = walk.by_ref().map(|(_, s)| s).collect();
        (steps, walk.done())
    }

    /// [`Self::contig`] as it goes, each step with its area: nothing is collected, so a walk
    /// on a hot path allocates nothing.
    pub(crate) fn contig_walk(&self, iova: u64, last: u64) -> ContigWalk<'_> {
        ContigWalk {
            areas: self,
            next: self.first_in(iova, iova),
            cur: iova,
            last,
            done: false,
        }
    }
}

/// The walk of [`Areas::contig_walk`].
pub(crate) struct ContigWalk<'a> {
    areas: &'a Areas,
    next: Option<&'a Area>,
    cur: u64,
    last: u64,
    done: bool,
}

impl ContigWalk<'_> {
    /// Whether the steps reached `last` (`iopt_area_contig_done`); meaningful once the walk
    /// has ended.
    pub(crate) fn done(&self) -> bool {
        self.done
    }
}

impl<'a> Iterator for ContigWalk<'a> {
    type Item = (&'a Area, ContigStep);

    fn next(&mut self) -> Option<Self::Item> {
        let a = self.next.take()?;
        let step = ContigStep {
            area: a.iova,
            cur: self.cur,
            last: a.last.min(self.last),
        };
        if a.last >= self.last {
            self.done = true;
        } else {
            self.cur = a.last + 1;
            self.next = self.areas.map.get(&self.cur);
        }
        Some((a, step))
    }
}
