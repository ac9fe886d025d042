//! Guest-owned tables walked in place, and nested (two-stage) walks where each
//! stage-1 table address goes through a stage-2 table: the same walker twice.

use std::collections::HashMap;
use std::sync::Mutex;

use uiommu_pt::format::x86_64::spec as x86;
use uiommu_pt::*;

/// Sparse memory of 64-bit words; unbacked addresses fault.
#[derive(Debug, Default)]
struct Sparse(Mutex<HashMap<u64, u64>>);

impl Sparse {
    fn put(&self, addr: u64, v: u64) {
        self.0.lock().unwrap().insert(addr, v);
    }
    fn get(&self, addr: u64) -> Option<u64> {
        self.0.lock().unwrap().get(&addr).copied()
    }
    /// Backs a whole 4 KiB table at `pa` with zeroes.
    fn table(&self, pa: u64) {
        for i in 0..512 {
            self.put(pa + i * 8, 0);
        }
    }
}

impl GuestMemory for Sparse {
    fn read_u64(&self, gpa: u64) -> Result<u64, Fault> {
        self.get(gpa).ok_or(Fault { addr: gpa })
    }
    fn compare_exchange_u64(
        &self,
        gpa: u64,
        old: u64,
        new: u64,
    ) -> Result<Result<u64, u64>, Fault> {
        let mut m = self.0.lock().unwrap();
        let slot = m.get_mut(&gpa).ok_or(Fault { addr: gpa })?;
        if *slot == old {
            *slot = new;
            Ok(Ok(old))
        } else {
            Ok(Err(*slot))
        }
    }
}

/// Writes a 4-level x86-64 table mapping `iova` (4 KiB) to `oa` at guest
/// addresses `root`, `root + 0x1000`, ...; returns the leaf's address.
fn build_stage1(mem: &Sparse, root: u64, iova: u64, oa: u64, leaf_bits: u64) -> u64 {
    let f = X86_64;
    let mut table = root;
    for level in (1..4u32).rev() {
        let next = root + (4 - level as u64) * 0x1000;
        mem.table(table);
        let idx = (iova >> (12 + 9 * level)) & 511;
        // Guest-written table entries without the accessed bit.
        mem.put(table + idx * 8, f.table(level, next) & !x86::A);
        table = next;
    }
    mem.table(table);
    let slot = table + ((iova >> 12) & 511) * 8;
    mem.put(slot, x86::P | oa | leaf_bits);
    slot
}

#[test]
fn guest_stage1_walk_sets_accessed_and_dirty() {
    let mem = Sparse::default();
    let iova = 0x7f12_3456_7000;
    let leaf = build_stage1(&mem, 0x10_0000, iova, 0xabc_d000, x86::RW);
    let pt = PageTable::with_root(
        X86_64,
        GuestTables { mem: &mem },
        0x10_0000,
        Config::levels(4),
    )
    .unwrap();
    assert_eq!(pt.iova_to_phys(iova + 0x123), Some(0xabc_d123));
    assert_eq!(
        mem.get(leaf),
        Some(x86::P | x86::RW | 0xabc_d000),
        "lookup writes nothing"
    );

    let t = pt.translate(iova + 8, Access::Read).unwrap();
    assert_eq!((t.phys, t.page_lg2), (0xabc_d008, 12));
    assert_eq!(mem.get(leaf).unwrap() & (x86::A | x86::D), x86::A);
    pt.translate(iova, Access::Write).unwrap();
    assert_eq!(mem.get(leaf).unwrap() & (x86::A | x86::D), x86::A | x86::D);
    assert_eq!(
        mem.get(0x10_0000 + ((iova >> 39) & 511) * 8).unwrap() & x86::A,
        x86::A
    );
}

#[test]
fn guest_faults_are_results() {
    let mem = Sparse::default();
    let iova = 0x4000_0000;
    build_stage1(&mem, 0x20_0000, iova, 0x5000, 0);
    let pt = PageTable::with_root(
        X86_64,
        GuestTables { mem: &mem },
        0x20_0000,
        Config::levels(4),
    )
    .unwrap();
    // Read-only leaf: writes fault on permission, at level 0.
    assert_eq!(
        pt.translate(iova, Access::Write),
        Err(WalkFault::Permission { level: 0 })
    );
    // Not present.
    assert_eq!(
        pt.translate(iova + 0x1000, Access::Read),
        Err(WalkFault::NotPresent { level: 0 })
    );
    // A table pointer to unbacked memory.
    let l1 = 0x20_0000 + 2 * 0x1000 + ((iova >> 21) & 511) * 8;
    mem.put(l1, X86_64.table(1, 0xdead_0000));
    assert!(matches!(
        pt.translate(iova, Access::Read),
        Err(WalkFault::Memory(_))
    ));
    assert_eq!(
        pt.lookup(iova),
        Err(PtError::Fault(0xdead_0000 + ((iova >> 12) & 511) * 8))
    );
    // A misaligned root is refused at every walk, not a panic.
    let bad =
        PageTable::with_root(X86_64, GuestTables { mem: &mem }, 0x123, Config::levels(4)).unwrap();
    assert!(bad.iova_to_phys(0).is_none());
}

/// Stage 2 owned by uiommu; guest memory reached through it.
struct ThroughStage2<'a> {
    s2: &'a PageTable<VtdSs>,
    host: &'a Sparse,
}

