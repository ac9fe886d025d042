//! More device ioctls on a [`VfioDevice`]: PCI hot reset (`VFIO_DEVICE_GET_PCI_HOT_RESET_INFO`,
//! `VFIO_DEVICE_PCI_HOT_RESET`), mediated display planes (`VFIO_DEVICE_QUERY_GFX_PLANE`,
//! `VFIO_DEVICE_GET_GFX_DMABUF`) and `VFIO_DEVICE_IOEVENTFD`.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use uiommu_uapi::Errno;
use uiommu_uapi::vfio::*;
use zerocopy::{FromBytes, IntoBytes};

use super::{RegionInfo, VfioDevice, VfioGroup};
use crate::error::{Context, Error, Result};
use crate::flags::flags;
use crate::ioctl;

flags! {
    /// `vfio_pci_hot_reset_info.flags` (`VFIO_PCI_HOT_RESET_FLAG_*`).
    ///
    /// ```
    /// use uiommu_client::HotResetFlags;
    ///
    /// let f = HotResetFlags::from_bits_retain(3);
    /// assert!(f.contains(HotResetFlags::DEV_ID | HotResetFlags::DEV_ID_OWNED));
    /// ```
    pub struct HotResetFlags: u32 {
        /// `VFIO_PCI_HOT_RESET_FLAG_DEV_ID`: entries carry iommufd device IDs (cdev path).
        const DEV_ID = VFIO_PCI_HOT_RESET_FLAG_DEV_ID;
        /// `VFIO_PCI_HOT_RESET_FLAG_DEV_ID_OWNED`: every affected device is owned, so the
        /// reset needs no group fds.
        const DEV_ID_OWNED = VFIO_PCI_HOT_RESET_FLAG_DEV_ID_OWNED;
    }
}

/// `VFIO_DEVICE_GET_PCI_HOT_RESET_INFO`: the devices a hot reset would affect.
///
/// ```no_run
/// use uiommu_client::{HotResetFlags, VfioDevice};
///
/// let dev = VfioDevice::open_cdev(0)?;
/// let info = dev.pci_hot_reset_info()?;
/// for d in &info.devices {
///     println!("{:04x}:{:02x}:{:02x}.{}", d.segment, d.bus, d.devfn >> 3, d.devfn & 7);
/// }
/// if info.flags.contains(HotResetFlags::DEV_ID_OWNED) {
///     dev.pci_hot_reset(&[])?;
/// }
/// # Ok::<(), uiommu_client::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HotResetInfo {
    /// `flags`.
    pub flags: HotResetFlags,
    /// `devices[count]`: group IDs, or device IDs with [`HotResetFlags::DEV_ID`]
    /// ([`VfioPciDependentDevice::devid`]).
    pub devices: Vec<VfioPciDependentDevice>,
}

/// Where a mediated display plane is exposed (`VFIO_GFX_PLANE_TYPE_DMABUF` or `_REGION`).
///
/// ```no_run
/// use uiommu_client::{DrmPlaneType, GfxPlaneKind, VfioDevice};
///
/// let dev = VfioDevice::open_cdev(0)?;
/// if dev.probe_gfx_plane(GfxPlaneKind::Dmabuf)? {
///     let plane = dev.query_gfx_plane(GfxPlaneKind::Dmabuf, DrmPlaneType::Primary)?;
///     if plane.enabled() {
///         let fd = dev.gfx_dmabuf(plane.id)?;
///     }
/// }
/// # Ok::<(), uiommu_client::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GfxPlaneKind {
    /// `VFIO_GFX_PLANE_TYPE_DMABUF`: the plane as a dma-buf ([`VfioDevice::gfx_dmabuf`]).
    Dmabuf,
    /// `VFIO_GFX_PLANE_TYPE_REGION`: the plane in a device region.
    Region,
}

