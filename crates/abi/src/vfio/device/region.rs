//! Region I/O through `pread`/`pwrite` at `index << 40` (`drivers/vfio/pci/vfio_pci_core.c`:
//! `vfio_pci_rw`; `vfio_pci_config.c`: `vfio_pci_config_rw`; `vfio_pci_rdwr.c`:
//! `vfio_pci_bar_rw`, `vfio_pci_core_do_io_rw`).

use super::config::read_word;
use super::{State, VfioDeviceFile};
use uiommu_devices::PciFunction;
use uiommu_devices::config::spec::{COMMAND, COMMAND_MEMORY};
use uiommu_devices::describe::BarKind;
use uiommu_uapi::errno::Result;
use uiommu_uapi::vfio::*;
use uiommu_uapi::{Errno, UserMemory};

/// A region's offset in the device fd is its index shifted by this (`VFIO_PCI_OFFSET_SHIFT`).
pub const REGION_SHIFT: u32 = 40;
/// The offset within a region (`VFIO_PCI_OFFSET_MASK`).
pub(super) const OFFSET_MASK: u64 = (1 << REGION_SHIFT) - 1;

/// A buffer in the caller's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserBuffer {
    /// Its address.
    pub addr: u64,
    /// Its length in bytes.
    pub len: usize,
}

/// One `pread` or `pwrite`: the caller's memory and buffer, the byte count, the direction.
pub(super) struct Access<'a> {
    pub mem: &'a dyn UserMemory,
    pub buf: u64,
    pub count: usize,
    pub write: bool,
}

impl<'a> Access<'a> {
    fn parts(&self) -> (&'a dyn UserMemory, u64, usize, bool) {
        (self.mem, self.buf, self.count, self.write)
    }
}

/// `vfio_pci_rw` at `pos`: `EINVAL` for an index past VGA's and for VGA (no VGA device),
/// then the region's own rules. Returns the bytes moved; a fault on the caller's buffer is
/// `EFAULT`.
pub(super) fn rw(
    file: &VfioDeviceFile,
    state: &mut State,
    pos: u64,
    a: &Access<'_>,
) -> Result<usize> {
    let index = pos >> REGION_SHIFT;
    let off = pos & OFFSET_MASK;
    let mut f = file.function_mut();
    match u32::try_from(index).unwrap_or(u32::MAX) {
        VFIO_PCI_CONFIG_REGION_INDEX => config_rw(state, &mut *f, off, a),
        VFIO_PCI_ROM_REGION_INDEX if a.write => Err(Errno::EINVAL),
        VFIO_PCI_ROM_REGION_INDEX => rom_read(&*f, off, a),
        i @ VFIO_PCI_BAR0_REGION_INDEX..=VFIO_PCI_BAR5_REGION_INDEX => {
            bar_rw(&mut *f, i as u8, off, a)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// `vfio_pci_config_rw`: `EFAULT` unless the whole access lies in config space; then aligned
/// chunks of at most 4 bytes within a dword, each through the virtual view.
fn config_rw(
    state: &mut State,
    f: &mut dyn PciFunction,
    off: u64,
    a: &Access<'_>,
) -> Result<usize> {
    let (mem, buf, count, write) = a.parts();
    let size = super::info::config_size(f);
    if off.checked_add(count as u64).is_none_or(|end| end > size) {
        return Err(Errno::EFAULT);
    }
    let mut done = 0;
    while done < count {
        let at = off + done as u64;
        let left = (count - done).min(4 - (at % 4) as usize);
        let n = chunk(at, left, 4);
        let mut data = [0u8; 4];
        let data = &mut data[..n];
        let ubuf = buf.wrapping_add(done as u64);
        if write {
            mem.read(ubuf, data)?;
            state.config.write(f, at as u16, data);
        } else {
            state.config.read(f, at as u16, data);
            mem.write(ubuf, data)?;
        }
        done += n;
    }
    Ok(done)
}

/// The widest naturally aligned access of at most `max` bytes at `at` within `left` bytes.
fn chunk(at: u64, left: usize, max: usize) -> usize {
    [8, 4, 2]
        .into_iter()
        .find(|&n| n <= max && left >= n && at % n as u64 == 0)
        .unwrap_or(1)
}

/// `vfio_pci_bar_rw` on BAR `bar`: `EINVAL` for an unimplemented BAR or an offset at or past
/// its end; the count is cut at the end. The access goes in naturally aligned pieces of up to
/// 8 bytes; with Memory Space disabled a memory BAR's piece is `EIO`
/// (`__vfio_pci_memory_enabled`); the MSI-X table reads all ones and drops writes. An error
/// ends the access with its errno, whatever pieces went before.
fn bar_rw(f: &mut dyn PciFunction, bar: u8, off: u64, a: &Access<'_>) -> Result<usize> {
    let (mem, buf, count, write) = a.parts();
    let desc = f.description();
    let b = desc.bars[usize::from(bar)].ok_or(Errno::EINVAL)?;
    if off >= b.size {
        return Err(Errno::EINVAL);
    }
    let count = count.min((b.size - off) as usize);
    let memory = b.kind != BarKind::Io;
    let (x_start, x_end) = match desc.msix().filter(|m| m.table_bar == bar) {
        Some(m) => {
            let start = u64::from(m.table_offset);
            (start, start + u64::from(m.vectors) * 16)
        }
        None => (0, 0),
    };
    let mut done = 0;
    while done < count {
        let at = off + done as u64;
        let left = count - done;
        let fillable = if at < x_start {
            left.min((x_start - at) as usize)
        } else if at >= x_end {
            left
        } else {
            0
        };
        let ubuf = buf.wrapping_add(done as u64);
        if fillable == 0 {
            let n = left.min((x_end - at) as usize);
            if !write {
                fill_ones(mem, ubuf, n)?;
            }
            done += n;
            continue;
        }
        let n = chunk(at, fillable, 8);
        if memory && read_word(f, COMMAND) & COMMAND_MEMORY == 0 {
            return Err(Errno::EIO);
        }
        let mut data = [0u8; 8];
        let data = &mut data[..n];
        if write {
            mem.read(ubuf, data)?;
            f.bar_write(bar, at, data).map_err(|_| Errno::EINVAL)?;
        } else {
            f.bar_read(bar, at, data).map_err(|_| Errno::EINVAL)?;
            mem.write(ubuf, data)?;
        }
        done += n;
    }
    Ok(done)
}

/// A read of the ROM region: `EINVAL` without a ROM or at or past its end; a function here
/// has no ROM image, so the ROM reads as erased (all ones), the count cut at the end.
fn rom_read(f: &dyn PciFunction, off: u64, a: &Access<'_>) -> Result<usize> {
    let (mem, buf, count, _) = a.parts();
    let size = u64::from(f.description().rom_size.ok_or(Errno::EINVAL)?);
    if off >= size {
        return Err(Errno::EINVAL);
    }
    let n = count.min((size - off) as usize);
    fill_ones(mem, buf, n)?;
    Ok(n)
}

/// Writes `n` bytes of all ones at `buf`, a page at a time.
fn fill_ones(mem: &dyn UserMemory, buf: u64, n: usize) -> Result<()> {
    let ones = [0xffu8; 4096];
    let mut done = 0;
    while done < n {
        let k = (n - done).min(ones.len());
        mem.write(buf.wrapping_add(done as u64), &ones[..k])?;
        done += k;
    }
    Ok(())
}
