//! The registers and descriptor of an Intel I/OAT (Crystal Beach DMA) engine of version 3.3,
//! as Linux's `drivers/dma/ioat/registers.h` and `hw.h` name them. Offsets are in BAR 0: the
//! device registers from 0, the channel's from [`CHANNEL_BASE`].

/// PCI Vendor ID: Intel.
pub const VENDOR_ID: u16 = 0x8086;
/// PCI Device ID: the Skylake-SP CBDMA function (`PCI_DEVICE_ID_INTEL_IOAT_SKX`), the one
/// the VFIO selftest driver matches.
pub const DEVICE_ID: u16 = 0x2021;
/// Revision ID.
pub const REVISION: u8 = 0x04;
/// Class code: base system peripheral (0x08), other (0x80).
pub const CLASS_CODE: u32 = 0x08_8000;
/// Subsystem Vendor ID.
pub const SUBSYSTEM_VENDOR_ID: u16 = 0x8086;
/// Subsystem ID.
pub const SUBSYSTEM_ID: u16 = 0x0000;
/// BAR 0: 16 KiB of 64-bit, non-prefetchable MMIO (`IOAT_MMIO_BAR`).
pub const BAR0_SIZE: u64 = 16 << 10;
/// Offset of the MSI-X table in BAR 0 (one vector).
pub const MSIX_TABLE: u32 = 0x2000;
/// Offset of the MSI-X Pending Bit Array in BAR 0.
pub const MSIX_PBA: u32 = 0x3000;

// --- Device registers ---------------------------------------------------------------------

/// Channel Count (RO, 8-bit).
pub const CHANCNT: u64 = 0x00;
/// Transfer Capacity (RO, 8-bit): log2 of the largest transfer of one descriptor.
pub const XFERCAP: u64 = 0x01;
/// General Control (RW, 8-bit).
pub const GENCTRL: u64 = 0x02;
/// Interrupt Control (8-bit).
pub const INTRCTRL: u64 = 0x03;
/// Interrupt Control: Master Interrupt Enable (RW).
pub const INTRCTRL_MASTER_INT_EN: u8 = 0x01;
/// Interrupt Control: a channel asks for attention (RW1C).
pub const INTRCTRL_INT_STATUS: u8 = 0x02;
/// Interrupt Control: INT_STATUS and MASTER_INT_EN (RO).
pub const INTRCTRL_INT: u8 = 0x04;
/// Interrupt Control: every MSI-X vector enabled (RW).
pub const INTRCTRL_MSIX_VECTOR_CONTROL: u8 = 0x08;
/// Attention Status (RO, 32-bit): a bit per channel that asked for an interrupt.
pub const ATTNSTATUS: u64 = 0x04;
/// Crystal Beach Version (RO, 8-bit): major in bits 7:4, minor in 3:0.
pub const CBVER: u64 = 0x08;
/// Interrupt Delay (16-bit): the delay in bits 13:0 (RW), coalescing supported in bit 15.
pub const INTRDELAY: u64 = 0x0c;
/// Interrupt Delay: the delay field.
pub const INTRDELAY_MASK: u16 = 0x3fff;
/// DMA Capability (RO, 32-bit): the operations beyond copy (none here).
pub const DMA_CAP: u64 = 0x10;
/// Channel Write Prefetch Limit (RW, 16-bit).
pub const CHWPREFLMT: u64 = 0x4c;

/// Channels: one.
pub const CHANNEL_COUNT: u8 = 1;
/// log2 of the largest transfer: 1 MiB per descriptor.
pub const XFERCAP_LOG2: u8 = 20;
/// Version 3.3 (`IOAT_VER_3_3`).
pub const VERSION: u8 = 0x33;

// --- Channel registers, from CHANNEL_BASE --------------------------------------------------