impl GfxPlaneKind {
    fn bits(self) -> u32 {
        match self {
            GfxPlaneKind::Dmabuf => VFIO_GFX_PLANE_TYPE_DMABUF,
            GfxPlaneKind::Region => VFIO_GFX_PLANE_TYPE_REGION,
        }
    }
}

/// A DRM plane type (`DRM_PLANE_TYPE_*`, `enum drm_plane_type`).
///
/// ```
/// use uiommu_client::DrmPlaneType;
///
/// assert_eq!(DrmPlaneType::Primary.raw(), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DrmPlaneType {
    /// `DRM_PLANE_TYPE_OVERLAY`.
    Overlay,
    /// `DRM_PLANE_TYPE_PRIMARY`.
    Primary,
    /// `DRM_PLANE_TYPE_CURSOR`.
    Cursor,
}

impl DrmPlaneType {
    /// The `DRM_PLANE_TYPE_*` value.
    pub fn raw(self) -> u32 {
        match self {
            DrmPlaneType::Overlay => 0,
            DrmPlaneType::Primary => 1,
            DrmPlaneType::Cursor => 2,
        }
    }
}

/// `VFIO_DEVICE_QUERY_GFX_PLANE`: `struct vfio_device_gfx_plane_info` as read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GfxPlane {
    /// How the plane is exposed (as asked).
    pub kind: GfxPlaneKind,
    /// `drm_format`: DRM fourcc.
    pub drm_format: u32,
    /// `drm_format_mod`: DRM format modifier.
    pub drm_format_mod: u64,
    /// `width`.
    pub width: u32,
    /// `height`.
    pub height: u32,
    /// `stride`.
    pub stride: u32,
    /// `size` in bytes.
    pub size: u32,
    /// `x_pos`, `y_pos`: a cursor's position.
    pub pos: (u32, u32),
    /// `x_hot`, `y_hot`: a cursor's hotspot, `None` where the kernel reports `0xffffffff`.
    pub hot: (Option<u32>, Option<u32>),
    /// The union: the region index ([`GfxPlaneKind::Region`]) or the dma-buf ID
    /// ([`GfxPlaneKind::Dmabuf`]).
    pub id: u32,
}

impl GfxPlane {
    /// Whether the plane is enabled (a disabled one reads back with zero format and size).
    ///
    /// ```no_run
    /// use uiommu_client::{DrmPlaneType, GfxPlaneKind, VfioDevice};
    ///
    /// let dev = VfioDevice::open_cdev(0)?;
    /// let plane = dev.query_gfx_plane(GfxPlaneKind::Region, DrmPlaneType::Cursor)?;
    /// if plane.enabled() {
    ///     println!("cursor at {:?}", plane.pos);
    /// }
    /// # Ok::<(), uiommu_client::Error>(())
    /// ```
    pub fn enabled(&self) -> bool {
        self.drm_format != 0 && self.size != 0
    }
}

/// The write an ioeventfd makes: its width (`VFIO_DEVICE_IOEVENTFD_{8,16,32,64}`) and value.
///
/// ```no_run
/// use uiommu_client::{IoeventfdData, VfioDevice};
/// use uiommu_client::uapi::vfio::VFIO_PCI_BAR0_REGION_INDEX;
///
/// let dev = VfioDevice::open_cdev(0)?;
/// let bar0 = dev.region_info(VFIO_PCI_BAR0_REGION_INDEX)?;
/// # let efd = std::fs::File::open("/dev/null").unwrap();
/// use std::os::fd::AsFd;
/// dev.set_ioeventfd(&bar0, 0x40, IoeventfdData::U32(1), efd.as_fd())?;
/// dev.remove_ioeventfd(&bar0, 0x40, IoeventfdData::U32(1))?;
/// # Ok::<(), uiommu_client::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IoeventfdData {
    /// A 1-byte write.
    U8(u8),
    /// A 2-byte write.
    U16(u16),
    /// A 4-byte write.
    U32(u32),
    /// An 8-byte write.
    U64(u64),
}