impl GuestMemory for ThroughStage2<'_> {
    fn read_u64(&self, gpa: u64) -> Result<u64, Fault> {
        let t = self
            .s2
            .translate(gpa, Access::Read)
            .map_err(|_| Fault { addr: gpa })?;
        self.host.read_u64(t.phys)
    }
    fn compare_exchange_u64(
        &self,
        gpa: u64,
        old: u64,
        new: u64,
    ) -> Result<Result<u64, u64>, Fault> {
        let t = self
            .s2
            .translate(gpa, Access::Write)
            .map_err(|_| Fault { addr: gpa })?;
        self.host.compare_exchange_u64(t.phys, old, new)
    }
}

#[test]
fn nested_walk_goes_through_stage2() {
    let host = Sparse::default();
    // The guest's tables live at GPA 0x10_0000.., backed at host 0x900_0000..
    let (gpa_root, hpa_root) = (0x10_0000u64, 0x900_0000u64);
    let iova = 0x1234_5000;
    build_stage1(&host, hpa_root, iova, 0x0030_0000, x86::RW);
    // Rewrite the stage-1 table pointers to GPAs (the guest only knows GPAs).
    for level in 1..4u64 {
        let table = hpa_root + (3 - level) * 0x1000;
        let idx = (iova >> (12 + 9 * level)) & 511;
        let next_gpa = gpa_root + (4 - level) * 0x1000;
        host.put(
            table + idx * 8,
            X86_64.table(level as u32, next_gpa) & !x86::A,
        );
    }
    let s2 = PageTable::new(VtdSs::default(), Config::levels(4)).unwrap();
    let mut g = Gather::new();
    s2.map(gpa_root, hpa_root, 4 * 0x1000, Prot::RW, &mut g)
        .unwrap();
    s2.map(0x0030_0000, 0x7700_0000, 0x1000, Prot::RW, &mut g)
        .unwrap();

    let s1 = PageTable::with_root(
        X86_64,
        GuestTables {
            mem: ThroughStage2 {
                s2: &s2,
                host: &host,
            },
        },
        gpa_root,
        Config::levels(4),
    )
    .unwrap();
    let gpa = s1.translate(iova + 0x10, Access::Write).unwrap().phys;
    assert_eq!(gpa, 0x0030_0010);
    assert_eq!(s2.iova_to_phys(gpa), Some(0x7700_0010));

    // Removing the stage-2 mapping of a stage-1 table makes the walk fault.
    assert_eq!(s2.unmap(gpa_root + 0x3000, 0x1000, &mut g), 0x1000);
    assert!(matches!(
        s1.translate(iova, Access::Read),
        Err(WalkFault::Memory(_))
    ));
}

/// A table walked in place from its root walks as the same table behind a `PageTable`: the
/// same results, the same faults, the same accessed/dirty updates.
#[test]
fn root_walk_is_the_page_table_walk() {
    let (a, b) = (Sparse::default(), Sparse::default());
    let iova = 0x7f12_3456_7000;
    let leaf_a = build_stage1(&a, 0x10_0000, iova, 0xabc_d000, x86::RW);
    let leaf_b = build_stage1(&b, 0x10_0000, iova, 0xabc_d000, x86::RW);
    let pt = PageTable::with_root(
        X86_64,
        GuestTables { mem: &a },
        0x10_0000,
        Config::levels(4),
    )
    .unwrap();
    let rw = RootWalk::new(
        X86_64,
        GuestTables { mem: &b },
        0x10_0000,
        Config::levels(4),
    )
    .unwrap();
    for probe in [iova, iova + 0x123, iova + 0x1000, 0, 1 << 47, u64::MAX] {
        assert_eq!(rw.lookup(probe), pt.lookup(probe), "lookup {probe:#x}");
        for access in [Access::Read, Access::Write] {
            assert_eq!(
                rw.translate(probe, access),
                pt.translate(probe, access),
                "translate {probe:#x}"
            );
        }
    }
    assert_eq!(a.get(leaf_a), b.get(leaf_b));
    assert_eq!(b.get(leaf_b).unwrap() & (x86::A | x86::D), x86::A | x86::D);
}

/// Out-of-range inputs fault before any table is read; a geometry the format does not have
/// is refused when the walk is set up.
#[test]
fn root_walk_geometry() {
    let mem = Sparse::default();
    let rw = RootWalk::new(
        X86_64,
        GuestTables { mem: &mem },
        0x10_0000,
        Config::levels(4),
    )
    .unwrap();
    assert_eq!(
        rw.translate(1 << 48, Access::Read),
        Err(WalkFault::OutOfRange)
    );
    assert_eq!(rw.lookup(1 << 48), Err(PtError::OutOfRange));
    // Within range, an unbacked root is a memory fault at the root's entry.
    assert_eq!(
        rw.translate(0, Access::Read),
        Err(WalkFault::Memory(Fault { addr: 0x10_0000 }))
    );
    let narrow = Config {
        va_lg2: 39,
        ..Config::levels(4)
    };
    let rw = RootWalk::new(X86_64, GuestTables { mem: &mem }, 0x10_0000, narrow).unwrap();
    assert_eq!(
        rw.translate(1 << 39, Access::Read),
        Err(WalkFault::OutOfRange)
    );
    for bad in [
        Config::levels(0),
        Config::levels(6),
        Config {
            va_lg2: 49,
            ..Config::levels(4)
        },
    ] {
        assert_eq!(
            RootWalk::new(X86_64, GuestTables { mem: &mem }, 0, bad).err(),
            Some(PtError::Invalid)
        );
    }
}
