//! The remaining ioctls of a SPAPR container (`tce_iommu_ioctl`): `VFIO_IOMMU_ENABLE` and
//! `_DISABLE` (v1 only), memory pre-registration and window creation and removal (v2 only).
//! An ioctl of the other version is not the backend's (`ENOTTY`).

use super::container::TceContainer;
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;
use uiommu_uapi::vfio::{
    VfioIommuSpaprRegisterMemory, VfioIommuSpaprTceCreate, VfioIommuSpaprTceRemove,
};

/// `offsetofend(struct vfio_iommu_spapr_register_memory, size)`.
pub const REGISTER_MINSZ: u32 = 24;
/// `offsetofend(struct vfio_iommu_spapr_tce_create, start_addr)`.
pub const CREATE_MINSZ: u32 = 40;
/// `offsetofend(struct vfio_iommu_spapr_tce_remove, start_addr)`.
pub const REMOVE_MINSZ: u32 = 16;

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

    /// `VFIO_IOMMU_SPAPR_REGISTER_MEMORY` (v2): binds the address space, then the copy
    /// (`EINVAL` for a short `argsz` or any flag), then [`super::prereg::Prereg::register`].
    /// Registered memory enables the container.
    pub fn register_memory(
        &mut self,
        mm: u64,
        read: impl FnOnce() -> Result<VfioIommuSpaprRegisterMemory>,
    ) -> Result<()> {
        self.check_mm(mm)?;
        self.v2_only()?;
        self.mm_set(mm)?;
        let p = read()?;
        if p.argsz < REGISTER_MINSZ || p.flags != 0 {
            return Err(Errno::EINVAL);
        }
        let host = self.host.clone();
        self.prereg
            .register(p.vaddr, p.size, host.memory.as_ref(), host.account.as_ref())?;
        self.enabled = true;
        Ok(())
    }

    /// `VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY` (v2): `EPERM` before any registration bound the
    /// address space, then the copy and flags (`EINVAL`), then
    /// [`super::prereg::Prereg::unregister`].
    pub fn unregister_memory(
        &mut self,
        mm: u64,
        read: impl FnOnce() -> Result<VfioIommuSpaprRegisterMemory>,
    ) -> Result<()> {
        self.check_mm(mm)?;
        self.v2_only()?;
        if !self.has_mm() {
            return Err(Errno::EPERM);
        }
        let p = read()?;
        if p.argsz < REGISTER_MINSZ || p.flags != 0 {
            return Err(Errno::EINVAL);
        }
        let account = self.host.account.clone();
        self.prereg.unregister(p.vaddr, p.size, account.as_ref())
    }

    /// `VFIO_IOMMU_SPAPR_TCE_CREATE` (v2): `ENXIO` without a group, the copy (`EINVAL` for a
    /// short `argsz` or any flag), the default window if pending, then a new window (see
    /// [`TceContainer::create_window`]). Returns the struct with `start_addr` filled in.
    pub fn tce_create(
        &mut self,
        mm: u64,
        read: impl FnOnce() -> Result<VfioIommuSpaprTceCreate>,
    ) -> Result<VfioIommuSpaprTceCreate> {
        self.check_mm(mm)?;
        self.v2_only()?;
        self.mm_set(mm)?;
        if self.groups().is_empty() {
            return Err(Errno::ENXIO);
        }
        let mut c = read()?;
        if c.argsz < CREATE_MINSZ || c.flags != 0 {
            return Err(Errno::EINVAL);
        }
        self.create_default_window()?;
        c.start_addr = self.create_window(c.page_shift, c.window_size, c.levels)?;
        Ok(c)
    }

    /// `VFIO_IOMMU_SPAPR_TCE_REMOVE` (v2): `ENXIO` without a group, the copy (`EINVAL`), then
    /// removing bus address 0 while the default window is still pending just cancels it;
    /// otherwise the window holding `start_addr` goes (`EINVAL` if none).
    pub fn tce_remove(
        &mut self,
        mm: u64,
        read: impl FnOnce() -> Result<VfioIommuSpaprTceRemove>,
    ) -> Result<()> {
        self.check_mm(mm)?;
        self.v2_only()?;
        self.mm_set(mm)?;
        if self.groups().is_empty() {
            return Err(Errno::ENXIO);
        }
        let r = read()?;
        if r.argsz < REMOVE_MINSZ || r.flags != 0 {
            return Err(Errno::EINVAL);
        }
        if self.def_window_pending && r.start_addr == 0 {
            self.def_window_pending = false;
            return Ok(());
        }
        self.remove_window(r.start_addr)
    }
}
