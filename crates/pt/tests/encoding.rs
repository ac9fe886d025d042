//! Entry encodings checked bit by bit against the hardware specifications.
//! Expected values are computed by hand from the cited tables.

use uiommu_pt::format::{amdv1, arm_lpae, tce, vtdss, x86_64};
use uiommu_pt::*;

const RW: Prot = Prot::RW;

/// Intel SDM Vol. 3A Tables 4-19/4-20; VT-d §9.7.
#[test]
fn x86_64_entries() {
    let f = X86_64;
    // 4 KiB PTE: P|R/W|U/S|A|D + address.
    assert_eq!(
        f.leaf(0, 0x1234_5000, 12, f.attrs(RW).unwrap()),
        0x1234_5067
    );
    // 2 MiB PDE, read-only: P|U/S|A|PS.
    assert_eq!(
        f.leaf(1, 0x4020_0000, 21, f.attrs(Prot::READ).unwrap()),
        0x4020_00a5
    );
    // 1 GiB PDPTE at the top of the 52-bit address space.
    let top = (1u64 << 51) | (1 << 30);
    assert_eq!(f.leaf(2, top, 30, f.attrs(RW).unwrap()), top | 0xe7);
    // Non-leaf: P|R/W|U/S|A.
    assert_eq!(f.table(3, 0x7000), 0x7027);
    // XD and ignored bits do not change the address.
    assert_eq!(
        f.decode(0, 0x8000_0000_1234_5067),
        Entry::Leaf {
            oa: 0x1234_5000,
            size_lg2: 12
        }
    );
    assert_eq!(
        f.decode(1, 0x4020_00a5),
        Entry::Leaf {
            oa: 0x4020_0000,
            size_lg2: 21
        }
    );
    assert_eq!(f.decode(1, 0x7027), Entry::Table(0x7000));
    // PS is only meaningful at levels 1 and 2; at level 3 it is a table.
    assert_eq!(f.decode(3, 0x70a7), Entry::Table(0x7000));
    assert_eq!(f.decode(0, 0x1234_5066), Entry::Empty);
    assert_eq!(x86_64::spec::XD, 1 << 63);
    assert!(f.is_dirty(0x40) && !f.is_dirty(0x20));
}

/// VT-d §9.8 second-stage entries.
#[test]
fn vtdss_entries() {
    let f = VtdSs::default();
    assert_eq!(
        f.leaf(0, 0x1234_5000, 12, f.attrs(RW).unwrap()),
        0x1234_5003
    );
    assert_eq!(
        f.leaf(2, 0x4000_0000, 30, f.attrs(Prot::READ).unwrap()),
        0x4000_0081
    );
    assert_eq!(f.table(1, 0x9000), 0x9003);
    let snoop = VtdSs {
        force_snoop: true,
        ..VtdSs::default()
    };
    assert_eq!(
        snoop.leaf(0, 0x1000, 12, snoop.attrs(Prot::WRITE).unwrap()),
        0x1802
    );
    let nest = VtdSs {
        force_writeable: true,
        ..VtdSs::default()
    };
    assert_eq!(nest.attrs(Prot::READ), Err(PtError::Invalid));
    assert_eq!(
        f.attrs(Prot::CACHE).map_err(PtError::errno),
        Err(errno::EINVAL)
    );
    // Any non-zero value is present (the kernel tests the whole word).
    assert_eq!(
        f.decode(1, 0x4020_0083),
        Entry::Leaf {
            oa: 0x4020_0000,
            size_lg2: 21
        }
    );
    assert_eq!(f.decode(0, 0), Entry::Empty);
    assert_eq!((vtdss::spec::A, vtdss::spec::D), (0x100, 0x200));
    assert!(f.is_dirty(0x1234_5203));
    assert_eq!(f.clean(0x1234_5303), 0x1234_5103);
}

