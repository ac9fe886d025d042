//! MSI and MSI-X vectors as vfio-pci programs them on the function
//! (`drivers/vfio/pci/vfio_pci_intrs.c`: `vfio_msi_enable`, `vfio_msi_disable`,
//! `vfio_msi_set_vector_signal`), the host's writes that the user's virtual view of the
//! capabilities never shows.

use super::IrqState;
use crate::Caller;
use crate::vfio::device::config::{find_capability, read_word};
use std::sync::Arc;
use uiommu_devices::config::spec::*;
use uiommu_devices::{IrqIndex, PciFunction};
use uiommu_uapi::errno::Result;

/// `vfio_msi_set_vector_signal`: the vector's eventfd goes (its MSI-X entry masked, as
/// `free_irq` leaves it), then, for `fd >= 0`, the new one (`EBADF`, `EINVAL`) with the
/// entry unmasked (`request_irq`).
pub(super) fn set_vector(
    irqs: &mut IrqState,
    f: &mut dyn PciFunction,
    caller: &Caller<'_>,
    index: IrqIndex,
    vector: u32,
    fd: i32,
) -> Result<()> {
    let v = vector as usize;
    if irqs.vectors.get(v).is_some_and(Option::is_some) {
        f.interrupts().set_trigger(index, vector, None);
        irqs.vectors[v] = None;
        mask_msix_entry(f, index, vector, true);
    }
    if fd < 0 {
        return Ok(());
    }
    let trigger = caller.fds.eventfd(fd)?;
    f.interrupts()
        .set_trigger(index, vector, Some(Arc::clone(&trigger)));
    if let Some(slot) = irqs.vectors.get_mut(v) {
        *slot = Some(trigger);
    }
    mask_msix_entry(f, index, vector, false);
    Ok(())
}

/// `vfio_msi_enable` with `nvec` vectors: the function's MSI gets Enable and a Multiple
/// Message Enable of `ceil(log2(nvec))`; MSI-X gets Enable with every entry masked.
pub(super) fn msi_enable(irqs: &mut IrqState, f: &mut dyn PciFunction, index: IrqIndex, nvec: u32) {
    let count = f.interrupts().count(index) as usize;
    irqs.vectors = vec![None; count];
    irqs.mode = Some(index);
    if index == IrqIndex::Msi {
        let Some(at) = find_capability(f, CAP_ID_MSI) else {
            return;
        };
        let mme = nvec.max(1).next_power_of_two().trailing_zeros() as u16;
        let flags = read_word(f, at + MSI_FLAGS) & !MSI_FLAGS_QSIZE;
        let flags = flags | MSI_FLAGS_ENABLE | (mme << MSI_FLAGS_QSIZE_SHIFT);
        let _ = f.config_write(at + MSI_FLAGS, &flags.to_le_bytes());
    } else {
        for v in 0..count as u32 {
            mask_msix_entry(f, index, v, true);
        }
        let Some(at) = find_capability(f, CAP_ID_MSIX) else {
            return;
        };
        let flags = (read_word(f, at + MSIX_FLAGS) | MSIX_FLAGS_ENABLE) & !MSIX_FLAGS_MASKALL;
        let _ = f.config_write(at + MSIX_FLAGS, &flags.to_le_bytes());
    }
}

/// `vfio_msi_disable`: every vector's eventfd goes, then the function's MSI or MSI-X Enable
/// clears (`pci_free_irq_vectors`); no mode is left.
pub(super) fn msi_disable(irqs: &mut IrqState, f: &mut dyn PciFunction, index: IrqIndex) {
    for v in 0..irqs.vectors.len() {
        f.interrupts().set_trigger(index, v as u32, None);
        if irqs.vectors[v].take().is_some() {
            mask_msix_entry(f, index, v as u32, true);
        }
    }
    irqs.mode = None;
    let (id, reg, enable) = match index {
        IrqIndex::Msi => (CAP_ID_MSI, MSI_FLAGS, MSI_FLAGS_ENABLE),
        _ => (CAP_ID_MSIX, MSIX_FLAGS, MSIX_FLAGS_ENABLE),
    };
    if let Some(at) = find_capability(f, id) {
        let flags = read_word(f, at + reg) & !enable;
        let _ = f.config_write(at + reg, &flags.to_le_bytes());
    }
}

/// Sets or clears the Mask bit of MSI-X entry `vector` as the host does, with Memory Space
/// enabled for the write (`vfio_pci_memory_lock_and_enable`).
pub(in crate::vfio::device) fn mask_msix_entry(
    f: &mut dyn PciFunction,
    index: IrqIndex,
    vector: u32,
    masked: bool,
) {
    let Some(decl) = f.description().msix().filter(|_| index == IrqIndex::Msix) else {
        return;
    };
    let at = u64::from(decl.table_offset) + u64::from(vector) * MSIX_ENTRY_SIZE + 12;
    let ctrl = if masked { MSIX_ENTRY_CTRL_MASKBIT } else { 0 };
    let cmd = read_word(f, COMMAND);
    let _ = f.config_write(COMMAND, &(cmd | COMMAND_MEMORY).to_le_bytes());
    let _ = f.bar_write(decl.table_bar, at, &ctrl.to_le_bytes());
    let _ = f.config_write(COMMAND, &cmd.to_le_bytes());
}
