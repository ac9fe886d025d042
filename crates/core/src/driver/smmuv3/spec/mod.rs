//! SMMUv3 hardware layouts, apart from the model's logic (Arm IHI 0070): the identification
//! registers and the SMMU's configuration ([`regs`]), and the in-memory structure and command
//! layouts (§5.2 Stream Table Entry, §5.4 Context Descriptor, §4 Commands, §7.3 Event
//! records): the fields this model reads or checks.

pub mod regs;

/// A `GENMASK_ULL(hi, lo)`.
pub const fn mask(hi: u32, lo: u32) -> u64 {
    (u64::MAX >> (63 - hi)) & (u64::MAX << lo)
}

/// The field `m` of `v`, shifted down.
pub const fn get(v: u64, m: u64) -> u64 {
    (v & m) >> m.trailing_zeros()
}

/// `v` placed in field `m`.
pub const fn put(m: u64, v: u64) -> u64 {
    (v << m.trailing_zeros()) & m
}

/// Stream Table Entry, double words 0 and 1 (§5.2).
pub mod ste {
    use super::mask;
    /// Word 0 V.
    pub const V: u64 = 1;
    /// Word 0 Config, bits 3:1.
    pub const CFG: u64 = mask(3, 1);
    /// Config: abort all traffic, no event.
    pub const CFG_ABORT: u64 = 0;
    /// Config: bypass both stages.
    pub const CFG_BYPASS: u64 = 4;
    /// Config: stage 1 translates, stage 2 bypassed.
    pub const CFG_S1_TRANS: u64 = 5;
    /// Config: stage 1 bypassed, stage 2 translates.
    pub const CFG_S2_TRANS: u64 = 6;
    /// Config: both stages translate.
    pub const CFG_NESTED: u64 = 7;
    /// Word 0 S1Fmt, bits 5:4: 0 linear, 1 2-level with 4K leaf tables, 2 2-level with 64K.
    pub const S1FMT: u64 = mask(5, 4);
    /// Word 0 S1ContextPtr, bits 51:6.
    pub const S1CTXPTR: u64 = mask(51, 6);
    /// Word 0 S1CDMax, bits 63:59: log2 of the number of CDs.
    pub const S1CDMAX: u64 = mask(63, 59);
    /// Word 1 S1DSS, bits 1:0: what a transaction without a substream does when S1CDMax
    /// is non-zero: 0 terminate, 1 bypass stage 1, 2 use CD 0.
    pub const S1DSS: u64 = mask(1, 0);
    /// Word 1 S1CIR.
    pub const S1CIR: u64 = mask(3, 2);
    /// Word 1 S1COR.
    pub const S1COR: u64 = mask(5, 4);
    /// Word 1 S1CSH.
    pub const S1CSH: u64 = mask(7, 6);
    /// Word 1 S1STALLD.
    pub const S1STALLD: u64 = 1 << 27;
    /// Word 1 EATS, bits 29:28: 0 ATS aborted, 1 full ATS, 2 split-stage ATS.
    pub const EATS: u64 = mask(29, 28);
    /// EATS: ATS translation requests abort.
    pub const EATS_ABT: u64 = 0;
    /// EATS: full ATS.
    pub const EATS_TRANS: u64 = 1;
    /// What a nested STE's word 0 may hold (`STRTAB_STE_0_NESTING_ALLOWED`).
    pub const NESTING_ALLOWED_0: u64 = V | CFG | S1FMT | S1CTXPTR | S1CDMAX;
    /// What a nested STE's word 1 may hold (`STRTAB_STE_1_NESTING_ALLOWED`).
    pub const NESTING_ALLOWED_1: u64 = S1DSS | S1CIR | S1COR | S1CSH | S1STALLD | EATS;
}

/// Context Descriptor (§5.4) and the level-1 CD table descriptor (§5.4.2).
pub mod cd {
    use super::mask;
    /// Size of a CD.
    pub const SIZE: u64 = 64;
    /// Word 0 T0SZ, bits 5:0.
    pub const T0SZ: u64 = mask(5, 0);
    /// Word 0 TG0, bits 7:6: 0 4K, 1 64K, 2 16K.
    pub const TG0: u64 = mask(7, 6);
    /// Word 0 EPD0, bit 14: TTB0 walks disabled.
    pub const EPD0: u64 = 1 << 14;
    /// Word 0 ENDI, bit 15: big-endian tables.
    pub const ENDI: u64 = 1 << 15;
    /// Word 0 V, bit 31.
    pub const V: u64 = 1 << 31;
    /// Word 0 AA64, bit 41: AArch64 tables.
    pub const AA64: u64 = 1 << 41;
    /// Word 0 ASID, bits 63:48.
    pub const ASID: u64 = mask(63, 48);
    /// Word 1 TTB0, bits 51:4.
    pub const TTB0: u64 = mask(51, 4);
    /// L1 descriptor V, bit 0.
    pub const L1_V: u64 = 1;
    /// L1 descriptor L2Ptr, bits 51:12.
    pub const L1_L2PTR: u64 = mask(51, 12);
}

