//! QEMU's edu device (1234:11e8) as its drivers in these examples see it: the registers of
//! BAR 0 (QEMU's `docs/specs/edu.rst`) and the PCI command bits a driver sets.
#![allow(dead_code)] // each example uses its own part

/// PCI vendor and device ID.
pub const VENDOR: u16 = 0x1234;
pub const DEVICE: u16 = 0x11e8;
/// Identification (reads 0x010000ed).
pub const ID: u64 = 0x00;
/// Liveness check: reads back the inverse of what was written.
pub const LIVENESS: u64 = 0x04;
/// DMA source address.
pub const DMA_SOURCE: u64 = 0x80;
/// DMA destination address.
pub const DMA_DESTINATION: u64 = 0x88;
/// DMA transfer count.
pub const DMA_COUNT: u64 = 0x90;
/// DMA command: bit 0 starts a transfer and reads 1 until it is done, bit 1 its direction.
pub const DMA_COMMAND: u64 = 0x98;
pub const DMA_RUN: u64 = 1;
pub const DMA_TO_RAM: u64 = 2;
/// edu's 4 KiB DMA buffer in its own address space.
pub const BUFFER: u64 = 0x40000;
/// edu's DMA addresses are 28 bits wide.
pub const DMA_LIMIT: u64 = 1 << 28;
/// PCI command register, and its Memory Space and Bus Master Enable bits.
pub const PCI_COMMAND: u64 = 0x04;
pub const MEMORY_AND_MASTER: u16 = 0x6;
