//! `info`'s output for the hardware-info data uiommu's models report (their default
//! registers, from the core crate), checked field by field.

use super::fields::{self, Value};
use super::host::Host;
use super::{Queried, Report, render};
use uiommu_client::uapi::iommufd::*;
use uiommu_client::uapi::selftest::{
    IOMMU_HW_INFO_SELFTEST_REGVAL, IOMMU_HW_INFO_TYPE_SELFTEST, IommuTestHwInfo,
};
use uiommu_client::{HwCaps, HwInfo, HwInfoData, HwInfoType};
use uiommu_core::driver::{amd::AmdConfig, smmuv3::SmmuConfig, vtd::VtdConfig};
use zerocopy::IntoBytes;

fn info(data_type: u32, raw: &[u8], pasid: u8, caps: HwCaps) -> HwInfo {
    HwInfo {
        data_type: HwInfoType::from_raw(data_type),
        data_len: raw.len() as u32,
        max_pasid_log2: pasid,
        capabilities: caps,
        raw: raw.to_vec(),
        data: HwInfoData::decode(data_type, raw),
    }
}

fn vtd() -> HwInfo {
    let c = VtdConfig::default();
    let raw = IommuHwInfoVtd {
        flags: IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17,
        __reserved: 0,
        cap_reg: c.cap,
        ecap_reg: c.ecap,
    };
    info(
        IOMMU_HW_INFO_TYPE_INTEL_VTD,
        raw.as_bytes(),
        20,
        HwCaps::DIRTY_TRACKING | HwCaps::PCI_PASID_EXEC,
    )
}

fn smmuv3() -> HwInfo {
    let c = SmmuConfig::default();
    let raw = IommuHwInfoArmSmmuv3 {
        idr: c.idr,
        iidr: c.iidr,
        aidr: c.aidr,
        ..Default::default()
    };
    info(
        IOMMU_HW_INFO_TYPE_ARM_SMMUV3,
        raw.as_bytes(),
        20,
        HwCaps::DIRTY_TRACKING,
    )
}

fn amd() -> HwInfo {
    let c = AmdConfig::default();
    let raw = IommuHwInfoAmd {
        efr: c.efr,
        efr2: c.efr2,
    };
    info(IOMMU_HW_INFO_TYPE_AMD, raw.as_bytes(), 16, HwCaps::empty())
}

fn mock() -> HwInfo {
    let raw = IommuTestHwInfo {
        flags: 0,
        test_reg: IOMMU_HW_INFO_SELFTEST_REGVAL,
    };
    info(
        IOMMU_HW_INFO_TYPE_SELFTEST,
        raw.as_bytes(),
        20,
        HwCaps::empty(),
    )
}

/// The value of the row named `name`.
fn get(info: &HwInfo, name: &str) -> Value {
    fields::fields(info)
        .into_iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no row {name}"))
        .value
}

#[test]
fn vtd_rows_are_the_models_cap_and_ecap() {
    let i = vtd();
    let c = VtdConfig::default();
    assert_eq!(get(&i, "out_data_type"), Value::Text("INTEL_VTD".into()));
    assert_eq!(get(&i, "cap_reg"), Value::Hex(c.cap));
    assert_eq!(get(&i, "ecap_reg"), Value::Hex(c.ecap));
    // The model: ND=6 (2^16 domains), MGAW 57 bits, SAGAW 4- and 5-level, 2M and 1G second
    // stage pages, 8 fault records, PSS 19 (20-bit PASIDs), scalable mode with nesting.
    assert_eq!(get(&i, "CAP_REG.ND"), Value::Num(65536));
    assert_eq!(get(&i, "CAP_REG.MGAW"), Value::Num(57));
    assert_eq!(get(&i, "CAP_REG.SAGAW"), Value::Hex(0b01100));
    assert_eq!(get(&i, "CAP_REG.SSLPS"), Value::Hex(0b11));
    assert_eq!(get(&i, "CAP_REG.NFR"), Value::Num(8));
    assert_eq!(get(&i, "CAP_REG.CM"), Value::Bool(false));
    assert_eq!(get(&i, "ECAP_REG.PSS"), Value::Num(20));
    for bit in [
        "ERRATA_772415_SPR17",
        "CAP_REG.FS1GP",
        "CAP_REG.FS5LP",
        "ECAP_REG.NEST",
        "ECAP_REG.PRS",
        "ECAP_REG.PASID",
        "ECAP_REG.SMTS",
        "ECAP_REG.SSADS",
        "ECAP_REG.SSTS",
        "ECAP_REG.FSTS",
    ] {
        assert_eq!(get(&i, bit), Value::Bool(true), "{bit}");
    }
    assert_eq!(
        get(&i, "out_capabilities"),
        Value::Text("DIRTY_TRACKING|PCI_PASID_EXEC".into())
    );
}

