//! Container ioctls beyond type1 on a [`VfioContainer`]: `VFIO_IOMMU_ENABLE`,
//! `VFIO_IOMMU_DISABLE`, and the SPAPR TCE (POWER) IOMMU's `VFIO_IOMMU_SPAPR_TCE_GET_INFO`,
//! memory pre-registration, dynamic DMA windows and `VFIO_EEH_PE_OP`.

use std::os::fd::AsFd;

use uiommu_uapi::vfio::*;

use super::VfioContainer;
use crate::buffer::MappedBuffer;
use crate::error::{Context, Error, Result};
use crate::ioctl;

/// `VFIO_IOMMU_SPAPR_TCE_GET_INFO`: the default 32-bit DMA window and dynamic DMA window
/// support.
///
/// ```no_run
/// use uiommu_client::VfioContainer;
/// use uiommu_client::uapi::vfio::VFIO_SPAPR_TCE_v2_IOMMU;
///
/// let c = VfioContainer::open()?;
/// c.set_iommu(VFIO_SPAPR_TCE_v2_IOMMU)?;
/// let info = c.spapr_tce_info()?;
/// println!("{:#x}+{:#x}", info.dma32_window_start, info.dma32_window_size);
/// if let Some(ddw) = info.ddw {
///     let start = c.spapr_tce_create(16, 1 << 30, ddw.levels.min(2))?;
///     c.spapr_tce_remove(start)?;
/// }
/// # Ok::<(), uiommu_client::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpaprTceInfo {
    /// `dma32_window_start`: PCI bus address of the 32-bit window.
    pub dma32_window_start: u32,
    /// `dma32_window_size` in bytes.
    pub dma32_window_size: u32,
    /// `ddw`, when `VFIO_IOMMU_SPAPR_INFO_DDW` says dynamic DMA windows are supported.
    pub ddw: Option<VfioIommuSpaprTceDdwInfo>,
}

/// An EEH operation on the container's partitionable endpoint (`VFIO_EEH_PE_*`).
///
/// ```no_run
/// use uiommu_client::{EehOp, EehPeState, VfioContainer};
///
/// let c = VfioContainer::open()?;
/// c.eeh_pe_op(EehOp::Enable)?;
/// if c.eeh_pe_state()? == EehPeState::Stopped {
///     c.eeh_pe_op(EehOp::ResetHot)?;
///     c.eeh_pe_op(EehOp::ResetDeactivate)?;
///     c.eeh_pe_op(EehOp::Configure)?;
/// }
/// # Ok::<(), uiommu_client::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EehOp {
    /// `VFIO_EEH_PE_DISABLE`.
    Disable,
    /// `VFIO_EEH_PE_ENABLE`.
    Enable,
    /// `VFIO_EEH_PE_UNFREEZE_IO`: re-enable MMIO/PIO of a frozen PE.
    UnfreezeIo,
    /// `VFIO_EEH_PE_UNFREEZE_DMA`: re-enable DMA of a frozen PE.
    UnfreezeDma,
    /// `VFIO_EEH_PE_GET_STATE`: the ioctl returns a `VFIO_EEH_PE_STATE_*`
    /// (see [`VfioContainer::eeh_pe_state`]).
    GetState,
    /// `VFIO_EEH_PE_RESET_DEACTIVATE`: deassert reset.
    ResetDeactivate,
    /// `VFIO_EEH_PE_RESET_HOT`: assert hot reset.
    ResetHot,
    /// `VFIO_EEH_PE_RESET_FUNDAMENTAL`: assert fundamental reset.
    ResetFundamental,
    /// `VFIO_EEH_PE_CONFIGURE`: reconfigure the PE after reset.
    Configure,
    /// `VFIO_EEH_PE_INJECT_ERR`: inject this error.
    InjectErr(VfioEehPeErr),
}

impl EehOp {
    /// The `vfio_eeh_pe_op` argument of this operation.
    fn request(self) -> VfioEehPeOp {
        let (op, err) = match self {
            EehOp::Disable => (VFIO_EEH_PE_DISABLE, None),
            EehOp::Enable => (VFIO_EEH_PE_ENABLE, None),
            EehOp::UnfreezeIo => (VFIO_EEH_PE_UNFREEZE_IO, None),
            EehOp::UnfreezeDma => (VFIO_EEH_PE_UNFREEZE_DMA, None),
            EehOp::GetState => (VFIO_EEH_PE_GET_STATE, None),
            EehOp::ResetDeactivate => (VFIO_EEH_PE_RESET_DEACTIVATE, None),
            EehOp::ResetHot => (VFIO_EEH_PE_RESET_HOT, None),
            EehOp::ResetFundamental => (VFIO_EEH_PE_RESET_FUNDAMENTAL, None),
            EehOp::Configure => (VFIO_EEH_PE_CONFIGURE, None),
            EehOp::InjectErr(e) => (VFIO_EEH_PE_INJECT_ERR, Some(e)),
        };
        VfioEehPeOp {
            argsz: size_of::<VfioEehPeOp>() as u32,
            flags: 0,
            op,
            err: err.unwrap_or_default(),
            ..Default::default()
        }
    }
}

