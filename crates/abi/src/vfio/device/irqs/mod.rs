//! `VFIO_DEVICE_SET_IRQS` (`drivers/vfio/pci/vfio_pci_core.c`: `vfio_pci_ioctl_set_irqs`;
//! `drivers/vfio/vfio_main.c`: `vfio_set_irqs_validate_and_prepare`;
//! `drivers/vfio/pci/vfio_pci_intrs.c`: `vfio_pci_set_irqs_ioctl` and its handlers).
//!
//! vfio-pci has one interrupt mode at a time (`vdev->irq_type`): none, INTx, MSI or MSI-X.
//! The function's own MSI and MSI-X capabilities are the host's to program, as the kernel's
//! `pci_alloc_irq_vectors` programs them: enabling sets their Enable bit (and MSI's Multiple
//! Message Enable), a vector with an eventfd is unmasked in the MSI-X table, one without is
//! masked; the user's view of those capabilities is virtual ([`super::config`]).

use super::info::{irq_count, irq_index};
use super::{State, VfioDeviceFile};
use crate::Caller;
use std::sync::Arc;
use uiommu_devices::{IrqIndex, PciFunction, Trigger};
use uiommu_uapi::errno::Result;
use uiommu_uapi::vfio::*;
use uiommu_uapi::{Errno, offset_of_end};

mod msi;
mod validate;

pub(super) use msi::mask_msix_entry;
use msi::{msi_disable, msi_enable, set_vector};
pub(super) use validate::validate;
use validate::{IrqSet, read_header};

type Slot = Option<Arc<dyn Trigger>>;

/// vfio-pci's interrupt state of the device (`irq_type`, the contexts of its vectors, the
/// ERR and REQ eventfds). The triggers are also the function's; these copies serve the
/// loopback actions (DATA_NONE/BOOL with TRIGGER), which signal without the function.
#[derive(Debug, Default)]
pub(super) struct IrqState {
    mode: Option<IrqIndex>,
    intx: Slot,
    vectors: Vec<Slot>,
    err: Slot,
    req: Slot,
}

impl IrqState {
    /// In MSI-X mode, whether each vector's table entry is masked as the host leaves it
    /// (masked unless the vector has an eventfd); empty in any other mode.
    pub(super) fn msix_entry_masks(&self) -> Vec<bool> {
        if self.mode != Some(IrqIndex::Msix) {
            return Vec::new();
        }
        self.vectors.iter().map(Option::is_none).collect()
    }
}

/// `VFIO_DEVICE_SET_IRQS` (`vfio_pci_ioctl_set_irqs`): `EFAULT` on the 20-byte header,
/// [`validate`], `EFAULT` copying the data, then the handler of the index and action
/// (`ENOTTY` for none: MASK/UNMASK of MSI, MSI-X, ERR, REQ, or not exactly one action).
pub(super) fn set_irqs(
    file: &VfioDeviceFile,
    state: &mut State,
    caller: &Caller<'_>,
    arg: u64,
) -> Result<i64> {
    let minsz = offset_of_end!(VfioIrqSet, count);
    let hdr = read_header(caller, arg)?;
    let mut f = file.function_mut();
    let len = validate(&hdr, irq_count(&mut *f, hdr.index))?;
    let mut data = vec![0u8; len];
    caller.mem.read(arg.wrapping_add(minsz as u64), &mut data)?;
    let set = IrqSet {
        flags: hdr.flags,
        start: hdr.start,
        count: hdr.count,
        data,
    };
    let mut op = Op {
        irqs: &mut state.irqs,
        f: &mut *f,
        caller,
        set,
    };
    let action = hdr.flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
    match (irq_index(hdr.index), action) {
        (Some(IrqIndex::Intx), VFIO_IRQ_SET_ACTION_MASK) => op.intx_mask(),
        (Some(IrqIndex::Intx), VFIO_IRQ_SET_ACTION_UNMASK) => op.intx_unmask(),
        (Some(IrqIndex::Intx), VFIO_IRQ_SET_ACTION_TRIGGER) => op.intx_trigger(),
        (Some(i @ (IrqIndex::Msi | IrqIndex::Msix)), VFIO_IRQ_SET_ACTION_TRIGGER) => {
            op.msi_trigger(i)
        }
        (Some(i @ (IrqIndex::Err | IrqIndex::Req)), VFIO_IRQ_SET_ACTION_TRIGGER) => {
            op.single_trigger(i)
        }
        _ => Err(Errno::ENOTTY),
    }
    .map(|()| 0)
}

