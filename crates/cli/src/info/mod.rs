//! `uiommu info`: what a host's IOMMU offers. The units, groups and PCI devices sysfs shows,
//! and for each `--device`, `IOMMU_GET_HW_INFO` decoded: the device's VFIO cdev
//! (`/dev/vfio/devices/vfioN`) opened, bound to a new iommufd (`VFIO_DEVICE_BIND_IOMMUFD`),
//! and asked for the IOMMU driver's data. On a real host the device must be bound to
//! vfio-pci; under `uiommu exec` (or with `--driver`) the devices are uiommu's.

mod fields;
mod host;
mod render;

#[cfg(test)]
mod tests;

use crate::{devices, exec};
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use uiommu_abi::placement::Bdf;
use uiommu_client::{HwInfo, Iommufd, PciDevices};

/// `uiommu info`'s options.
#[derive(clap::Args)]
pub struct Args {
    /// Decode IOMMU_GET_HW_INFO of the PCI device at this address (DDDD:BB:DD.F or BB:DD.F;
    /// repeatable). On a real host it must be bound to vfio-pci, with a VFIO cdev.
    #[arg(long = "device", value_name = "BDF")]
    devices: Vec<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Show uiommu's IOMMU model NAME instead of the host: run under
    /// `uiommu exec --driver NAME --device edu`, with each --device an emulated edu.
    #[arg(long, value_name = "NAME", value_parser = exec::drivers())]
    driver: Option<String>,
}

/// What `info` found.
#[derive(Debug)]
pub struct Report {
    /// The host's sysfs.
    pub host: host::Host,
    /// The `--device` queries, in order.
    pub queried: Vec<Queried>,
}

/// One `--device`'s `IOMMU_GET_HW_INFO`.
#[derive(Debug)]
pub struct Queried {
    /// The address asked for, as the kernel names it.
    pub address: String,
    /// Its VFIO cdev, if it has one.
    pub cdev: Option<PathBuf>,
    /// The decoded result, or why there is none.
    pub result: Result<HwInfo, String>,
}

/// Runs `info`: 0 if every `--device` answered, 1 if one did not, 2 for bad arguments.
pub fn run(args: Args) -> ExitCode {
    let addresses: Result<Vec<String>, String> = args
        .devices
        .iter()
        .map(|a| {
            a.parse::<Bdf>()
                .map(|b| b.to_string())
                .map_err(|e| format!("--device {a}: {e}"))
        })
        .collect();
    let addresses = match addresses {
        Ok(a) => a,
        Err(e) => {
            eprintln!("uiommu: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(driver) = &args.driver {
        return under_exec(driver, &addresses, args.json);
    }
    let report = Report {
        host: host::read(),
        queried: addresses.iter().map(|a| query(a)).collect(),
    };
    let out = if args.json {
        render::json(&report)
    } else {
        render::text(&report)
    };
    print!("{out}");
    if report.queried.iter().all(|q| q.result.is_ok()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// `uiommu exec --driver DRIVER --device edu,bdf=A… -- uiommu info --device A…`: an edu at
/// each address (the first default address without one).
fn under_exec(driver: &str, addresses: &[String], json: bool) -> ExitCode {
    let specs: Vec<String> = if addresses.is_empty() {
        vec!["edu".into()]
    } else {
        addresses.iter().map(|a| format!("edu,bdf={a}")).collect()
    };
    let placed = match devices::resolve(&specs) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("uiommu: --device: {e}");
            return ExitCode::from(2);
        }
    };
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("uiommu: cannot locate this binary: {e}");
            return ExitCode::from(125);
        }
    };
    let mut program: Vec<OsString> = vec![exe.into(), "info".into()];
    for p in &placed {
        program.push("--device".into());
        program.push(p.bdf.to_string().into());
    }
    if json {
        program.push("--json".into());
    }
    let options = exec::Options {
        driver,
        devices: &placed,
        fault_injection: false,
        trace: None,
        vfio_container: "iommufd",
    };
    exec::run(&options, &program)
}

/// `IOMMU_GET_HW_INFO` of the device at `address`, through its VFIO cdev.
pub fn query(address: &str) -> Queried {
    let device = PciDevices::new().device(address);
    let cdev = device.as_ref().ok().and_then(|d| d.cdev_path());
    let result = device.map_err(|e| e.to_string()).and_then(|d| {
        if d.vfio_cdev.is_none() {
            let driver = d.driver.as_deref().unwrap_or("no driver");
            return Err(format!(
                "no VFIO cdev (driver: {driver}); bind it to vfio-pci for IOMMU_GET_HW_INFO"
            ));
        }
        let vfio = d.open_cdev().map_err(|e| e.to_string())?;
        let fd = Iommufd::open().map_err(|e| e.to_string())?;
        let dev_id = vfio.bind_iommufd(&fd).map_err(|e| e.to_string())?;
        fd.hw_info(dev_id).map_err(|e| e.to_string())
    });
    Queried {
        address: address.to_owned(),
        cdev,
        result,
    }
}
