//! The SPAPR TCE IOMMU backend of a VFIO container (`drivers/vfio/vfio_iommu_spapr_tce.c`,
//! `struct tce_container`): the groups (PEs) it owns, the tables of its DMA windows, shared by
//! every group, pre-registered memory (v2) and the locked memory it charged.
//!
//! Each ioctl takes the caller's address space (`mm`, an opaque ID) and a `read` closure that
//! copies the argument in and checks its `argsz` and flags, giving a typed request, so that
//! every check runs in the kernel's order: the address-space check, the ioctl's own
//! preconditions, then the copy and its checks, then the request.

use super::group::{MAX_TABLES, TableGroup};
use super::prereg::Prereg;
use super::table::{TceTable, table_size};
use super::{IOMMU_PAGE_SHIFT_4K, PAGE_SHIFT};
use crate::ioas::{PinAccount, PinMemory};
use std::sync::Arc;
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;
use uiommu_uapi::vfio::{
    VFIO_EEH, VFIO_SPAPR_TCE_IOMMU, VFIO_SPAPR_TCE_v2_IOMMU, VfioIommuSpaprTceDdwInfo,
};

/// The process memory and `locked_vm` a container pins in and charges.
#[derive(Clone)]
pub struct TceMm {
    /// Where pages are pinned.
    pub memory: Arc<dyn PinMemory>,
    /// `mm->locked_vm`.
    pub account: Arc<dyn PinAccount>,
}

impl std::fmt::Debug for TceMm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TceMm")
    }
}

/// What `VFIO_IOMMU_SPAPR_TCE_GET_INFO` reports (`struct vfio_iommu_spapr_tce_info`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TceInfo {
    /// Bus address of the default 32-bit window.
    pub dma32_window_start: u32,
    /// Its size.
    pub dma32_window_size: u32,
    /// Dynamic DMA windows (`VFIO_IOMMU_SPAPR_INFO_DDW`), if offered.
    pub ddw: Option<VfioIommuSpaprTceDdwInfo>,
}

/// A SPAPR TCE container.
#[derive(Debug)]
pub struct TceContainer {
    pub(super) v2: bool,
    pub(super) enabled: bool,
    pub(super) def_window_pending: bool,
    locked_pages: u64,
    /// The address space the container is bound to, once set (`container->mm`).
    mm: Option<u64>,
    pub(super) tables: [Option<Arc<TceTable>>; MAX_TABLES],
    groups: Vec<Arc<TableGroup>>,
    pub(super) prereg: Prereg,
    pub(super) host: TceMm,
}

/// `VFIO_CHECK_EXTENSION` of the backend: both SPAPR types; EEH only where the platform has
/// it (`eeh_enabled()`, false here); nothing else.
pub fn check_extension(arg: u64) -> i64 {
    let is = |v: u32| arg == u64::from(v);
    i64::from(is(VFIO_SPAPR_TCE_IOMMU) || is(VFIO_SPAPR_TCE_v2_IOMMU))
}

/// Whether `VFIO_EEH` is offered: no EEH is modelled.
pub const EEH_ENABLED: bool = false;

impl TceContainer {
    /// `tce_iommu_open`: `EINVAL` unless a SPAPR type.
    pub fn open(arg: u64, host: TceMm) -> Result<Self> {
        if check_extension(arg) != 1 {
            return Err(Errno::EINVAL);
        }
        Ok(TceContainer {
            v2: arg == u64::from(VFIO_SPAPR_TCE_v2_IOMMU),
            enabled: false,
            def_window_pending: false,
            locked_pages: 0,
            mm: None,
            tables: Default::default(),
            groups: Vec::new(),
            prereg: Prereg::default(),
            host,
        })
    }

    /// A v2 container.
    pub fn is_v2(&self) -> bool {
        self.v2
    }

    /// `VFIO_CHECK_EXTENSION` once the container has this backend: `VFIO_EEH` too.
    pub fn check_extension(&self, arg: u64) -> i64 {
        if arg == u64::from(VFIO_EEH) {
            return i64::from(EEH_ENABLED);
        }
        check_extension(arg)
    }

