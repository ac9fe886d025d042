//! Builds a function's config space from its [`Description`]: the type-0 header with its BARs
//! and the capability list, each register with the software access the PCI specifications
//! give it (see [`super::spec`] for the sections).

use super::spec::*;
use super::{ConfigSpace, Masks};
use crate::describe::{Bar, BarKind, Capability, Description, ExpressDecl, MsiDecl, MsixDecl};

/// Where the declared capabilities were placed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapLayout {
    /// Offset of the Power Management capability.
    pub pm: Option<u16>,
    /// Offset and declaration of the MSI capability.
    pub msi: Option<(u16, MsiDecl)>,
    /// Offset and declaration of the MSI-X capability.
    pub msix: Option<(u16, MsixDecl)>,
    /// Offset of the PCI Express capability.
    pub express: Option<u16>,
    /// Offset of the SR-IOV extended capability.
    pub sriov: Option<u16>,
}

/// Power-on bytes and masks under construction.
pub(super) struct Builder {
    bytes: Vec<u8>,
    masks: Masks,
}

impl Builder {
    /// A register of `len` bytes at `at`: power-on value, RW bits, RW1C bits.
    pub(super) fn reg(&mut self, at: u16, len: usize, value: u32, writable: u32, rw1c: u32) {
        let at = usize::from(at);
        for i in 0..len {
            let shift = 8 * i;
            self.bytes[at + i] = (value >> shift) as u8;
            self.masks.writable[at + i] = (writable >> shift) as u8;
            self.masks.clear_on_one[at + i] = (rw1c >> shift) as u8;
        }
    }

    /// A read-only register.
    pub(super) fn ro(&mut self, at: u16, len: usize, value: u32) {
        self.reg(at, len, value, 0, 0);
    }
}

/// The config space `desc` declares, and where its capabilities are.
///
/// # Panics
/// If the declaration is not one hardware could have (a BAR size that is not a power of two,
/// a 64-bit BAR in the last slot or followed by another BAR, more MSI vectors than 32, an
/// MSI-X table in a missing BAR): a model's declaration is code, and wrong code.
pub fn build(desc: &Description) -> (ConfigSpace, CapLayout) {
    let size = if desc.is_express() {
        EXPRESS_CONFIG_SIZE
    } else {
        CONFIG_SIZE
    };
    let mut b = Builder {
        bytes: vec![0; size],
        masks: Masks::new(size),
    };
    header(&mut b, desc);
    let mut layout = capabilities(&mut b, desc);
    layout.sriov = super::sriov::extended(&mut b, desc);
    (ConfigSpace::new(b.bytes, b.masks), layout)
}

/// The type-0 header (PCI 3.0 §6.1, §6.2).
fn header(b: &mut Builder, desc: &Description) {
    b.ro(VENDOR_ID, 2, desc.vendor_id.into());
    b.ro(DEVICE_ID, 2, desc.device_id.into());
    b.ro(REVISION_ID, 1, desc.revision.into());
    b.ro(CLASS_PROG, 3, desc.class_code & 0xff_ffff);
    b.ro(SUBSYSTEM_VENDOR_ID, 2, desc.subsystem_vendor_id.into());
    b.ro(SUBSYSTEM_ID, 2, desc.subsystem_id.into());
    // §6.2.2: a space the function does not decode has its enable hardwired to 0.
    let bars = || desc.bars.iter().flatten();
    let mut command = COMMAND_MASTER | COMMAND_PARITY | COMMAND_SERR;
    if bars().any(|bar| bar.kind == BarKind::Io) {
        command |= COMMAND_IO;
    }
    if bars().any(|bar| bar.kind != BarKind::Io) || desc.rom_size.is_some() {
        command |= COMMAND_MEMORY;
    }
    if desc.interrupt_pin != 0 {
        command |= COMMAND_INTX_DISABLE;
    }
    b.reg(COMMAND, 2, 0, command.into(), 0);
    let status = if desc.capabilities.is_empty() {
        0
    } else {
        STATUS_CAP_LIST
    };
    b.reg(STATUS, 2, status.into(), 0, STATUS_RW1C.into());
    b.reg(CACHE_LINE_SIZE, 1, 0, 0xff, 0);
    bar_registers(b, BASE_ADDRESS_0, &desc.bars);
    if let Some(rom) = desc.rom_size {
        assert!(rom.is_power_of_two() && rom >= 2048, "ROM size {rom:#x}");
        let writable = (ROM_ADDRESS_MASK & !(rom - 1)) | ROM_ENABLE;
        b.reg(ROM_ADDRESS, 4, 0, writable, 0);
    }
    b.reg(INTERRUPT_LINE, 1, 0, 0xff, 0);
    assert!(desc.interrupt_pin <= 4, "pin {}", desc.interrupt_pin);
    b.ro(INTERRUPT_PIN, 1, desc.interrupt_pin.into());
}

