use super::*;
use crate::ioas::{LockedVm, PinAccount, PinMemory, ProbeMemory};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;
use uiommu_pt::Access;
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;
use uiommu_uapi::user::testing::TestMemory;
use uiommu_uapi::vfio::*;

const RAM: u64 = 0x7d00_0000_0000;
const RAM_LEN: u64 = 4 << 20;
const MM: u64 = 1;

/// The process memory with pages of `contig` bytes (hugetlb-like when larger than 4 KiB).
#[derive(Debug)]
struct Mem {
    probe: ProbeMemory<Arc<TestMemory>>,
    contig: u64,
}

impl PinMemory for Mem {
    fn check_pinnable(&self, uva: u64, npages: u64, write: bool) -> Result<()> {
        self.probe.check_pinnable(uva, npages, write)
    }
    fn contiguity(&self, _uva: u64) -> u64 {
        self.contig
    }
}

struct Rig {
    mm: TceMm,
    locked: Arc<LockedVm>,
}

fn rig(contig: u64, limit_pages: u64) -> Rig {
    let mem = Arc::new(TestMemory::new());
    mem.map(RAM, RAM_LEN);
    let locked = Arc::new(LockedVm::new(limit_pages));
    Rig {
        mm: TceMm {
            memory: Arc::new(Mem {
                probe: ProbeMemory(mem),
                contig,
            }),
            account: locked.clone() as Arc<dyn PinAccount>,
        },
        locked,
    }
}

fn pe() -> Arc<TableGroup> {
    TableGroup::new(TceConfig::default()).unwrap()
}

fn map(iova: u64, vaddr: u64, size: u64, dir: Option<Dir>) -> impl FnOnce() -> Result<DmaMap> {
    move || {
        Ok(DmaMap {
            vaddr,
            iova,
            size,
            dir,
        })
    }
}

fn unmap(iova: u64, size: u64) -> impl FnOnce() -> Result<DmaUnmap> {
    move || Ok(DmaUnmap { iova, size })
}

fn reg(vaddr: u64, size: u64) -> impl FnOnce() -> Result<MemRange> {
    move || Ok(MemRange { vaddr, size })
}

fn create(page_shift: u32, window_size: u64, levels: u32) -> impl FnOnce() -> Result<WindowSpec> {
    move || {
        Ok(WindowSpec {
            page_shift,
            window_size,
            levels,
        })
    }
}

const RW: Option<Dir> = Some(Dir::Bidirectional);
const RO: Option<Dir> = Some(Dir::ToDevice);

