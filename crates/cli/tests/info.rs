//! `uiommu info` under `uiommu exec`: the IOMMU groups and devices uiommu shows, and
//! `IOMMU_GET_HW_INFO` of an emulated edu decoded, for each model, checked against the
//! registers the model is built with.

use std::process::{Command, Output};
use uiommu_core::driver::{amd::AmdConfig, smmuv3::SmmuConfig, vtd::VtdConfig};

fn uiommu(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_uiommu"))
        .args(args)
        .env_remove("UIOMMU_PRELOAD")
        .env_remove("UIOMMU_DRIVER")
        .env_remove("UIOMMU_DEVICES")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `info --json` of an edu at 0000:00:10.0 behind `driver`, run as `exec -- uiommu info`.
fn json_under_exec(driver: &str) -> serde_json::Value {
    let o = uiommu(&[
        "exec",
        "--driver",
        driver,
        "--device",
        "edu,bdf=0000:00:10.0,group=4242",
        "--",
        env!("CARGO_BIN_EXE_uiommu"),
        "info",
        "--device",
        "00:10.0",
        "--json",
    ]);
    assert!(
        o.status.success(),
        "{driver}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_str(&stdout(&o)).unwrap()
}

fn hex(v: u64) -> String {
    format!("{v:#x}")
}

#[test]
fn json_shows_the_emulated_device_and_each_models_registers() {
    for driver in ["mock", "vtd", "smmuv3", "amd"] {
        let v = json_under_exec(driver);
        assert_eq!(v["uiommu_model"], driver);
        let group = v["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["group"] == 4242)
            .unwrap_or_else(|| panic!("{driver}: no group 4242 in {v}"));
        assert_eq!(group["devices"], serde_json::json!(["0000:00:10.0"]));
        let dev = v["devices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["address"] == "0000:00:10.0")
            .unwrap();
        assert_eq!(dev["vendor"], "0x1234");
        assert_eq!(dev["device"], "0x11e8");
        assert_eq!(dev["driver"], "vfio-pci");
        assert_eq!(dev["iommu_group"], 4242);
        assert_eq!(dev["vfio_cdev"], "/dev/vfio/devices/vfio0");
        assert_eq!(dev["emulated"], true);
        assert_eq!(dev["iommu_kind"], format!("uiommu {driver} model"));

        let q = &v["hw_info"][0];
        assert_eq!(q["device"], "0000:00:10.0");
        assert_eq!(q["error"], serde_json::Value::Null, "{driver}: {q}");
        let f = &q["fields"];
        match driver {
            "mock" => {
                assert_eq!(f["out_data_type"], "SELFTEST");
                assert_eq!(f["test_reg"], "0xdeadbeef");
            }
            "vtd" => {
                let c = VtdConfig::default();
                assert_eq!(f["out_data_type"], "INTEL_VTD");
                assert_eq!(f["cap_reg"], hex(c.cap));
                assert_eq!(f["ecap_reg"], hex(c.ecap));
                assert_eq!(f["CAP_REG.MGAW"], 57);
                assert_eq!(f["ECAP_REG.PSS"], 20);
                assert_eq!(f["ECAP_REG.SMTS"], true);
                assert_eq!(f["ECAP_REG.NEST"], true);
                assert_eq!(f["ERRATA_772415_SPR17"], true);
            }
            "smmuv3" => {
                let c = SmmuConfig::default();
                assert_eq!(f["out_data_type"], "ARM_SMMUV3");
                for (i, idr) in c.idr.iter().enumerate() {
                    assert_eq!(f[format!("IDR{i}")], hex((*idr).into()));
                }
                assert_eq!(f["AIDR.ArchRev"], "SMMUv3.2");
                assert_eq!(f["IDR1.SSIDSIZE"], 20);
                assert_eq!(f["IDR0.S1P"], true);
                assert_eq!(f["IDR0.S2P"], true);
            }
            "amd" => {
                let c = AmdConfig::default();
                assert_eq!(f["out_data_type"], "AMD");
                assert_eq!(f["efr"], hex(c.efr));
                assert_eq!(f["efr2"], hex(c.efr2));
                assert_eq!(f["EFR.PASmax"], 15);
                assert_eq!(f["EFR.GTSup"], true);
            }
            _ => unreachable!(),
        }
        // edu has no PASID capability: the device's width is 0 whatever the IOMMU's.
        assert_eq!(f["out_max_pasid_log2"], 0);
    }
}

#[test]
fn text_under_driver_option_decodes_vtd() {
    let o = uiommu(&["info", "--driver", "vtd", "--device", "0000:00:13.0"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let t = stdout(&o);
    assert!(
        t.starts_with("IOMMU model: uiommu vtd (under uiommu exec)\n"),
        "{t}"
    );
    assert!(
        t.contains("IOMMU_GET_HW_INFO of 0000:00:13.0 (/dev/vfio/devices/vfio0):\n"),
        "{t}"
    );
    let row = |name: &str| {
        t.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no {name} in {t}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(row("out_data_type"), "out_data_type INTEL_VTD Intel VT-d");
    assert_eq!(row("CAP_REG.ND"), "CAP_REG.ND 65536 domain IDs");
    assert_eq!(
        row("ECAP_REG.FSTS"),
        "ECAP_REG.FSTS yes first-stage translation"
    );
    assert!(
        t.lines().any(
            |l| l.starts_with("  0000:00:13.0  1234:11e8  class 00ff00  group ")
                && l.contains("vfio-pci  /dev/vfio/devices/vfio0  uiommu vtd model")
        ),
        "{t}"
    );
}

#[test]
fn a_device_without_a_vfio_node_is_an_error_in_the_report() {
    let o = uiommu(&["info", "--device", "0000:7f:1f.7"]);
    assert_eq!(o.status.code(), Some(1));
    let t = stdout(&o);
    assert!(
        t.contains("IOMMU_GET_HW_INFO of 0000:7f:1f.7:\n  error: "),
        "{t}"
    );
    let o = uiommu(&["info", "--device", "zz:1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--device zz:1"));
}