/// `is_intx(vdev) && start == 0 && count == 1`, else `EINVAL`.
fn intx_only(irqs: &IrqState, set: &IrqSet) -> Result<()> {
    if irqs.mode != Some(IrqIndex::Intx) || set.start != 0 || set.count != 1 {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// One `VFIO_DEVICE_SET_IRQS` in flight: vfio-pci's interrupt state, the function, the
/// caller (whose fds are the eventfds) and the checked request.
struct Op<'a> {
    irqs: &'a mut IrqState,
    f: &'a mut dyn PciFunction,
    caller: &'a Caller<'a>,
    set: IrqSet,
}

impl<'a> Op<'a> {
    /// The state, the function, the caller and the request, borrowed apart.
    fn parts(
        &mut self,
    ) -> (
        &mut IrqState,
        &mut (dyn PciFunction + 'a),
        &Caller<'a>,
        &IrqSet,
    ) {
        (self.irqs, self.f, self.caller, &self.set)
    }

    /// `vfio_pci_set_intx_mask`: NONE, or a true BOOL, masks; EVENTFD is `ENOTTY`.
    fn intx_mask(&mut self) -> Result<()> {
        let (irqs, f, _, set) = self.parts();
        intx_only(irqs, set)?;
        match set.data_type() {
            VFIO_IRQ_SET_DATA_EVENTFD => return Err(Errno::ENOTTY),
            VFIO_IRQ_SET_DATA_BOOL if !set.bool_at(0) => {}
            _ => {
                f.interrupts().intx().mask();
            }
        }
        Ok(())
    }

    /// `vfio_pci_set_intx_unmask`: NONE, or a true BOOL, unmasks (a line still asserted signals
    /// again). EVENTFD with -1 removes the unmask eventfd there is none of; an unmask eventfd
    /// (`vfio_virqfd_enable`) needs the host to wait on it, which the front end does not yet:
    /// after the fd is checked (`EBADF`, `EINVAL`) it is `EOPNOTSUPP`.
    fn intx_unmask(&mut self) -> Result<()> {
        let (irqs, f, caller, set) = self.parts();
        intx_only(irqs, set)?;
        match set.data_type() {
            VFIO_IRQ_SET_DATA_EVENTFD => {
                let fd = set.fd_at(0);
                if fd >= 0 {
                    caller.fds.eventfd(fd)?;
                    return Err(Errno::EOPNOTSUPP);
                }
            }
            VFIO_IRQ_SET_DATA_BOOL if !set.bool_at(0) => {}
            _ => f.interrupts().intx().unmask(),
        }
        Ok(())
    }

    /// `vfio_pci_set_intx_trigger`: `count` 0 with NONE disables INTx; otherwise INTx (or no
    /// mode) and `start` 0, `count` 1 (`EINVAL`). EVENTFD enables INTx with the eventfd, or
    /// changes it (-1: none; the fd's errors); NONE and a true BOOL signal the eventfd
    /// (loopback) while INTx is enabled (`EINVAL` if it is not).
    fn intx_trigger(&mut self) -> Result<()> {
        let (irqs, f, caller, set) = self.parts();
        let intx = irqs.mode == Some(IrqIndex::Intx);
        if intx && set.count == 0 && set.data_type() == VFIO_IRQ_SET_DATA_NONE {
            f.interrupts().set_trigger(IrqIndex::Intx, 0, None);
            irqs.intx = None;
            irqs.mode = None;
            return Ok(());
        }
        if !(intx || irqs.mode.is_none()) || set.start != 0 || set.count != 1 {
            return Err(Errno::EINVAL);
        }
        if set.data_type() == VFIO_IRQ_SET_DATA_EVENTFD {
            let fd = set.fd_at(0);
            let trigger = if fd >= 0 {
                Some(caller.fds.eventfd(fd)?)
            } else {
                None
            };
            f.interrupts()
                .set_trigger(IrqIndex::Intx, 0, trigger.clone());
            irqs.intx = trigger;
            irqs.mode = Some(IrqIndex::Intx);
            return Ok(());
        }
        if !intx {
            return Err(Errno::EINVAL);
        }
        if set.data_type() == VFIO_IRQ_SET_DATA_NONE || set.bool_at(0) {
            signal(&irqs.intx);
        }
        Ok(())
    }

    /// `vfio_pci_set_msi_trigger`: `count` 0 with NONE disables the mode; otherwise the index's
    /// mode or none (`EINVAL`). EVENTFD sets the eventfds of `start..start + count` (-1: none),
    /// enabling the mode with `start + count` vectors first if it was off (`vfio_msi_enable`) and
    /// disabling it again if an fd fails; NONE and BOOL signal the vectors that have an eventfd
    /// (loopback) while the mode is on (`EINVAL` if it is not).
    fn msi_trigger(&mut self, index: IrqIndex) -> Result<()> {
        let (set, on) = (&self.set, self.irqs.mode == Some(index));
        if on && set.count == 0 && set.data_type() == VFIO_IRQ_SET_DATA_NONE {
            msi_disable(self.irqs, self.f, index);
            return Ok(());
        }
        if !(on || self.irqs.mode.is_none()) {
            return Err(Errno::EINVAL);
        }
        if set.data_type() == VFIO_IRQ_SET_DATA_EVENTFD {
            if !on {
                msi_enable(self.irqs, self.f, index, set.start + set.count);
            }
            let r = self.set_block(index);
            if r.is_err() && !on {
                msi_disable(self.irqs, self.f, index);
            }
            return r;
        }
        if !on {
            return Err(Errno::EINVAL);
        }
        for (i, v) in (set.start..set.start + set.count).enumerate() {
            if set.data_type() == VFIO_IRQ_SET_DATA_NONE || set.bool_at(i) {
                signal(self.irqs.vectors.get(v as usize).unwrap_or(&None));
            }
        }
        Ok(())
    }

    /// `vfio_msi_set_block`: each vector's eventfd in turn; on an error, the vectors from
    /// `start` up to the failing one lose theirs again.
    fn set_block(&mut self, index: IrqIndex) -> Result<()> {
        let (irqs, f, caller, set) = self.parts();
        for (i, v) in (set.start..set.start + set.count).enumerate() {
            let fd = set.fd_at(i);
            if let Err(e) = set_vector(irqs, f, caller, index, v, fd) {
                for u in set.start..v {
                    let _ = set_vector(irqs, f, caller, index, u, -1);
                }
                return Err(e);
            }
        }
        Ok(())
    }

    /// `vfio_pci_set_err_trigger`, `vfio_pci_set_req_trigger` → `vfio_pci_set_ctx_trigger_single`:
    /// `start` 0 and `count` at most 1 (`EINVAL`). NONE signals the eventfd (`count` 1) or
    /// removes it (`count` 0), `EINVAL` without one; BOOL needs `count` 1 and signals on true;
    /// EVENTFD needs `count` 1: -1 removes, an fd sets (its errors), below -1 is `EINVAL`.
    fn single_trigger(&mut self, index: IrqIndex) -> Result<()> {
        let (irqs, f, caller, set) = self.parts();
        if set.start != 0 || set.count > 1 {
            return Err(Errno::EINVAL);
        }
        let slot = if index == IrqIndex::Err {
            &mut irqs.err
        } else {
            &mut irqs.req
        };
        let new = match set.data_type() {
            VFIO_IRQ_SET_DATA_NONE => {
                if slot.is_none() {
                    return Err(Errno::EINVAL);
                }
                if set.count != 0 {
                    signal(slot);
                    return Ok(());
                }
                None
            }
            VFIO_IRQ_SET_DATA_BOOL => {
                if set.count == 0 {
                    return Err(Errno::EINVAL);
                }
                if set.bool_at(0) {
                    signal(slot);
                }
                return Ok(());
            }
            _ => match set.fd_at(0) {
                _ if set.count == 0 => return Err(Errno::EINVAL),
                -1 => None,
                fd if fd >= 0 => Some(caller.fds.eventfd(fd)?),
                _ => return Err(Errno::EINVAL),
            },
        };
        f.interrupts().set_trigger(index, 0, new.clone());
        *slot = new;
        Ok(())
    }
}

/// `vfio_pci_core_disable`'s interrupt teardown: the mode's vectors, then ERR and REQ.
pub(super) fn disable_all(state: &mut State, f: &mut dyn PciFunction) {
    let irqs = &mut state.irqs;
    match irqs.mode {
        Some(IrqIndex::Intx) => {
            f.interrupts().set_trigger(IrqIndex::Intx, 0, None);
            irqs.intx = None;
            irqs.mode = None;
        }
        Some(i @ (IrqIndex::Msi | IrqIndex::Msix)) => msi_disable(irqs, f, i),
        _ => {}
    }
    for i in [IrqIndex::Err, IrqIndex::Req] {
        f.interrupts().set_trigger(i, 0, None);
    }
    irqs.err = None;
    irqs.req = None;
}

fn signal(slot: &Slot) {
    if let Some(t) = slot {
        t.trigger();
    }
}
