//! SR-IOV as Linux 7.3's PCI core and vfio-pci present it: a physical function bound to
//! vfio-pci, its `sriov_numvfs` (`drivers/pci/iov.c`: `sriov_numvfs_store`;
//! `drivers/vfio/pci/vfio_pci.c`: `vfio_pci_sriov_configure`; `vfio_pci_core.c`:
//! `vfio_pci_core_sriov_configure`), and the VF token its VFs are opened with
//! ([`token`]).
//!
//! Every VF a PF can have is placed when the process starts (address, group, cdev:
//! [`crate::placement`]); VF `i` exists (its sysfs entries, its group and cdev nodes, a
//! member of its group) while NumVFs is above `i`, as `pci_enable_sriov` adds and
//! `pci_disable_sriov` removes them. Each VF is a function of the PF's model, bound to
//! vfio-pci as vfio-pci's bus notifier makes it (`vfio_pci_bus_notifier` sets its
//! `driver_override`) and with `sriov_pf_core_dev` set (`vfio_pci_vf_init`): a VF here is only
//! ever created through vfio-pci's `sriov_configure`.
//!
//! What differs from Linux:
//! - uiommu's vfio-pci is loaded with `enable_sriov=Y`: asking for `vfs=N` is the opt-in the
//!   module parameter is on a host (without it `vfio_pci_sriov_configure` is `ENOENT`);
//! - writing 0 while a VF is open is `EBUSY`: Linux's `pci_disable_sriov` removes the VF,
//!   and vfio's unregister waits, the writer blocked, until its user closes it (signalling
//!   the request eventfd), which a single-threaded program would never do;
//! - NumVFs is shared by the processes of a run only where the front end shares it
//!   ([`shared`]); the VF token and its users are each process's, as every object of the
//!   front end is (a forked child starts from its parent's): writing 0 in one process while
//!   another has a VF open is not refused;
//! - `sriov_drivers_autoprobe` reads 1 and cannot be written: every VF is bound to vfio-pci
//!   (and no device shows `driver_override`).

pub mod shared;
pub mod token;

use crate::placement::{Bdf, Placement};
use shared::NumVfsCell;
use std::sync::atomic::AtomicU16;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use uiommu_core::iommu::PhysDevice;
use uiommu_devices::SharedFunction;
use uiommu_devices::config::sriov::{
    EXTENDED_START, SRIOV_CTRL, SRIOV_CTRL_MSE, SRIOV_CTRL_VFE, SRIOV_NUM_VF,
};
use uiommu_devices::describe::SriovDecl;
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;

/// A physical function bound to vfio-pci: its SR-IOV capability, its VFs' state and its VF
/// token (`struct vfio_pci_vf_token`, made when vfio-pci binds it: `vfio_pci_vf_init`).
pub struct SriovPf {
    decl: SriovDecl,
    function: SharedFunction,
    /// `pdev->sriov->num_VFs`.
    num_vfs: Arc<dyn NumVfsCell>,
    state: Mutex<PfState>,
}

impl std::fmt::Debug for SriovPf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SriovPf")
            .field("decl", &self.decl)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct PfState {
    /// The NumVFs this process last programmed in the PF's config space.
    programmed: u16,
    /// `vf_token->uuid`.
    token: [u8; 16],
    /// `vf_token->users`: VFs open (`vfio_pci_core_finish_enable`, `..._close_device`).
    users: u32,
}

/// What a function is to SR-IOV, for vfio-pci.
#[derive(Debug, Clone)]
pub enum SriovRole {
    /// A physical function (`pdev->is_physfn`, with `vdev->vf_token`).
    Pf(Arc<SriovPf>),
    /// Virtual function `index` of a PF (`pdev->is_virtfn`, with `sriov_pf_core_dev`).
    Vf(Arc<SriovPf>, u16),
}

impl SriovRole {
    /// Whether the function exists now: a VF while NumVFs covers it, anything else always.
    pub fn present(&self) -> bool {
        match self {
            SriovRole::Pf(_) => true,
            SriovRole::Vf(pf, i) => *i < pf.num_vfs(),
        }
    }
}

impl SriovPf {
    /// The PF `function`, which declares `decl`, with its NumVFs in `num_vfs` (none: a cell
    /// of its own, no VF enabled) and a random token (`uuid_gen`).
    pub fn new(
        function: SharedFunction,
        decl: SriovDecl,
        num_vfs: Option<Arc<dyn NumVfsCell>>,
    ) -> Arc<Self> {
        let pf = Arc::new(SriovPf {
            decl,
            function,
            num_vfs: num_vfs.unwrap_or_else(|| Arc::new(AtomicU16::new(0))),
            state: Mutex::new(PfState {
                programmed: 0,
                token: token::generate(),
                users: 0,
            }),
        });
        pf.sync();
        pf
    }

    /// Its SR-IOV capability.
    pub fn decl(&self) -> SriovDecl {
        self.decl
    }

    /// NumVFs (`sriov_numvfs`), the PF's config space synced with it.
    pub fn num_vfs(&self) -> u16 {
        self.sync();
        self.num_vfs.load()
    }

    /// The PF's config space programmed for NumVFs, if another process changed it
    /// ([`shared`]).
    pub fn sync(&self) {
        let mut state = self.lock();
        let n = self.num_vfs.load();
        if state.programmed != n {
            self.program(n);
            state.programmed = n;
        }
    }

