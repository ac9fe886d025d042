//! The iommufd commands (`drivers/iommu/iommufd/main.c`): the [`table`] of commands, the
//! size rules every command's struct is copied in by ([`ucmd`]), and one handler per ioctl.

pub(crate) mod fault;
mod hwpt;
mod ioas;
mod map_args;
mod option;
mod selftest;
mod selftest_args;
pub(crate) mod table;
mod ucmd;
mod user_bitmap;
mod viommu;

use crate::files::{Caller, FdHost};
use ucmd::UserCmd;
use uiommu_core::context::Context;
use uiommu_uapi::UserMemory;
use uiommu_uapi::errno::Result;

/// Whether `cmd` is iommufd's: its number falls in the table's range, whatever the rest of
/// `cmd` says (`iommufd_fops_ioctl`). Any other number goes to the VFIO compatibility layer.
pub(crate) fn owns(cmd: u32) -> bool {
    table::OPS.covers(cmd)
}

/// An iommufd ioctl that [`owns`] `cmd`: its struct copied in, then its handler.
pub(crate) fn ioctl(ctx: &Context, caller: &Caller<'_>, cmd: u32, arg: u64) -> Result<()> {
    let ucmd = UserCmd::read(&caller.mem, cmd, arg)?;
    let c = Cmd {
        ctx,
        mem: caller.mem,
        fds: caller.fds,
        caller,
        ucmd: &ucmd,
    };
    (ucmd.op.handler)(&c)
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
