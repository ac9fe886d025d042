//! `IOMMU_GET_HW_INFO` as rows to print: the `struct iommu_hw_info` output fields, the
//! driver data's raw words, and the register fields the client crate decodes from them
//! (`uiommu_client::{VtdInfo, Smmuv3Info, AmdInfo}`), each named by its register and field.

use uiommu_client::uapi::iommufd::IommuHwInfoTegra241Cmdqv;
use uiommu_client::{AmdInfo, HwCaps, HwInfo, HwInfoData, HwInfoType, Smmuv3Info, VtdInfo};

/// A value of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A feature bit.
    Bool(bool),
    /// A count or field value, printed in decimal.
    Num(u64),
    /// A register or flag word, printed in hex.
    Hex(u64),
    /// A name or a list of names.
    Text(String),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Bool(b) => f.write_str(if *b { "yes" } else { "no" }),
            Value::Num(n) => write!(f, "{n}"),
            Value::Hex(n) => write!(f, "{n:#x}"),
            Value::Text(t) => f.write_str(t),
        }
    }
}

/// One row: `name` is the uAPI field (`out_capabilities`) or the register field
/// (`ECAP_REG.NEST`), `what` says what it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The field's name, unique within a device's rows.
    pub name: &'static str,
    /// Its value.
    pub value: Value,
    /// What it means, for the text output.
    pub what: &'static str,
}

fn row(name: &'static str, value: Value, what: &'static str) -> Field {
    Field { name, value, what }
}

fn yes(name: &'static str, b: bool, what: &'static str) -> Field {
    row(name, Value::Bool(b), what)
}

fn num(name: &'static str, n: impl Into<u64>, what: &'static str) -> Field {
    row(name, Value::Num(n.into()), what)
}

fn hex(name: &'static str, n: impl Into<u64>, what: &'static str) -> Field {
    row(name, Value::Hex(n.into()), what)
}

/// The IOMMU kind an `out_data_type` stands for.
pub fn kind(t: HwInfoType) -> &'static str {
    match t {
        HwInfoType::INTEL_VTD => "Intel VT-d",
        HwInfoType::ARM_SMMUV3 => "Arm SMMUv3",
        HwInfoType::TEGRA241_CMDQV => "Arm SMMUv3 with NVIDIA Tegra241 CMDQV",
        HwInfoType::AMD => "AMD-Vi",
        HwInfoType::SELFTEST => "iommufd selftest mock",
        HwInfoType::NONE => "no driver data",
        _ => "unknown",
    }
}

/// `out_capabilities` by name (`IOMMU_HW_CAP_*` without the prefix), `|`-separated.
pub fn caps(c: HwCaps) -> String {
    let named = [
        (HwCaps::DIRTY_TRACKING, "DIRTY_TRACKING"),
        (HwCaps::PCI_PASID_EXEC, "PCI_PASID_EXEC"),
        (HwCaps::PCI_PASID_PRIV, "PCI_PASID_PRIV"),
        (HwCaps::PCI_ATS_NOT_SUPPORTED, "PCI_ATS_NOT_SUPPORTED"),
    ];
    let mut rest = c.bits();
    let mut names: Vec<String> = Vec::new();
    for (flag, name) in named {
        if c.contains(flag) {
            names.push(name.into());
            rest &= !flag.bits();
        }
    }
    if rest != 0 {
        names.push(format!("{rest:#x}"));
    }
    if names.is_empty() {
        "none".into()
    } else {
        names.join("|")
    }
}

/// Every row of `info`: the common output fields, then the driver data's.
pub fn fields(info: &HwInfo) -> Vec<Field> {
    let mut v = vec![
        row(
            "out_data_type",
            Value::Text(info.data_type.to_string()),
            kind(info.data_type),
        ),
        num("data_len", info.data_len, "bytes of driver data"),
        num(
            "out_max_pasid_log2",
            info.max_pasid_log2,
            "PASID width of the device (0: no PASID)",
        ),
        row(
            "out_capabilities",
            Value::Text(caps(info.capabilities)),
            "IOMMU_HW_CAP_*",
        ),
    ];
    match &info.data {
        HwInfoData::IntelVtd(d) => v.extend(vtd(d)),
        HwInfoData::ArmSmmuv3(d) => v.extend(smmuv3(d)),
        HwInfoData::Amd(d) => v.extend(amd(d)),
        HwInfoData::Tegra241Cmdqv(d) => v.extend(tegra(d)),
        HwInfoData::Selftest(d) => v.extend([
            hex("flags", d.flags, "iommu_test_hw_info.flags"),
            hex(
                "test_reg",
                d.test_reg,
                "iommu_test_hw_info.test_reg (IOMMU_HW_INFO_SELFTEST_REGVAL)",
            ),
        ]),
        HwInfoData::None | HwInfoData::Unknown => {}
    }
    v
}