/// BARs from `base` on whose address bits below the size are read-only zeros (§6.2.5.1), so
/// that writing all ones reads back the size mask with the type bits (the header's, and the
/// SR-IOV capability's VF BARs, PCIe r6.0 §9.3.3.14).
pub(super) fn bar_registers(b: &mut Builder, base: u16, bars: &[Option<Bar>; BAR_COUNT]) {
    for (i, bar) in bars.iter().enumerate() {
        let Some(bar) = bar else { continue };
        assert!(bar.size.is_power_of_two(), "BAR {i} size {:#x}", bar.size);
        let at = base + 4 * i as u16;
        let size_mask = !(bar.size - 1);
        match bar.kind {
            BarKind::Io => {
                assert!(bar.size >= 4 && bar.size <= 256, "I/O BAR {i} size");
                b.reg(at, 4, BAR_SPACE_IO, size_mask as u32 & !BAR_IO_FLAGS, 0);
            }
            BarKind::Memory32 { prefetchable } => {
                assert!(bar.size >= 16 && bar.size <= 1 << 31, "BAR {i} size");
                let flags = if prefetchable { BAR_MEM_PREFETCH } else { 0 };
                b.reg(at, 4, flags, size_mask as u32 & !BAR_MEM_FLAGS, 0);
            }
            BarKind::Memory64 { prefetchable } => {
                assert!(bar.size >= 16, "BAR {i} size");
                assert!(
                    i + 1 < BAR_COUNT && bars[i + 1].is_none(),
                    "BAR {i} upper dword"
                );
                let flags = BAR_MEM_TYPE_64 | if prefetchable { BAR_MEM_PREFETCH } else { 0 };
                b.reg(at, 4, flags, size_mask as u32 & !BAR_MEM_FLAGS, 0);
                b.reg(at + 4, 4, 0, (size_mask >> 32) as u32, 0);
            }
        }
    }
}

/// The capability list (§6.7), from offset 0x40 in declaration order.
fn capabilities(b: &mut Builder, desc: &Description) -> CapLayout {
    let mut layout = CapLayout::default();
    let mut next_ptr = CAPABILITY_LIST;
    let mut at = HEADER_SIZE;
    for cap in &desc.capabilities {
        let (id, len) = match *cap {
            Capability::PowerManagement { no_soft_reset } => {
                power_management(b, at, no_soft_reset);
                layout.pm = Some(at);
                (CAP_ID_PM, PM_SIZEOF)
            }
            Capability::Msi(msi) => {
                layout.msi = Some((at, msi));
                (CAP_ID_MSI, msi_capability(b, at, msi))
            }
            Capability::Msix(msix) => {
                msix_capability(b, at, msix, &desc.bars);
                layout.msix = Some((at, msix));
                (CAP_ID_MSIX, MSIX_SIZEOF)
            }
            Capability::Express(exp) => {
                express(b, at, exp);
                layout.express = Some(at);
                (CAP_ID_EXP, EXP_SIZEOF)
            }
            // An extended capability: placed after the list (`super::sriov`).
            Capability::Sriov(_) => continue,
        };
        b.ro(at, 1, id.into());
        b.ro(next_ptr, 1, at.into());
        next_ptr = at + CAP_NEXT;
        at = (at + len).next_multiple_of(4);
        assert!(
            usize::from(at) <= CONFIG_SIZE,
            "capabilities overflow the header"
        );
    }
    layout
}

/// PCI PM 1.2 §3.2: PMC version 1.2, no PME; PowerState RW.
fn power_management(b: &mut Builder, at: u16, no_soft_reset: bool) {
    b.ro(at + PM_PMC, 2, PM_PMC_VERSION_1_2.into());
    let value = if no_soft_reset {
        PM_CTRL_NO_SOFT_RESET
    } else {
        0
    };
    b.reg(at + PM_CTRL, 2, value.into(), PM_CTRL_STATE_MASK.into(), 0);
}