/// The first channel's registers (`IOAT_CHANNEL_MMIO_SIZE` after the device's).
pub const CHANNEL_BASE: u64 = 0x80;
/// Size of a channel's register block.
pub const CHANNEL_SIZE: u64 = 0x80;
/// Channel Control (RW, 16-bit).
pub const CHANCTRL: u64 = 0x00;
/// Channel Control: the channel may interrupt once more (cleared when it does).
pub const CHANCTRL_INT_REARM: u16 = 0x0001;
/// Channel Control: write the completion on an error too.
pub const CHANCTRL_ERR_COMPLETION_EN: u16 = 0x0004;
/// Channel Control: halt on any error.
pub const CHANCTRL_ANY_ERR_ABORT_EN: u16 = 0x0008;
/// Channel Control: interrupt on an error.
pub const CHANCTRL_ERR_INT_EN: u16 = 0x0010;
/// Channel Control: the bits software may write (priority, DCA, in use, snoop, the above).
pub const CHANCTRL_RW: u16 = 0xf33d;
/// DMA Compatibility (RO, 16-bit): version 2 descriptor rings (`IOAT_DMA_COMP_V2`).
pub const DMA_COMP: u64 = 0x02;
/// The compatibility value.
pub const DMA_COMP_VALUE: u16 = 0x0002;
/// Channel Command (8-bit): each command completes before the write returns, so it reads 0.
pub const CHANCMD: u64 = 0x04;
/// Command: reset the channel.
pub const CHANCMD_RESET: u8 = 0x20;
/// Command: resume a suspended channel.
pub const CHANCMD_RESUME: u8 = 0x10;
/// Command: abort: the channel halts.
pub const CHANCMD_ABORT: u8 = 0x08;
/// Command: suspend an active or idle channel.
pub const CHANCMD_SUSPEND: u8 = 0x04;
/// DMA Count (RW, 16-bit): the descriptors issued since the chain started, modulo 2^16.
pub const DMACOUNT: u64 = 0x06;
/// Channel Status (RO, 64-bit): the last completed descriptor's address and the state.
pub const CHANSTS: u64 = 0x08;
/// Channel Status: the completed descriptor address bits.
pub const CHANSTS_COMPLETED_ADDR: u64 = !0x3f;
/// Channel Status: the state field.
pub const CHANSTS_STATUS: u64 = 0x7;
/// Descriptor Chain Address (RW, 64-bit): where the chain starts.
pub const CHAINADDR: u64 = 0x10;
/// Channel Completion Address (RW, 64-bit): where the completion is written.
pub const CHANCMP: u64 = 0x18;
/// Current Descriptor Address (RO, 64-bit).
pub const CDAR: u64 = 0x20;
/// Channel Error (RW1C, 32-bit).
pub const CHANERR: u64 = 0x28;
/// Channel Error Mask (RW, 32-bit).
pub const CHANERR_MASK: u64 = 0x2c;

/// CHANERR: the first descriptor's address (CHAINADDR) is not 64-byte aligned.
pub const CHANERR_CHAIN_ADDR_VALUE: u32 = 0x0010;
/// CHANERR: a descriptor could not be fetched.
pub const CHANERR_NEXT_ADDR: u32 = 0x0004;
/// CHANERR: a next-descriptor address is not 64-byte aligned.
pub const CHANERR_NEXT_DESC_ALIGN: u32 = 0x0008;
/// CHANERR: reading the source failed.
pub const CHANERR_READ_DATA: u32 = 0x0100;
/// CHANERR: writing the destination failed.
pub const CHANERR_WRITE_DATA: u32 = 0x0200;
/// CHANERR: the descriptor's operation is not one the channel has.
pub const CHANERR_CONTROL: u32 = 0x0400;
/// CHANERR: the transfer size is 0 or above the transfer capacity.
pub const CHANERR_LENGTH: u32 = 0x0800;
/// CHANERR: writing the completion failed.
pub const CHANERR_COMPLETION_ADDR: u32 = 0x1000;

// --- Descriptors ---------------------------------------------------------------------------

/// A descriptor's size and alignment (`IOAT_DESC_SZ`).
pub const DESC_SIZE: u64 = 64;
/// Control: interrupt when the descriptor completes.
pub const CTL_INT_EN: u32 = 1 << 0;
/// Control: write the completion when the descriptor completes.
pub const CTL_COMPL_WRITE: u32 = 1 << 3;
/// Control: a null descriptor (no transfer).
pub const CTL_NULL: u32 = 1 << 5;
/// Control: the operation, in bits 31:24.
pub const CTL_OP_SHIFT: u32 = 24;
/// Operation: copy (`IOAT_OP_COPY`).
pub const OP_COPY: u8 = 0x00;

/// The fields of a DMA descriptor (`struct ioat_dma_descriptor`) the channel reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Descriptor {
    /// Bytes to copy.
    pub size: u32,
    /// Control.
    pub ctl: u32,
    /// Source address.
    pub src: u64,
    /// Destination address.
    pub dst: u64,
    /// The next descriptor's address.
    pub next: u64,
}

impl Descriptor {
    /// The descriptor in its 64 bytes, little-endian.
    pub fn parse(b: &[u8; DESC_SIZE as usize]) -> Self {
        let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
        let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
        Descriptor {
            size: u32_at(0),
            ctl: u32_at(4),
            src: u64_at(8),
            dst: u64_at(16),
            next: u64_at(24),
        }
    }

    /// Its 64 bytes (the reserved and driver-owned fields zero).
    pub fn to_bytes(&self) -> [u8; DESC_SIZE as usize] {
        let mut b = [0u8; DESC_SIZE as usize];
        b[0..4].copy_from_slice(&self.size.to_le_bytes());
        b[4..8].copy_from_slice(&self.ctl.to_le_bytes());
        b[8..16].copy_from_slice(&self.src.to_le_bytes());
        b[16..24].copy_from_slice(&self.dst.to_le_bytes());
        b[24..32].copy_from_slice(&self.next.to_le_bytes());
        b
    }

    /// The operation.
    pub fn op(&self) -> u8 {
        (self.ctl >> CTL_OP_SHIFT) as u8
    }
}