    /// The check every other ioctl starts with: `EPERM` from another address space.
    pub fn check_mm(&self, mm: u64) -> Result<()> {
        match self.mm {
            Some(m) if m != mm => Err(Errno::EPERM),
            _ => Ok(()),
        }
    }

    /// `tce_iommu_mm_set`.
    pub(super) fn mm_set(&mut self, mm: u64) -> Result<()> {
        self.check_mm(mm)?;
        self.mm = Some(mm);
        Ok(())
    }

    pub(super) fn has_mm(&self) -> bool {
        self.mm.is_some()
    }

    /// The groups, first attached first.
    pub fn groups(&self) -> &[Arc<TableGroup>] {
        &self.groups
    }

    /// The table of window `num`.
    pub fn table(&self, num: usize) -> Option<&Arc<TceTable>> {
        self.tables.get(num)?.as_ref()
    }

    /// Pages charged for enabling (v1).
    pub fn locked_pages(&self) -> u64 {
        self.locked_pages
    }

    /// `tce_iommu_attach_group`: a v2 container needs dynamic windows (`EINVAL`), a v1
    /// container takes one group only (`EBUSY`), a group is attached once (`EBUSY`). The
    /// group's own tables go and the container's windows are programmed into it; the first
    /// group of a container without tables leaves the default window to be created.
    pub fn attach_group(&mut self, group: &Arc<TableGroup>) -> Result<()> {
        if self.v2 && group.config.max_dynamic_windows == 0 {
            return Err(Errno::EINVAL);
        }
        if !self.v2 && !self.groups.is_empty() {
            return Err(Errno::EBUSY);
        }
        if self.groups.iter().any(|g| Arc::ptr_eq(g, group)) {
            return Err(Errno::EBUSY);
        }
        group.take_ownership();
        for (num, t) in self.tables.iter().enumerate() {
            if let Some(t) = t {
                group.set_window(num, t);
            }
        }
        if self.groups.is_empty() && self.tables[0].is_none() {
            self.def_window_pending = true;
        }
        self.groups.push(Arc::clone(group));
        Ok(())
    }

    /// `tce_iommu_detach_group`: every window's TCEs are cleared and unset from the group,
    /// which goes back to the host. Detaching a group not attached does nothing.
    pub fn detach_group(&mut self, group: &Arc<TableGroup>) {
        let Some(i) = self.groups.iter().position(|g| Arc::ptr_eq(g, group)) else {
            return;
        };
        self.groups.remove(i);
        for num in 0..MAX_TABLES {
            if let Some(t) = self.tables[num].clone() {
                self.clear(&t, t.offset, t.size);
                group.unset_window(num);
            }
        }
        group.release_ownership();
    }

    fn first_group(&self) -> Option<&Arc<TableGroup>> {
        self.groups.first()
    }

    /// `VFIO_IOMMU_SPAPR_TCE_GET_INFO`: `ENXIO` without a group, else the first group's
    /// 32-bit window, and DDW for a v2 container of a platform with dynamic windows.
    pub fn info(&self) -> Result<TceInfo> {
        let c = &self.first_group().ok_or(Errno::ENXIO)?.config;
        let ddw = (c.max_dynamic_windows != 0 && self.v2).then_some(VfioIommuSpaprTceDdwInfo {
            pgsizes: c.pgsizes,
            max_dynamic_windows_supported: c.max_dynamic_windows,
            levels: c.max_levels,
        });
        Ok(TceInfo {
            dma32_window_start: c.tce32_start as u32,
            dma32_window_size: c.tce32_size as u32,
            ddw,
        })
    }

    /// `tce_iommu_enable` (v1): `EBUSY` if enabled, `ENODEV` without a group, `EPERM` if the
    /// platform has no 32-bit window, then the worst case — the whole 32-bit window — is
    /// charged (`ENOMEM`).
    pub fn enable(&mut self, mm: u64) -> Result<()> {
        if self.enabled {
            return Err(Errno::EBUSY);
        }
        let group = self.first_group().ok_or(Errno::ENODEV)?;
        let size = group.config.tce32_size;
        if size == 0 {
            return Err(Errno::EPERM);
        }
        self.mm_set(mm)?;
        let locked = size >> PAGE_SHIFT;
        self.host.account.charge(locked)?;
        self.locked_pages = locked;
        self.enabled = true;
        Ok(())
    }

