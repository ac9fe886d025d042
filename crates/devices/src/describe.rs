//! What a PCI function declares about itself: the identity and layout its config space is
//! built from ([`crate::config::build`]), and what the ABI layer reports of its regions and
//! interrupts (`VFIO_DEVICE_GET_REGION_INFO`, `VFIO_DEVICE_GET_IRQ_INFO`).

use crate::config::spec::BAR_COUNT;

/// The kind of a Base Address Register (PCI 3.0 §6.2.5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarKind {
    /// A 32-bit memory BAR, located anywhere in the low 4 GiB.
    Memory32 {
        /// Reads have no side effects; the bridge may prefetch.
        prefetchable: bool,
    },
    /// A 64-bit memory BAR: it takes this BAR's dword and the next one.
    Memory64 {
        /// Reads have no side effects; the bridge may prefetch.
        prefetchable: bool,
    },
    /// An I/O space BAR.
    Io,
}

/// One implemented BAR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bar {
    /// Size in bytes: a power of two, at least 16 (memory) or 4 (I/O).
    pub size: u64,
    /// Its kind.
    pub kind: BarKind,
}

/// The MSI capability of a function (PCI 3.0 §6.8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MsiDecl {
    /// Vectors the function can use: a power of two up to 32 (Multiple Message Capable).
    pub vectors: u32,
    /// 64-bit message address capable.
    pub address_64: bool,
    /// Per-vector masking capable (Mask and Pending Bits).
    pub per_vector_mask: bool,
}

/// The MSI-X capability of a function (PCI 3.0 §6.8.2): its table and Pending Bit Array live
/// in BARs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MsixDecl {
    /// Table entries, 1..=2048.
    pub vectors: u16,
    /// BAR of the table.
    pub table_bar: u8,
    /// Offset of the table in it (8-byte aligned).
    pub table_offset: u32,
    /// BAR of the Pending Bit Array.
    pub pba_bar: u8,
    /// Offset of the PBA in it (8-byte aligned).
    pub pba_offset: u32,
}

/// The PCI Express capability of an endpoint (PCIe 4.0 §7.5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpressDecl {
    /// Function Level Reset capable (Device Capabilities bit 28).
    pub flr: bool,
    /// Max_Payload_Size Supported, as the Device Capabilities encoding (0: 128 B).
    pub max_payload: u8,
}

/// A capability of the standard list, placed in the order declared from offset 0x40.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// PCI Power Management (PCI PM 1.2 §3.2).
    PowerManagement {
        /// D3hot to D0 keeps the function's state (PMCSR No_Soft_Reset).
        no_soft_reset: bool,
    },
    /// MSI.
    Msi(MsiDecl),
    /// MSI-X.
    Msix(MsixDecl),
    /// PCI Express; the function gets 4 KiB of config space.
    Express(ExpressDecl),
    /// Single Root I/O Virtualization: an extended capability (PCIe r6.0 §9.3.3), placed
    /// after the list in extended config space; only a PCI Express function has it.
    Sriov(SriovDecl),
}

/// The SR-IOV capability of a physical function (PCIe r6.0 §9.3.3). Its VFs are functions
/// of the same model: their BARs are the PF's (the VF BARs declare them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SriovDecl {
    /// TotalVFs and InitialVFs (§9.3.3.5, §9.3.3.6).
    pub total_vfs: u16,
    /// First VF Offset (§9.3.3.9): VF 0's Routing ID is the PF's plus this.
    pub first_vf_offset: u16,
    /// VF Stride (§9.3.3.10): the Routing ID distance between consecutive VFs.
    pub vf_stride: u16,
    /// VF Device ID (§9.3.3.11).
    pub vf_device_id: u16,
}

/// A function's identity and layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    /// Vendor ID.
    pub vendor_id: u16,
    /// Device ID.
    pub device_id: u16,
    /// Subsystem Vendor ID.
    pub subsystem_vendor_id: u16,
    /// Subsystem ID.
    pub subsystem_id: u16,
    /// Class code: base class << 16 | sub-class << 8 | programming interface.
    pub class_code: u32,
    /// Revision ID.
    pub revision: u8,
    /// The BARs; the dword after a 64-bit BAR is `None`.
    pub bars: [Option<Bar>; BAR_COUNT],
    /// Size of the expansion ROM (`None`: no ROM, its BAR reads 0).
    pub rom_size: Option<u32>,
    /// Interrupt Pin: 0 for none, 1..=4 for INTA#..INTD#.
    pub interrupt_pin: u8,
    /// The capability list, in order.
    pub capabilities: Vec<Capability>,
}

/// How the kernel can reset a function on its own (`pci_reset_fn_methods`, tried in that
/// order by `__pci_reset_function_locked`; vfio-pci's `reset_works` is whether one exists).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetMethod {
    /// PCI Express Function Level Reset (`pcie_reset_flr`: Device Capabilities FLR).
    Flr,
    /// D3hot and back to D0 (`pci_pm_reset`: a PM capability without No_Soft_Reset).
    PowerManagement,
}

impl Description {
    /// The first reset method the kernel would find for this function. Device-specific and
    /// ACPI `_RST` resets do not exist for an emulated function, and neither does a slot or
    /// bus reset: each function sits alone on a root bus with no hotplug slot
    /// (`pci_dev_reset_slot_function`, `pci_parent_bus_reset`: `-ENOTTY`).
    pub fn reset_method(&self) -> Option<ResetMethod> {
        let flr = self
            .capabilities
            .iter()
            .any(|c| matches!(c, Capability::Express(e) if e.flr));
        let pm = self.capabilities.iter().any(|c| {
            matches!(
                c,
                Capability::PowerManagement {
                    no_soft_reset: false
                }
            )
        });
        if flr {
            Some(ResetMethod::Flr)
        } else if pm {
            Some(ResetMethod::PowerManagement)
        } else {
            None
        }
    }

    /// The MSI capability, if declared.
    pub fn msi(&self) -> Option<MsiDecl> {
        self.capabilities.iter().find_map(|c| match c {
            Capability::Msi(m) => Some(*m),
            _ => None,
        })
    }

    /// The MSI-X capability, if declared.
    pub fn msix(&self) -> Option<MsixDecl> {
        self.capabilities.iter().find_map(|c| match c {
            Capability::Msix(m) => Some(*m),
            _ => None,
        })
    }

    /// The SR-IOV capability, if declared.
    pub fn sriov(&self) -> Option<SriovDecl> {
        self.capabilities.iter().find_map(|c| match c {
            Capability::Sriov(s) => Some(*s),
            _ => None,
        })
    }

    /// Whether the function is PCI Express.
    pub fn is_express(&self) -> bool {
        self.capabilities
            .iter()
            .any(|c| matches!(c, Capability::Express(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reset_method_is_the_kernels_first_that_applies() {
        let mut d = crate::edu::description();
        assert_eq!(d.reset_method(), None, "QEMU's edu: no FLR, no PM");
        d.capabilities.push(Capability::PowerManagement {
            no_soft_reset: true,
        });
        assert_eq!(d.reset_method(), None, "No_Soft_Reset: D3hot keeps state");
        d.capabilities.push(Capability::PowerManagement {
            no_soft_reset: false,
        });
        assert_eq!(d.reset_method(), Some(ResetMethod::PowerManagement));
        d.capabilities.push(Capability::Express(ExpressDecl {
            flr: true,
            max_payload: 0,
        }));
        assert_eq!(
            d.reset_method(),
            Some(ResetMethod::Flr),
            "FLR comes before PM"
        );
    }
}
