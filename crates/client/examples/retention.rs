//! How much memory mapping and unmapping leaves behind: `CYCLES` rounds of allocating a
//! 2 MiB buffer, mapping it into an IOAS, unmapping it and dropping it, then `FAILED` maps
//! that fail (`EEXIST`), printing the process's resident set size (`/proc/self/statm`) after
//! each phase. Every buffer is `MAP_POPULATE`d, so a buffer kept alive shows as 2 MiB of RSS.
//!
//! `uiommu exec -- target/debug/examples/retention [CYCLES [FAILED]]` (or on a kernel with
//! `/dev/iommu`). It uses only calls whose shape has not changed, so it also measures older
//! versions of the crate.

use uiommu_client::{Iommufd, Iova, MapFlags, MappedBuffer, Result};

const SIZE: usize = 2 << 20;

/// Resident set size in MiB.
fn rss_mib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    (pages * uiommu_client::page_size() as u64) >> 20
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let cycles: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let failed: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    let fd = Iommufd::open()?;
    let ioas = fd.alloc_ioas()?;
    let start = rss_mib();
    for _ in 0..cycles {
        let buf = MappedBuffer::new(SIZE)?;
        let iova = ioas.map(&buf, Iova::Auto, MapFlags::RW)?;
        ioas.unmap(iova, SIZE as u64)?;
    }
    let after_cycles = rss_mib();
    // One mapping occupies the IOVA; every further map at it fails.
    let held = MappedBuffer::new(SIZE)?;
    let iova = ioas.map(&held, Iova::Auto, MapFlags::RW)?;
    for _ in 0..failed {
        let buf = MappedBuffer::new(SIZE)?;
        assert!(ioas.map(&buf, Iova::Fixed(iova), MapFlags::RW).is_err());
    }
    let after_failed = rss_mib();
    println!(
        "RSS {start} MiB at start, {after_cycles} MiB after {cycles} map/unmap/drop cycles of \
         2 MiB, {after_failed} MiB after {failed} failed maps"
    );
    Ok(())
}
