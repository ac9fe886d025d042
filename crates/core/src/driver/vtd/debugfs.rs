//! The VT-d driver's per-device debugfs file (`drivers/iommu/intel/debugfs.c`):
//! `iommu/intel/<dev_name>/domain_translation_struct`, the page table the device's RID_PASID
//! entry points at, one line per leaf with the entries on its path — what the kernel's VFIO
//! selftests read to check that a mapping got the IOPTE size it should.
//!
//! Format (`domain_translation_struct_show`, `pgtable_walk_level`, `dump_page_info`), in
//! scalable mode: nothing when the entry is not present or points at no table the driver
//! maps (blocking, identity); else a line `Device SSSS:BB:DD.F with pasid P @0xROOT`, a
//! column header, and per leaf `0x<IOVA PFN, 13 digits> |` with the PML5E, PML4E and PDPE,
//! then the PDE if there is one and the PTE if there is one (the entries below a large page
//! are absent), each `0x%016llx` after a tab. A nested domain's entry points at its nest
//! parent's second-stage table (SSPTPTR), which is what is shown.

use super::VtdDev;
use crate::iommu::{DebugfsFile, NO_PASID, PhysDevice};
use std::fmt::Write;
use uiommu_pt::PATH_LEN;

/// VT-d pages are 4 KiB (`VTD_PAGE_SHIFT`).
const VTD_PAGE_SHIFT: u32 = 12;

/// The driver's debugfs files for `dev` named `name`.
pub(crate) fn files(dev: &PhysDevice, name: &str) -> Vec<DebugfsFile> {
    let Some(vdev) = dev.state::<VtdDev>() else {
        return Vec::new();
    };
    vec![DebugfsFile {
        path: format!("iommu/intel/{name}/domain_translation_struct"),
        contents: translation_struct(vdev, name, NO_PASID),
    }]
}

/// `domain_translation_struct_show` of the entry of `pasid` (`NO_PASID`: RID_PASID, shown as
/// PASID 0).
fn translation_struct(vdev: &VtdDev, name: &str, pasid: u32) -> String {
    let Some(table) = vdev.table_of(pasid) else {
        return String::new();
    };
    let shown_pasid = if pasid == NO_PASID { 0 } else { pasid };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Device {name} with pasid {shown_pasid:x} @{:#x}",
        table.table.root()
    );
    let _ = writeln!(
        out,
        "{:<17}\t{:<18}\t{:<18}\t{:<18}\t{:<18}\tPTE",
        "IOVA_PFN", "PML5E", "PML4E", "PDPE", "PDE"
    );
    // A table that cannot be read shows what was walked before (the kernel reads memory it
    // owns and cannot fail).
    let _ = table
        .table
        .for_each_leaf(&mut |iova, path| leaf_line(&mut out, iova, path));
    out
}

/// `dump_page_info`: the kernel numbers levels from 1 (the 4 KiB level), the walk from 0.
fn leaf_line(out: &mut String, iova: u64, path: &[u64; PATH_LEN]) {
    let level = |kernel_level: usize| path[kernel_level - 1];
    let _ = write!(
        out,
        "0x{:013x} |\t0x{:016x}\t0x{:016x}\t0x{:016x}",
        iova >> VTD_PAGE_SHIFT,
        level(5),
        level(4),
        level(3)
    );
    if level(2) != 0 {
        let _ = write!(out, "\t0x{:016x}", level(2));
        if level(1) != 0 {
            let _ = write!(out, "\t0x{:016x}", level(1));
        }
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_page_line_stops_at_its_level() {
        let mut path = [0u64; PATH_LEN];
        path[3] = 0x1003;
        path[2] = 0x2083;
        let mut out = String::new();
        leaf_line(&mut out, 0x4000_0000, &path);
        assert_eq!(
            out,
            "0x0000000040000 |\t0x0000000000000000\t0x0000000000001003\t0x0000000000002083\n"
        );
        path[1] = 0x3003;
        path[0] = 0x4003;
        out.clear();
        leaf_line(&mut out, 0x1000, &path);
        assert_eq!(
            out,
            "0x0000000000001 |\t0x0000000000000000\t0x0000000000001003\t0x0000000000002083\
             \t0x0000000000003003\t0x0000000000004003\n"
        );
    }
}
