//! `VFIO_DEVICE_FEATURE` (`drivers/vfio/vfio_main.c`: `vfio_ioctl_device_feature`;
//! `include/linux/vfio.h`: `vfio_check_feature`; `drivers/vfio/pci/vfio_pci_core.c`:
//! `vfio_pci_core_ioctl_feature`).
//!
//! Of the features 7.3's vfio-pci has, a function here offers the low power ones. It has no
//! migration or DMA logging driver (`ENOTTY`, or `EINVAL` for PRECOPY_INFOv2 without
//! PRE_COPY), a VF token only on an SR-IOV physical function (`ENOTTY` on any other), no zPCI (the non-s390
//! stub's `ENOTTY`), and no dma-buf export (a kernel without `CONFIG_VFIO_PCI_DMABUF`:
//! `ENOTTY`).

use super::{State, VfioDeviceFile};
use crate::Caller;
use crate::sriov::SriovRole;
use std::sync::Arc;
use uiommu_devices::Trigger;
use uiommu_uapi::copy::read_vfio;
use uiommu_uapi::errno::Result;
use uiommu_uapi::vfio::*;
use uiommu_uapi::{Errno, offset_of_end};
use zerocopy::{FromZeros, IntoBytes};

/// The low power state (`pm_runtime_engaged`, `pm_wake_eventfd_ctx`).
#[derive(Debug, Default)]
pub(super) struct LowPower {
    engaged: bool,
    wakeup: Option<Arc<dyn Trigger>>,
}

impl LowPower {
    /// `vfio_device_pm_runtime_get` before every ioctl and region access of a bound file:
    /// a suspended device resumes, and with a wakeup eventfd it signals it and leaves the
    /// low power state (`vfio_pci_core_runtime_resume`).
    pub(super) fn wake(&mut self) {
        if let Some(w) = self.wakeup.take() {
            w.trigger();
            self.engaged = false;
        }
    }
}

/// `VFIO_DEVICE_FEATURE` (`vfio_ioctl_device_feature`): `EFAULT` on the 8-byte header,
/// `EINVAL` for a short `argsz`, an unknown flag, or GET with SET without PROBE; then the
/// feature's handler.
pub(super) fn device_feature(
    file: &VfioDeviceFile,
    state: &mut State,
    caller: &Caller<'_>,
    arg: u64,
) -> Result<i64> {
    let minsz = offset_of_end!(VfioDeviceFeature, flags);
    let valid = VFIO_DEVICE_FEATURE_MASK
        | VFIO_DEVICE_FEATURE_SET
        | VFIO_DEVICE_FEATURE_GET
        | VFIO_DEVICE_FEATURE_PROBE;
    let feature: VfioDeviceFeature = read_vfio(&caller.mem, arg, minsz, valid)?;
    let flags = feature.flags;
    let get_set = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET;
    if flags & VFIO_DEVICE_FEATURE_PROBE == 0 && flags & get_set == get_set {
        return Err(Errno::EINVAL);
    }
    let argsz = feature.argsz as usize - minsz;
    let data = arg.wrapping_add(minsz as u64);
    let pm = &mut state.low_power;
    match flags & VFIO_DEVICE_FEATURE_MASK {
        f if f == VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2 => Err(Errno::EINVAL),
        VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY => {
            if check(flags, argsz, VFIO_DEVICE_FEATURE_SET, 0)? {
                pm_entry(pm, None)?;
            }
            Ok(0)
        }
        VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP => {
            let size = size_of::<VfioDeviceLowPowerEntryWithWakeup>();
            if !check(flags, argsz, VFIO_DEVICE_FEATURE_SET, size)? {
                return Ok(0);
            }
            let mut entry = VfioDeviceLowPowerEntryWithWakeup::new_zeroed();
            caller.mem.read(data, entry.as_mut_bytes())?;
            if entry.wakeup_eventfd < 0 {
                return Err(Errno::EINVAL);
            }
            let wakeup = caller.fds.eventfd(entry.wakeup_eventfd)?;
            pm_entry(pm, Some(wakeup))?;
            Ok(0)
        }
        VFIO_DEVICE_FEATURE_PCI_VF_TOKEN => vf_token(file, flags, argsz, caller, data),
        VFIO_DEVICE_FEATURE_LOW_POWER_EXIT => {
            if check(flags, argsz, VFIO_DEVICE_FEATURE_SET, 0)? {
                *pm = LowPower::default();
            }
            Ok(0)
        }
        _ => Err(Errno::ENOTTY),
    }
}

/// `vfio_check_feature`: `EINVAL` for a GET or SET the feature does not support; `false`
/// (answer 0) for PROBE; `EINVAL` without GET or SET, or with fewer than `minsz` data bytes;
/// `true` to go on.
fn check(flags: u32, argsz: usize, supported: u32, minsz: usize) -> Result<bool> {
    let get_set = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET;
    if flags & get_set & !supported != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & VFIO_DEVICE_FEATURE_PROBE != 0 {
        return Ok(false);
    }
    if flags & get_set == 0 || argsz < minsz {
        return Err(Errno::EINVAL);
    }
    Ok(true)
}

/// `vfio_pci_core_feature_token`: `ENOTTY` but on a PF; SET only, of a 16-byte UUID
/// (`vfio_check_feature`'s errors; PROBE answers 0); `EFAULT` reading it; then it is the PF's
/// VF token.
fn vf_token(
    file: &VfioDeviceFile,
    flags: u32,
    argsz: usize,
    caller: &Caller<'_>,
    data: u64,
) -> Result<i64> {
    let Some(SriovRole::Pf(pf)) = &file.sriov else {
        return Err(Errno::ENOTTY);
    };
    let mut uuid = [0u8; 16];
    if check(flags, argsz, VFIO_DEVICE_FEATURE_SET, uuid.len())? {
        caller.mem.read(data, &mut uuid)?;
        pf.set_token(uuid);
    }
    Ok(0)
}

/// `vfio_pci_runtime_pm_entry`: `EINVAL` if already engaged.
fn pm_entry(pm: &mut LowPower, wakeup: Option<Arc<dyn Trigger>>) -> Result<()> {
    if pm.engaged {
        return Err(Errno::EINVAL);
    }
    pm.engaged = true;
    pm.wakeup = wakeup;
    Ok(())
}
