//! The user's view of config space (`drivers/vfio/pci/vfio_pci_config.c`): every byte has
//! virtual bits (read from and written to vfio-pci's copy, `vconfig`) and writable bits; a
//! read merges the function's bits with the virtual ones, a write changes only writable bits,
//! the virtual ones in the copy and the rest in the function (`vfio_default_config_write`).
//!
//! - Header (`init_pci_cap_basic_perm`): IDs, Status' Capabilities List, the capability
//!   pointer and Interrupt Pin virtual and read-only; Interrupt Line virtual and writable;
//!   the BARs and ROM BAR virtual and writable, read back through their size masks
//!   (`vfio_bar_fixup`); Command writable with Interrupt Disable virtual, emulated by masking
//!   INTx (`vfio_basic_config_write`); Cache Line Size, Latency Timer and BIST the
//!   function's; every other header byte read-only.
//! - MSI and MSI-X: virtual, so that the user's enables do not reach the function, whose
//!   capabilities `VFIO_DEVICE_SET_IRQS` programs; writable are MSI's Enable, Multiple
//!   Message Enable, address, data and mask bits, MSI-X's Enable and Function Mask
//!   (`init_pci_cap_msi_perm`, `init_pci_cap_msix_perm`, reduced to these fields).
//! - Other capabilities and the bytes outside any: the function's, read and written as they
//!   are (vfio-pci's own permissions for PM and PCI Express are not modelled yet).

use uiommu_devices::PciFunction;
use uiommu_devices::config::spec::*;
use uiommu_devices::describe::BarKind;

/// vfio-pci's per-device view of config space.
#[derive(Debug)]
pub(super) struct VirtualConfig {
    /// `vconfig`.
    bytes: Vec<u8>,
    /// Virtual bits of each byte.
    virt: Vec<u8>,
    /// Bits of each byte the user may write.
    write: Vec<u8>,
    /// Per BAR dword and the ROM: the address mask and the read-only low bits.
    bars: [(u32, u32); 7],
}

impl VirtualConfig {
    /// The view of `f` when the device is opened (`vfio_config_init`).
    pub fn new(f: &dyn PciFunction) -> Self {
        let len = super::info::config_size(f) as usize;
        let mut bytes = vec![0u8; len];
        for (at, chunk) in bytes.chunks_mut(4).enumerate() {
            let _ = f.config_read((at * 4) as u16, chunk);
        }
        let mut c = VirtualConfig {
            bytes,
            virt: vec![0; len],
            write: vec![0; len],
            bars: bar_masks(f),
        };
        c.perm(VENDOR_ID, 4, 0xff, 0);
        c.perm16(COMMAND, COMMAND_INTX_DISABLE, 0xffff);
        c.perm16(STATUS, STATUS_CAP_LIST, 0);
        c.perm(CACHE_LINE_SIZE, 2, 0, 0xff);
        c.perm(HEADER_TYPE + 1, 1, 0, 0xff);
        c.perm(BASE_ADDRESS_0, 24, 0xff, 0xff);
        c.perm(ROM_ADDRESS, 4, 0xff, 0xff);
        c.perm(CAPABILITY_LIST, 1, 0xff, 0);
        c.perm(INTERRUPT_LINE, 1, 0xff, 0xff);
        c.perm(INTERRUPT_PIN, 1, 0xff, 0);
        if let Some(at) = find_capability(f, CAP_ID_MSI) {
            let flags = c.word(at + MSI_FLAGS);
            let wide = flags & MSI_FLAGS_64BIT != 0;
            let masked = flags & MSI_FLAGS_MASKBIT != 0;
            let data = if wide { MSI_DATA_64 } else { MSI_DATA_32 };
            let end = data + if masked { 12 } else { 2 };
            c.perm(at, end, 0xff, 0);
            c.perm16(at + MSI_FLAGS, 0xffff, MSI_FLAGS_ENABLE | MSI_FLAGS_QSIZE);
            c.perm(at + MSI_ADDRESS_LO, data + 2 - MSI_ADDRESS_LO, 0xff, 0xff);
            c.perm(at + MSI_ADDRESS_LO, 1, 0xff, 0xfc);
            if masked {
                c.perm(at + data + 2 + 2, 4, 0xff, 0xff);
            }
        }
        if let Some(at) = find_capability(f, CAP_ID_MSIX) {
            c.perm(at, MSIX_SIZEOF, 0xff, 0);
            c.perm16(
                at + MSIX_FLAGS,
                0xffff,
                MSIX_FLAGS_ENABLE | MSIX_FLAGS_MASKALL,
            );
        }
        c
    }

    /// Sets the virtual and writable masks of `len` bytes from `at`.
    fn perm(&mut self, at: u16, len: u16, virt: u8, write: u8) {
        let r = usize::from(at)..usize::from(at + len);
        self.virt[r.clone()].fill(virt);
        self.write[r].fill(write);
    }

    /// Sets the masks of the word at `at`.
    fn perm16(&mut self, at: u16, virt: u16, write: u16) {
        let a = usize::from(at);
        self.virt[a..a + 2].copy_from_slice(&virt.to_le_bytes());
        self.write[a..a + 2].copy_from_slice(&write.to_le_bytes());
    }

