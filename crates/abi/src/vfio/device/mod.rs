//! The vfio-pci device file (`/dev/vfio/devices/vfioN`): one [`VfioDeviceFile`] per open
//! fd, serving a [`SharedFunction`] as Linux 7.3's vfio-pci serves a device through its cdev
//! (`drivers/vfio/vfio_main.c`: `vfio_device_fops_unl_ioctl`, `vfio_device_fops_read`,
//! `vfio_device_fops_write`, `vfio_device_fops_release`).
//!
//! - [`bind`]: `VFIO_DEVICE_BIND_IOMMUFD`, `ATTACH`/`DETACH_IOMMUFD_PT`, unbind on close.
//! - [`info`]: `GET_INFO`, `GET_REGION_INFO`, `GET_IRQ_INFO`, `GET_PCI_HOT_RESET_INFO`,
//!   `RESET`.
//! - [`irqs`]: `SET_IRQS`; [`feature`]: `VFIO_DEVICE_FEATURE`.
//! - [`region`]: pread/pwrite at `index << 40`; [`bar_map`]: `mmap` of a BAR and its accesses; [`config`]: the user's view of config space.
//!
//! The front end opens a file with [`VfioDeviceFile::open`], answers `ioctl(2)` with
//! [`VfioDeviceFile::ioctl`], `pread`/`pwrite` with [`VfioDeviceFile::region_read`] and
//! [`VfioDeviceFile::region_write`], and calls [`VfioDeviceFile::release`] when the last fd
//! of the file is closed.

mod bar_map;
mod bind;
mod config;
mod feature;
mod info;
mod irqs;
mod region;
mod reset;

use crate::Caller;
use crate::cmd_table::CmdTable;
use crate::sriov::SriovRole;
use bind::Binding;
use config::VirtualConfig;
use irqs::IrqState;
use std::sync::{Mutex, MutexGuard, PoisonError};
use uiommu_devices::dma::ProcessMemory;
use uiommu_devices::{PciFunction, SharedFunction};
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;
use uiommu_uapi::ioctl::ioc_nr;
use uiommu_uapi::vfio::*;

pub use bar_map::BarMapping;
pub use region::{REGION_SHIFT, UserBuffer};

/// Where a function sits: what `VFIO_DEVICE_GET_PCI_HOT_RESET_INFO` reports of it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PciAddress {
    /// PCI segment (domain).
    pub segment: u16,
    /// Bus number.
    pub bus: u8,
    /// Device << 3 | function.
    pub devfn: u8,
}

/// One open device file (`struct vfio_device_file`) and the device state vfio-pci keeps for
/// it (`struct vfio_pci_core_device`: the virtual config space, the interrupt mode).
pub struct VfioDeviceFile {
    function: SharedFunction,
    memory: ProcessMemory,
    address: PciAddress,
    /// Opened through its group (`df->group`): bound from the start, never by the cdev
    /// commands.
    group: bool,
    /// A cdev's file: the device's group, which the file keeps from being opened while
    /// bound (`vfio_device_block_group`).
    cdev_group: Option<std::sync::Arc<crate::vfio::group::VfioGroup>>,
    /// What the function is to SR-IOV (`pdev->is_physfn`, `pdev->is_virtfn`).
    sriov: Option<SriovRole>,
    state: Mutex<State>,
}

impl std::fmt::Debug for VfioDeviceFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VfioDeviceFile")
            .field("function", &self.function)
            .field("address", &self.address)
            .field("group", &self.group)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// What the file's ioctls change, under one lock (the kernel's `dev_set->lock` and `igate`).
#[derive(Debug)]
struct State {
    /// Set by `VFIO_DEVICE_BIND_IOMMUFD` (`df->access_granted`).
    bound: Option<Binding>,
    irqs: IrqState,
    config: VirtualConfig,
    low_power: feature::LowPower,
}