/// A PE state (`VFIO_EEH_PE_STATE_*`), from [`VfioContainer::eeh_pe_state`].
///
/// ```
/// use uiommu_client::EehPeState;
///
/// assert_eq!(EehPeState::from_raw(2), Some(EehPeState::Stopped));
/// assert_eq!(EehPeState::from_raw(3), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EehPeState {
    /// `VFIO_EEH_PE_STATE_NORMAL`: functional.
    Normal,
    /// `VFIO_EEH_PE_STATE_RESET`: reset in progress.
    Reset,
    /// `VFIO_EEH_PE_STATE_STOPPED`: MMIO/PIO and DMA stopped.
    Stopped,
    /// `VFIO_EEH_PE_STATE_STOPPED_DMA`: DMA stopped.
    StoppedDma,
    /// `VFIO_EEH_PE_STATE_UNAVAIL`: unavailable.
    Unavail,
}

impl EehPeState {
    /// The state of a `VFIO_EEH_PE_STATE_*` value, `None` for others.
    pub fn from_raw(raw: u32) -> Option<Self> {
        Some(match raw {
            VFIO_EEH_PE_STATE_NORMAL => EehPeState::Normal,
            VFIO_EEH_PE_STATE_RESET => EehPeState::Reset,
            VFIO_EEH_PE_STATE_STOPPED => EehPeState::Stopped,
            VFIO_EEH_PE_STATE_STOPPED_DMA => EehPeState::StoppedDma,
            VFIO_EEH_PE_STATE_UNAVAIL => EehPeState::Unavail,
            _ => return None,
        })
    }
}

pub(crate) fn decode_tce_info(info: &VfioIommuSpaprTceInfo) -> SpaprTceInfo {
    SpaprTceInfo {
        dma32_window_start: info.dma32_window_start,
        dma32_window_size: info.dma32_window_size,
        ddw: (info.flags & VFIO_IOMMU_SPAPR_INFO_DDW != 0).then_some(info.ddw),
    }
}

pub(crate) fn register_memory_request(vaddr: u64, size: u64) -> VfioIommuSpaprRegisterMemory {
    VfioIommuSpaprRegisterMemory {
        argsz: size_of::<VfioIommuSpaprRegisterMemory>() as u32,
        flags: 0,
        vaddr,
        size,
    }
}

pub(crate) fn tce_create_request(
    page_shift: u32,
    window_size: u64,
    levels: u32,
) -> VfioIommuSpaprTceCreate {
    VfioIommuSpaprTceCreate {
        argsz: size_of::<VfioIommuSpaprTceCreate>() as u32,
        page_shift,
        window_size,
        levels,
        ..Default::default()
    }
}

impl VfioContainer {
    /// ioctl(VFIO_IOMMU_ENABLE): enable the container's IOMMU (SPAPR TCE v1 accounts locked
    /// memory here).
    ///
    /// ```no_run
    /// use uiommu_client::VfioContainer;
    /// use uiommu_client::uapi::vfio::VFIO_SPAPR_TCE_IOMMU;
    ///
    /// let c = VfioContainer::open()?;
    /// c.set_iommu(VFIO_SPAPR_TCE_IOMMU)?;
    /// c.enable()?;
    /// c.disable()?;
    /// # Ok::<(), uiommu_client::Error>(())
    /// ```
    pub fn enable(&self) -> Result<()> {
        ioctl::ioctl_value(self.as_fd(), VFIO_IOMMU_ENABLE, 0)
            .op("VFIO_IOMMU_ENABLE")
            .map(|_| ())
    }

    /// ioctl(VFIO_IOMMU_DISABLE).
    ///
    /// ```no_run
    /// use uiommu_client::VfioContainer;
    ///
    /// VfioContainer::open()?.disable()?;
    /// # Ok::<(), uiommu_client::Error>(())
    /// ```
    pub fn disable(&self) -> Result<()> {
        ioctl::ioctl_value(self.as_fd(), VFIO_IOMMU_DISABLE, 0)
            .op("VFIO_IOMMU_DISABLE")
            .map(|_| ())
    }