impl IoeventfdData {
    /// (`flags`, `data`) of `struct vfio_device_ioeventfd`.
    fn encode(self) -> (u32, u64) {
        match self {
            IoeventfdData::U8(v) => (VFIO_DEVICE_IOEVENTFD_8, v.into()),
            IoeventfdData::U16(v) => (VFIO_DEVICE_IOEVENTFD_16, v.into()),
            IoeventfdData::U32(v) => (VFIO_DEVICE_IOEVENTFD_32, v.into()),
            IoeventfdData::U64(v) => (VFIO_DEVICE_IOEVENTFD_64, v),
        }
    }

    /// The width in bytes.
    ///
    /// ```
    /// use uiommu_client::IoeventfdData;
    ///
    /// assert_eq!(IoeventfdData::U16(1).width(), 2);
    /// ```
    pub fn width(self) -> usize {
        match self {
            IoeventfdData::U8(_) => 1,
            IoeventfdData::U16(_) => 2,
            IoeventfdData::U32(_) => 4,
            IoeventfdData::U64(_) => 8,
        }
    }
}

/// A `VFIO_DEVICE_GET_PCI_HOT_RESET_INFO` request with room for `count` devices.
pub(crate) fn hot_reset_info_request(count: usize) -> Vec<u8> {
    let len = size_of::<VfioPciHotResetInfo>() + count * size_of::<VfioPciDependentDevice>();
    let head = VfioPciHotResetInfo {
        argsz: len as u32,
        ..Default::default()
    };
    let mut buf = vec![0u8; len];
    buf[..size_of::<VfioPciHotResetInfo>()].copy_from_slice(head.as_bytes());
    buf
}

/// The `count` of a reply (what an `ENOSPC` reply says is needed).
pub(crate) fn hot_reset_info_count(op: &'static str, buf: &[u8]) -> Result<usize> {
    let (head, _) = VfioPciHotResetInfo::read_from_prefix(buf).map_err(|_| Error::Protocol {
        op,
        what: "short reply".into(),
    })?;
    Ok(head.count as usize)
}

/// Decodes a successful `VFIO_DEVICE_GET_PCI_HOT_RESET_INFO` reply.
pub(crate) fn decode_hot_reset_info(op: &'static str, buf: &[u8]) -> Result<HotResetInfo> {
    let (head, rest) = VfioPciHotResetInfo::read_from_prefix(buf).map_err(|_| Error::Protocol {
        op,
        what: "short reply".into(),
    })?;
    let n = head.count as usize;
    let fit = rest.len() / size_of::<VfioPciDependentDevice>();
    if n > fit {
        return Err(Error::Protocol {
            op,
            what: format!("count {n} but room for {fit}"),
        });
    }
    let devices = rest
        .chunks_exact(size_of::<VfioPciDependentDevice>())
        .take(n)
        .filter_map(|c| VfioPciDependentDevice::read_from_bytes(c).ok())
        .collect();
    Ok(HotResetInfo {
        flags: HotResetFlags::from_bits_retain(head.flags),
        devices,
    })
}

/// Encodes a `VFIO_DEVICE_PCI_HOT_RESET` argument: the header, then the group fds.
pub(crate) fn encode_hot_reset(group_fds: &[RawFd]) -> Vec<u8> {
    let head = VfioPciHotReset {
        argsz: (size_of::<VfioPciHotReset>() + size_of_val(group_fds)) as u32,
        flags: 0,
        count: group_fds.len() as u32,
    };
    let mut out = head.as_bytes().to_vec();
    out.extend_from_slice(group_fds.as_bytes());
    out
}

/// A `VFIO_DEVICE_QUERY_GFX_PLANE` request.
pub(crate) fn gfx_plane_request(flags: u32, plane: u32) -> VfioDeviceGfxPlaneInfo {
    VfioDeviceGfxPlaneInfo {
        argsz: size_of::<VfioDeviceGfxPlaneInfo>() as u32,
        flags,
        drm_plane_type: plane,
        ..Default::default()
    }
}

