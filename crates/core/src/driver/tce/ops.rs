//! The remaining ioctls of a SPAPR container (`tce_iommu_ioctl`): `VFIO_IOMMU_ENABLE` and
//! `_DISABLE` (v1 only), memory pre-registration and window creation and removal (v2 only).
//! An ioctl of the other version is not the backend's (`ENOTTY`).

use super::container::TceContainer;
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;

/// A memory range of `VFIO_IOMMU_SPAPR_(UN)REGISTER_MEMORY`
/// (`struct vfio_iommu_spapr_register_memory`) whose `argsz` and flags passed the checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemRange {
    /// First user address.
    pub vaddr: u64,
    /// Bytes.
    pub size: u64,
}

/// The window `VFIO_IOMMU_SPAPR_TCE_CREATE` asks for (`struct vfio_iommu_spapr_tce_create`),
/// its `argsz` and flags checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowSpec {
    /// Log2 of the IOMMU page size.
    pub page_shift: u32,
    /// Bytes.
    pub window_size: u64,
    /// Levels of the TCE table.
    pub levels: u32,
}

impl TceContainer {
    fn v2_only(&self) -> Result<()> {
        if self.v2 { Ok(()) } else { Err(Errno::ENOTTY) }
    }

    fn v1_only(&self) -> Result<()> {
        if self.v2 { Err(Errno::ENOTTY) } else { Ok(()) }
    }

    /// `VFIO_IOMMU_ENABLE` (v1): see [`TceContainer::enable`].
    pub fn enable_ioctl(&mut self, mm: u64) -> Result<()> {
        self.check_mm(mm)?;
        self.v1_only()?;
        self.enable(mm)
    }

    /// `VFIO_IOMMU_DISABLE` (v1).
    pub fn disable_ioctl(&mut self, mm: u64) -> Result<()> {
        self.check_mm(mm)?;
        self.v1_only()?;
        self.disable();
        Ok(())
    }

    /// `VFIO_IOMMU_SPAPR_REGISTER_MEMORY` (v2): binds the address space, then `read` (the copy
    /// and its checks), then [`super::prereg::Prereg::register`].
    /// Registered memory enables the container.
    pub fn register_memory(
        &mut self,
        mm: u64,
        read: impl FnOnce() -> Result<MemRange>,
    ) -> Result<()> {
        self.check_mm(mm)?;
        self.v2_only()?;
        self.mm_set(mm)?;
        let p = read()?;
        let host = self.host.clone();
        self.prereg
            .register(p.vaddr, p.size, host.memory.as_ref(), host.account.as_ref())?;
        self.enabled = true;
        Ok(())
    }

    /// `VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY` (v2): `EPERM` before any registration bound the
    /// address space, then `read` (the copy and its checks), then
    /// [`super::prereg::Prereg::unregister`].
    pub fn unregister_memory(
        &mut self,
        mm: u64,
        read: impl FnOnce() -> Result<MemRange>,
    ) -> Result<()> {
        self.check_mm(mm)?;
        self.v2_only()?;
        if !self.has_mm() {
            return Err(Errno::EPERM);
        }
        let p = read()?;
        let account = self.host.account.clone();
        self.prereg.unregister(p.vaddr, p.size, account.as_ref())
    }

    /// `VFIO_IOMMU_SPAPR_TCE_CREATE` (v2): `ENXIO` without a group, then `read` (the copy and
    /// its checks), the default window if pending, then a new window (see
    /// [`TceContainer::create_window`]). Returns the window's bus address (`start_addr`).
    pub fn tce_create(
        &mut self,
        mm: u64,
        read: impl FnOnce() -> Result<WindowSpec>,
    ) -> Result<u64> {
        self.check_mm(mm)?;
        self.v2_only()?;
        self.mm_set(mm)?;
        if self.groups().is_empty() {
            return Err(Errno::ENXIO);
        }
        let w = read()?;
        self.create_default_window()?;
        self.create_window(w.page_shift, w.window_size, w.levels)
    }

    /// `VFIO_IOMMU_SPAPR_TCE_REMOVE` (v2): `ENXIO` without a group, then `read` (the copy and
    /// its checks, giving `start_addr`), then removing bus address 0 while the default window is still pending just cancels it;
    /// otherwise the window holding `start_addr` goes (`EINVAL` if none).
    pub fn tce_remove(&mut self, mm: u64, read: impl FnOnce() -> Result<u64>) -> Result<()> {
        self.check_mm(mm)?;
        self.v2_only()?;
        self.mm_set(mm)?;
        if self.groups().is_empty() {
            return Err(Errno::ENXIO);
        }
        let start_addr = read()?;
        if self.def_window_pending && start_addr == 0 {
            self.def_window_pending = false;
            return Ok(());
        }
        self.remove_window(start_addr)
    }
}
