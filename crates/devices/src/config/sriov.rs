//! The SR-IOV extended capability of a physical function (PCIe r6.0 §9.3.3), placed first in
//! extended configuration space (§7.6: extended capabilities start at 0x100). Names follow
//! Linux's `include/uapi/linux/pci_regs.h` (`PCI_SRIOV_*`).
//!
//! What software may write: SR-IOV Control's VF Enable, VF MSE and ARI Capable Hierarchy
//! (§9.3.3.3; VF Migration is not supported, so its bits are read-only zeros), NumVFs
//! (§9.3.3.7), System Page Size (§9.3.3.13) and the VF BARs (§9.3.3.14), which declare the
//! PF's own BARs: a VF of the model has the PF's BAR layout.

use super::build::{Builder, bar_registers};
use crate::describe::Description;

/// Where extended capabilities start (§7.6).
pub const EXTENDED_START: u16 = 0x100;
/// SR-IOV's extended capability ID (`PCI_EXT_CAP_ID_SRIOV`).
pub const EXT_CAP_ID_SRIOV: u16 = 0x0010;
/// SR-IOV Capabilities (RO 32; `PCI_SRIOV_CAP`).
pub const SRIOV_CAP: u16 = 0x04;
/// SR-IOV Control (RW 16; `PCI_SRIOV_CTRL`).
pub const SRIOV_CTRL: u16 = 0x08;
/// Control: VF Enable (`PCI_SRIOV_CTRL_VFE`).
pub const SRIOV_CTRL_VFE: u16 = 0x01;
/// Control: VF Memory Space Enable (`PCI_SRIOV_CTRL_MSE`).
pub const SRIOV_CTRL_MSE: u16 = 0x08;
/// Control: ARI Capable Hierarchy (`PCI_SRIOV_CTRL_ARI`).
pub const SRIOV_CTRL_ARI: u16 = 0x10;
/// SR-IOV Status (RW1C 16; `PCI_SRIOV_STATUS`): VF Migration Status only, never set here.
pub const SRIOV_STATUS: u16 = 0x0a;
/// InitialVFs (RO 16; `PCI_SRIOV_INITIAL_VF`).
pub const SRIOV_INITIAL_VF: u16 = 0x0c;
/// TotalVFs (RO 16; `PCI_SRIOV_TOTAL_VF`).
pub const SRIOV_TOTAL_VF: u16 = 0x0e;
/// NumVFs (RW 16; `PCI_SRIOV_NUM_VF`).
pub const SRIOV_NUM_VF: u16 = 0x10;
/// Function Dependency Link (RO 8; `PCI_SRIOV_FUNC_LINK`).
pub const SRIOV_FUNC_LINK: u16 = 0x12;
/// First VF Offset (RO 16; `PCI_SRIOV_VF_OFFSET`).
pub const SRIOV_VF_OFFSET: u16 = 0x14;
/// VF Stride (RO 16; `PCI_SRIOV_VF_STRIDE`).
pub const SRIOV_VF_STRIDE: u16 = 0x16;
/// VF Device ID (RO 16; `PCI_SRIOV_VF_DID`).
pub const SRIOV_VF_DID: u16 = 0x1a;
/// Supported Page Sizes (RO 32; `PCI_SRIOV_SUP_PGSIZE`).
pub const SRIOV_SUP_PGSIZE: u16 = 0x1c;
/// System Page Size (RW 32; `PCI_SRIOV_SYS_PGSIZE`).
pub const SRIOV_SYS_PGSIZE: u16 = 0x20;
/// VF BAR 0; six consecutive dwords (`PCI_SRIOV_BAR`).
pub const SRIOV_BAR: u16 = 0x24;
/// Size of the capability (`PCI_EXT_CAP_SRIOV_SIZEOF`).
pub const SRIOV_SIZEOF: u16 = 0x40;
/// The page sizes supported: 4 KiB, 8 KiB, 64 KiB, 256 KiB, 1 MiB and 4 MiB (bit n: 4 KiB
/// << n), what SR-IOV devices commonly report and the sizes §9.3.3.12 requires.
pub const SUPPORTED_PAGE_SIZES: u32 = 0x553;