#[test]
fn v1_takes_one_group_and_maps_in_the_default_window_once_enabled() {
    let r = rig(4096, 1 << 20);
    let g = pe();
    let mut c = TceContainer::open(u64::from(VFIO_SPAPR_TCE_IOMMU), r.mm.clone()).unwrap();
    assert!(TceContainer::open(u64::from(VFIO_TYPE1v2_IOMMU), r.mm.clone()).is_err());
    assert_eq!(c.enable_ioctl(MM), Err(Errno::ENODEV), "no group");
    c.attach_group(&g).unwrap();
    assert_eq!(
        c.attach_group(&pe()),
        Err(Errno::EBUSY),
        "one group per v1 container"
    );
    assert_eq!(
        c.map_dma(MM, map(0, RAM, 4096, RW)),
        Err(Errno::EPERM),
        "not enabled"
    );
    c.enable_ioctl(MM).unwrap();
    assert_eq!(c.locked_pages(), (2 << 30) >> 12, "the whole 32-bit window");
    assert_eq!(r.locked.locked(), c.locked_pages());
    assert_eq!(c.enable_ioctl(MM), Err(Errno::EBUSY));
    assert_eq!(
        c.map_dma(2, map(0, RAM, 4096, RW)),
        Err(Errno::EPERM),
        "another mm"
    );
    c.map_dma(MM, map(0x1000, RAM + 0x3000, 0x2000, RO))
        .unwrap();
    assert_eq!(g.translate(0x1000, Access::Read), Some(Ok(RAM + 0x3000)));
    assert_eq!(g.translate(0x2fff, Access::Read), Some(Ok(RAM + 0x4fff)));
    assert!(
        matches!(g.translate(0x1000, Access::Write), Some(Err(_))),
        "read-only"
    );
    assert!(matches!(g.translate(0x3000, Access::Read), Some(Err(_))));
    assert_eq!(
        g.translate(3 << 30, Access::Read),
        None,
        "outside every window"
    );
    // Alignment, direction, window and range checks.
    for (p, e) in [
        (map(0x1000, RAM + 1, 0x1000, RW), Errno::EINVAL),
        (map(0x1000, RAM, 0x800, RW), Errno::EINVAL),
        (map(0x1001, RAM, 0x1000, RW), Errno::EINVAL),
        (map(0x1000, RAM, 0x1000, None), Errno::EINVAL),
        (map(3 << 30, RAM, 0x1000, None), Errno::ENXIO),
        (map(3 << 30, RAM, 0x1000, RW), Errno::ENXIO),
        (map((2 << 30) - 0x1000, RAM, 0x2000, RW), Errno::EINVAL),
        (map(0x8000, RAM + RAM_LEN, 0x1000, RW), Errno::EFAULT),
    ] {
        assert_eq!(c.map_dma(MM, p), Err(e));
    }
    // A failure partway leaves nothing behind.
    assert_eq!(
        c.map_dma(MM, map(0x10000, RAM + RAM_LEN - 0x1000, 0x2000, RW)),
        Err(Errno::EFAULT)
    );
    assert!(matches!(g.translate(0x10000, Access::Read), Some(Err(_))));
    assert_eq!(c.unmap_dma(MM, unmap(0x1000, 0x1000)), Ok(()));
    assert!(matches!(g.translate(0x1000, Access::Read), Some(Err(_))));
    assert_eq!(g.translate(0x2000, Access::Read), Some(Ok(RAM + 0x4000)));
    assert_eq!(c.unmap_dma(MM, unmap(0x1000, 0x800)), Err(Errno::EINVAL));
    assert_eq!(c.unmap_dma(MM, unmap(5 << 30, 0x1000)), Err(Errno::ENXIO));
    // v2 ioctls are not v1's.
    assert_eq!(c.tce_remove(MM, || unreachable!()), Err(Errno::ENOTTY));
    c.disable_ioctl(MM).unwrap();
    let table_pages = c.table(0).unwrap().allocated_pages;
    assert_eq!(
        table_pages,
        (2 * (4 << 20)) >> 12,
        "2 GiB of 4 KiB TCEs and the user copy"
    );
    assert_eq!(
        r.locked.locked(),
        table_pages,
        "only the default window's table now"
    );
    assert_eq!(c.unmap_dma(MM, unmap(0x2000, 0x1000)), Err(Errno::EPERM));
}

#[test]
fn attach_clears_what_the_host_mapped_and_detach_clears_the_container() {
    let r = rig(4096, 1 << 20);
    let g = pe();
    let host = g.window(0).unwrap();
    host.xchg(5, Some((0x1234_5000, Dir::Bidirectional)))
        .unwrap();
    assert_eq!(g.translate(0x5000, Access::Write), Some(Ok(0x1234_5000)));
    let mut c = TceContainer::open(u64::from(VFIO_SPAPR_TCE_IOMMU), r.mm.clone()).unwrap();
    c.attach_group(&g).unwrap();
    assert_eq!(
        g.translate(0x5000, Access::Read),
        None,
        "the host's table is gone"
    );
    c.enable_ioctl(MM).unwrap();
    c.map_dma(MM, map(0x6000, RAM, 0x1000, RW)).unwrap();
    assert!(matches!(g.translate(0x5000, Access::Read), Some(Err(_))));
    let table = c.table(0).unwrap().clone();
    assert_eq!(table.valid_entries(0, u64::MAX), vec![6]);
    c.detach_group(&g);
    assert!(table.valid_entries(0, u64::MAX).is_empty());
    assert!(
        matches!(g.translate(0x6000, Access::Read), Some(Err(_))),
        "host default, empty"
    );
}