#[test]
fn smmuv3_rows_are_the_models_id_registers() {
    let i = smmuv3();
    let c = SmmuConfig::default();
    assert_eq!(get(&i, "IDR0"), Value::Hex(c.idr[0].into()));
    assert_eq!(get(&i, "IDR5"), Value::Hex(c.idr[5].into()));
    // The model: SMMUv3.2, both stages, AArch64 tables, HTTU access+dirty, 2-level stream
    // tables, 20 SSID bits, 16 SID bits, RIL, no ATS or PRI, all granules, 48-bit OAS.
    assert_eq!(get(&i, "AIDR.ArchRev"), Value::Text("SMMUv3.2".into()));
    assert_eq!(get(&i, "IDR0.S1P"), Value::Bool(true));
    assert_eq!(get(&i, "IDR0.S2P"), Value::Bool(true));
    assert_eq!(get(&i, "IDR0.TTF"), Value::Num(2));
    assert_eq!(get(&i, "IDR0.HTTU"), Value::Num(2));
    assert_eq!(get(&i, "IDR0.ST_LEVEL"), Value::Num(1));
    assert_eq!(get(&i, "IDR0.ATS"), Value::Bool(false));
    assert_eq!(get(&i, "IDR0.PRI"), Value::Bool(false));
    assert_eq!(get(&i, "IDR0.VMID16"), Value::Bool(true));
    assert_eq!(get(&i, "IDR1.SSIDSIZE"), Value::Num(20));
    assert_eq!(get(&i, "IDR1.SIDSIZE"), Value::Num(16));
    assert_eq!(get(&i, "IDR3.RIL"), Value::Bool(true));
    assert_eq!(get(&i, "IDR5.GRAN"), Value::Hex(0b111));
    assert_eq!(get(&i, "IDR5.OAS"), Value::Num(5));
}

#[test]
fn amd_rows_are_the_models_efr() {
    let i = amd();
    let c = AmdConfig::default();
    assert_eq!(get(&i, "efr"), Value::Hex(c.efr));
    assert_eq!(get(&i, "efr2"), Value::Hex(c.efr2));
    // The model: guest translation, 5-level host tables (HATS 1), 4-level guest tables,
    // 16-bit PASIDs (PASmax 15), PPR, host dirty tracking, GPA GCR3 roots.
    assert_eq!(get(&i, "EFR.GTSup"), Value::Bool(true));
    assert_eq!(get(&i, "EFR.HATS"), Value::Num(1));
    assert_eq!(get(&i, "EFR.GATS"), Value::Num(0));
    assert_eq!(get(&i, "EFR.PASmax"), Value::Num(15));
    assert_eq!(get(&i, "EFR.PPRSup"), Value::Bool(true));
    assert_eq!(get(&i, "EFR.HDSup"), Value::Bool(true));
    assert_eq!(get(&i, "EFR2.GCR3TRPMode"), Value::Bool(true));
}

#[test]
fn text_shows_names_values_and_meanings() {
    let report = Report {
        host: Host {
            uiommu_model: Some("vtd".into()),
            ..Host::default()
        },
        queried: vec![
            Queried {
                address: "0000:00:10.0".into(),
                cdev: Some("/dev/vfio/devices/vfio0".into()),
                result: Ok(vtd()),
            },
            Queried {
                address: "0000:00:11.0".into(),
                cdev: None,
                result: Err("no VFIO cdev (driver: nvme)".into()),
            },
        ],
    };
    let t = render::text(&report);
    assert!(
        t.starts_with("IOMMU model: uiommu vtd (under uiommu exec)\n"),
        "{t}"
    );
    assert!(
        t.contains("IOMMU_GET_HW_INFO of 0000:00:10.0 (/dev/vfio/devices/vfio0):\n"),
        "{t}"
    );
    let line = |name: &str| {
        t.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no {name} in {t}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(line("out_data_type"), "out_data_type INTEL_VTD Intel VT-d");
    assert_eq!(
        line("CAP_REG.MGAW"),
        "CAP_REG.MGAW 57 maximum guest address width, bits"
    );
    assert_eq!(
        line("ECAP_REG.NEST"),
        "ECAP_REG.NEST yes nested translation"
    );
    assert!(t.contains("  error: no VFIO cdev (driver: nvme)\n"), "{t}");
}

#[test]
fn json_has_every_row_by_name() {
    let report = Report {
        host: Host::default(),
        queried: [("0000:00:10.0", mock()), ("0000:00:11.0", smmuv3())]
            .into_iter()
            .map(|(a, i)| Queried {
                address: a.into(),
                cdev: None,
                result: Ok(i),
            })
            .collect(),
    };
    let v: serde_json::Value = serde_json::from_str(&render::json(&report)).unwrap();
    let mock = &v["hw_info"][0];
    assert_eq!(mock["kind"], "iommufd selftest mock");
    assert_eq!(mock["fields"]["out_data_type"], "SELFTEST");
    assert_eq!(mock["fields"]["test_reg"], "0xdeadbeef");
    assert_eq!(mock["fields"]["out_max_pasid_log2"], 20);
    let smmu = &v["hw_info"][1]["fields"];
    assert_eq!(smmu["IDR1.SSIDSIZE"], 20);
    assert_eq!(smmu["IDR0.S1P"], true);
    assert_eq!(v["uiommu_model"], serde_json::Value::Null);
    assert_eq!(v["groups"], serde_json::json!([]));
}