/// Command queue entries (§4).
pub mod cmd {
    use super::mask;
    /// Word 0 opcode, bits 7:0.
    pub const OP: u64 = mask(7, 0);
    /// Word 0 SSV, bit 11.
    pub const SSV: u64 = 1 << 11;
    /// CMD_CFGI_STE.
    pub const OP_CFGI_STE: u64 = 0x03;
    /// CMD_CFGI_CD.
    pub const OP_CFGI_CD: u64 = 0x05;
    /// CMD_CFGI_CD_ALL.
    pub const OP_CFGI_CD_ALL: u64 = 0x06;
    /// CMD_TLBI_NH_ALL.
    pub const OP_TLBI_NH_ALL: u64 = 0x10;
    /// CMD_TLBI_NH_ASID.
    pub const OP_TLBI_NH_ASID: u64 = 0x11;
    /// CMD_TLBI_NH_VA.
    pub const OP_TLBI_NH_VA: u64 = 0x12;
    /// CMD_TLBI_NH_VAA.
    pub const OP_TLBI_NH_VAA: u64 = 0x13;
    /// CMD_TLBI_NSNH_ALL.
    pub const OP_TLBI_NSNH_ALL: u64 = 0x30;
    /// CMD_ATC_INV.
    pub const OP_ATC_INV: u64 = 0x40;
    /// CFGI word 0 SSID, bits 31:12.
    pub const CFGI_SSID: u64 = mask(31, 12);
    /// CFGI word 0 SID, bits 63:32.
    pub const CFGI_SID: u64 = mask(63, 32);
    /// CFGI word 1 Leaf.
    pub const CFGI_LEAF: u64 = 1;
    /// TLBI word 0 NUM, bits 16:12.
    pub const TLBI_NUM: u64 = mask(16, 12);
    /// TLBI word 0 SCALE, bits 25:20.
    pub const TLBI_SCALE: u64 = mask(25, 20);
    /// TLBI word 0 VMID, bits 47:32.
    pub const TLBI_VMID: u64 = mask(47, 32);
    /// TLBI word 0 ASID, bits 63:48.
    pub const TLBI_ASID: u64 = mask(63, 48);
    /// TLBI word 1 Leaf.
    pub const TLBI_LEAF: u64 = 1;
    /// TLBI word 1 TTL, bits 9:8.
    pub const TLBI_TTL: u64 = mask(9, 8);
    /// TLBI word 1 TG, bits 11:10: 1 4K, 2 16K, 3 64K.
    pub const TLBI_TG: u64 = mask(11, 10);
    /// TLBI word 1 address, bits 63:12.
    pub const TLBI_VA: u64 = mask(63, 12);
    /// ATC_INV word 0 SSID, bits 31:12.
    pub const ATC_SSID: u64 = mask(31, 12);
    /// ATC_INV word 0 SID, bits 63:32.
    pub const ATC_SID: u64 = mask(63, 32);
    /// ATC_INV word 0 Global, bit 9.
    pub const ATC_GLOBAL: u64 = 1 << 9;
    /// ATC_INV word 1 Size, bits 5:0.
    pub const ATC_SIZE: u64 = mask(5, 0);
    /// ATC_INV word 1 address, bits 63:12.
    pub const ATC_ADDR: u64 = mask(63, 12);
    /// `ATC_INV_SIZE_ALL`.
    pub const ATC_SIZE_ALL: u64 = 52;
    /// `CMDQ_BATCH_ENTRIES`: the kernel issues user commands in batches of one less.
    pub const BATCH_ENTRIES: usize = 64;
}

/// Event records (§7.3).
pub mod evt {
    use super::mask;
    /// Word 0 event type, bits 7:0.
    pub const ID: u64 = mask(7, 0);
    /// Word 0 SSV, bit 11.
    pub const SSV: u64 = 1 << 11;
    /// Word 0 SubstreamID, bits 31:12.
    pub const SSID: u64 = mask(31, 12);
    /// Word 0 StreamID, bits 63:32.
    pub const SID: u64 = mask(63, 32);
    /// Word 1 RnW, bit 35: a read.
    pub const RNW: u64 = 1 << 35;
    /// Word 1 S2, bit 39: the fault is in stage 2.
    pub const S2: u64 = 1 << 39;
    /// Word 1 CLASS, bits 41:40: 0 CD fetch, 1 table walk, 2 input address.
    pub const CLASS: u64 = mask(41, 40);
    /// CLASS: a CD fetch.
    pub const CLASS_CD: u64 = 0;
    /// CLASS: a translation table fetch.
    pub const CLASS_TT: u64 = 1;
    /// CLASS: the input address.
    pub const CLASS_IN: u64 = 2;
    /// Word 3 IPA, bits 51:12.
    pub const IPA: u64 = mask(51, 12);
    /// C_BAD_STE.
    pub const C_BAD_STE: u8 = 0x04;
    /// F_STREAM_DISABLED.
    pub const F_STREAM_DISABLED: u8 = 0x06;
    /// C_BAD_SUBSTREAMID.
    pub const C_BAD_SUBSTREAMID: u8 = 0x08;
    /// C_BAD_CD.
    pub const C_BAD_CD: u8 = 0x0a;
    /// F_TRANSLATION.
    pub const F_TRANSLATION: u8 = 0x10;
    /// F_PERMISSION.
    pub const F_PERMISSION: u8 = 0x13;
}