    /// `sriov_numvfs_store` of `buf` on a PF bound to vfio-pci: `EINVAL` for what
    /// `kstrtou16(buf, 0)` refuses, `ERANGE` above TotalVFs; the current count is
    /// success; 0 disables the VFs (`EBUSY` while one is open, see the module's notes); another
    /// count while VFs are enabled is `EBUSY`; else the VFs are enabled
    /// (`pci_enable_sriov`: NumVFs, then VF Enable and VF MSE in SR-IOV Control). The whole
    /// write is consumed.
    pub fn store_num_vfs(&self, buf: &[u8]) -> Result<usize> {
        let n = parse_u16(buf).ok_or(Errno::EINVAL)?;
        if n > self.decl.total_vfs {
            return Err(Errno::ERANGE);
        }
        let mut state = self.lock();
        let current = self.num_vfs.load();
        if n == current {
            return Ok(buf.len());
        }
        if n == 0 {
            if state.users > 0 {
                return Err(Errno::EBUSY);
            }
        } else if current != 0 {
            return Err(Errno::EBUSY);
        }
        // Another process changed it meanwhile: as if it had been first.
        if !self.num_vfs.exchange(current, n) {
            return Err(Errno::EBUSY);
        }
        self.program(n);
        state.programmed = n;
        Ok(buf.len())
    }

    /// NumVFs and SR-IOV Control as `sriov_enable` (`pci_iov_set_numvfs`, VFE | MSE) and
    /// `sriov_disable` leave them.
    fn program(&self, n: u16) {
        let mut f = self.function.lock().unwrap_or_else(PoisonError::into_inner);
        let at = EXTENDED_START;
        let ctrl = if n > 0 {
            SRIOV_CTRL_VFE | SRIOV_CTRL_MSE
        } else {
            0
        };
        let _ = f.config_write(at + SRIOV_NUM_VF, &n.to_le_bytes());
        let _ = f.config_write(at + SRIOV_CTRL, &ctrl.to_le_bytes());
    }

    fn lock(&self) -> MutexGuard<'_, PfState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `kstrtou16(s, 0)`: an optional `+`, a `0x` (hex) or `0` (octal) prefix, digits, and one
/// optional trailing newline; nothing else, and no overflow.
fn parse_u16(buf: &[u8]) -> Option<u16> {
    let s = std::str::from_utf8(buf).ok()?;
    let s = s.strip_suffix('\n').unwrap_or(s);
    let s = s.strip_prefix('+').unwrap_or(s);
    let (digits, radix) = if let Some(h) = s.strip_prefix("0x").or(s.strip_prefix("0X")) {
        (h, 16)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u16::from_str_radix(digits, radix).ok()
}

/// Creates the functions of a process's placements, in their order (a PF before its VFs:
/// [`crate::placement::parse`] lists them so), each with its role.
#[derive(Default)]
pub struct Functions {
    pfs: Vec<(Bdf, Arc<SriovPf>)>,
    /// The NumVFs of the PF of each index (in the list's order), if shared ([`shared`]).
    cells: Option<Box<Cells>>,
}

/// The NumVFs cell of the PF of an index, if shared.
type Cells = dyn Fn(usize) -> Option<Arc<dyn NumVfsCell>>;

impl std::fmt::Debug for Functions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Functions")
            .field("pfs", &self.pfs)
            .finish_non_exhaustive()
    }
}

impl Functions {
    /// Functions whose PFs keep NumVFs in the cells `cells` gives for their index among the
    /// PFs (none: in a cell of their own).
    pub fn with_cells(cells: impl Fn(usize) -> Option<Arc<dyn NumVfsCell>> + 'static) -> Self {
        Functions {
            pfs: Vec::new(),
            cells: Some(Box::new(cells)),
        }
    }

    /// The function `p` places, behind the IOMMU of `phys`: an SR-IOV PF for `vfs=N`, a VF of
    /// the PF created before for `physfn=`; an error for a VF whose PF was not created.
    pub fn create(
        &mut self,
        p: &Placement,
        phys: Arc<PhysDevice>,
    ) -> std::result::Result<(SharedFunction, Option<SriovRole>), String> {
        if let Some(pf_bdf) = p.physfn {
            let (_, pf) = self
                .pfs
                .iter()
                .find(|(b, _)| *b == pf_bdf)
                .ok_or_else(|| format!("its PF {pf_bdf} was not created"))?;
            let d = pf.decl;
            let rid =
                |b: Bdf| u16::from(b.bus) << 8 | u16::from(b.device) << 3 | u16::from(b.function);
            let step = rid(p.bdf)
                .wrapping_sub(rid(pf_bdf))
                .wrapping_sub(d.first_vf_offset);
            let index = step / d.vf_stride.max(1);
            let role = SriovRole::Vf(Arc::clone(pf), index);
            return Ok((p.model.create_vf(phys, d), Some(role)));
        }
        if p.vfs == 0 {
            return Ok((p.model.create(phys), None));
        }
        let decl = p.model.sriov(p.vfs)?;
        let function = p.model.create_pf(phys, decl);
        let cell = self.cells.as_ref().and_then(|c| c(self.pfs.len()));
        let pf = SriovPf::new(function.clone(), decl, cell);
        self.pfs.push((p.bdf, Arc::clone(&pf)));
        Ok((function, Some(SriovRole::Pf(pf))))
    }
}

#[cfg(test)]
mod tests;
