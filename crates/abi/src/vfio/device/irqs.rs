//! `VFIO_DEVICE_SET_IRQS` (`drivers/vfio/pci/vfio_pci_core.c`: `vfio_pci_ioctl_set_irqs`;
//! `drivers/vfio/vfio_main.c`: `vfio_set_irqs_validate_and_prepare`;
//! `drivers/vfio/pci/vfio_pci_intrs.c`: `vfio_pci_set_irqs_ioctl` and its handlers).
//!
//! vfio-pci has one interrupt mode at a time (`vdev->irq_type`): none, INTx, MSI or MSI-X.
//! The function's own MSI and MSI-X capabilities are the host's to program, as the kernel's
//! `pci_alloc_irq_vectors` programs them: enabling sets their Enable bit (and MSI's Multiple
//! Message Enable), a vector with an eventfd is unmasked in the MSI-X table, one without is
//! masked; the user's view of those capabilities is virtual ([`super::config`]).

use super::config::{find_capability, read_word};
use super::info::{irq_count, irq_index};
use super::{State, VfioDeviceFile};
use crate::Caller;
use std::sync::Arc;
use uiommu_devices::config::spec::*;
use uiommu_devices::{IrqIndex, PciFunction, Trigger};
use uiommu_uapi::errno::Result;
use uiommu_uapi::vfio::*;
use uiommu_uapi::{Errno, offset_of_end};

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

/// The checked header and its data.
struct IrqSet {
    flags: u32,
    start: u32,
    count: u32,
    data: Vec<u8>,
}

impl IrqSet {
    fn data_type(&self) -> u32 {
        self.flags & VFIO_IRQ_SET_DATA_TYPE_MASK
    }

    /// The `i`th bool of `DATA_BOOL`.
    fn bool_at(&self, i: usize) -> bool {
        self.data.get(i).is_some_and(|&b| b != 0)
    }

