//! Register layouts of PCI configuration space: offsets and bit names only, no logic.
//!
//! Sources: PCI Local Bus Specification 3.0 (§6.1 "Configuration Space Organization", §6.2
//! "Configuration Space Functional Description", §6.7 "Capabilities List", §6.8.1 "MSI
//! Capability Structure"), MSI-X ECN / PCI 3.0 §6.8.2 "MSI-X Capability and Table Structure",
//! PCI Bus Power Management Interface Specification 1.2 §3.2, and the PCI Express Base
//! Specification 4.0 §7.5.3 "PCI Express Capability Structure" and §6.6.2 "Function Level
//! Reset". Names follow Linux's `include/uapi/linux/pci_regs.h`.

/// Conventional configuration space (PCI 3.0 §6.1).
pub const CONFIG_SIZE: usize = 256;
/// PCI Express extended configuration space (PCIe 4.0 §7.2.2).
pub const EXPRESS_CONFIG_SIZE: usize = 4096;
/// First byte after the type-0 header: where capabilities are placed.
pub const HEADER_SIZE: u16 = 0x40;

// Type-0 header (PCI 3.0 §6.1, figure 6-1).
/// Vendor ID (RO).
pub const VENDOR_ID: u16 = 0x00;
/// Device ID (RO).
pub const DEVICE_ID: u16 = 0x02;
/// Command (§6.2.2).
pub const COMMAND: u16 = 0x04;
/// Status (§6.2.3).
pub const STATUS: u16 = 0x06;
/// Revision ID (RO).
pub const REVISION_ID: u16 = 0x08;
/// Class code: programming interface, sub-class, base class (RO, 3 bytes).
pub const CLASS_PROG: u16 = 0x09;
/// Cache Line Size (RW, §6.2.4).
pub const CACHE_LINE_SIZE: u16 = 0x0c;
/// Header Type (RO): 0 for an endpoint; bit 7 multi-function.
pub const HEADER_TYPE: u16 = 0x0e;
/// Base Address Register 0; the six BARs are consecutive dwords (§6.2.5.1).
pub const BASE_ADDRESS_0: u16 = 0x10;
/// Number of BARs of a type-0 header.
pub const BAR_COUNT: usize = 6;
/// Subsystem Vendor ID (RO).
pub const SUBSYSTEM_VENDOR_ID: u16 = 0x2c;
/// Subsystem ID (RO).
pub const SUBSYSTEM_ID: u16 = 0x2e;
/// Expansion ROM Base Address (§6.2.5.2).
pub const ROM_ADDRESS: u16 = 0x30;
/// Capabilities Pointer (RO, §6.7).
pub const CAPABILITY_LIST: u16 = 0x34;
/// Interrupt Line (RW, §6.2.4).
pub const INTERRUPT_LINE: u16 = 0x3c;
/// Interrupt Pin (RO): 0 none, 1..=4 INTA#..INTD#.
pub const INTERRUPT_PIN: u16 = 0x3d;

// Command register bits (§6.2.2).
/// I/O Space enable.
pub const COMMAND_IO: u16 = 1 << 0;
/// Memory Space enable.
pub const COMMAND_MEMORY: u16 = 1 << 1;
/// Bus Master enable: the function may issue memory requests (DMA, MSI writes).
pub const COMMAND_MASTER: u16 = 1 << 2;
/// Parity Error Response.
pub const COMMAND_PARITY: u16 = 1 << 6;
/// SERR# enable.
pub const COMMAND_SERR: u16 = 1 << 8;
/// Interrupt Disable: the function must not assert INTx.
pub const COMMAND_INTX_DISABLE: u16 = 1 << 10;

// Status register bits (§6.2.3).
/// Interrupt Status (RO): the function's INTx is asserted internally.
pub const STATUS_INTERRUPT: u16 = 1 << 3;
/// Capabilities List (RO).
pub const STATUS_CAP_LIST: u16 = 1 << 4;
/// Master Data Parity Error (RW1C).
pub const STATUS_PARITY: u16 = 1 << 8;
/// Signaled Target Abort (RW1C).
pub const STATUS_SIG_TARGET_ABORT: u16 = 1 << 11;
/// Received Target Abort (RW1C).
pub const STATUS_REC_TARGET_ABORT: u16 = 1 << 12;
/// Received Master Abort (RW1C): a request of this function as master was not claimed.
pub const STATUS_REC_MASTER_ABORT: u16 = 1 << 13;
/// Signaled System Error (RW1C).
pub const STATUS_SIG_SYSTEM_ERROR: u16 = 1 << 14;
/// Detected Parity Error (RW1C).
pub const STATUS_DETECTED_PARITY: u16 = 1 << 15;
/// All write-1-to-clear bits of Status.
pub const STATUS_RW1C: u16 = STATUS_PARITY
    | STATUS_SIG_TARGET_ABORT
    | STATUS_REC_TARGET_ABORT
    | STATUS_REC_MASTER_ABORT
    | STATUS_SIG_SYSTEM_ERROR
    | STATUS_DETECTED_PARITY;