pub(crate) fn decode_gfx_plane(kind: GfxPlaneKind, p: &VfioDeviceGfxPlaneInfo) -> GfxPlane {
    let hot = |v: u32| (v != u32::MAX).then_some(v);
    GfxPlane {
        kind,
        drm_format: p.drm_format,
        drm_format_mod: p.drm_format_mod,
        width: p.width,
        height: p.height,
        stride: p.stride,
        size: p.size,
        pos: (p.x_pos, p.y_pos),
        hot: (hot(p.x_hot), hot(p.y_hot)),
        id: p.region_index,
    }
}

/// A `VFIO_DEVICE_IOEVENTFD` request.
pub(crate) fn ioeventfd_request(
    offset: u64,
    data: IoeventfdData,
    fd: RawFd,
) -> VfioDeviceIoeventfd {
    let (flags, data) = data.encode();
    VfioDeviceIoeventfd {
        argsz: size_of::<VfioDeviceIoeventfd>() as u32,
        flags,
        offset,
        data,
        fd,
        reserved: 0,
    }
}

impl VfioDevice {
    /// ioctl(VFIO_DEVICE_GET_PCI_HOT_RESET_INFO): the devices a hot reset of this one would
    /// affect, asking again with room for `count` devices when the kernel answers `ENOSPC`.
    ///
    /// ```no_run
    /// use uiommu_client::VfioDevice;
    ///
    /// let dev = VfioDevice::open_cdev(0)?;
    /// let info = dev.pci_hot_reset_info()?;
    /// println!("{} devices, {:?}", info.devices.len(), info.flags);
    /// # Ok::<(), uiommu_client::Error>(())
    /// ```
    pub fn pci_hot_reset_info(&self) -> Result<HotResetInfo> {
        let op = "VFIO_DEVICE_GET_PCI_HOT_RESET_INFO";
        let mut count = 0;
        for _ in 0..4 {
            let mut buf = hot_reset_info_request(count);
            match ioctl::ioctl_bytes(self.as_fd(), VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, &mut buf) {
                Ok(_) => return decode_hot_reset_info(op, &buf),
                Err(Errno::ENOSPC) => {
                    let want = hot_reset_info_count(op, &buf)?;
                    if want <= count {
                        return Err(Error::os(op, Errno::ENOSPC));
                    }
                    count = want;
                }
                Err(e) => return Err(Error::os(op, e)),
            }
        }
        Err(Error::Protocol {
            op,
            what: "count keeps growing".into(),
        })
    }

    /// ioctl(VFIO_DEVICE_PCI_HOT_RESET): reset the bus or slot, proving ownership of every
    /// affected group with its fd (group path), or with none (cdev path, when
    /// [`HotResetFlags::DEV_ID_OWNED`] is reported).
    ///
    /// ```no_run
    /// use uiommu_client::VfioGroup;
    ///
    /// let group = VfioGroup::open(26)?;
    /// let dev = group.device("0000:00:03.0")?;
    /// dev.pci_hot_reset(&[&group])?;
    /// # Ok::<(), uiommu_client::Error>(())
    /// ```
    pub fn pci_hot_reset(&self, groups: &[&VfioGroup]) -> Result<()> {
        let fds: Vec<RawFd> = groups.iter().map(|g| g.as_fd().as_raw_fd()).collect();
        let mut buf = encode_hot_reset(&fds);
        ioctl::ioctl_bytes(self.as_fd(), VFIO_DEVICE_PCI_HOT_RESET, &mut buf)
            .op("VFIO_DEVICE_PCI_HOT_RESET")
            .map(|_| ())
    }