    /// The `i`th fd of `DATA_EVENTFD`.
    fn fd_at(&self, i: usize) -> i32 {
        self.data
            .get(4 * i..4 * i + 4)
            .map_or(-1, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// `vfio_set_irqs_validate_and_prepare` for a device with `max` vectors at the index, all
/// `EINVAL`: a short `argsz`, an index past REQ, a `count` that could wrap, an unknown flag;
/// then `start`/`count` outside the index; then a data type that is not exactly one of
/// NONE, BOOL, EVENTFD; then `argsz` too small for `count` bools or fds. Returns the bytes
/// of data that follow the header.
pub(super) fn validate(hdr: &VfioIrqSet, max: u32) -> Result<usize> {
    let minsz = offset_of_end!(VfioIrqSet, count);
    if (hdr.argsz as usize) < minsz
        || hdr.index >= VFIO_PCI_NUM_IRQS
        || hdr.count >= u32::MAX - hdr.start
        || hdr.flags & !(VFIO_IRQ_SET_DATA_TYPE_MASK | VFIO_IRQ_SET_ACTION_TYPE_MASK) != 0
    {
        return Err(Errno::EINVAL);
    }
    if hdr.start >= max || hdr.start + hdr.count > max {
        return Err(Errno::EINVAL);
    }
    let size: u64 = match hdr.flags & VFIO_IRQ_SET_DATA_TYPE_MASK {
        VFIO_IRQ_SET_DATA_NONE => 0,
        VFIO_IRQ_SET_DATA_BOOL => 1,
        VFIO_IRQ_SET_DATA_EVENTFD => 4,
        _ => return Err(Errno::EINVAL),
    };
    let len = u64::from(hdr.count) * size;
    if u64::from(hdr.argsz) - (minsz as u64) < len {
        return Err(Errno::EINVAL);
    }
    Ok(len as usize)
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

/// The 20-byte header whatever its `argsz` says (`copy_from_user` of `minsz`).
fn read_header(caller: &Caller<'_>, arg: u64) -> Result<VfioIrqSet> {
    let mut hdr = <VfioIrqSet as zerocopy::FromZeros>::new_zeroed();
    caller
        .mem
        .read(arg, zerocopy::IntoBytes::as_mut_bytes(&mut hdr))?;
    Ok(hdr)
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

/// `vfio_msi_set_vector_signal`: the vector's eventfd goes (its MSI-X entry masked, as
/// `free_irq` leaves it), then, for `fd >= 0`, the new one (`EBADF`, `EINVAL`) with the
/// entry unmasked (`request_irq`).
fn set_vector(
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
fn msi_enable(irqs: &mut IrqState, f: &mut dyn PciFunction, index: IrqIndex, nvec: u32) {
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
fn msi_disable(irqs: &mut IrqState, f: &mut dyn PciFunction, index: IrqIndex) {
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

/// Sets or clears the Mask bit of MSI-X entry `vector` as the host does, with Memory Space
/// enabled for the write (`vfio_pci_memory_lock_and_enable`).
fn mask_msix_entry(f: &mut dyn PciFunction, index: IrqIndex, vector: u32, masked: bool) {
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
    if state.irqs.mode == Some(IrqIndex::Msix) {
        for (v, t) in state.irqs.vectors.iter().enumerate() {
            mask_msix_entry(f, IrqIndex::Msix, v as u32, t.is_none());
        }
    }
    for (at, flags) in caps {
        let _ = f.config_write(at, &flags.to_le_bytes());
    }
    let _ = f.config_write(COMMAND, &cmd.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: u32 = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
    const BOOL: u32 = VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER;
    const FD: u32 = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;

    fn hdr(argsz: u32, flags: u32, index: u32, start: u32, count: u32) -> VfioIrqSet {
        VfioIrqSet {
            argsz,
            flags,
            index,
            start,
            count,
        }
    }

    /// `vfio_set_irqs_validate_and_prepare`, check by check, with 4 vectors at the index.
    #[test]
    fn validate_checks_in_the_kernels_order() {
        let cases: &[(VfioIrqSet, Result<usize>)] = &[
            (hdr(20, NONE, 1, 0, 4), Ok(0)),
            (hdr(19, NONE, 1, 0, 1), Err(Errno::EINVAL)),
            (hdr(20, NONE, 5, 0, 1), Err(Errno::EINVAL)),
            (hdr(20, NONE, 1, 1, u32::MAX - 1), Err(Errno::EINVAL)),
            (hdr(20, NONE, 1, u32::MAX, 0), Err(Errno::EINVAL)),
            (hdr(20, NONE | 1 << 6, 1, 0, 1), Err(Errno::EINVAL)),
            (hdr(20, NONE, 1, 4, 0), Err(Errno::EINVAL)),
            (hdr(20, NONE, 1, 3, 2), Err(Errno::EINVAL)),
            (hdr(20, NONE, 1, 3, 1), Ok(0)),
            (
                hdr(20, VFIO_IRQ_SET_ACTION_TRIGGER, 1, 0, 1),
                Err(Errno::EINVAL),
            ),
            (
                hdr(20, NONE | VFIO_IRQ_SET_DATA_BOOL, 1, 0, 1),
                Err(Errno::EINVAL),
            ),
            (hdr(23, BOOL, 1, 0, 4), Err(Errno::EINVAL)),
            (hdr(24, BOOL, 1, 0, 4), Ok(4)),
            (hdr(35, FD, 1, 0, 4), Err(Errno::EINVAL)),
            (hdr(36, FD, 1, 0, 4), Ok(16)),
            (hdr(20, FD, 1, 0, 0), Ok(0)),
            // Any action bits pass here; the dispatch refuses them.
            (
                hdr(
                    20,
                    VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TYPE_MASK,
                    1,
                    0,
                    1,
                ),
                Ok(0),
            ),
        ];
        for (h, want) in cases {
            assert_eq!(validate(h, 4), *want, "{h:?}");
        }
        // An index without vectors takes nothing, not even count 0.
        assert_eq!(validate(&hdr(20, NONE, 2, 0, 0), 0), Err(Errno::EINVAL));
    }
}