// Base Address Registers (§6.2.5.1).
/// Bit 0: the BAR decodes I/O space.
pub const BAR_SPACE_IO: u32 = 0x1;
/// Memory BAR type field (bits 2:1): 64-bit.
pub const BAR_MEM_TYPE_64: u32 = 0x4;
/// Memory BAR: prefetchable.
pub const BAR_MEM_PREFETCH: u32 = 0x8;
/// The read-only type bits of a memory BAR.
pub const BAR_MEM_FLAGS: u32 = 0xf;
/// The read-only type bits of an I/O BAR.
pub const BAR_IO_FLAGS: u32 = 0x3;
/// Expansion ROM BAR: address decode enable (RW); bits 10:1 reserved.
pub const ROM_ENABLE: u32 = 0x1;
/// Expansion ROM BAR: the address bits (31:11).
pub const ROM_ADDRESS_MASK: u32 = !0x7ff;

// Capabilities (§6.7): each starts with its ID and the offset of the next.
/// Offset of the next capability within a capability.
pub const CAP_NEXT: u16 = 1;
/// Power Management (PCI PM 1.2 §3.2).
pub const CAP_ID_PM: u8 = 0x01;
/// MSI (§6.8.1).
pub const CAP_ID_MSI: u8 = 0x05;
/// PCI Express (PCIe 4.0 §7.5.3).
pub const CAP_ID_EXP: u8 = 0x10;
/// MSI-X (§6.8.2).
pub const CAP_ID_MSIX: u8 = 0x11;

// Power Management capability (PCI PM 1.2 §3.2.3, §3.2.4).
/// Power Management Capabilities (RO).
pub const PM_PMC: u16 = 2;
/// PMC version field: 3 for PCI PM 1.2.
pub const PM_PMC_VERSION_1_2: u16 = 3;
/// Power Management Control/Status.
pub const PM_CTRL: u16 = 4;
/// PMCSR PowerState (RW, bits 1:0): D0..D3hot.
pub const PM_CTRL_STATE_MASK: u16 = 0x3;
/// PMCSR No_Soft_Reset (RO): D3hot to D0 does not reset the function.
pub const PM_CTRL_NO_SOFT_RESET: u16 = 1 << 3;
/// PMCSR PME_En (RW).
pub const PM_CTRL_PME_ENABLE: u16 = 1 << 8;
/// PMCSR PME_Status (RW1C).
pub const PM_CTRL_PME_STATUS: u16 = 1 << 15;
/// Size of the PM capability.
pub const PM_SIZEOF: u16 = 8;

// MSI capability (§6.8.1.3 .. §6.8.1.7).
/// Message Control.
pub const MSI_FLAGS: u16 = 2;
/// Message Control: MSI Enable (RW).
pub const MSI_FLAGS_ENABLE: u16 = 1 << 0;
/// Message Control: Multiple Message Capable (RO, bits 3:1, log2 of the vectors).
pub const MSI_FLAGS_QMASK_SHIFT: u16 = 1;
/// Message Control: Multiple Message Enable (RW, bits 6:4, log2 of the vectors enabled).
pub const MSI_FLAGS_QSIZE_SHIFT: u16 = 4;
/// Message Control: Multiple Message Enable field.
pub const MSI_FLAGS_QSIZE: u16 = 0x7 << MSI_FLAGS_QSIZE_SHIFT;
/// Message Control: 64-bit address capable (RO).
pub const MSI_FLAGS_64BIT: u16 = 1 << 7;
/// Message Control: per-vector masking capable (RO).
pub const MSI_FLAGS_MASKBIT: u16 = 1 << 8;
/// Message Address (lower dword; bits 1:0 reserved, RO 0).
pub const MSI_ADDRESS_LO: u16 = 4;
/// Message Upper Address (64-bit capable only).
pub const MSI_ADDRESS_HI: u16 = 8;
/// Message Data of a 32-bit capability.
pub const MSI_DATA_32: u16 = 8;
/// Message Data of a 64-bit capability.
pub const MSI_DATA_64: u16 = 12;
/// Mask Bits of a 32-bit capability with per-vector masking.
pub const MSI_MASK_32: u16 = 12;
/// Mask Bits of a 64-bit capability with per-vector masking.
pub const MSI_MASK_64: u16 = 16;
/// Pending Bits follow the Mask Bits (RO).
pub const MSI_PENDING_AFTER_MASK: u16 = 4;
/// Most vectors an MSI function has (MMC = 5).
pub const MSI_MAX_VECTORS: u32 = 32;