#[test]
fn v2_registers_memory_and_creates_dynamic_windows() {
    let r = rig(64 << 10, 1 << 22);
    let g = pe();
    let mut c = TceContainer::open(u64::from(VFIO_SPAPR_TCE_v2_IOMMU), r.mm.clone()).unwrap();
    assert_eq!(
        c.unregister_memory(MM, reg(RAM, 0x1000)),
        Err(Errno::EPERM),
        "no mm yet"
    );
    assert_eq!(
        c.tce_create(MM, create(16, 1 << 30, 1)).err(),
        Some(Errno::ENXIO)
    );
    c.attach_group(&g).unwrap();
    let second = pe();
    c.attach_group(&second).unwrap();
    assert_eq!(c.attach_group(&g), Err(Errno::EBUSY), "already attached");
    let no_ddw = TableGroup::new(TceConfig {
        max_dynamic_windows: 0,
        ..TceConfig::default()
    })
    .unwrap();
    assert_eq!(c.attach_group(&no_ddw), Err(Errno::EINVAL));
    assert_eq!(c.enable_ioctl(MM), Err(Errno::ENOTTY));
    assert_eq!(
        c.map_dma(MM, map(0, RAM, 0x1000, RW)),
        Err(Errno::EPERM),
        "no memory yet"
    );
    assert_eq!(
        c.unregister_memory(MM, reg(RAM, 0x1000)),
        Err(Errno::ENOENT)
    );
    assert_eq!(
        c.register_memory(MM, reg(RAM + 1, 0x1000)),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        c.register_memory(MM, reg(RAM + RAM_LEN, 0x1000)),
        Err(Errno::EFAULT)
    );
    c.register_memory(MM, reg(RAM, 2 << 20)).unwrap();
    assert_eq!(c.register_memory(MM, reg(RAM, 2 << 20)), Err(Errno::EBUSY));
    assert_eq!(
        c.register_memory(MM, reg(RAM + 0x1000, 0x1000)),
        Err(Errno::EINVAL),
        "overlap"
    );
    assert_eq!(r.locked.locked(), 512);
    // Windows: page sizes, shapes, and two at most (the default one counts once created).
    assert_eq!(
        c.tce_create(MM, create(24, 1 << 30, 1)).err(),
        Some(Errno::EINVAL)
    );
    assert_eq!(
        c.tce_create(MM, create(16, 3 << 29, 1)).err(),
        Some(Errno::EINVAL)
    );
    assert_eq!(
        c.tce_create(MM, create(16, 1 << 30, 6)).err(),
        Some(Errno::EINVAL)
    );
    let w = c.tce_create(MM, create(16, 1 << 32, 2)).unwrap();
    assert_eq!(w, 1 << 59);
    assert!(c.table(0).is_some(), "the default window came first");
    assert_eq!(
        c.tce_create(MM, create(16, 1 << 30, 1)).err(),
        Some(Errno::ENOSPC)
    );
    let iova = (1 << 59) + 0x10_0000;
    c.map_dma(MM, map(iova, RAM + 0x1_0000, 0x2_0000, RW))
        .unwrap();
    for pe in [&g, &second] {
        assert_eq!(
            pe.translate(iova + 0x1_0010, Access::Write),
            Some(Ok(RAM + 0x2_0010))
        );
    }
    assert_eq!(
        c.map_dma(MM, map(iova, RAM + 0x1000, 0x1_0000, RW)),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        c.map_dma(MM, map(iova, RAM + (4 << 20) - 0x1_0000, 0x1_0000, RW)),
        Err(Errno::EINVAL),
        "not registered"
    );
    // Unregistering mapped memory succeeds; the region stays until its TCEs go.
    c.unregister_memory(MM, reg(RAM, 2 << 20)).unwrap();
    assert_eq!(
        c.unregister_memory(MM, reg(RAM, 2 << 20)),
        Err(Errno::ENOENT)
    );
    assert_eq!(c.prereg.regions().len(), 1);
    assert_eq!(c.prereg.regions()[0].mapped, 2);
    c.unmap_dma(MM, unmap(iova, 0x2_0000)).unwrap();
    assert_eq!(c.prereg.regions()[0].mapped, 0);
    let remove = |start: u64| move || Ok(start);
    assert_eq!(c.tce_remove(MM, remove(1 << 40)), Err(Errno::EINVAL));
    c.tce_remove(MM, remove(1 << 59)).unwrap();
    assert_eq!(g.translate(iova, Access::Read), None);
    c.tce_remove(MM, remove(0)).unwrap();
    assert!(c.table(0).is_none() && c.table(1).is_none());
}