    /// ioctl(VFIO_IOMMU_SPAPR_TCE_GET_INFO).
    ///
    /// ```no_run
    /// use uiommu_client::VfioContainer;
    ///
    /// let c = VfioContainer::open()?;
    /// let info = c.spapr_tce_info()?;
    /// assert!(info.dma32_window_size > 0);
    /// # Ok::<(), uiommu_client::Error>(())
    /// ```
    pub fn spapr_tce_info(&self) -> Result<SpaprTceInfo> {
        let mut cmd = VfioIommuSpaprTceInfo {
            argsz: size_of::<VfioIommuSpaprTceInfo>() as u32,
            ..Default::default()
        };
        ioctl::ioctl(self.as_fd(), VFIO_IOMMU_SPAPR_TCE_GET_INFO, &mut cmd)
            .op("VFIO_IOMMU_SPAPR_TCE_GET_INFO")?;
        Ok(decode_tce_info(&cmd))
    }

    /// ioctl(VFIO_IOMMU_SPAPR_REGISTER_MEMORY) of `buf[offset..offset + size]`: pin and
    /// account it for later maps. The container keeps `buf` alive.
    ///
    /// ```no_run
    /// use uiommu_client::{MappedBuffer, VfioContainer};
    ///
    /// let c = VfioContainer::open()?;
    /// let buf = MappedBuffer::new(1 << 16)?;
    /// c.spapr_register_memory(&buf, 0, 1 << 16)?;
    /// c.spapr_unregister_memory(&buf, 0, 1 << 16)?;
    /// # Ok::<(), uiommu_client::Error>(())
    /// ```
    pub fn spapr_register_memory(&self, buf: &MappedBuffer, offset: u64, size: u64) -> Result<()> {
        let op = "VFIO_IOMMU_SPAPR_REGISTER_MEMORY";
        buf.check_range(op, offset, size)?;
        let mut held = self.registered.lock().unwrap_or_else(|e| e.into_inner());
        let vaddr = buf.addr() + offset;
        let mut cmd = register_memory_request(vaddr, size);
        ioctl::ioctl(self.as_fd(), VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &mut cmd).op(op)?;
        held.insert(vaddr, size, buf);
        Ok(())
    }

    /// ioctl(VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY) of exactly what
    /// [`spapr_register_memory`](Self::spapr_register_memory) registered.
    ///
    /// ```no_run
    /// use uiommu_client::{MappedBuffer, VfioContainer};
    ///
    /// let c = VfioContainer::open()?;
    /// let buf = MappedBuffer::new(1 << 16)?;
    /// c.spapr_register_memory(&buf, 0, 1 << 16)?;
    /// c.spapr_unregister_memory(&buf, 0, 1 << 16)?;
    /// # Ok::<(), uiommu_client::Error>(())
    /// ```
    pub fn spapr_unregister_memory(
        &self,
        buf: &MappedBuffer,
        offset: u64,
        size: u64,
    ) -> Result<()> {
        let op = "VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY";
        buf.check_range(op, offset, size)?;
        let mut held = self.registered.lock().unwrap_or_else(|e| e.into_inner());
        let vaddr = buf.addr() + offset;
        let mut cmd = register_memory_request(vaddr, size);
        ioctl::ioctl(self.as_fd(), VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, &mut cmd).op(op)?;
        if let Some(last) = crate::spans::last_of(vaddr, size) {
            held.remove(vaddr, last);
        }
        Ok(())
    }

    /// ioctl(VFIO_IOMMU_SPAPR_TCE_CREATE): a dynamic DMA window of `window_size` bytes with
    /// `1 << page_shift`-byte IOMMU pages in a `levels`-level TCE table. Returns the bus
    /// address where it starts, which identifies it.
    ///
    /// ```no_run
    /// use uiommu_client::VfioContainer;
    ///
    /// let c = VfioContainer::open()?;
    /// let start = c.spapr_tce_create(16, 1 << 32, 1)?;
    /// println!("window at {start:#x}");
    /// # Ok::<(), uiommu_client::Error>(())
    /// ```
    pub fn spapr_tce_create(&self, page_shift: u32, window_size: u64, levels: u32) -> Result<u64> {
        let mut cmd = tce_create_request(page_shift, window_size, levels);
        ioctl::ioctl(self.as_fd(), VFIO_IOMMU_SPAPR_TCE_CREATE, &mut cmd)
            .op("VFIO_IOMMU_SPAPR_TCE_CREATE")?;
        Ok(cmd.start_addr)
    }

    /// ioctl(VFIO_IOMMU_SPAPR_TCE_REMOVE) of the window starting at `start_addr`.
    ///
    /// ```no_run
    /// use uiommu_client::VfioContainer;
    ///
    /// let c = VfioContainer::open()?;
    /// let start = c.spapr_tce_create(12, 1 << 28, 1)?;
    /// c.spapr_tce_remove(start)?;
    /// # Ok::<(), uiommu_client::Error>(())
    /// ```
    pub fn spapr_tce_remove(&self, start_addr: u64) -> Result<()> {
        let mut cmd = VfioIommuSpaprTceRemove {
            argsz: size_of::<VfioIommuSpaprTceRemove>() as u32,
            flags: 0,
            start_addr,
        };
        ioctl::ioctl(self.as_fd(), VFIO_IOMMU_SPAPR_TCE_REMOVE, &mut cmd)
            .op("VFIO_IOMMU_SPAPR_TCE_REMOVE")
            .map(|_| ())
    }