// MSI-X capability (§6.8.2.3 .. §6.8.2.9).
/// Message Control.
pub const MSIX_FLAGS: u16 = 2;
/// Message Control: Table Size (RO, N - 1).
pub const MSIX_FLAGS_QSIZE: u16 = 0x7ff;
/// Message Control: Function Mask (RW).
pub const MSIX_FLAGS_MASKALL: u16 = 1 << 14;
/// Message Control: MSI-X Enable (RW).
pub const MSIX_FLAGS_ENABLE: u16 = 1 << 15;
/// Table Offset/Table BIR (RO).
pub const MSIX_TABLE: u16 = 4;
/// PBA Offset/PBA BIR (RO).
pub const MSIX_PBA: u16 = 8;
/// BIR field of Table/PBA offset registers.
pub const MSIX_BIR_MASK: u32 = 0x7;
/// Size of the MSI-X capability.
pub const MSIX_SIZEOF: u16 = 12;
/// Size of an MSI-X table entry.
pub const MSIX_ENTRY_SIZE: u64 = 16;
/// Entry: Message Data.
pub const MSIX_ENTRY_DATA: u64 = 8;
/// Entry: Vector Control.
pub const MSIX_ENTRY_VECTOR_CTRL: u64 = 12;
/// Vector Control: Mask Bit (set at reset).
pub const MSIX_ENTRY_CTRL_MASKBIT: u32 = 1;

// PCI Express capability (PCIe 4.0 §7.5.3).
/// PCI Express Capabilities Register (RO): version and device/port type.
pub const EXP_FLAGS: u16 = 2;
/// Capability version 2.
pub const EXP_FLAGS_VERSION_2: u16 = 0x2;
/// Device/Port Type (bits 7:4): PCI Express Endpoint.
pub const EXP_TYPE_ENDPOINT: u16 = 0x0 << 4;
/// Device Capabilities (RO, §7.5.3.3).
pub const EXP_DEVCAP: u16 = 4;
/// Device Capabilities: Function Level Reset capable.
pub const EXP_DEVCAP_FLR: u32 = 1 << 28;
/// Device Control (§7.5.3.4).
pub const EXP_DEVCTL: u16 = 8;
/// Device Control: Phantom Functions Enable.
pub const EXP_DEVCTL_PHANTOM: u16 = 1 << 9;
/// Device Control: Initiate Function Level Reset (reads 0; §6.6.2).
pub const EXP_DEVCTL_BCR_FLR: u16 = 1 << 15;
/// Device Control: the RW fields (error reporting enables, relaxed ordering, max payload,
/// extended tag, phantom functions, aux power PM, no snoop, max read request).
pub const EXP_DEVCTL_RW: u16 = 0x7fff;
/// Device Control power-on value: max payload 128 B, max read request 512 B, relaxed
/// ordering and no snoop enabled (§7.5.3.4 default values).
pub const EXP_DEVCTL_DEFAULT: u16 = 0x2810;
/// Device Status (§7.5.3.5).
pub const EXP_DEVSTA: u16 = 10;
/// Device Status: the error detected bits (correctable, non-fatal, fatal, unsupported
/// request), RW1C.
pub const EXP_DEVSTA_RW1C: u16 = 0xf;
/// Link Capabilities (RO).
pub const EXP_LNKCAP: u16 = 12;
/// Link Status (RO).
pub const EXP_LNKSTA: u16 = 18;
/// Device Capabilities 2 (RO).
pub const EXP_DEVCAP2: u16 = 0x24;
/// Device Control 2 (RW per the capabilities of Device Capabilities 2).
pub const EXP_DEVCTL2: u16 = 0x28;
/// Size of a version-2 endpoint capability (`PCI_CAP_EXP_ENDPOINT_SIZEOF_V2`).
pub const EXP_SIZEOF: u16 = 0x3c;
