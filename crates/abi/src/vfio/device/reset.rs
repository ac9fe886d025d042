//! `VFIO_DEVICE_RESET` on the function (`drivers/vfio/pci/vfio_pci_core.c`:
//! `vfio_pci_ioctl_reset`, `pci_try_reset_function`).

use super::State;
use super::config::{find_capability, read_word};
use super::irqs::mask_msix_entry;
use uiommu_devices::config::spec::*;
use uiommu_devices::config::sriov::{
    EXTENDED_START, SRIOV_BAR, SRIOV_CTRL, SRIOV_NUM_VF, SRIOV_SYS_PGSIZE,
};
use uiommu_devices::{IrqIndex, PciFunction};

/// `VFIO_DEVICE_RESET`'s `pci_try_reset_function`: the function's state the host programmed
/// is saved, the function reset, and the state restored (`pci_dev_save_and_disable`,
/// `pci_dev_restore`): MSI's and MSI-X's control words, the MSI-X entries' masks, then
/// Command.
pub(super) fn reset(state: &State, f: &mut dyn PciFunction) {
    let cmd = read_word(f, COMMAND);
    let caps: Vec<(u16, u16)> = [(CAP_ID_MSI, MSI_FLAGS), (CAP_ID_MSIX, MSIX_FLAGS)]
        .into_iter()
        .filter_map(|(id, reg)| find_capability(f, id).map(|at| (at + reg, read_word(f, at + reg))))
        .collect();
    reset_keeping_iov(f);
    for (v, masked) in state.irqs.msix_entry_masks().into_iter().enumerate() {
        mask_msix_entry(f, IrqIndex::Msix, v as u32, masked);
    }
    for (at, flags) in caps {
        let _ = f.config_write(at, &flags.to_le_bytes());
    }
    let _ = f.config_write(COMMAND, &cmd.to_le_bytes());
}

/// The function reset, its SR-IOV capability's state saved before and restored after, as
/// `pci_restore_state` does with `pci_restore_iov_state` (`sriov_restore_state`: NumVFs,
/// System Page Size, the VF BARs, then SR-IOV Control): the VFs the PF enabled stay
/// enabled.
pub(super) fn reset_keeping_iov(f: &mut dyn PciFunction) {
    let saved: Vec<(u16, [u8; 4])> = if f.description().sriov().is_some() {
        let at = EXTENDED_START;
        let regs = [SRIOV_NUM_VF, SRIOV_SYS_PGSIZE]
            .into_iter()
            .chain((0..6).map(|i| SRIOV_BAR + 4 * i))
            .chain([SRIOV_CTRL]);
        regs.map(|r| {
            let mut v = [0u8; 4];
            let _ = f.config_read(at + r, &mut v);
            (at + r, v)
        })
        .collect()
    } else {
        Vec::new()
    };
    f.reset();
    for (at, v) in saved {
        // NumVFs and Control are words; the others dwords.
        let len = if at == EXTENDED_START + SRIOV_NUM_VF || at == EXTENDED_START + SRIOV_CTRL {
            2
        } else {
            4
        };
        let _ = f.config_write(at, &v[..len]);
    }
}