/// `struct iommu_hw_info_vtd`: CAP_REG (VT-d spec §11.4.2) and ECAP_REG (§11.4.3).
fn vtd(d: &VtdInfo) -> Vec<Field> {
    vec![
        hex("flags", d.0.flags, "iommu_hw_info_vtd.flags"),
        yes(
            "ERRATA_772415_SPR17",
            d.errata_772415_spr17(),
            "IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17",
        ),
        hex("cap_reg", d.0.cap_reg, "CAP_REG"),
        hex("ecap_reg", d.0.ecap_reg, "ECAP_REG"),
        num("CAP_REG.ND", d.domain_ids(), "domain IDs"),
        yes("CAP_REG.CM", d.caching_mode(), "caching mode"),
        hex(
            "CAP_REG.SAGAW",
            d.sagaw(),
            "second-stage levels (bit 1: 3, 2: 4, 3: 5)",
        ),
        num(
            "CAP_REG.MGAW",
            d.mgaw(),
            "maximum guest address width, bits",
        ),
        hex(
            "CAP_REG.SSLPS",
            d.second_stage_large_pages(),
            "second-stage large pages (bit 0: 2M, 1: 1G)",
        ),
        yes(
            "CAP_REG.PSI",
            d.page_selective_invalidation(),
            "page-selective invalidation",
        ),
        num(
            "CAP_REG.NFR",
            d.fault_records(),
            "fault recording registers",
        ),
        yes(
            "CAP_REG.FS1GP",
            d.first_stage_1g(),
            "first-stage 1 GiB pages",
        ),
        yes(
            "CAP_REG.FS5LP",
            d.first_stage_5level(),
            "first-stage 5-level paging",
        ),
        yes("ECAP_REG.C", d.coherent(), "page-walk coherency"),
        yes(
            "ECAP_REG.QI",
            d.queued_invalidation(),
            "queued invalidation",
        ),
        yes("ECAP_REG.DT", d.device_tlb(), "device TLBs (ATS)"),
        yes(
            "ECAP_REG.IR",
            d.interrupt_remapping(),
            "interrupt remapping",
        ),
        yes("ECAP_REG.PT", d.pass_through(), "pass-through"),
        yes("ECAP_REG.SC", d.snoop_control(), "snoop control"),
        yes("ECAP_REG.NEST", d.nest(), "nested translation"),
        yes("ECAP_REG.PRS", d.page_requests(), "page requests"),
        yes(
            "ECAP_REG.SRS",
            d.supervisor_requests(),
            "supervisor requests",
        ),
        num("ECAP_REG.PSS", d.pasid_bits(), "PASID width, bits"),
        yes("ECAP_REG.PASID", d.pasid(), "PASID support"),
        yes("ECAP_REG.SMTS", d.scalable_mode(), "scalable mode"),
        yes(
            "ECAP_REG.SSADS",
            d.second_stage_dirty(),
            "second-stage accessed/dirty bits",
        ),
        yes(
            "ECAP_REG.SSTS",
            d.second_stage(),
            "second-stage translation",
        ),
        yes("ECAP_REG.FSTS", d.first_stage(), "first-stage translation"),
    ]
}

