//! `IOMMU_GET_HW_INFO` and the typed decoding of its driver data: Intel VT-d CAP/ECAP, Arm
//! SMMUv3 ID registers, AMD EFR/EFR2, NVIDIA Tegra241 CMDQV, and the selftest mock.

use uiommu_uapi::iommufd::*;
use uiommu_uapi::selftest::{IOMMU_HW_INFO_TYPE_SELFTEST, IommuTestHwInfo};
use zerocopy::FromBytes;

mod vendor;

pub use vendor::{AmdInfo, Smmuv3Info, VtdInfo};

use crate::error::Result;
use crate::flags::flags;
use crate::iommufd::Iommufd;

flags! {
    /// `iommu_hw_info.out_capabilities` (`IOMMU_HW_CAP_*`).
    pub struct HwCaps: u64 {
        /// `IOMMU_HW_CAP_DIRTY_TRACKING`.
        const DIRTY_TRACKING = IOMMU_HW_CAP_DIRTY_TRACKING;
        /// `IOMMU_HW_CAP_PCI_PASID_EXEC`.
        const PCI_PASID_EXEC = IOMMU_HW_CAP_PCI_PASID_EXEC;
        /// `IOMMU_HW_CAP_PCI_PASID_PRIV`.
        const PCI_PASID_PRIV = IOMMU_HW_CAP_PCI_PASID_PRIV;
        /// `IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED`.
        const PCI_ATS_NOT_SUPPORTED = IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED;
    }
}

/// `iommu_hw_info.out_data_type` (`IOMMU_HW_INFO_TYPE_*`): which driver's data
/// [`HwInfo::raw`] holds. `Debug` and `Display` print the name.
///
/// ```
/// use uiommu_client::HwInfoType;
/// assert_eq!(format!("{:?}", HwInfoType::SELFTEST), "SELFTEST");
/// assert_eq!(HwInfoType::from_raw(0xfeedbeef), HwInfoType::SELFTEST);
/// assert_eq!(HwInfoType::from_raw(77).to_string(), "0x4d");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct HwInfoType(u32);

impl HwInfoType {
    /// `IOMMU_HW_INFO_TYPE_NONE` (also `_DEFAULT` as an input): no driver data.
    pub const NONE: HwInfoType = HwInfoType(IOMMU_HW_INFO_TYPE_NONE);
    /// `IOMMU_HW_INFO_TYPE_INTEL_VTD`.
    pub const INTEL_VTD: HwInfoType = HwInfoType(IOMMU_HW_INFO_TYPE_INTEL_VTD);
    /// `IOMMU_HW_INFO_TYPE_ARM_SMMUV3`.
    pub const ARM_SMMUV3: HwInfoType = HwInfoType(IOMMU_HW_INFO_TYPE_ARM_SMMUV3);
    /// `IOMMU_HW_INFO_TYPE_TEGRA241_CMDQV`.
    pub const TEGRA241_CMDQV: HwInfoType = HwInfoType(IOMMU_HW_INFO_TYPE_TEGRA241_CMDQV);
    /// `IOMMU_HW_INFO_TYPE_AMD`.
    pub const AMD: HwInfoType = HwInfoType(IOMMU_HW_INFO_TYPE_AMD);
    /// `IOMMU_HW_INFO_TYPE_SELFTEST` (0xfeedbeef): the selftest mock driver.
    pub const SELFTEST: HwInfoType = HwInfoType(IOMMU_HW_INFO_TYPE_SELFTEST);

    /// From the raw uAPI value.
    pub const fn from_raw(raw: u32) -> Self {
        HwInfoType(raw)
    }

    /// The raw uAPI value.
    pub const fn raw(self) -> u32 {
        self.0
    }

    /// The name without the `IOMMU_HW_INFO_TYPE_` prefix, for the types the client knows.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            IOMMU_HW_INFO_TYPE_NONE => "NONE",
            IOMMU_HW_INFO_TYPE_INTEL_VTD => "INTEL_VTD",
            IOMMU_HW_INFO_TYPE_ARM_SMMUV3 => "ARM_SMMUV3",
            IOMMU_HW_INFO_TYPE_TEGRA241_CMDQV => "TEGRA241_CMDQV",
            IOMMU_HW_INFO_TYPE_AMD => "AMD",
            IOMMU_HW_INFO_TYPE_SELFTEST => "SELFTEST",
            _ => return None,
        })
    }
}

impl std::fmt::Debug for HwInfoType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl std::fmt::Display for HwInfoType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "{:#x}", self.0),
        }
    }
}