/// What a device ioctl does with the file, its state, the caller and `arg`.
type Handler = fn(&VfioDeviceFile, &mut State, &Caller<'_>, u64) -> Result<i64>;

/// The commands of a bound file: the cdev's (`vfio_device_fops_unl_ioctl`), the core's
/// (`VFIO_DEVICE_FEATURE`, `GET_REGION_INFO`) and vfio-pci's (`vfio_pci_core_ioctl`).
#[rustfmt::skip]
static OPS: CmdTable<Handler, { (ioc_nr(VFIO_DEVICE_DETACH_IOMMUFD_PT) - VFIO_BASE) as usize + 1 }> =
    CmdTable::new(VFIO_BASE, &[
        (VFIO_DEVICE_GET_INFO, info::get_info),
        (VFIO_DEVICE_GET_REGION_INFO, info::get_region_info),
        (VFIO_DEVICE_GET_IRQ_INFO, info::get_irq_info),
        (VFIO_DEVICE_SET_IRQS, irqs::set_irqs),
        (VFIO_DEVICE_RESET, info::reset),
        (VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, info::get_pci_hot_reset_info),
        (VFIO_DEVICE_FEATURE, feature::device_feature),
        (VFIO_DEVICE_ATTACH_IOMMUFD_PT, bind::attach_pt),
        (VFIO_DEVICE_DETACH_IOMMUFD_PT, bind::detach_pt),
    ]);

impl VfioDeviceFile {
    /// `vfio_device_fops_cdev_open`: a new file of `function` at `address`, not yet bound.
    /// `memory` is the opening process's memory: where the function's DMA lands once bound
    /// (IOMMU output addresses are that process's addresses).
    pub fn open(function: SharedFunction, memory: ProcessMemory, address: PciAddress) -> Self {
        Self::new(function, memory, address, false)
    }

    /// The cdev's file of a function of `group`: bound, it keeps the group from being opened
    /// (`EBUSY`), and it cannot bind while the group is open.
    pub fn in_group(mut self, group: std::sync::Arc<crate::vfio::group::VfioGroup>) -> Self {
        self.cdev_group = Some(group);
        self
    }

    /// The file of a function that is `role` to SR-IOV: a PF's or VF's open checks the VF
    /// token ([`crate::sriov::token`]), a VF's open counts as a user of its PF's.
    pub fn with_sriov(mut self, role: Option<SriovRole>) -> Self {
        self.sriov = role;
        self
    }

    /// `vfio_device_open_file` for `VFIO_GROUP_GET_DEVICE_FD`: a file already bound to `ctx`,
    /// the context of the group's container, with its RID attached to that context's
    /// compatibility IOAS (`vfio_df_group_open`). The cdev commands are not its own:
    /// `VFIO_DEVICE_BIND_IOMMUFD` is `EINVAL`, `ATTACH`/`DETACH_IOMMUFD_PT` are `ENOTTY`.
    pub fn open_bound_to(
        function: SharedFunction,
        memory: ProcessMemory,
        address: PciAddress,
        ctx: std::sync::Arc<uiommu_core::context::Context>,
        sriov: Option<SriovRole>,
    ) -> Result<Self> {
        let file = Self::new(function, memory, address, true).with_sriov(sriov);
        let binding = bind::bind_compat(&file, ctx)?;
        file.lock_state().bound = Some(binding);
        Ok(file)
    }

    fn new(
        function: SharedFunction,
        memory: ProcessMemory,
        address: PciAddress,
        group: bool,
    ) -> Self {
        let config = VirtualConfig::new(&*lock(&function));
        VfioDeviceFile {
            function,
            memory,
            address,
            group,
            cdev_group: None,
            sriov: None,
            state: Mutex::new(State {
                bound: None,
                irqs: IrqState::default(),
                config,
                low_power: feature::LowPower::default(),
            }),
        }
    }

    /// The function the file serves.
    pub fn function(&self) -> &SharedFunction {
        &self.function
    }

    /// `ioctl(fd, cmd, arg)` by `caller`: the value the syscall returns, or its errno. Before
    /// `VFIO_DEVICE_BIND_IOMMUFD` every other command is `EINVAL`; after it, a number without
    /// a row is `ENOTTY` (`vfio_pci_core_ioctl`'s default).
    pub fn ioctl(&self, caller: &Caller<'_>, cmd: u32, arg: u64) -> Result<i64> {
        let mut state = self.lock_state();
        if cmd == VFIO_DEVICE_BIND_IOMMUFD {
            return bind::bind_iommufd(self, &mut state, caller, arg);
        }
        if state.bound.is_none() {
            return Err(Errno::EINVAL);
        }
        state.low_power.wake();
        let cdev_only = [VFIO_DEVICE_ATTACH_IOMMUFD_PT, VFIO_DEVICE_DETACH_IOMMUFD_PT];
        if self.group && cdev_only.contains(&cmd) {
            return Err(Errno::ENOTTY);
        }
        let handler = OPS.get(cmd).ok_or(Errno::ENOTTY)?;
        handler(self, &mut state, caller, arg)
    }

    /// `pread(fd, buf.addr, buf.len, offset)` (`vfio_device_fops_read`, `vfio_pci_rw`):
    /// `EINVAL` before bind; the bytes read into the caller's `buf`.
    pub fn region_read(&self, caller: &Caller<'_>, offset: u64, buf: UserBuffer) -> Result<usize> {
        self.region_rw(caller, offset, buf, false)
    }

    /// `pwrite(fd, buf.addr, buf.len, offset)` (`vfio_device_fops_write`): `EINVAL` before
    /// bind; the bytes written from the caller's `buf`.
    pub fn region_write(&self, caller: &Caller<'_>, offset: u64, buf: UserBuffer) -> Result<usize> {
        self.region_rw(caller, offset, buf, true)
    }

    fn region_rw(
        &self,
        caller: &Caller<'_>,
        pos: u64,
        buf: UserBuffer,
        write: bool,
    ) -> Result<usize> {
        if let Some(SriovRole::Pf(pf)) = &self.sriov {
            pf.sync();
        }
        let mut state = self.lock_state();
        if state.bound.is_none() {
            return Err(Errno::EINVAL);
        }
        state.low_power.wake();
        let access = region::Access {
            mem: caller.mem,
            buf: buf.addr,
            count: buf.len,
            write,
        };
        region::rw(self, &mut state, pos, &access)
    }

    /// `vfio_device_fops_release` when the last fd is closed: interrupts off and the
    /// function reset as `vfio_pci_core_disable` leaves it, then unbound
    /// (`vfio_df_unbind_iommufd`). Linux resets only a function with a reset method
    /// (`reset_works`); here every function is returned to power-on values, so that the next
    /// user starts from the device a fresh VM would see (QEMU's edu has no reset method, and
    /// on Linux its registers would keep what the last user left).
    pub fn release(&self) {
        let mut state = self.lock_state();
        if state.bound.is_none() {
            return;
        }
        {
            let mut f = lock(&self.function);
            irqs::disable_all(&mut state, &mut *f);
            reset::reset_keeping_iov(&mut *f);
        }
        bind::unbind(self, &mut state);
    }

    fn lock_state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn function_mut(&self) -> MutexGuard<'_, dyn PciFunction + 'static> {
        lock(&self.function)
    }
}

/// The function, serialised as the hardware is.
fn lock(function: &SharedFunction) -> MutexGuard<'_, dyn PciFunction + 'static> {
    function.lock().unwrap_or_else(PoisonError::into_inner)
}