/// `struct iommu_hw_info_arm_smmuv3`: SMMU_IDR0..5, IIDR and AIDR (SMMUv3 spec §6.3).
fn smmuv3(d: &Smmuv3Info) -> Vec<Field> {
    let (major, minor) = d.arch_revision();
    let regs = [
        ("IDR0", "SMMU_IDR0"),
        ("IDR1", "SMMU_IDR1"),
        ("IDR2", "SMMU_IDR2"),
        ("IDR3", "SMMU_IDR3"),
        ("IDR4", "SMMU_IDR4"),
        ("IDR5", "SMMU_IDR5"),
    ];
    let mut v = vec![hex("flags", d.0.flags, "iommu_hw_info_arm_smmuv3.flags")];
    v.extend(
        regs.iter()
            .zip(d.0.idr)
            .map(|((name, what), val)| hex(name, val, what)),
    );
    v.extend([
        hex("IIDR", d.0.iidr, "SMMU_IIDR, implementation identification"),
        hex("AIDR", d.0.aidr, "SMMU_AIDR, architecture identification"),
        row(
            "AIDR.ArchRev",
            Value::Text(if major == 0 {
                format!("SMMUv3.{minor}")
            } else {
                format!("major {major}, minor {minor}")
            }),
            "architecture revision",
        ),
        yes("IDR0.S1P", d.stage1(), "stage 1 translation"),
        yes("IDR0.S2P", d.stage2(), "stage 2 translation"),
        num(
            "IDR0.TTF",
            d.ttf(),
            "table formats (1: AArch32, 2: AArch64, 3: both)",
        ),
        yes(
            "IDR0.COHACC",
            d.coherent(),
            "coherent table and queue accesses",
        ),
        num(
            "IDR0.HTTU",
            d.httu(),
            "hardware A/D updates (1: access, 2: access and dirty)",
        ),
        yes("IDR0.ATS", d.ats(), "PCIe ATS"),
        yes("IDR0.ASID16", d.asid16(), "16-bit ASIDs"),
        yes("IDR0.MSI", d.msi(), "MSIs"),
        yes("IDR0.PRI", d.pri(), "PCIe page requests"),
        yes("IDR0.VMID16", d.vmid16(), "16-bit VMIDs"),
        yes("IDR0.CD2L", d.cd2l(), "two-level CD tables"),
        num(
            "IDR0.STALL_MODEL",
            d.stall_model(),
            "stall model (0: stall or terminate, 1: terminate, 2: stall)",
        ),
        num(
            "IDR0.ST_LEVEL",
            d.st_level(),
            "stream table (0: linear, 1: two-level)",
        ),
        num(
            "IDR1.SSIDSIZE",
            d.ssid_bits(),
            "substream ID (PASID) width, bits",
        ),
        num("IDR1.SIDSIZE", d.sid_bits(), "stream ID width, bits"),
        yes("IDR3.FWB", d.fwb(), "stage 2 forced write-back"),
        yes("IDR3.RIL", d.range_invalidation(), "range invalidation"),
        num(
            "IDR5.OAS",
            d.oas(),
            "output address size (5: 48 bits, 6: 52 bits)",
        ),
        hex(
            "IDR5.GRAN",
            d.granules(),
            "granules (bit 0: 4K, 1: 16K, 2: 64K)",
        ),
        num(
            "IDR5.VAX",
            d.vax(),
            "virtual address size (0: 48 bits, 1: 52 bits)",
        ),
    ]);
    v
}

/// `struct iommu_hw_info_amd`: EFR and EFR2 (AMD I/O Virtualization spec §3.4.12).
fn amd(d: &AmdInfo) -> Vec<Field> {
    vec![
        hex("efr", d.0.efr, "Extended Feature Register"),
        hex("efr2", d.0.efr2, "Extended Feature 2 Register"),
        yes("EFR.PPRSup", d.ppr(), "peripheral page requests"),
        yes("EFR.XTSup", d.x2apic(), "x2APIC"),
        yes("EFR.NXSup", d.no_execute(), "no-execute protection"),
        yes(
            "EFR.GTSup",
            d.guest_translation(),
            "guest translation (v2 tables)",
        ),
        yes("EFR.GASup", d.guest_apic(), "guest virtual APIC"),
        num("EFR.HATS", d.hats(), "host table levels (0: 4, 1: 5, 2: 6)"),
        num("EFR.GATS", d.gats(), "guest table levels (0: 4, 1: 5)"),
        num("EFR.PASmax", d.pasid_max(), "PASID width minus one"),
        yes("EFR.GIoSup", d.guest_io(), "guest I/O protection"),
        yes("EFR.HASup", d.host_access(), "host access-bit updates"),
        yes("EFR.HDSup", d.host_dirty(), "host dirty tracking"),
        yes(
            "EFR2.GCR3TRPMode",
            d.gcr3_trp_mode(),
            "GCR3 root pointer is a GPA",
        ),
    ]
}

/// `struct iommu_hw_info_tegra241_cmdqv`.
fn tegra(d: &IommuHwInfoTegra241Cmdqv) -> Vec<Field> {
    vec![
        hex("flags", d.flags, "iommu_hw_info_tegra241_cmdqv.flags"),
        num("version", d.version, "CMDQV_PARAM version"),
        num("log2vcmdqs", d.log2vcmdqs, "log2 of the vCMDQs per VINTF"),
        num(
            "log2vsids",
            d.log2vsids,
            "log2 of the SID replacement slots per VINTF",
        ),
    ]
}