/// PCI 3.0 §6.8.1: Message Control, address, data, and the Mask (RW for the implemented
/// vectors) and Pending (RO) bits. Returns the capability's length.
fn msi_capability(b: &mut Builder, at: u16, msi: MsiDecl) -> u16 {
    let v = msi.vectors;
    assert!(
        v.is_power_of_two() && v <= MSI_MAX_VECTORS,
        "MSI vectors {v}"
    );
    let mut flags = (v.trailing_zeros() as u16) << MSI_FLAGS_QMASK_SHIFT;
    if msi.address_64 {
        flags |= MSI_FLAGS_64BIT;
    }
    if msi.per_vector_mask {
        flags |= MSI_FLAGS_MASKBIT;
    }
    let control_rw = MSI_FLAGS_ENABLE | MSI_FLAGS_QSIZE;
    b.reg(at + MSI_FLAGS, 2, flags.into(), control_rw.into(), 0);
    b.reg(at + MSI_ADDRESS_LO, 4, 0, !0x3, 0);
    let data = if msi.address_64 {
        b.reg(at + MSI_ADDRESS_HI, 4, 0, !0, 0);
        MSI_DATA_64
    } else {
        MSI_DATA_32
    };
    b.reg(at + data, 2, 0, 0xffff, 0);
    if !msi.per_vector_mask {
        return data + 2;
    }
    let mask = data + 4;
    let implemented = if v == 32 { !0 } else { (1u32 << v) - 1 };
    b.reg(at + mask, 4, 0, implemented, 0);
    mask + MSI_PENDING_AFTER_MASK + 4
}

/// PCI 3.0 §6.8.2: Message Control (Function Mask and Enable RW), table and PBA locations.
fn msix_capability(b: &mut Builder, at: u16, msix: MsixDecl, bars: &[Option<Bar>; BAR_COUNT]) {
    assert!((1..=2048).contains(&msix.vectors), "MSI-X vectors");
    for (bar, offset, len) in [
        (
            msix.table_bar,
            msix.table_offset,
            u64::from(msix.vectors) * 16,
        ),
        (
            msix.pba_bar,
            msix.pba_offset,
            u64::from(msix.vectors).div_ceil(64) * 8,
        ),
    ] {
        let size = bars
            .get(usize::from(bar))
            .copied()
            .flatten()
            .map(|b| b.size);
        assert!(
            offset % 8 == 0 && size.is_some_and(|s| u64::from(offset) + len <= s),
            "MSI-X structure outside BAR {bar}"
        );
    }
    let control_rw = MSIX_FLAGS_MASKALL | MSIX_FLAGS_ENABLE;
    b.reg(
        at + MSIX_FLAGS,
        2,
        u32::from(msix.vectors - 1),
        control_rw.into(),
        0,
    );
    b.ro(
        at + MSIX_TABLE,
        4,
        msix.table_offset | u32::from(msix.table_bar),
    );
    b.ro(at + MSIX_PBA, 4, msix.pba_offset | u32::from(msix.pba_bar));
}

/// PCIe 4.0 §7.5.3: an endpoint's version-2 capability; Device Control RW with Initiate FLR
/// a strobe, Device Status error bits RW1C, a x1 2.5 GT/s link.
fn express(b: &mut Builder, at: u16, exp: ExpressDecl) {
    b.ro(
        at + EXP_FLAGS,
        2,
        (EXP_FLAGS_VERSION_2 | EXP_TYPE_ENDPOINT).into(),
    );
    let mut devcap = u32::from(exp.max_payload & 0x7);
    if exp.flr {
        devcap |= EXP_DEVCAP_FLR;
    }
    b.ro(at + EXP_DEVCAP, 4, devcap);
    let devctl = at + EXP_DEVCTL;
    b.reg(
        devctl,
        2,
        EXP_DEVCTL_DEFAULT.into(),
        EXP_DEVCTL_RW.into(),
        0,
    );
    if exp.flr {
        b.masks.strobe[usize::from(devctl) + 1] = (EXP_DEVCTL_BCR_FLR >> 8) as u8;
    }
    b.reg(at + EXP_DEVSTA, 2, 0, 0, EXP_DEVSTA_RW1C.into());
    // Max Link Speed 2.5 GT/s, Max Link Width x1; the link trained at both.
    b.ro(at + EXP_LNKCAP, 4, 0x11);
    b.ro(at + EXP_LNKSTA, 2, 0x11);
}
