//! `VFIO_DEVICE_RESET` on the function (`drivers/vfio/pci/vfio_pci_core.c`:
//! `vfio_pci_ioctl_reset`, `pci_try_reset_function`).

use super::State;
use super::config::{find_capability, read_word};
use super::irqs::mask_msix_entry;
use uiommu_devices::config::spec::*;
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
    f.reset();
    for (v, masked) in state.irqs.msix_entry_masks().into_iter().enumerate() {
        mask_msix_entry(f, IrqIndex::Msix, v as u32, masked);
    }
    for (at, flags) in caps {
        let _ = f.config_write(at, &flags.to_le_bytes());
    }
    let _ = f.config_write(COMMAND, &cmd.to_le_bytes());
}
