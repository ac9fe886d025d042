//! The device file in the fuzzer's world does what a driver expects: bound and attached, an
//! edu DMA lands in the memory an IOAS maps, and one to an IOVA nothing maps leaves memory
//! untouched.

use uiommu_fuzz::Sequence;
use uiommu_fuzz::world::World;

/// Page 3 of the world's read-write region (`world`'s layout: `0x20_0000`), which starts
/// with its page number.
const PAGE3: u64 = 0x20_3000;

fn play(text: &str) -> (World, Vec<Result<i64, uiommu_uapi::Errno>>) {
    let seq = Sequence::parse(text).unwrap();
    let w = World::new(&seq.model, seq.vfio_node, seq.device.as_deref()).unwrap();
    let results = seq
        .calls
        .iter()
        .map(|c| w.dispatch(&w.prepare(c).unwrap()))
        .collect();
    (w, results)
}

/// IOAS 1, the device bound and attached to it, page 3 mapped read-write at IOVA 0x100_0000 (in the mock's aperture),
/// memory decode and bus mastering on, then edu's engine told to copy its (zeroed) buffer
/// to `dst`.
fn dma_to(model: &str, dst: u64) -> String {
    format!(
        "model {model}
node iommu
device edu
call IOMMU_IOAS_ALLOC arg=rw len=12 tail=0x0 0:4=0xc 4:4=0x0 8:4=0x0
call VFIO_DEVICE_BIND_IOMMUFD arg=rw len=24 tail=0x0 0:4=0x18 4:4=0x0 8:4=0x3e8 12:4=0x0 16:8=0x0
call VFIO_DEVICE_ATTACH_IOMMUFD_PT arg=rw len=16 tail=0x0 0:4=0x10 4:4=0x0 8:4=ioas0 12:4=0x0
call IOMMU_IOAS_MAP arg=rw len=40 tail=0x0 0:4=0x28 4:4=0x7 8:4=ioas0 16:8=ptr:rw+0x3000 24:8=0x1000 32:8=0x1000000
call DEVICE_PWRITE arg=rw len=32 tail=0x0 0:8=0x70000000004 8:8=0x2 16:8=0x0 24:8=0x6
call DEVICE_PWRITE arg=rw len=32 tail=0x0 0:8=0x80 8:8=0x8 16:8=0x0 24:8=0x40000
call DEVICE_PWRITE arg=rw len=32 tail=0x0 0:8=0x88 8:8=0x8 16:8=0x0 24:8={dst:#x}
call DEVICE_PWRITE arg=rw len=32 tail=0x0 0:8=0x90 8:8=0x8 16:8=0x0 24:8=0x1000
call DEVICE_PWRITE arg=rw len=32 tail=0x0 0:8=0x98 8:8=0x8 16:8=0x0 24:8=0x3
"
    )
}

#[test]
fn edu_dma_lands_in_mapped_memory_only() {
    for model in ["mock", "vtd", "smmuv3", "amd"] {
        let (w, results) = play(&dma_to(model, 0x100_0000));
        assert!(results.iter().all(Result::is_ok), "{model}: {results:?}");
        assert_eq!(w.mem.get(PAGE3, 8), [0; 8], "{model}: the DMA did not land");

        let (w, results) = play(&dma_to(model, 0x200_0000));
        assert!(results.iter().all(Result::is_ok), "{model}: {results:?}");
        assert_eq!(
            w.mem.get(PAGE3, 8),
            3u64.to_ne_bytes(),
            "{model}: a DMA to an unmapped IOVA changed memory"
        );
    }
}
