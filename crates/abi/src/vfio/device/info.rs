//! The information ioctls and reset (`drivers/vfio/pci/vfio_pci_core.c`:
//! `vfio_pci_ioctl_get_info`, `vfio_pci_ioctl_get_region_info`, `vfio_pci_ioctl_get_irq_info`,
//! `vfio_pci_get_irq_count`, `vfio_pci_ioctl_reset`, `vfio_pci_ioctl_get_pci_hot_reset_info`;
//! `drivers/vfio/vfio_main.c`: `vfio_get_region_info`).

use super::region::REGION_SHIFT;
use super::{State, VfioDeviceFile};
use crate::Caller;
use uiommu_devices::describe::BarKind;
use uiommu_devices::{IrqIndex, PciFunction};
use uiommu_uapi::copy::read_vfio;
use uiommu_uapi::errno::Result;
use uiommu_uapi::vfio::*;
use uiommu_uapi::{Errno, offset_of_end};
use zerocopy::IntoBytes;

/// `VFIO_DEVICE_GET_INFO` (`vfio_pci_ioctl_get_info`): `EFAULT` on the first 16 bytes,
/// `EINVAL` below them; PCI, RESET if the function has a reset method (`reset_works`:
/// [`uiommu_devices::Description::reset_method`]), the 9 fixed regions and 5 IRQ indexes. The one capability 7.3 adds for a PCI device,
/// `VFIO_DEVICE_INFO_CAP_PCI_ATOMIC_COMP`, needs AtomicOp completion in Device Capabilities
/// 2, which no function declares, so there is no chain: `cap_offset` and `pad` read 0.
/// `min(argsz, sizeof)` bytes are written back.
pub(super) fn get_info(
    file: &VfioDeviceFile,
    _: &mut State,
    caller: &Caller<'_>,
    arg: u64,
) -> Result<i64> {
    let minsz = offset_of_end!(VfioDeviceInfo, num_irqs);
    let info: VfioDeviceInfo = read_vfio(&caller.mem, arg, minsz, u32::MAX)?;
    let mut flags = VFIO_DEVICE_FLAGS_PCI;
    if reset_works(file) {
        flags |= VFIO_DEVICE_FLAGS_RESET;
    }
    let out = VfioDeviceInfo {
        argsz: info.argsz,
        flags,
        num_regions: VFIO_PCI_NUM_REGIONS,
        num_irqs: VFIO_PCI_NUM_IRQS,
        cap_offset: 0,
        pad: 0,
    };
    let len = (info.argsz as usize).min(size_of::<VfioDeviceInfo>());
    caller.mem.write(arg, &out.as_bytes()[..len])?;
    Ok(0)
}

/// `VFIO_DEVICE_GET_REGION_INFO` (`vfio_get_region_info`, `vfio_pci_ioctl_get_region_info`):
/// `EFAULT` on the 32-byte struct, `EINVAL` for a short `argsz`, `EINVAL` for the VGA region
/// (no function is a VGA device) and any index past it (no device-specific regions).
///
/// - Config: its size (256, or 4096 for PCI Express), READ | WRITE.
/// - BAR: size 0 and no flags if unimplemented (and for the upper half of a 64-bit BAR);
///   else READ | WRITE, and MMAP for a memory BAR (vfio-pci maps a BAR smaller than a page
///   by reserving the rest of its page). The BAR holding the MSI-X table carries
///   `VFIO_REGION_INFO_CAP_MSIX_MAPPABLE` (`msix_mmappable_cap`), so the chain is copied
///   out if `argsz` holds it, else `argsz` is raised to its size and `cap_offset` is 0.
/// - ROM: READ and the ROM BAR's size, or nothing without a ROM.
///
/// The 32 bytes are written back; without a capability `cap_offset` stays as the caller
/// passed it, as the kernel copies it in and out untouched.
pub(super) fn get_region_info(
    file: &VfioDeviceFile,
    _: &mut State,
    caller: &Caller<'_>,
    arg: u64,
) -> Result<i64> {
    let minsz = offset_of_end!(VfioRegionInfo, offset);
    let mut info: VfioRegionInfo = read_vfio(&caller.mem, arg, minsz, u32::MAX)?;
    let f = file.function_mut();
    let desc = f.description();
    let rw = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
    let mut caps = CapChainBuilder::new();
    let (size, flags) = match info.index {
        VFIO_PCI_CONFIG_REGION_INDEX => (config_size(&*f), rw),
        i @ VFIO_PCI_BAR0_REGION_INDEX..=VFIO_PCI_BAR5_REGION_INDEX => {
            match desc.bars[i as usize] {
                None => (0, 0),
                Some(bar) if bar.kind == BarKind::Io => (bar.size, rw),
                Some(bar) => {
                    if desc.msix().is_some_and(|m| u32::from(m.table_bar) == i) {
                        caps.push_raw(VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, 1, &[]);
                    }
                    (bar.size, rw | VFIO_REGION_INFO_FLAG_MMAP)
                }
            }
        }
        VFIO_PCI_ROM_REGION_INDEX => match desc.rom_size {
            Some(size) => (u64::from(size), VFIO_REGION_INFO_FLAG_READ),
            None => (0, 0),
        },
        _ => return Err(Errno::EINVAL),
    };
    drop(f);
    info.offset = u64::from(info.index) << REGION_SHIFT;
    info.size = size;
    info.flags = flags;
    let placement = caps
        .place(info.argsz, size_of::<VfioRegionInfo>())
        .map_err(|_| Errno::EOVERFLOW)?;
    match placement {
        CapPlacement::None => {}
        CapPlacement::TooSmall { argsz } => {
            info.flags |= VFIO_REGION_INFO_FLAG_CAPS;
            info.argsz = argsz;
            info.cap_offset = 0;
        }
        CapPlacement::Fits { cap_offset, bytes } => {
            info.flags |= VFIO_REGION_INFO_FLAG_CAPS;
            caller
                .mem
                .write(arg.wrapping_add(u64::from(cap_offset)), &bytes)?;
            info.cap_offset = cap_offset;
        }
    }
    caller.mem.write(arg, info.as_bytes())?;
    Ok(0)
}

