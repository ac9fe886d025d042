//! A read-only walk of every leaf with the entries on its path, as a page-table dump shows
//! the table (the VT-d debugfs `domain_translation_struct`, `pgtable_walk_level`).

use crate::PtError;
use crate::format::{Entry, Format};
use crate::memory::TableMemory;
use crate::table::PageTable;

/// The most levels any format has, plus one: [`PageTable::for_each_leaf`]'s path length.
pub const PATH_LEN: usize = 7;

impl<F: Format, M: TableMemory> PageTable<F, M> {
    /// Calls `f(iova, path)` for each present leaf in IOVA order, where `path[level]` is the
    /// raw entry met at `level` (0: the smallest page's level) and the levels the walk did not
    /// reach (below the leaf, above the root) are 0. A leaf of a contiguous run is reported
    /// once per entry, as the hardware holds it. Nothing is modified; `EFAULT` if a table
    /// cannot be read.
    pub fn for_each_leaf(&self, f: &mut dyn FnMut(u64, &[u64; PATH_LEN])) -> Result<(), PtError> {
        let mut path = [0u64; PATH_LEN];
        self.leaves_below(self.top_level, self.root, 0, &mut path, f)
    }

    fn leaves_below(
        &self,
        level: u32,
        table_pa: u64,
        base: u64,
        path: &mut [u64; PATH_LEN],
        f: &mut dyn FnMut(u64, &[u64; PATH_LEN]),
    ) -> Result<(), PtError> {
        let table = self.resolve(table_pa)?;
        let item = 1u64 << F::item_lg2(level);
        for idx in 0..1usize << F::ITEMS_LG2 {
            let va = base + idx as u64 * item;
            if va > self.va_last {
                break;
            }
            let e = self.mem.load(table, idx)?;
            path[level as usize] = e;
            match self.fmt.decode(level, e) {
                Entry::Empty => {}
                Entry::Leaf { .. } => f(self.va_start + va, path),
                Entry::Table(pa) if level > 0 => self.leaves_below(level - 1, pa, va, path, f)?,
                Entry::Table(_) => {}
            }
            path[level as usize] = 0;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::{Config, Gather, PageTable, Prot, X86_64};

    fn table() -> PageTable<X86_64> {
        PageTable::new(X86_64, Config::levels(4)).unwrap()
    }

    #[test]
    fn each_leaf_with_its_path_in_iova_order() {
        let t = table();
        let mut g = Gather::new();
        let rw = Prot::READ | Prot::WRITE;
        t.map(0x4000_0000, 0x8000_0000, 1 << 30, rw, &mut g)
            .unwrap();
        t.map(0x20_0000, 0x60_0000, 2 << 20, rw, &mut g).unwrap();
        t.map(0x1000, 0x9000, 0x2000, rw, &mut g).unwrap();
        let mut seen = Vec::new();
        t.for_each_leaf(&mut |iova, path| {
            let leaf = (0..4).find(|&l| path[l] != 0).unwrap();
            assert!(path[leaf..4].iter().all(|&e| e != 0), "{path:x?}");
            assert!(path[4..].iter().all(|&e| e == 0));
            seen.push((iova, leaf, t.iova_to_phys(iova).unwrap()));
        })
        .unwrap();
        assert_eq!(
            seen,
            [
                (0x1000, 0, 0x9000),
                (0x2000, 0, 0xa000),
                (0x20_0000, 1, 0x60_0000),
                (0x4000_0000, 2, 0x8000_0000),
            ]
        );
    }

    #[test]
    fn an_empty_table_has_no_leaf() {
        let mut n = 0;
        table().for_each_leaf(&mut |_, _| n += 1).unwrap();
        assert_eq!(n, 0);
    }
}
