//! Config space against a simple model: the function of [`every_feature`], whose registers'
//! software access is written out below from the specifications (independently of the
//! builder), and random sequences of writes of every size at every offset.

use super::build::build;
use super::spec::*;
use super::{ConfigSpace, Written};
use crate::testing::every_feature;
use proptest::prelude::*;

/// (offset, width, read-write bits, write-1-to-clear bits) of [`every_feature`]; every bit
/// not listed is read-only.
const REGISTERS: &[(u16, usize, u32, u32)] = &[
    (0x04, 2, 0x0547, 0), // Command: IO, Memory, Master, Parity, SERR, INTx Disable
    (0x06, 2, 0, 0xf900), // Status: the error bits
    (0x0c, 1, 0xff, 0),   // Cache Line Size
    (0x10, 4, 0xffff_c000, 0), // BAR 0: 16 KiB, 64-bit, prefetchable
    (0x14, 4, 0xffff_ffff, 0), // BAR 1: its upper dword
    (0x18, 4, 0xffff_f000, 0), // BAR 2: 4 KiB
    (0x1c, 4, 0xffff_ff00, 0), // BAR 3: 256 bytes of I/O
    (0x20, 4, 0xffff_0000, 0), // BAR 4: 64 KiB
    (0x30, 4, 0xffff_0001, 0), // ROM: 64 KiB, enable
    (0x3c, 1, 0xff, 0),   // Interrupt Line
    (0x44, 2, 0x0003, 0), // PMCSR PowerState
    (0x4a, 2, 0x0071, 0), // MSI control: Enable, MME
    (0x4c, 4, 0xffff_fffc, 0), // MSI address
    (0x50, 4, 0xffff_ffff, 0), // MSI upper address
    (0x54, 2, 0xffff, 0), // MSI data
    (0x58, 4, 0x0000_000f, 0), // MSI mask bits, 4 vectors
    (0x62, 2, 0xc000, 0), // MSI-X control: Enable, Function Mask
    (0x74, 2, 0x7fff, 0), // PCIe Device Control (Initiate FLR is a strobe)
    (0x76, 2, 0, 0x000f), // PCIe Device Status: error detected bits
];

/// Per-byte (read-write, write-1-to-clear) masks from [`REGISTERS`].
fn model_masks() -> (Vec<u8>, Vec<u8>) {
    let (mut rw, mut w1c) = (vec![0; EXPRESS_CONFIG_SIZE], vec![0; EXPRESS_CONFIG_SIZE]);
    for &(at, width, w, c) in REGISTERS {
        for i in 0..width {
            rw[usize::from(at) + i] = (w >> (8 * i)) as u8;
            w1c[usize::from(at) + i] = (c >> (8 * i)) as u8;
        }
    }
    (rw, w1c)
}

fn space() -> ConfigSpace {
    build(&every_feature()).0
}

fn read_all(cfg: &ConfigSpace) -> Vec<u8> {
    (0..cfg.len() as u16).map(|at| cfg.byte(at)).collect()
}

fn dword(cfg: &ConfigSpace, at: u16) -> u32 {
    let mut b = [0; 4];
    cfg.read(at, &mut b).unwrap();
    u32::from_le_bytes(b)
}

fn write_dword(cfg: &mut ConfigSpace, at: u16, v: u32) -> Written {
    cfg.write(at, &v.to_le_bytes()).unwrap()
}

/// A write: offset, bytes (1, 2 or 4 of them), biased to all ones half the time so that
/// read-only and clear-on-one bits see ones.
fn write_strategy() -> impl Strategy<Value = (u16, Vec<u8>)> {
    let value = prop_oneof![Just(u32::MAX), any::<u32>()];
    (
        prop::sample::select(vec![1usize, 2, 4]),
        value,
        0..EXPRESS_CONFIG_SIZE as u16,
    )
        .prop_map(|(len, v, at)| {
            let at = at.min((EXPRESS_CONFIG_SIZE - len) as u16);
            (at, v.to_le_bytes()[..len].to_vec())
        })
}

proptest! {
    /// Read-only bits never change, read-write bits take what is written, write-1-to-clear
    /// bits clear where a one is written and nowhere else.
    #[test]
    fn writes_follow_each_bits_access(writes in prop::collection::vec(write_strategy(), 1..64)) {
        let mut cfg = space();
        // The function has set every clear-on-one bit.
        cfg.set_word_bits(STATUS, STATUS_RW1C, true);
        cfg.set_word_bits(0x76, EXP_DEVSTA_RW1C, true);
        let (rw, w1c) = model_masks();
        let mut model = read_all(&cfg);
        for (at, data) in writes {
            cfg.write(at, &data).unwrap();
            for (i, &v) in data.iter().enumerate() {
                let b = usize::from(at) + i;
                model[b] = ((model[b] & !rw[b]) | (v & rw[b])) & !(v & w1c[b]);
            }
            prop_assert_eq!(&read_all(&cfg), &model, "after a write at {:#x}", at);
        }
    }

    /// Writing a BAR stores the address bits its size leaves, under its type bits.
    #[test]
    fn bars_keep_their_size_and_type(v in any::<u32>(), bar in 0usize..6) {
        let mut cfg = space();
        let at = BASE_ADDRESS_0 + 4 * bar as u16;
        let before = dword(&cfg, at);
        write_dword(&mut cfg, at, v);
        let (rw, _) = model_masks();
        let mask = u32::from_le_bytes(rw[usize::from(at)..usize::from(at) + 4].try_into().unwrap());
        prop_assert_eq!(dword(&cfg, at), (before & !mask) | (v & mask));
    }
}