/// AMD IOMMU spec §2.2.3: PTE/PDE fields, Table 14 page-size encoding.
#[test]
fn amdv1_entries() {
    let f = AmdV1::default();
    let a = f.attrs(RW).unwrap();
    assert_eq!(a, (1 << 61) | (1 << 62));
    assert_eq!(f.leaf(0, 0x1234_5000, 12, a), 0x6000_0000_1234_5001);
    // 8 KiB at level 1's granule: Next Level 7, no address ones.
    assert_eq!(f.leaf(0, 0x2000, 13, a), 0x6000_0000_0000_2e01);
    // 32 KiB: address bits 13:12 are ones.
    assert_eq!(f.leaf(0, 0x8000, 15, a), 0x6000_0000_0000_be01);
    assert_eq!(
        f.decode(0, 0x6000_0000_0000_be01),
        Entry::Leaf {
            oa: 0x8000,
            size_lg2: 15
        }
    );
    assert_eq!(
        f.decode(0, 0x6000_0000_0000_2e01),
        Entry::Leaf {
            oa: 0x2000,
            size_lg2: 13
        }
    );
    // 2 MiB at level 1 is the item itself (Next Level 0); 4 MiB is encoded.
    assert_eq!(f.leaf(1, 0x20_0000, 21, a), 0x6000_0000_0020_0001);
    assert_eq!(f.leaf(1, 0x40_0000, 22, a), 0x6000_0000_005f_fe01);
    assert_eq!(
        f.decode(1, 0x6000_0000_005f_fe01),
        Entry::Leaf {
            oa: 0x40_0000,
            size_lg2: 22
        }
    );
    // PDE: Next Level names the level of the table it points to.
    assert_eq!(f.table(2, 0x5000), 0x6000_0000_0000_5401);
    assert_eq!(f.decode(2, 0x6000_0000_0000_5401), Entry::Table(0x5000));
    assert_eq!(f.decode(1, 0x6000_0000_0000_5400), Entry::Empty);
    let fc = AmdV1 {
        force_coherence: true,
    };
    assert_eq!(fc.attrs(Prot::READ).unwrap(), (1 << 60) | (1 << 61));
    assert_eq!((amdv1::spec::A, amdv1::spec::D), (1 << 5, 1 << 6));
    // Every power of two per level, never 512 GiB, none at the root level.
    assert_eq!(f.possible_sizes(0), 0x001f_f000);
    assert_eq!(f.possible_sizes(3) & (1 << 39), 0);
    assert_eq!(f.possible_sizes(5), 0);
}

/// The selftest mock: same entries in 2 KiB units (iommufd_test.h MOCK_PAGE_SIZE).
#[test]
fn amdv1_mock_entries() {
    let f = AmdV1Mock::default();
    let a = f.attrs(RW).unwrap();
    assert_eq!(f.leaf(0, 0x800, 11, a), 0x6000_0000_0000_1001);
    assert_eq!(f.leaf(0, 0x1000, 12, a), 0x6000_0000_0000_2e01);
    assert_eq!(
        f.decode(0, 0x6000_0000_0000_2e01),
        Entry::Leaf {
            oa: 0x1000,
            size_lg2: 12
        }
    );
    // Huge page of 512 mock pages (MOCK_HUGE_PAGE_SIZE = 1 MiB) is a level-1 item.
    assert_eq!(f.leaf(1, 0x10_0000, 20, a), 0x6000_0000_0020_0001);
    let pt = PageTable::new(f, Config::levels(3)).unwrap();
    assert_eq!(pt.aperture(), (0, (1 << 38) - 1));
    assert_eq!(pt.pgsize_bitmap(), ((1u64 << 37) - 1) & !((1 << 11) - 1));
}

