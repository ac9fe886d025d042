//! The registers of QEMU's educational device, as `docs/specs/edu.rst` documents them and
//! `hw/misc/edu.c` implements them. Offsets are in BAR 0.

/// PCI Vendor ID: QEMU (`PCI_VENDOR_ID_QEMU`).
pub const VENDOR_ID: u16 = 0x1234;
/// PCI Device ID.
pub const DEVICE_ID: u16 = 0x11e8;
/// Revision ID.
pub const REVISION: u8 = 0x10;
/// Class code: base class 0x00, sub-class 0xff (`PCI_CLASS_OTHERS` as QEMU's 16-bit class
/// ID), programming interface 0.
pub const CLASS_CODE: u32 = 0x00_ff00;
/// Subsystem Vendor ID QEMU gives every device (`PCI_SUBVENDOR_ID_REDHAT_QUMRANET`).
pub const SUBSYSTEM_VENDOR_ID: u16 = 0x1af4;
/// Subsystem ID QEMU gives every device (`PCI_SUBDEVICE_ID_QEMU`).
pub const SUBSYSTEM_ID: u16 = 0x1100;
/// BAR 0: 1 MiB of 32-bit, non-prefetchable MMIO.
pub const BAR0_SIZE: u64 = 1 << 20;

/// Identification (RO): major version 1, minor 0, 0xed.
pub const IDENTIFICATION: u64 = 0x00;
/// The identification value.
pub const IDENTIFICATION_VALUE: u32 = 0x0100_00ed;
/// Card liveness check (RW): reads the bitwise inverse of what was written.
pub const LIVENESS: u64 = 0x04;
/// Factorial computation (RW): write n, read n! (modulo 2^32) once computed.
pub const FACTORIAL: u64 = 0x08;
/// Status (RW): computing (RO) and raise-interrupt-after-factorial.
pub const STATUS: u64 = 0x20;
/// Status: the factorial is being computed (`EDU_STATUS_COMPUTING`).
pub const STATUS_COMPUTING: u32 = 0x01;
/// Status: raise an interrupt when the factorial is done (`EDU_STATUS_IRQFACT`).
pub const STATUS_IRQFACT: u32 = 0x80;
/// Interrupt status (RO): the causes raised and not acknowledged.
pub const INTERRUPT_STATUS: u64 = 0x24;
/// Interrupt raise (WO): ORs the value into interrupt status and raises the interrupt.
pub const INTERRUPT_RAISE: u64 = 0x60;
/// Interrupt acknowledge (WO): clears the value's bits; the line lowers when none is left.
pub const INTERRUPT_ACK: u64 = 0x64;
/// Interrupt cause: factorial done (`FACT_IRQ`).
pub const IRQ_FACTORIAL: u32 = 0x0000_0001;
/// Interrupt cause: DMA done (`DMA_IRQ`).
pub const IRQ_DMA: u32 = 0x0000_0100;
/// DMA source address (RW, 64-bit).
pub const DMA_SOURCE: u64 = 0x80;
/// DMA destination address (RW, 64-bit).
pub const DMA_DESTINATION: u64 = 0x88;
/// DMA transfer count (RW, 64-bit).
pub const DMA_COUNT: u64 = 0x90;
/// DMA command (RW, 64-bit).
pub const DMA_COMMAND: u64 = 0x98;
/// Command: start the transfer; reads 1 until it is done (`EDU_DMA_RUN`).
pub const DMA_CMD_RUN: u64 = 0x1;
/// Command: direction, 0 from RAM to the buffer, 1 from the buffer to RAM (`EDU_DMA_DIR`).
pub const DMA_CMD_TO_RAM: u64 = 0x2;
/// Command: raise interrupt `IRQ_DMA` when done (`EDU_DMA_IRQ`).
pub const DMA_CMD_IRQ: u64 = 0x4;
/// The device's DMA buffer, addressed at this device-side address (`DMA_START`); it is not
/// mapped in the BAR.
pub const BUFFER_ADDRESS: u64 = 0x40000;
/// Size of the DMA buffer (`DMA_SIZE`).
pub const BUFFER_SIZE: usize = 4096;
/// The device drives 28 address bits (the `dma_mask` property's default): RAM addresses are
/// masked to them (`edu_clamp_addr`).
pub const DMA_ADDRESS_MASK: u64 = (1 << 28) - 1;
/// Registers below this offset are 32-bit; from it, 32- or 64-bit.
pub const WIDE_REGISTERS: u64 = 0x80;
