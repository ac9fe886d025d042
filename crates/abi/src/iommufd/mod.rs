//! The iommufd commands: one handler per ioctl, as `main.c`'s table lists them.

mod fault;
mod hwpt;
mod ioas;
mod option;
mod selftest;
mod user_bitmap;
mod viommu;

use crate::files::{Caller, FdHost};
use uiommu_core::context::Context;
use uiommu_uapi::errno::Result;
use uiommu_uapi::iommufd::*;
use uiommu_uapi::{Errno, UserMemory};

/// Runs a command whose struct `ucmd` was copied in.
pub(crate) fn run(ctx: &Context, caller: &Caller<'_>, ucmd: &UserCmd) -> Result<()> {
    let c = Cmd {
        ctx,
        mem: caller.mem,
        fds: caller.fds,
        caller,
        ucmd,
    };
    match ucmd.op.cmd {
        IOMMU_DESTROY => ioas::destroy(&c),
        IOMMU_IOAS_ALLOC => ioas::alloc(&c),
        IOMMU_IOAS_ALLOW_IOVAS => ioas::allow_iovas(&c),
        IOMMU_IOAS_COPY => ioas::copy(&c),
        IOMMU_IOAS_IOVA_RANGES => ioas::iova_ranges(&c),
        IOMMU_IOAS_MAP => ioas::map(&c),
        IOMMU_IOAS_MAP_FILE => ioas::map_file(&c),
        IOMMU_IOAS_CHANGE_PROCESS => ioas::change_process(&c),
        IOMMU_IOAS_UNMAP => ioas::unmap(&c),
        IOMMU_OPTION => option::option(&c),
        IOMMU_VFIO_IOAS => option::vfio_ioas(&c),
        IOMMU_IOAS_NOIOMMU_GET_PA => ioas::noiommu_get_pa(&c),
        IOMMU_HWPT_ALLOC => hwpt::alloc(&c),
        IOMMU_FAULT_QUEUE_ALLOC => fault::alloc(&c),
        IOMMU_GET_HW_INFO => hwpt::get_hw_info(&c),
        IOMMU_HWPT_SET_DIRTY_TRACKING => hwpt::set_dirty_tracking(&c),
        IOMMU_HWPT_GET_DIRTY_BITMAP => hwpt::get_dirty_bitmap(&c),
        IOMMU_HWPT_INVALIDATE => hwpt::invalidate(&c),
        IOMMU_VIOMMU_ALLOC => viommu::viommu_alloc(&c),
        IOMMU_VDEVICE_ALLOC => viommu::vdevice_alloc(&c),
        IOMMU_VEVENTQ_ALLOC => viommu::veventq_alloc(&c),
        IOMMU_HW_QUEUE_ALLOC => viommu::hw_queue_alloc(&c),
        uiommu_uapi::selftest::IOMMU_TEST_CMD => selftest::run(&c),
        // Commands whose objects this build does not provide yet.
        _ => Err(Errno::ENOTTY),
    }
}

/// One command in flight: the context, the caller's memory and the copied-in struct.
pub(crate) struct Cmd<'a> {
    pub ctx: &'a Context,
    pub mem: &'a dyn UserMemory,
    pub fds: &'a dyn FdHost,
    pub caller: &'a Caller<'a>,
    pub ucmd: &'a UserCmd,
}

impl Cmd<'_> {
    /// The command struct.
    pub fn get<T: zerocopy::FromBytes>(&self) -> T {
        self.ucmd.get()
    }

    /// `iommufd_ucmd_respond`.
    pub fn respond<T: zerocopy::IntoBytes + zerocopy::Immutable>(&self, value: &T) -> Result<()> {
        self.ucmd.respond(&self.mem, value)
    }
}
