//! [`Gather`]: what an update leaves for the IOTLB to forget.
//!
//! Map (when a large page replaces an empty table), unmap and dirty clearing
//! record the IOVA range whose cached translations are stale and the tables
//! they unlinked. Unlinked tables are not freed: a walker (or a cached walk)
//! may still be looking at them. The caller invalidates the IOTLB for
//! [`Gather::range`] and only then hands the gather to
//! [`PageTable::release`](crate::PageTable::release).

/// Pending invalidation: a stale IOVA range and unlinked tables.
#[derive(Debug, Default)]
pub struct Gather {
    start: u64,
    last: u64,
    any: bool,
    freed: Vec<u64>,
    leaf_levels: u8,
    table_levels: u8,
}

impl Gather {
    /// An empty gather.
    pub fn new() -> Self {
        Self::default()
    }

    /// Widens the stale range to include `iova..iova+len`.
    pub fn add_range(&mut self, iova: u64, len: u64) {
        if len == 0 {
            return;
        }
        let last = iova.saturating_add(len - 1);
        if self.any {
            self.start = self.start.min(iova);
            self.last = self.last.max(last);
        } else {
            (self.start, self.last, self.any) = (iova, last, true);
        }
    }

    pub(crate) fn add_table(&mut self, pa: u64, level: u32) {
        self.freed.push(pa);
        self.table_levels |= 1 << level.min(7);
    }

    pub(crate) fn add_leaf(&mut self, level: u32) {
        self.leaf_levels |= 1 << level.min(7);
    }

    /// First and last IOVA to invalidate, if anything changed.
    pub fn range(&self) -> Option<(u64, u64)> {
        self.any.then_some((self.start, self.last))
    }

    /// Physical addresses of unlinked tables awaiting release.
    pub fn freed_tables(&self) -> &[u64] {
        &self.freed
    }

    /// Bitmap of levels whose leaves were removed (for level-hinted invalidation).
    pub fn leaf_levels(&self) -> u8 {
        self.leaf_levels
    }

    /// Bitmap of levels whose table pointers were removed (walk caches to flush).
    pub fn table_levels(&self) -> u8 {
        self.table_levels
    }

    /// Whether there is nothing to invalidate or release.
    pub fn is_empty(&self) -> bool {
        !self.any && self.freed.is_empty()
    }

    pub(crate) fn take_freed(&mut self) -> Vec<u64> {
        self.any = false;
        self.leaf_levels = 0;
        self.table_levels = 0;
        std::mem::take(&mut self.freed)
    }
}
