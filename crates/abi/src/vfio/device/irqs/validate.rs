//! The checks of a `VFIO_DEVICE_SET_IRQS` request before any handler runs
//! (`drivers/vfio/vfio_main.c`: `vfio_set_irqs_validate_and_prepare`), and the request as the
//! handlers read it.

use crate::Caller;
use uiommu_uapi::errno::Result;
use uiommu_uapi::vfio::*;
use uiommu_uapi::{Errno, offset_of_end};

/// The checked header and its data.
pub(super) struct IrqSet {
    pub(super) flags: u32,
    pub(super) start: u32,
    pub(super) count: u32,
    pub(super) data: Vec<u8>,
}

impl IrqSet {
    pub(super) fn data_type(&self) -> u32 {
        self.flags & VFIO_IRQ_SET_DATA_TYPE_MASK
    }

    /// The `i`th bool of `DATA_BOOL`.
    pub(super) fn bool_at(&self, i: usize) -> bool {
        self.data.get(i).is_some_and(|&b| b != 0)
    }

    /// The `i`th fd of `DATA_EVENTFD`.
    pub(super) fn fd_at(&self, i: usize) -> i32 {
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
pub(in crate::vfio::device) fn validate(hdr: &VfioIrqSet, max: u32) -> Result<usize> {
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

/// The 20-byte header whatever its `argsz` says (`copy_from_user` of `minsz`).
pub(super) fn read_header(caller: &Caller<'_>, arg: u64) -> Result<VfioIrqSet> {
    let mut hdr = <VfioIrqSet as zerocopy::FromZeros>::new_zeroed();
    caller
        .mem
        .read(arg, zerocopy::IntoBytes::as_mut_bytes(&mut hdr))?;
    Ok(hdr)
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
