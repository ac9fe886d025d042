//! Device Table Entry fields (AMD IOMMU spec §2.2.2.1 "Device Table Entry Format"), by
//! quadword, and the GCR3 table entry (§2.2.6.1).

/// Quadword 0: V, valid.
pub const V: u64 = 1 << 0;
/// Quadword 0: TV, translation information valid.
pub const TV: u64 = 1 << 1;
/// Quadword 0: Mode, bits 11:9, host page-table levels (0: no host translation).
pub const MODE: u64 = 0x7 << 9;
/// Quadword 0: Host Page Table Root Pointer, bits 51:12.
pub const HOST_TRP: u64 = ((1 << 52) - 1) & !0xfff;
/// Quadword 0: PPR, peripheral page requests enabled.
pub const PPR: u64 = 1 << 52;
/// Quadword 0: GIOV, requests without PASID use the guest table of PASID 0.
pub const GIOV: u64 = 1 << 54;
/// Quadword 0: GV, guest translation valid.
pub const GV: u64 = 1 << 55;
/// Quadword 0: GLX, bits 57:56, GCR3 table levels minus one (3 reserved).
pub const GLX_SHIFT: u32 = 56;
/// Quadword 0: GCR3 Table Root Pointer bits 14:12, at 60:58.
pub const GCR3_14_12: u64 = 0x7 << 58;
/// Quadword 1: DomainID, bits 15:0.
pub const DOMID: u64 = 0xffff;
/// Quadword 1: GCR3 Table Root Pointer bits 30:15, at 31:16.
pub const GCR3_30_15: u64 = 0xffff << 16;
/// Quadword 1: GCR3 Table Root Pointer bits 51:31, at 63:43.
pub const GCR3_51_31: u64 = 0x1f_ffff << 43;
/// Quadword 2: Guest Paging Mode, bits 55:54 (0: 4 levels, 1: 5 levels).
pub const GPT_LEVEL_SHIFT: u32 = 54;
/// Guest Paging Mode: 4 levels.
pub const GUEST_PGTABLE_4_LEVEL: u64 = 0;
/// Guest Paging Mode: 5 levels.
pub const GUEST_PGTABLE_5_LEVEL: u64 = 1;
/// GCR3 table entry: valid (`GCR3_VALID`); bits 51:12 the next table or the guest CR3.
pub const GCR3_VALID: u64 = 1;
/// GCR3 table entry address bits.
pub const GCR3_ADDR: u64 = ((1 << 52) - 1) & !0xfff;