/// Size of config space: 4 KiB for PCI Express, else 256 bytes (`pdev->cfg_size`).
pub(super) fn config_size(f: &dyn PciFunction) -> u64 {
    if f.description().is_express() {
        4096
    } else {
        256
    }
}

/// The IRQ index `index` names, if any.
pub(super) fn irq_index(index: u32) -> Option<IrqIndex> {
    Some(match index {
        VFIO_PCI_INTX_IRQ_INDEX => IrqIndex::Intx,
        VFIO_PCI_MSI_IRQ_INDEX => IrqIndex::Msi,
        VFIO_PCI_MSIX_IRQ_INDEX => IrqIndex::Msix,
        VFIO_PCI_ERR_IRQ_INDEX => IrqIndex::Err,
        VFIO_PCI_REQ_IRQ_INDEX => IrqIndex::Req,
        _ => return None,
    })
}

/// `vfio_pci_get_irq_count`: 1 for INTx with an interrupt pin, the capable vectors of MSI
/// and MSI-X, 1 for ERR and REQ, 0 for any other index.
pub(super) fn irq_count(f: &mut dyn PciFunction, index: u32) -> u32 {
    irq_index(index).map_or(0, |i| f.interrupts().count(i))
}

/// `VFIO_DEVICE_GET_IRQ_INFO` (`vfio_pci_ioctl_get_irq_info`): `EFAULT` on the 16 bytes,
/// `EINVAL` for a short `argsz` or an index past REQ. EVENTFD always; INTx is MASKABLE and
/// AUTOMASKED; MSI, ERR and REQ are NORESIZE; MSI-X can grow while enabled
/// (`has_dyn_msix`: vectors are added one by one here). The 16 bytes are written back.
pub(super) fn get_irq_info(
    file: &VfioDeviceFile,
    _: &mut State,
    caller: &Caller<'_>,
    arg: u64,
) -> Result<i64> {
    let minsz = offset_of_end!(VfioIrqInfo, count);
    let mut info: VfioIrqInfo = read_vfio(&caller.mem, arg, minsz, u32::MAX)?;
    if info.index >= VFIO_PCI_NUM_IRQS {
        return Err(Errno::EINVAL);
    }
    info.flags = VFIO_IRQ_INFO_EVENTFD;
    info.count = irq_count(&mut *file.function_mut(), info.index);
    match info.index {
        VFIO_PCI_INTX_IRQ_INDEX => {
            info.flags |= VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
        }
        VFIO_PCI_MSIX_IRQ_INDEX => {}
        _ => info.flags |= VFIO_IRQ_INFO_NORESIZE,
    }
    caller.mem.write(arg, info.as_bytes())?;
    Ok(0)
}

/// Whether the kernel would find a way to reset the function (`vdev->reset_works`).
fn reset_works(file: &VfioDeviceFile) -> bool {
    file.function_mut().description().reset_method().is_some()
}

/// `VFIO_DEVICE_RESET` (`vfio_pci_ioctl_reset`): `EINVAL` for a function with no reset method
/// (`!reset_works`: QEMU's edu has none); else the reset, keeping what the host programmed
/// ([`super::reset::reset`]), the user's virtual config space untouched.
pub(super) fn reset(
    file: &VfioDeviceFile,
    state: &mut State,
    _: &Caller<'_>,
    _: u64,
) -> Result<i64> {
    if !reset_works(file) {
        return Err(Errno::EINVAL);
    }
    super::reset::reset(state, &mut *file.function_mut());
    Ok(0)
}

/// `VFIO_DEVICE_GET_PCI_HOT_RESET_INFO` (`vfio_pci_ioctl_get_pci_hot_reset_info`): `EFAULT`
/// on the 12 bytes, `EINVAL` for a short `argsz`, then `ENODEV`: a hot reset is a slot or
/// bus reset, and every function here sits alone on a root bus with no hotplug slot, which
/// neither `pci_probe_reset_slot` nor `pci_probe_reset_bus` can reset (as for QEMU's edu
/// on a q35 root bus).
pub(super) fn get_pci_hot_reset_info(
    _: &VfioDeviceFile,
    _: &mut State,
    caller: &Caller<'_>,
    arg: u64,
) -> Result<i64> {
    let minsz = offset_of_end!(VfioPciHotResetInfo, count);
    let _: VfioPciHotResetInfo = read_vfio(&caller.mem, arg, minsz, u32::MAX)?;
    Err(Errno::ENODEV)
}