    /// `tce_iommu_disable`.
    pub fn disable(&mut self) {
        if self.enabled {
            self.enabled = false;
            self.host.account.uncharge(self.locked_pages);
        }
    }

    /// `tce_iommu_find_table`: the window holding bus address `ioba`.
    pub(super) fn find_table(&self, ioba: u64) -> Option<(usize, Arc<TceTable>)> {
        self.tables.iter().enumerate().find_map(|(i, t)| {
            t.as_ref()
                .filter(|t| t.contains(ioba))
                .map(|t| (i, t.clone()))
        })
    }

    /// `tce_iommu_create_window`: the bus address of a new window. `ENOSPC` with both windows
    /// in use, `EINVAL` for a page size the platform does not offer or a shape it cannot
    /// build, `ENOMEM` if the table's memory cannot be charged.
    pub(super) fn create_window(&mut self, page_shift: u32, size: u64, levels: u32) -> Result<u64> {
        let num = self
            .tables
            .iter()
            .position(Option::is_none)
            .ok_or(Errno::ENOSPC)?;
        let group = self.first_group().ok_or(Errno::EFAULT)?.clone();
        let pgsize = 1u64.checked_shl(page_shift).unwrap_or(0);
        if page_shift >= 64 || group.config.pgsizes & pgsize == 0 {
            return Err(Errno::EINVAL);
        }
        let bytes = table_size(page_shift, size, levels);
        if bytes == 0 {
            return Err(Errno::EINVAL);
        }
        let pages = bytes >> PAGE_SHIFT;
        self.host.account.charge(pages)?;
        let table = match TceTable::new(group.bus_offset(num), page_shift, size, levels) {
            Ok(t) => Arc::new(t),
            Err(e) => {
                self.host.account.uncharge(pages);
                return Err(e);
            }
        };
        for g in &self.groups {
            g.set_window(num, &table);
        }
        let start = table.start();
        self.tables[num] = Some(table);
        Ok(start)
    }

    /// `tce_iommu_create_default_window`: the 4 KiB-page, one-level 32-bit window, once.
    pub(super) fn create_default_window(&mut self) -> Result<()> {
        if !self.def_window_pending {
            return Ok(());
        }
        let size = self.first_group().ok_or(Errno::ENODEV)?.config.tce32_size;
        self.create_window(IOMMU_PAGE_SHIFT_4K, size, 1)?;
        self.def_window_pending = false;
        Ok(())
    }

    /// `tce_iommu_remove_window`: `EINVAL` unless a window holds `start`; its TCEs are cleared,
    /// it is unset from every group and its table uncharged.
    pub(super) fn remove_window(&mut self, start: u64) -> Result<()> {
        let (num, table) = self.find_table(start).ok_or(Errno::EINVAL)?;
        self.clear(&table, table.offset, table.size);
        for g in &self.groups {
            g.unset_window(num);
        }
        self.host.account.uncharge(table.allocated_pages);
        self.tables[num] = None;
        Ok(())
    }

    /// `VFIO_EEH_PE_OP`: no group has an EEH PE here (`ENODEV`); without groups, nothing to do.
    pub fn eeh_pe_op(&self) -> Result<()> {
        if self.groups.is_empty() {
            Ok(())
        } else {
            Err(Errno::ENODEV)
        }
    }
}

impl Drop for TceContainer {
    /// `tce_iommu_release`: groups detached, tables freed, registered memory released, the
    /// enable charge returned.
    fn drop(&mut self) {
        for g in self.groups.clone() {
            self.detach_group(&g);
        }
        for num in 0..MAX_TABLES {
            if let Some(t) = self.tables[num].take() {
                self.clear(&t, t.offset, t.size);
                self.host.account.uncharge(t.allocated_pages);
            }
        }
        let account = Arc::clone(&self.host.account);
        self.prereg.release(account.as_ref());
        self.disable();
    }
}