/// The capability `desc` declares, at [`EXTENDED_START`] (with no next capability); its
/// offset, or `None` without one.
///
/// # Panics
/// If the function declaring it is not PCI Express (no extended config space), or declares
/// a TotalVFs of 0: a model's declaration is code, and wrong code.
pub(super) fn extended(b: &mut Builder, desc: &Description) -> Option<u16> {
    let decl = desc.sriov()?;
    assert!(desc.is_express(), "SR-IOV needs PCI Express config space");
    assert!(decl.total_vfs > 0, "TotalVFs 0");
    let at = EXTENDED_START;
    // Header: ID, version 1, next 0 (§7.6.3).
    b.ro(at, 4, u32::from(EXT_CAP_ID_SRIOV) | 1 << 16);
    b.ro(at + SRIOV_CAP, 4, 0);
    let ctrl = SRIOV_CTRL_VFE | SRIOV_CTRL_MSE | SRIOV_CTRL_ARI;
    b.reg(at + SRIOV_CTRL, 2, 0, ctrl.into(), 0);
    b.ro(at + SRIOV_STATUS, 2, 0);
    b.ro(at + SRIOV_INITIAL_VF, 2, decl.total_vfs.into());
    b.ro(at + SRIOV_TOTAL_VF, 2, decl.total_vfs.into());
    b.reg(at + SRIOV_NUM_VF, 2, 0, 0xffff, 0);
    b.ro(at + SRIOV_FUNC_LINK, 1, 0);
    b.ro(at + SRIOV_VF_OFFSET, 2, decl.first_vf_offset.into());
    b.ro(at + SRIOV_VF_STRIDE, 2, decl.vf_stride.into());
    b.ro(at + SRIOV_VF_DID, 2, decl.vf_device_id.into());
    b.ro(at + SRIOV_SUP_PGSIZE, 4, SUPPORTED_PAGE_SIZES);
    // One bit set at most in practice; the register is RW over the supported sizes (4 KiB
    // at power-on, §9.3.3.13).
    b.reg(at + SRIOV_SYS_PGSIZE, 4, 1, SUPPORTED_PAGE_SIZES, 0);
    bar_registers(b, at + SRIOV_BAR, &desc.bars);
    Some(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::build::build;
    use crate::describe::{Capability, SriovDecl};

    fn pf() -> Description {
        let mut d = crate::ioat::description();
        d.capabilities.push(Capability::Sriov(SriovDecl {
            total_vfs: 3,
            first_vf_offset: 1,
            vf_stride: 1,
            vf_device_id: 0x2021,
        }));
        d
    }

    fn word(cfg: &mut crate::config::ConfigSpace, at: u16) -> u16 {
        cfg.word(at)
    }

    #[test]
    fn the_capability_reads_as_declared_with_its_writable_registers() {
        let (mut cfg, layout) = build(&pf());
        let at = layout.sriov.expect("placed");
        assert_eq!(at, EXTENDED_START);
        assert_eq!(word(&mut cfg, at), EXT_CAP_ID_SRIOV);
        assert_eq!(word(&mut cfg, at + SRIOV_TOTAL_VF), 3);
        assert_eq!(word(&mut cfg, at + SRIOV_INITIAL_VF), 3);
        assert_eq!(word(&mut cfg, at + SRIOV_VF_OFFSET), 1);
        assert_eq!(word(&mut cfg, at + SRIOV_VF_DID), 0x2021);
        cfg.write(at + SRIOV_NUM_VF, &2u16.to_le_bytes()).unwrap();
        assert_eq!(word(&mut cfg, at + SRIOV_NUM_VF), 2);
        // VF Migration Enable (bit 1) is not writable; VF Enable and MSE are.
        cfg.write(at + SRIOV_CTRL, &0xffffu16.to_le_bytes())
            .unwrap();
        assert_eq!(word(&mut cfg, at + SRIOV_CTRL), 0x19);
        // VF BAR 0 sizes as the PF's BAR 0 (64-bit memory).
        cfg.write(at + SRIOV_BAR, &[0xff; 4]).unwrap();
        let mut bar = [0u8; 4];
        cfg.read(at + SRIOV_BAR, &mut bar).unwrap();
        let size = crate::ioat::description().bars[0].unwrap().size as u32;
        assert_eq!(u32::from_le_bytes(bar), !(size - 1) | 0x4);
    }

    #[test]
    fn a_function_without_it_has_none() {
        let (_, layout) = build(&crate::ioat::description());
        assert_eq!(layout.sriov, None);
    }
}
