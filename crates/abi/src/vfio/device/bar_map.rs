//! `mmap(2)` of a BAR region (`drivers/vfio/pci/vfio_pci_core.c`: `vfio_pci_core_mmap`) and
//! the accesses of the mapping, one load or store at a time, as the fault handler of the
//! mapping (`vfio_pci_mmap_huge_fault`) lets them reach the BAR.

use super::VfioDeviceFile;
use super::region::{Access, OFFSET_MASK, REGION_SHIFT};
use uiommu_devices::describe::BarKind;
use uiommu_uapi::errno::Result;
use uiommu_uapi::vfio::*;
use uiommu_uapi::{Errno, UserMemory};

/// The page size of a mapping.
const PAGE: u64 = 4096;

/// What a successful `mmap` of a BAR maps: the BAR and the offset of the mapping's first byte
/// within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarMapping {
    /// The BAR (region index 0 to 5).
    pub bar: u8,
    /// Where the mapping starts in the BAR (a multiple of the page size).
    pub offset: u64,
}

impl VfioDeviceFile {
    /// `mmap(2)` of `length` bytes at file offset `offset`, `shared` for `MAP_SHARED`, after
    /// `do_mmap`'s own checks (the page alignment of `offset`): `vfio_device_fops_mmap`'s
    /// `EINVAL` before bind, then `vfio_pci_core_mmap`'s in its order: `EINVAL` for an index
    /// past the regions, for a private mapping, for the ROM, config and VGA regions, for a BAR
    /// that cannot be mapped (unimplemented, I/O) and for a range past the BAR's end rounded
    /// up to a page. The MSI-X table may be mapped (7.3 reports
    /// `VFIO_REGION_INFO_CAP_MSIX_MAPPABLE`), and Memory Space is checked by each access, not
    /// here (the kernel's fault handler answers `SIGBUS` while it is off).
    pub fn mmap(&self, offset: u64, length: u64, shared: bool) -> Result<BarMapping> {
        if self.lock_state().bound.is_none() {
            return Err(Errno::EINVAL);
        }
        let index = offset >> REGION_SHIFT;
        if index >= u64::from(VFIO_PCI_NUM_REGIONS) || !shared {
            return Err(Errno::EINVAL);
        }
        if index >= u64::from(VFIO_PCI_ROM_REGION_INDEX) {
            return Err(Errno::EINVAL);
        }
        let bar = self.function_mut().description().bars[index as usize];
        let size = match bar {
            Some(b) if b.kind != BarKind::Io => b.size,
            _ => return Err(Errno::EINVAL),
        };
        let start = offset & OFFSET_MASK;
        let len = length.checked_next_multiple_of(PAGE).ok_or(Errno::EINVAL)?;
        if start
            .checked_add(len)
            .is_none_or(|end| end > size.next_multiple_of(PAGE))
        {
            return Err(Errno::EINVAL);
        }
        Ok(BarMapping {
            bar: index as u8,
            offset: start,
        })
    }

    /// One load (`data` filled) or store (`data` written) of `data.len()` bytes at `offset`
    /// within the BAR of a mapping, as a `pread`/`pwrite` of the BAR region at that offset
    /// moves it: `EIO` while Memory Space is off, `EINVAL` past the BAR's end or once the file
    /// is unbound. The data never leaves this process's stack: no user memory is touched.
    pub fn mmio(&self, bar: u8, offset: u64, data: &mut [u8], write: bool) -> Result<()> {
        let pos = (u64::from(bar) << REGION_SHIFT) | (offset & OFFSET_MASK);
        let mut state = self.lock_state();
        if state.bound.is_none() {
            return Err(Errno::EINVAL);
        }
        state.low_power.wake();
        let local = Local(std::cell::RefCell::new(data));
        let access = Access {
            mem: &local,
            buf: 0,
            count: local.0.borrow().len(),
            write,
        };
        let n = super::region::rw(self, &mut state, pos, &access)?;
        if n != access.count {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }
}

/// A buffer of the caller's stack standing for user memory at address 0.
struct Local<'a>(std::cell::RefCell<&'a mut [u8]>);

impl UserMemory for Local<'_> {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        let src = self.0.borrow();
        let at = usize::try_from(addr).map_err(|_| Errno::EFAULT)?;
        let s = src.get(at..at + buf.len()).ok_or(Errno::EFAULT)?;
        buf.copy_from_slice(s);
        Ok(())
    }
    fn write(&self, addr: u64, data: &[u8]) -> Result<()> {
        let mut dst = self.0.borrow_mut();
        let at = usize::try_from(addr).map_err(|_| Errno::EFAULT)?;
        let d = dst.get_mut(at..at + data.len()).ok_or(Errno::EFAULT)?;
        d.copy_from_slice(data);
        Ok(())
    }
}