/// The result of `IOMMU_GET_HW_INFO` for a device.
///
/// ```no_run
/// use uiommu_client::{HwInfoData, HwInfoType, Iommufd, VfioDevice};
///
/// let fd = Iommufd::open()?;
/// let dev_id = VfioDevice::open_cdev(0)?.bind_iommufd(&fd)?;
/// let info = fd.hw_info(dev_id)?;
/// println!("{} IOMMU", info.data_type); // e.g. "INTEL_VTD"
/// if let HwInfoData::IntelVtd(vtd) = &info.data {
///     println!("VT-d: nested {}, PASID bits {}", vtd.nest(), vtd.pasid_bits());
/// }
/// # Ok::<(), uiommu_client::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HwInfo {
    /// `out_data_type`.
    pub data_type: HwInfoType,
    /// `data_len` as written back: the size of the driver's data (may exceed the buffer).
    pub data_len: u32,
    /// `out_max_pasid_log2`: PASID width; 0 without PASID support.
    pub max_pasid_log2: u8,
    /// `out_capabilities`.
    pub capabilities: HwCaps,
    /// The data buffer as filled (its tail zeroed by the kernel).
    pub raw: Vec<u8>,
    /// The data, decoded by `data_type`.
    pub data: HwInfoData,
}

/// Driver data of [`HwInfo`], by `out_data_type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HwInfoData {
    /// `IOMMU_HW_INFO_TYPE_NONE`.
    None,
    /// `IOMMU_HW_INFO_TYPE_INTEL_VTD`.
    IntelVtd(VtdInfo),
    /// `IOMMU_HW_INFO_TYPE_ARM_SMMUV3`.
    ArmSmmuv3(Smmuv3Info),
    /// `IOMMU_HW_INFO_TYPE_TEGRA241_CMDQV`.
    Tegra241Cmdqv(IommuHwInfoTegra241Cmdqv),
    /// `IOMMU_HW_INFO_TYPE_AMD`.
    Amd(AmdInfo),
    /// `IOMMU_HW_INFO_TYPE_SELFTEST`: the mock driver's `iommu_test_hw_info`.
    Selftest(IommuTestHwInfo),
    /// A type this client does not know, or data too short for its type.
    Unknown,
}

impl HwInfo {
    pub(crate) fn query(
        ctx: &Iommufd,
        dev_id: u32,
        in_type: Option<u32>,
        data_len: u32,
    ) -> Result<HwInfo> {
        let mut raw = vec![0xa5u8; data_len as usize];
        let mut cmd = IommuHwInfo {
            size: size_of::<IommuHwInfo>() as u32,
            flags: if in_type.is_some() {
                IOMMU_HW_INFO_FLAG_INPUT_TYPE
            } else {
                0
            },
            dev_id,
            data_len,
            data_uptr: raw.as_mut_ptr() as u64,
            out_data_type: in_type.unwrap_or(IOMMU_HW_INFO_TYPE_DEFAULT),
            ..Default::default()
        };
        ctx.ioctl("IOMMU_GET_HW_INFO", IOMMU_GET_HW_INFO, &mut cmd)?;
        let data = HwInfoData::decode(cmd.out_data_type, &raw);
        Ok(HwInfo {
            data_type: HwInfoType(cmd.out_data_type),
            data_len: cmd.data_len,
            max_pasid_log2: cmd.out_max_pasid_log2,
            capabilities: HwCaps::from_bits_retain(cmd.out_capabilities),
            raw,
            data,
        })
    }
}

impl HwInfoData {
    /// Decodes `bytes` as driver data of type `data_type`.
    pub fn decode(data_type: u32, bytes: &[u8]) -> HwInfoData {
        fn read<T: FromBytes>(b: &[u8]) -> Option<T> {
            T::read_from_prefix(b).ok().map(|(v, _)| v)
        }
        let decoded = match data_type {
            IOMMU_HW_INFO_TYPE_NONE => Some(HwInfoData::None),
            IOMMU_HW_INFO_TYPE_INTEL_VTD => read(bytes).map(|r| HwInfoData::IntelVtd(VtdInfo(r))),
            IOMMU_HW_INFO_TYPE_ARM_SMMUV3 => {
                read(bytes).map(|r| HwInfoData::ArmSmmuv3(Smmuv3Info(r)))
            }
            IOMMU_HW_INFO_TYPE_TEGRA241_CMDQV => read(bytes).map(HwInfoData::Tegra241Cmdqv),
            IOMMU_HW_INFO_TYPE_AMD => read(bytes).map(|r| HwInfoData::Amd(AmdInfo(r))),
            IOMMU_HW_INFO_TYPE_SELFTEST => read(bytes).map(HwInfoData::Selftest),
            _ => None,
        };
        decoded.unwrap_or(HwInfoData::Unknown)
    }

    /// The PASID width of the IOMMU itself, where its data tells: a device's
    /// `out_max_pasid_log2` is at most this (`dev_iommu_get_max_pasids`). VT-d: ECAP_REG.PSS + 1
    /// with ECAP_REG.PASID; SMMUv3: IDR1.SSIDSIZE; AMD: EFR.PASmax + 1. `None` for other data.
    pub fn pasid_bits(&self) -> Option<u8> {
        match self {
            HwInfoData::IntelVtd(v) => Some(if v.pasid() { v.pasid_bits() } else { 0 }),
            HwInfoData::ArmSmmuv3(s) => Some(s.ssid_bits()),
            HwInfoData::Amd(a) => Some(a.pasid_max() + 1),
            _ => None,
        }
    }
}