    /// ioctl(VFIO_EEH_PE_OP): `op` on the container's PE; returns the ioctl's value (the
    /// state for [`EehOp::GetState`]).
    ///
    /// ```no_run
    /// use uiommu_client::{EehOp, VfioContainer};
    ///
    /// let c = VfioContainer::open()?;
    /// c.eeh_pe_op(EehOp::Enable)?;
    /// c.eeh_pe_op(EehOp::UnfreezeIo)?;
    /// # Ok::<(), uiommu_client::Error>(())
    /// ```
    pub fn eeh_pe_op(&self, op: EehOp) -> Result<i32> {
        let mut cmd = op.request();
        ioctl::ioctl(self.as_fd(), VFIO_EEH_PE_OP, &mut cmd).op("VFIO_EEH_PE_OP")
    }

    /// `VFIO_EEH_PE_OP` with `VFIO_EEH_PE_GET_STATE`, decoded.
    ///
    /// ```no_run
    /// use uiommu_client::VfioContainer;
    ///
    /// let c = VfioContainer::open()?;
    /// let state = c.eeh_pe_state()?;
    /// println!("{state:?}");
    /// # Ok::<(), uiommu_client::Error>(())
    /// ```
    pub fn eeh_pe_state(&self) -> Result<EehPeState> {
        let raw = self.eeh_pe_op(EehOp::GetState)?;
        u32::try_from(raw)
            .ok()
            .and_then(EehPeState::from_raw)
            .ok_or_else(|| Error::Protocol {
                op: "VFIO_EEH_PE_OP",
                what: format!("PE state {raw}"),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_eeh_ops() {
        let r = EehOp::GetState.request();
        assert_eq!(r.argsz as usize, size_of::<VfioEehPeOp>());
        assert_eq!((r.flags, r.op), (0, VFIO_EEH_PE_GET_STATE));
        assert_eq!(r.err, VfioEehPeErr::default());
        assert_eq!(EehOp::Disable.request().op, VFIO_EEH_PE_DISABLE);
        assert_eq!(EehOp::Configure.request().op, VFIO_EEH_PE_CONFIGURE);
        assert_eq!(
            EehOp::ResetFundamental.request().op,
            VFIO_EEH_PE_RESET_FUNDAMENTAL
        );
        let err = VfioEehPeErr {
            type_: 1,
            func: 2,
            addr: 0x1000,
            mask: !0xfff,
        };
        let r = EehOp::InjectErr(err).request();
        assert_eq!((r.op, r.err), (VFIO_EEH_PE_INJECT_ERR, err));
        for raw in [0, 1, 2, 4, 5] {
            assert!(EehPeState::from_raw(raw).is_some());
        }
        assert_eq!(EehPeState::from_raw(3), None);
    }

    #[test]
    fn encodes_spapr_requests_and_decodes_info() {
        let r = register_memory_request(0x7f00_0000_0000, 1 << 16);
        assert_eq!(r.argsz as usize, size_of::<VfioIommuSpaprRegisterMemory>());
        assert_eq!((r.flags, r.vaddr, r.size), (0, 0x7f00_0000_0000, 1 << 16));

        let c = tce_create_request(16, 1 << 30, 2);
        assert_eq!(c.argsz as usize, size_of::<VfioIommuSpaprTceCreate>());
        assert_eq!(
            (c.flags, c.page_shift, c.window_size, c.levels),
            (0, 16, 1 << 30, 2)
        );
        assert_eq!((c.__resv1, c.__resv2, c.start_addr), (0, 0, 0));

        let ddw = VfioIommuSpaprTceDdwInfo {
            pgsizes: (1 << 12) | (1 << 16),
            max_dynamic_windows_supported: 1,
            levels: 5,
        };
        let mut info = VfioIommuSpaprTceInfo {
            argsz: size_of::<VfioIommuSpaprTceInfo>() as u32,
            flags: VFIO_IOMMU_SPAPR_INFO_DDW,
            dma32_window_start: 0,
            dma32_window_size: 0x8000_0000,
            ddw,
        };
        let d = decode_tce_info(&info);
        assert_eq!(
            (d.dma32_window_start, d.dma32_window_size),
            (0, 0x8000_0000)
        );
        assert_eq!(d.ddw, Some(ddw));
        info.flags = 0;
        assert_eq!(decode_tce_info(&info).ddw, None);
    }
}
