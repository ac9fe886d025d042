//! IOMMU group numbers: one allocator for every model, as the kernel has one
//! (`iommu_group_alloc` takes its ID from the single `iommu_group_ida`), so devices of
//! different models never share a group by accident.

use std::sync::atomic::{AtomicU32, Ordering};

/// The next free group ID. IDs are never given back: a group outlives any one context.
static NEXT: AtomicU32 = AtomicU32::new(0);

/// A group ID no other device of any model has (`iommu_group_alloc`).
pub(crate) fn alloc() -> u32 {
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::super::amd::{AmdConfig, AmdDeviceConfig, AmdDriver};
    use super::super::mock::MockDriver;
    use super::super::smmuv3::{SmmuConfig, SmmuDeviceConfig, SmmuDriver};
    use super::super::tce::{TableGroup, TceConfig};
    use super::super::vtd::{VtdConfig, VtdDeviceConfig, VtdDriver};
    use std::collections::HashSet;

    /// Devices of different models (and TCE PEs) never share a group ID.
    #[test]
    fn models_never_share_a_group() {
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.push(MockDriver::get().create_device(0).unwrap().group_id);
            ids.push(
                VtdDriver::new(VtdConfig::default())
                    .create_device(VtdDeviceConfig::default())
                    .group_id,
            );
            ids.push(
                SmmuDriver::new(SmmuConfig::default())
                    .create_device(SmmuDeviceConfig::default())
                    .group_id,
            );
            ids.push(
                AmdDriver::new(AmdConfig::default())
                    .create_device(AmdDeviceConfig::default())
                    .group_id,
            );
            ids.push(TableGroup::new(TceConfig::default()).unwrap().group_id);
        }
        let distinct: HashSet<_> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len(), "{ids:x?}");
    }
}
