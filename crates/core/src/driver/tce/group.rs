//! A POWER partitionable endpoint (PE) as an IOMMU group: its table group
//! (`struct iommu_table_group`, `arch/powerpc/platforms/powernv/pci-ioda.c`) with the PHB's
//! DMA window parameters and the two translation validation entries (TVEs) that point at the
//! tables of its windows (IODA2: window 0 at the 32-bit window's bus address, window 1 at the
//! bypass base `1 << 59`).
//!
//! While the host owns the PE, window 0 holds the host's own default table
//! (`pnv_pci_ioda2_setup_default_config`). A container taking ownership
//! (`pnv_ioda2_take_ownership`) drops that table, so nothing the host mapped stays
//! reachable; giving the PE back installs a fresh, empty default table.

use super::table::TceTable;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use uiommu_pt::{Access, WalkFault};
use uiommu_uapi::errno::Result;

/// `IOMMU_TABLE_GROUP_MAX_TABLES`.
pub const MAX_TABLES: usize = 2;

/// The platform's DMA window parameters of a PE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TceConfig {
    /// `tce32_start`: bus address of the default 32-bit window.
    pub tce32_start: u64,
    /// `tce32_size`: its size in bytes (`m32_pci_base`; 0: the platform has none).
    pub tce32_size: u64,
    /// `pgsizes`: IOMMU page sizes of dynamic windows (`ibm,supported-tce-sizes`).
    pub pgsizes: u64,
    /// `max_dynamic_windows_supported` (0: no dynamic windows, no v2 container).
    pub max_dynamic_windows: u32,
    /// `max_levels`.
    pub max_levels: u32,
    /// `tce_bypass_base`: where the second window starts.
    pub bypass_base: u64,
}

impl Default for TceConfig {
    /// An IODA2 PHB of a POWER9 system: a 2 GiB 32-bit window at 0, 4K/64K/2M/1G pages, two
    /// windows of up to five levels.
    fn default() -> Self {
        TceConfig {
            tce32_start: 0,
            tce32_size: 2 << 30,
            pgsizes: (1 << 12) | (1 << 16) | (1 << 21) | (1 << 30),
            max_dynamic_windows: MAX_TABLES as u32,
            max_levels: super::table::MAX_LEVELS,
            bypass_base: 1 << 59,
        }
    }
}

/// A PE and its TVEs.
#[derive(Debug)]
pub struct TableGroup {
    /// The IOMMU group number.
    pub group_id: u32,
    /// The platform's parameters.
    pub config: TceConfig,
    tves: Mutex<[Option<Arc<TceTable>>; MAX_TABLES]>,
}

impl TableGroup {
    /// A PE the host owns, its default window set up.
    pub fn new(config: TceConfig) -> Result<Arc<Self>> {
        let g = TableGroup {
            group_id: crate::driver::group_id::alloc(),
            config,
            tves: Mutex::default(),
        };
        g.setup_default()?;
        Ok(Arc::new(g))
    }

    fn lock(&self) -> MutexGuard<'_, [Option<Arc<TceTable>>; MAX_TABLES]> {
        self.tves.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `pnv_pci_ioda2_setup_default_config`: a fresh 4 KiB-page table over the 32-bit window.
    fn setup_default(&self) -> Result<()> {
        let c = &self.config;
        let table = if c.tce32_size == 0 {
            None
        } else {
            Some(Arc::new(TceTable::new(c.tce32_start, 12, c.tce32_size, 1)?))
        };
        self.lock()[0] = table;
        Ok(())
    }

    /// The bus address window `num` of this PE starts at (`pnv_pci_ioda2_create_table`).
    pub fn bus_offset(&self, num: usize) -> u64 {
        if num == 0 {
            self.config.tce32_start
        } else {
            self.config.bypass_base
        }
    }

    /// `pnv_ioda2_take_ownership`: the host's tables go.
    pub(crate) fn take_ownership(&self) {
        *self.lock() = Default::default();
    }

    /// `pnv_ioda2_release_ownership`: the host's default configuration comes back, empty.
    pub(crate) fn release_ownership(&self) {
        *self.lock() = Default::default();
        // The default window was built once already with the same parameters.
        let _ = self.setup_default();
    }

    /// `set_window`: TVE `num` points at `table`.
    pub(crate) fn set_window(&self, num: usize, table: &Arc<TceTable>) {
        self.lock()[num] = Some(Arc::clone(table));
    }

    /// `unset_window`.
    pub(crate) fn unset_window(&self, num: usize) {
        self.lock()[num] = None;
    }

    /// The table window `num` points at.
    pub fn window(&self, num: usize) -> Option<Arc<TceTable>> {
        self.lock().get(num).cloned().flatten()
    }

    /// A DMA of a device of this PE to bus address `ioba`: the window containing it, then its
    /// TCE. `None` if no window contains it (the PHB freezes the PE on such a DMA).
    pub fn translate(
        &self,
        ioba: u64,
        access: Access,
    ) -> Option<std::result::Result<u64, WalkFault>> {
        let table = self
            .lock()
            .iter()
            .flatten()
            .find(|t| t.contains(ioba))
            .cloned()?;
        Some(table.translate(ioba, access))
    }
}