    /// ioctl(VFIO_DEVICE_QUERY_GFX_PLANE) with `VFIO_GFX_PLANE_TYPE_PROBE`: whether planes
    /// can be exposed as `kind`. `false` when the kernel answers `EINVAL` (or `ENOTTY`: no
    /// mediated display).
    ///
    /// ```no_run
    /// use uiommu_client::{GfxPlaneKind, VfioDevice};
    ///
    /// let dev = VfioDevice::open_cdev(0)?;
    /// let region = dev.probe_gfx_plane(GfxPlaneKind::Region)?;
    /// # Ok::<(), uiommu_client::Error>(())
    /// ```
    pub fn probe_gfx_plane(&self, kind: GfxPlaneKind) -> Result<bool> {
        let mut cmd = gfx_plane_request(VFIO_GFX_PLANE_TYPE_PROBE | kind.bits(), 0);
        match ioctl::ioctl(self.as_fd(), VFIO_DEVICE_QUERY_GFX_PLANE, &mut cmd) {
            Ok(_) => Ok(true),
            Err(Errno::EINVAL | Errno::ENOTTY) => Ok(false),
            Err(e) => Err(Error::os("VFIO_DEVICE_QUERY_GFX_PLANE", e)),
        }
    }

    /// ioctl(VFIO_DEVICE_QUERY_GFX_PLANE): the current `plane` of the mediated display, as
    /// `kind`.
    ///
    /// ```no_run
    /// use uiommu_client::{DrmPlaneType, GfxPlaneKind, VfioDevice};
    ///
    /// let dev = VfioDevice::open_cdev(0)?;
    /// let p = dev.query_gfx_plane(GfxPlaneKind::Region, DrmPlaneType::Primary)?;
    /// println!("{}x{} in region {}", p.width, p.height, p.id);
    /// # Ok::<(), uiommu_client::Error>(())
    /// ```
    pub fn query_gfx_plane(&self, kind: GfxPlaneKind, plane: DrmPlaneType) -> Result<GfxPlane> {
        let mut cmd = gfx_plane_request(kind.bits(), plane.raw());
        ioctl::ioctl(self.as_fd(), VFIO_DEVICE_QUERY_GFX_PLANE, &mut cmd)
            .op("VFIO_DEVICE_QUERY_GFX_PLANE")?;
        Ok(decode_gfx_plane(kind, &cmd))
    }

    /// ioctl(VFIO_DEVICE_GET_GFX_DMABUF): a dma-buf fd of the plane whose dma-buf ID
    /// ([`GfxPlane::id`] of a [`GfxPlaneKind::Dmabuf`] plane) is `dmabuf_id`.
    ///
    /// ```no_run
    /// use uiommu_client::{DrmPlaneType, GfxPlaneKind, VfioDevice};
    ///
    /// let dev = VfioDevice::open_cdev(0)?;
    /// let p = dev.query_gfx_plane(GfxPlaneKind::Dmabuf, DrmPlaneType::Primary)?;
    /// let dmabuf = dev.gfx_dmabuf(p.id)?;
    /// # Ok::<(), uiommu_client::Error>(())
    /// ```
    pub fn gfx_dmabuf(&self, dmabuf_id: u32) -> Result<OwnedFd> {
        let mut id = dmabuf_id;
        let fd = ioctl::ioctl(self.as_fd(), VFIO_DEVICE_GET_GFX_DMABUF, &mut id)
            .op("VFIO_DEVICE_GET_GFX_DMABUF")?;
        Ok(ioctl::own_fd(fd))
    }

    fn ioeventfd_raw(
        &self,
        info: &RegionInfo,
        offset: u64,
        data: IoeventfdData,
        fd: RawFd,
    ) -> Result<()> {
        let op = "VFIO_DEVICE_IOEVENTFD";
        let at = Self::check_region_access(op, info, offset, data.width())?;
        let mut cmd = ioeventfd_request(at, data, fd);
        ioctl::ioctl(self.as_fd(), VFIO_DEVICE_IOEVENTFD, &mut cmd)
            .op(op)
            .map(|_| ())
    }

