//! An ioctl table indexed by command number, as `iommufd_fops_ioctl` indexes
//! `iommufd_ioctl_ops[]` (`drivers/iommu/iommufd/main.c`): the row at `_IOC_NR(cmd) - base`
//! answers `cmd` only if its full ioctl number is `cmd`. A hole, or the right number with
//! another type, direction or size encoded, has no row.

use uiommu_uapi::ioctl::ioc_nr;

/// The rows of one device node's commands, `N` numbers from `base`.
#[derive(Debug)]
pub(crate) struct CmdTable<R: 'static, const N: usize> {
    base: u8,
    rows: [Option<(u32, R)>; N],
}

impl<R: Copy, const N: usize> CmdTable<R, N> {
    /// The table of `rows`, each with its full ioctl number. Every number must fall in
    /// `base..base + N` and appear once (checked at compile time for a `const` table).
    pub(crate) const fn new(base: u8, rows: &[(u32, R)]) -> Self {
        let mut table = CmdTable {
            base,
            rows: [None; N],
        };
        let mut i = 0;
        while i < rows.len() {
            let nr = ioc_nr(rows[i].0);
            assert!(
                nr >= base && ((nr - base) as usize) < N,
                "number outside the table"
            );
            let slot = (nr - base) as usize;
            assert!(table.rows[slot].is_none(), "two commands with one number");
            table.rows[slot] = Some(rows[i]);
            i += 1;
        }
        table
    }

    /// Whether `_IOC_NR(cmd)` falls in the table's range, whatever the rest of `cmd` says.
    pub(crate) fn covers(&self, cmd: u32) -> bool {
        self.slot(cmd).is_some()
    }

    /// The row of `cmd`: `None` for a number outside the range, a hole, or another encoding.
    pub(crate) fn get(&self, cmd: u32) -> Option<&R> {
        match self.rows[self.slot(cmd)?] {
            Some((row_cmd, ref row)) if row_cmd == cmd => Some(row),
            _ => None,
        }
    }

    /// Every row with its full ioctl number, by number.
    pub(crate) fn rows(&self) -> impl Iterator<Item = (u32, &R)> {
        self.rows.iter().flatten().map(|(cmd, row)| (*cmd, row))
    }

    fn slot(&self, cmd: u32) -> Option<usize> {
        let slot = usize::from(ioc_nr(cmd).checked_sub(self.base)?);
        (slot < N).then_some(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uiommu_uapi::ioctl::{io, ioc};

    const T: CmdTable<char, 4> = CmdTable::new(10, &[(io(b'x', 10), 'a'), (io(b'x', 12), 'c')]);

    #[test]
    fn rows_are_found_by_number_then_compared_whole() {
        assert_eq!(T.get(io(b'x', 10)), Some(&'a'));
        assert_eq!(T.get(io(b'x', 12)), Some(&'c'));
        // A hole, another type, another direction and size, outside the range.
        for cmd in [
            io(b'x', 11),
            io(b'y', 10),
            ioc(1, b'x', 10, 8),
            io(b'x', 14),
        ] {
            assert_eq!(T.get(cmd), None);
        }
        assert!(T.covers(io(b'y', 11)) && T.covers(io(b'x', 13)));
        assert!(!T.covers(io(b'x', 9)) && !T.covers(io(b'x', 14)));
        assert_eq!(
            T.rows().collect::<Vec<_>>(),
            [(io(b'x', 10), &'a'), (io(b'x', 12), &'c')]
        );
    }
}