#[test]
fn bar_size_probe_reads_the_size_mask_with_type_bits_and_restores() {
    let mut cfg = space();
    let expect = [
        (0x10, 0xffff_c00c), // 64-bit prefetchable memory
        (0x14, 0xffff_ffff),
        (0x18, 0xffff_f000),
        (0x1c, 0xffff_ff01), // I/O
        (0x20, 0xffff_0000),
        (0x24, 0), // not implemented
    ];
    for (at, probe) in expect {
        let type_bits = dword(&cfg, at);
        let orig = 0xfebf_0000 & probe;
        write_dword(&mut cfg, at, orig);
        write_dword(&mut cfg, at, u32::MAX);
        assert_eq!(dword(&cfg, at), probe, "BAR at {at:#x}");
        write_dword(&mut cfg, at, orig);
        assert_eq!(dword(&cfg, at), orig | type_bits, "BAR at {at:#x} restored");
    }
    // The ROM, as Linux's pci_read_bases sizes it: all ones but the enable bit.
    write_dword(&mut cfg, ROM_ADDRESS, !ROM_ENABLE);
    assert_eq!(dword(&cfg, ROM_ADDRESS), 0xffff_0000);
}

#[test]
fn a_function_without_a_rom_reads_zero_there() {
    let (mut cfg, _) = build(&crate::edu::description());
    write_dword(&mut cfg, ROM_ADDRESS, u32::MAX);
    assert_eq!(dword(&cfg, ROM_ADDRESS), 0);
}

#[test]
fn the_capability_list_is_built_in_declaration_order() {
    let (cfg, layout) = build(&every_feature());
    assert_eq!(cfg.len(), EXPRESS_CONFIG_SIZE);
    assert_ne!(cfg.word(STATUS) & STATUS_CAP_LIST, 0);
    let mut chain = vec![];
    let mut at = cfg.byte(CAPABILITY_LIST);
    while at != 0 {
        chain.push((at, cfg.byte(at.into())));
        at = cfg.byte(u16::from(at) + CAP_NEXT);
    }
    let expect = [
        (0x40, CAP_ID_PM),
        (0x48, CAP_ID_MSI),
        (0x60, CAP_ID_MSIX),
        (0x6c, CAP_ID_EXP),
    ];
    assert_eq!(chain, expect);
    assert_eq!(layout.express, Some(0x6c));
    // MSI: 4 vectors capable (MMC 2), 64-bit, per-vector masking.
    assert_eq!(
        cfg.word(0x4a),
        (2 << 1) | MSI_FLAGS_64BIT | MSI_FLAGS_MASKBIT
    );
    // MSI-X: 16 entries; table and PBA in BAR 4.
    assert_eq!(
        (cfg.word(0x62), cfg.dword(0x64), cfg.dword(0x68)),
        (15, 4, 0x804)
    );
    // PCIe: v2 endpoint, FLR capable; no extended capabilities.
    assert_eq!(cfg.word(0x6e), 2);
    assert_ne!(cfg.dword(0x70) & EXP_DEVCAP_FLR, 0);
    assert_eq!(cfg.dword(0x100), 0);
}

#[test]
fn initiate_flr_is_a_strobe_that_reads_zero() {
    let mut cfg = space();
    let devctl = 0x74;
    let w = cfg
        .write(devctl, &EXP_DEVCTL_BCR_FLR.to_le_bytes())
        .unwrap();
    assert!(w.strobed);
    assert_eq!(cfg.word(devctl) & EXP_DEVCTL_BCR_FLR, 0);
    // The other fields were written as any RW field is.
    assert_eq!(cfg.word(devctl), 0);
    let w = cfg.write(devctl, &[0xff]).unwrap();
    assert!(!w.strobed);
}

#[test]
fn accesses_of_other_sizes_or_past_the_end_are_refused() {
    let mut cfg = space();
    let mut three = [0; 3];
    assert!(cfg.read(0, &mut three).is_err());
    assert!(cfg.write(0xffe, &[0; 4]).is_err());
    let (mut conventional, _) = build(&crate::edu::description());
    assert!(conventional.write(0x100, &[0]).is_err());
    assert!(conventional.read(0xfc, &mut [0; 4]).is_ok());
}