    /// ioctl(VFIO_DEVICE_IOEVENTFD): when `eventfd` is signalled, the kernel writes `data`
    /// at `offset` of region `info` (a BAR, typically) with its width.
    /// [`Error::OutOfBounds`] if the write would leave the region.
    ///
    /// ```no_run
    /// use std::os::fd::AsFd;
    /// use uiommu_client::{IoeventfdData, VfioDevice};
    /// use uiommu_client::uapi::vfio::VFIO_PCI_BAR0_REGION_INDEX;
    ///
    /// let dev = VfioDevice::open_cdev(0)?;
    /// let bar0 = dev.region_info(VFIO_PCI_BAR0_REGION_INDEX)?;
    /// # let efd = std::fs::File::open("/dev/null").unwrap();
    /// dev.set_ioeventfd(&bar0, 0x10, IoeventfdData::U16(0xffff), efd.as_fd())?;
    /// # Ok::<(), uiommu_client::Error>(())
    /// ```
    pub fn set_ioeventfd(
        &self,
        info: &RegionInfo,
        offset: u64,
        data: IoeventfdData,
        eventfd: BorrowedFd<'_>,
    ) -> Result<()> {
        self.ioeventfd_raw(info, offset, data, eventfd.as_raw_fd())
    }

    /// `VFIO_DEVICE_IOEVENTFD` with fd -1: remove the ioeventfd matching `offset`, `data`
    /// and its width.
    ///
    /// ```no_run
    /// use uiommu_client::{IoeventfdData, VfioDevice};
    /// use uiommu_client::uapi::vfio::VFIO_PCI_BAR0_REGION_INDEX;
    ///
    /// let dev = VfioDevice::open_cdev(0)?;
    /// let bar0 = dev.region_info(VFIO_PCI_BAR0_REGION_INDEX)?;
    /// dev.remove_ioeventfd(&bar0, 0x10, IoeventfdData::U16(0xffff))?;
    /// # Ok::<(), uiommu_client::Error>(())
    /// ```
    pub fn remove_ioeventfd(
        &self,
        info: &RegionInfo,
        offset: u64,
        data: IoeventfdData,
    ) -> Result<()> {
        self.ioeventfd_raw(info, offset, data, -1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(group_id: u32, bus: u8) -> VfioPciDependentDevice {
        VfioPciDependentDevice {
            group_id,
            segment: 0,
            bus,
            devfn: 0x18,
        }
    }

    #[test]
    fn hot_reset_info_requests_and_replies() {
        let b = hot_reset_info_request(0);
        assert_eq!(b.len(), size_of::<VfioPciHotResetInfo>());
        let (head, _) = VfioPciHotResetInfo::read_from_prefix(&b).unwrap();
        assert_eq!((head.argsz, head.flags, head.count), (12, 0, 0));

        // ENOSPC: the kernel writes the header back with the count it needs.
        let mut b = hot_reset_info_request(0);
        b[8..12].copy_from_slice(&2u32.to_ne_bytes());
        assert_eq!(hot_reset_info_count("t", &b).unwrap(), 2);

        let mut b = hot_reset_info_request(2);
        assert_eq!(b.len(), 12 + 2 * 8);
        let head = VfioPciHotResetInfo {
            argsz: b.len() as u32,
            flags: VFIO_PCI_HOT_RESET_FLAG_DEV_ID | VFIO_PCI_HOT_RESET_FLAG_DEV_ID_OWNED,
            count: 2,
        };
        b[..12].copy_from_slice(head.as_bytes());
        b[12..20].copy_from_slice(dev(3, 1).as_bytes());
        b[20..28].copy_from_slice(dev(VFIO_PCI_DEVID_NOT_OWNED as u32, 2).as_bytes());
        let info = decode_hot_reset_info("t", &b).unwrap();
        assert_eq!(
            info.flags,
            HotResetFlags::DEV_ID | HotResetFlags::DEV_ID_OWNED
        );
        assert_eq!(
            info.devices,
            vec![dev(3, 1), dev(VFIO_PCI_DEVID_NOT_OWNED as u32, 2)]
        );

        // A count larger than the buffer is a protocol error.
        b[8..12].copy_from_slice(&3u32.to_ne_bytes());
        assert!(matches!(
            decode_hot_reset_info("t", &b),
            Err(Error::Protocol { .. })
        ));
        assert!(matches!(
            decode_hot_reset_info("t", &b[..4]),
            Err(Error::Protocol { .. })
        ));
    }

    #[test]
    fn encodes_hot_reset() {
        let b = encode_hot_reset(&[5, 9]);
        let (head, fds) = VfioPciHotReset::read_from_prefix(&b).unwrap();
        assert_eq!((head.argsz, head.flags, head.count), (12 + 8, 0, 2));
        assert_eq!(fds[..4], 5i32.to_ne_bytes());
        assert_eq!(fds[4..], 9i32.to_ne_bytes());

        let b = encode_hot_reset(&[]);
        let (head, fds) = VfioPciHotReset::read_from_prefix(&b).unwrap();
        assert_eq!((head.argsz, head.count), (12, 0));
        assert!(fds.is_empty());
    }

    #[test]
    fn gfx_plane_requests_and_replies() {
        let r = gfx_plane_request(
            VFIO_GFX_PLANE_TYPE_PROBE | GfxPlaneKind::Region.bits(),
            DrmPlaneType::Cursor.raw(),
        );
        assert_eq!(r.argsz as usize, size_of::<VfioDeviceGfxPlaneInfo>());
        assert_eq!(
            r.flags,
            VFIO_GFX_PLANE_TYPE_PROBE | VFIO_GFX_PLANE_TYPE_REGION
        );
        assert_eq!((r.drm_plane_type, r.drm_format, r.size), (2, 0, 0));

        let reply = VfioDeviceGfxPlaneInfo {
            drm_format: 0x3432_5258,
            width: 1024,
            height: 768,
            stride: 4096,
            size: 4096 * 768,
            x_hot: u32::MAX,
            y_hot: 3,
            region_index: 42,
            ..gfx_plane_request(VFIO_GFX_PLANE_TYPE_DMABUF, 1)
        };
        let p = decode_gfx_plane(GfxPlaneKind::Dmabuf, &reply);
        assert!(p.enabled());
        assert_eq!((p.width, p.height, p.stride), (1024, 768, 4096));
        assert_eq!(p.hot, (None, Some(3)));
        assert_eq!(p.id, reply.dmabuf_id());
        let off = decode_gfx_plane(GfxPlaneKind::Dmabuf, &gfx_plane_request(0, 1));
        assert!(!off.enabled());
    }

    #[test]
    fn encodes_ioeventfds() {
        for (d, flag, v, w) in [
            (IoeventfdData::U8(0xab), VFIO_DEVICE_IOEVENTFD_8, 0xab, 1),
            (
                IoeventfdData::U16(0xabcd),
                VFIO_DEVICE_IOEVENTFD_16,
                0xabcd,
                2,
            ),
            (IoeventfdData::U32(7), VFIO_DEVICE_IOEVENTFD_32, 7, 4),
            (
                IoeventfdData::U64(u64::MAX),
                VFIO_DEVICE_IOEVENTFD_64,
                u64::MAX,
                8,
            ),
        ] {
            let r = ioeventfd_request(0x1_0000_0040, d, 5);
            assert_eq!(r.argsz as usize, size_of::<VfioDeviceIoeventfd>());
            assert_eq!(r.flags & VFIO_DEVICE_IOEVENTFD_SIZE_MASK, flag);
            assert_eq!(
                (r.offset, r.data, r.fd, r.reserved),
                (0x1_0000_0040, v, 5, 0)
            );
            assert_eq!(d.width(), w);
        }
        assert_eq!(ioeventfd_request(0, IoeventfdData::U8(0), -1).fd, -1);
    }
}