#[test]
fn removing_the_pending_default_window_cancels_it() {
    let r = rig(4096, 1 << 20);
    let mut c = TceContainer::open(u64::from(VFIO_SPAPR_TCE_v2_IOMMU), r.mm.clone()).unwrap();
    c.attach_group(&pe()).unwrap();
    c.tce_remove(MM, || Ok(0)).unwrap();
    assert_eq!(
        c.tce_remove(MM, || Ok(0)),
        Err(Errno::EINVAL),
        "nothing there now"
    );
    // What `read` refuses is refused before anything changes.
    c.tce_create(MM, create(16, 1 << 30, 1)).unwrap();
    assert_eq!(c.tce_remove(MM, || Err(Errno::EINVAL)), Err(Errno::EINVAL));
    assert!(c.table(0).is_some());
}

#[test]
fn table_memory_is_charged_and_returned() {
    let r = rig(4096, 600);
    let mut c = TceContainer::open(u64::from(VFIO_SPAPR_TCE_v2_IOMMU), r.mm.clone()).unwrap();
    c.attach_group(&pe()).unwrap();
    // The default window's table (2 GiB of 4 KiB TCEs: 1024 pages, twice) is over the limit.
    assert_eq!(
        c.tce_create(MM, create(12, 1 << 30, 1)).err(),
        Some(Errno::ENOMEM)
    );
    assert_eq!(r.locked.locked(), 0);
    assert_eq!(table::table_size(12, 2 << 30, 1), 2 * (4 << 20));
    assert_eq!(
        table::table_size(16, 1 << 30, 2),
        2 * ((1 << 17) + (1 << 12))
    );
    drop(c);
    assert_eq!(r.locked.locked(), 0);
}

proptest! {
    /// Maps and unmaps in a v1 window against a map of entry → (address, writable).
    #[test]
    fn v1_window_matches_a_model(ops in proptest::collection::vec((any::<bool>(), 0u64..32, 1u64..6, 0u64..64, any::<bool>()), 1..40)) {
        let r = rig(4096, 1 << 20);
        let g = pe();
        let mut c = TceContainer::open(u64::from(VFIO_SPAPR_TCE_IOMMU), r.mm.clone()).unwrap();
        c.attach_group(&g).unwrap();
        c.enable_ioctl(MM).unwrap();
        let mut model: BTreeMap<u64, (u64, bool)> = BTreeMap::new();
        for (is_map, entry, pages, page, write) in ops {
            let (iova, size) = (entry << 12, pages << 12);
            if is_map {
                let dir = if write { RW } else { RO };
                let ua = RAM + (page << 12);
                prop_assert_eq!(c.map_dma(MM, map(iova, ua, size, dir)), Ok(()));
                for i in 0..pages {
                    model.insert(entry + i, (ua + (i << 12), write));
                }
            } else {
                prop_assert_eq!(c.unmap_dma(MM, unmap(iova, size)), Ok(()));
                for i in 0..pages {
                    model.remove(&(entry + i));
                }
            }
        }
        for e in 0..40u64 {
            let got_r = g.translate(e << 12, Access::Read).and_then(|r| r.ok());
            let got_w = g.translate(e << 12, Access::Write).and_then(|r| r.ok());
            match model.get(&e) {
                Some(&(ua, w)) => {
                    prop_assert_eq!(got_r, Some(ua));
                    prop_assert_eq!(got_w, w.then_some(ua));
                }
                None => prop_assert_eq!((got_r, got_w), (None, None)),
            }
        }
        prop_assert_eq!(c.table(0).unwrap().valid_entries(0, u64::MAX), model.keys().copied().collect::<Vec<_>>());
    }
}