/// Arm ARM D8.3 descriptors; Linux's MAIR indices and stage-2 MemAttr.
#[test]
fn arm_entries() {
    let s1 = Arm4kS1::default();
    // Page: valid|page, AP[1], SH=outer, AF, nG.
    assert_eq!(
        s1.leaf(0, 0x1234_5000, 12, s1.attrs(RW).unwrap()),
        0x1234_5e43
    );
    // Read-only cacheable: AP[2], AttrIndx 1, SH=inner.
    let ro = s1.attrs(Prot::READ | Prot::CACHE).unwrap();
    assert_eq!(s1.leaf(0, 0x1234_5000, 12, ro), 0x1234_5fc7);
    // 2 MiB block: bit 1 clear.
    assert_eq!(
        s1.leaf(1, 0x4020_0000, 21, s1.attrs(RW).unwrap()),
        0x4020_0e41
    );
    // 64 KiB contiguous run: each entry its own address, Contiguous bit set.
    let e = s1.leaf(0, 0x1_0000 + 0x3000, 16, s1.attrs(RW).unwrap());
    assert_eq!(e, (1 << 52) | 0x1_3000 | 0xe43);
    assert_eq!(
        s1.decode(0, e),
        Entry::Leaf {
            oa: 0x1_0000,
            size_lg2: 16
        }
    );
    assert_eq!(s1.table(2, 0x8000), 0x8003);
    assert_eq!(s1.decode(1, 0x8003), Entry::Table(0x8000));
    // Level 3 with bit 1 clear and a level-0 (Arm) block are reserved.
    assert_eq!(s1.decode(0, 0x1234_5e41), Entry::Empty);
    assert_eq!(s1.decode(3, 0x1_4000_0e41), Entry::Empty);
    // MMIO, no-exec, privileged.
    let dev = s1
        .attrs(Prot::RW | Prot::MMIO | Prot::NOEXEC | Prot::PRIV)
        .unwrap();
    assert_eq!(dev, (3 << 53) | 0xe08);
    // DBM for writable leaves with hardware dirty management.
    let hd = Arm4kS1 { dbm: true };
    let w = hd.leaf(0, 0x1000, 12, hd.attrs(RW).unwrap());
    assert_eq!(w, (1 << 51) | 0x1e43);
    assert!(hd.is_dirty(w) && !hd.is_dirty(hd.clean(w)) && hd.clean(w) == w | 0x80);

    let s2 = Arm4kS2::default();
    // S2AP read|write, MemAttr 0xf (write-back), SH inner, AF.
    assert_eq!(
        s2.leaf(0, 0x1234_5000, 12, s2.attrs(RW | Prot::CACHE).unwrap()),
        0x1234_57ff
    );
    assert_eq!(s2.attrs(Prot::READ).unwrap(), 0x654);
    assert_eq!(s2.attrs(Prot::WRITE | Prot::MMIO).unwrap(), 0x684);

    // 16K: 32 MiB blocks at level 2, 2 MiB contiguous pages (128 x 16 KiB).
    let g16 = Arm16kS1::default();
    assert_eq!(g16.possible_sizes(0), (1 << 14) | (1 << 21));
    assert_eq!(g16.possible_sizes(1), (1 << 25) | (1 << 30));
    assert_eq!(g16.possible_sizes(2), 0);
    // 64K: address from bit 16; 512 MiB blocks; runs of 32.
    let g64 = Arm64kS2::default();
    assert_eq!(g64.possible_sizes(0), (1 << 16) | (1 << 21));
    assert_eq!(g64.possible_sizes(1), (1 << 29) | (1 << 34));
    assert_eq!(
        g64.decode(0, 0x1_2345_f7ff),
        Entry::Leaf {
            oa: 0x1_2345_0000,
            size_lg2: 16
        }
    );
    assert_eq!(arm_lpae::spec::addr(16), 0x0000_ffff_ffff_0000);
}

/// TCE: big-endian doubleword, read bit 0, write bit 1 (asm/tce.h).
#[test]
fn tce_entries() {
    let f = Tce4k::default();
    let e = f.leaf(0, 0x1234_5000, 12, f.attrs(RW).unwrap());
    assert_eq!(e.to_ne_bytes(), [0, 0, 0, 0, 0x12, 0x34, 0x50, 0x03]);
    let r = f.leaf(0, 0x1234_5000, 12, f.attrs(Prot::READ).unwrap());
    assert_eq!(r.to_ne_bytes()[7], tce::spec::READ as u8);
    assert_eq!(
        f.decode(0, e),
        Entry::Leaf {
            oa: 0x1234_5000,
            size_lg2: 12
        }
    );
    assert_eq!(
        f.table(1, 0x9000).to_ne_bytes(),
        [0, 0, 0, 0, 0, 0, 0x90, 0x03]
    );
    assert_eq!(f.decode(0, 0x1234_5000u64.to_be()), Entry::Empty);
    let w = Tce::<16>::window(1 << 59, 40);
    assert_eq!((w.levels, w.va_start), (3, 1 << 59));
}