    fn word(&self, at: u16) -> u16 {
        let a = usize::from(at);
        u16::from_le_bytes([self.bytes[a], self.bytes[a + 1]])
    }

    /// A read of `data.len()` (1, 2 or 4) bytes at `at`, inside the space.
    pub fn read(&mut self, f: &dyn PciFunction, at: u16, data: &mut [u8]) {
        self.fixup_bars();
        let _ = f.config_read(at, data);
        for (i, b) in data.iter_mut().enumerate() {
            let a = usize::from(at) + i;
            *b = (*b & !self.virt[a]) | (self.bytes[a] & self.virt[a]);
        }
    }

    /// A write of `data` (1, 2 or 4 bytes) at `at`, inside the space
    /// (`vfio_default_config_write`, and `vfio_basic_config_write`'s INTx emulation).
    pub fn write(&mut self, f: &mut dyn PciFunction, at: u16, data: &[u8]) {
        let r = usize::from(at)..usize::from(at) + data.len();
        let (virt, write) = (&self.virt[r.clone()], &self.write[r.clone()]);
        if write.iter().all(|&w| w == 0) {
            return;
        }
        let was_disabled = self.intx_disabled();
        let mut phys = vec![0u8; data.len()];
        let _ = f.config_read(at, &mut phys);
        let mut to_phys = false;
        for (i, &v) in data.iter().enumerate() {
            let (vm, wm) = (virt[i] & write[i], !virt[i] & write[i]);
            let b = &mut self.bytes[r.start + i];
            *b = (*b & !vm) | (v & vm);
            phys[i] = (phys[i] & !wm) | (v & wm);
            to_phys |= wm != 0;
        }
        if to_phys {
            let _ = f.config_write(at, &phys);
        }
        match (was_disabled, self.intx_disabled()) {
            (false, true) => {
                f.interrupts().intx().mask();
            }
            (true, false) => f.interrupts().intx().unmask(),
            _ => {}
        }
    }

    /// The user's Interrupt Disable (`vdev->virq_disabled`).
    pub fn intx_disabled(&self) -> bool {
        self.word(COMMAND) & COMMAND_INTX_DISABLE != 0
    }

    /// `vfio_bar_fixup`: each virtual BAR reads back through its size mask with its type
    /// bits; an unimplemented one reads 0; the ROM BAR keeps its enable bit.
    fn fixup_bars(&mut self) {
        for (i, &(mask, flags)) in self.bars.iter().enumerate() {
            let at = if i == 6 {
                usize::from(ROM_ADDRESS)
            } else {
                usize::from(BASE_ADDRESS_0) + 4 * i
            };
            let b = &mut self.bytes[at..at + 4];
            let v = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            b.copy_from_slice(&((v & mask) | flags).to_le_bytes());
        }
    }
}

/// Each BAR dword's (address mask, type bits) from the function's declarations, the upper
/// dword of a 64-bit BAR taking the high half of its mask; the ROM's mask keeps Enable.
fn bar_masks(f: &dyn PciFunction) -> [(u32, u32); 7] {
    let desc = f.description();
    let mut out = [(0, 0); 7];
    for (i, bar) in desc.bars.iter().enumerate() {
        let Some(bar) = bar else { continue };
        let mask = !(bar.size - 1);
        let flags = match bar.kind {
            BarKind::Io => BAR_SPACE_IO,
            BarKind::Memory32 { prefetchable } => u32::from(prefetchable) * BAR_MEM_PREFETCH,
            BarKind::Memory64 { prefetchable } => {
                if let Some(hi) = out.get_mut(i + 1) {
                    *hi = ((mask >> 32) as u32, 0);
                }
                BAR_MEM_TYPE_64 | (u32::from(prefetchable) * BAR_MEM_PREFETCH)
            }
        };
        let low = if bar.kind == BarKind::Io {
            BAR_IO_FLAGS
        } else {
            BAR_MEM_FLAGS
        };
        out[i] = (mask as u32 & !low, flags);
    }
    if let Some(size) = desc.rom_size {
        out[6] = (!(size - 1) | ROM_ENABLE, 0);
    }
    out
}

/// The offset of the first capability `id` in `f`'s list, following at most 48 links.
pub(super) fn find_capability(f: &dyn PciFunction, id: u8) -> Option<u16> {
    let byte = |at: u16| {
        let mut b = [0u8];
        f.config_read(at, &mut b).ok().map(|()| b[0])
    };
    let mut at = byte(CAPABILITY_LIST)? & !3;
    for _ in 0..48 {
        if at < 0x40 {
            return None;
        }
        if byte(u16::from(at))? == id {
            return Some(u16::from(at));
        }
        at = byte(u16::from(at) + CAP_NEXT)? & !3;
    }
    None
}

/// The little-endian word at `at` of the function's config space (0 if unreadable).
pub(super) fn read_word(f: &dyn PciFunction, at: u16) -> u16 {
    let mut w = [0u8; 2];
    let _ = f.config_read(at, &mut w);
    u16::from_le_bytes(w)
}
