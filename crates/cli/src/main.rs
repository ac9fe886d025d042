//! `uiommu`: run programs against the user-space IOMMU.
//!
//! `uiommu exec [--driver NAME] [--fault-injection] [--vfio-container iommufd|type1] -- PROGRAM
//! [ARGS…]` runs PROGRAM with the preload library, so that its `/dev/iommu` and `/dev/vfio/vfio`
//! are served by uiommu, and exits as PROGRAM did.
//! `uiommu drivers` lists the IOMMU models `--driver` accepts. Each
//! `--device MODEL[,bdf=DDDD:BB:DD.F][,group=N][,cdev=N][,vfs=N]` adds an emulated PCI device the
//! program finds in sysfs and `/dev/vfio` as vfio-pci shows one (with `vfs=N`, an SR-IOV
//! physical function whose `sriov_numvfs` creates up to N VFs); `uiommu devices` lists the
//! models.
//! `uiommu trace [-o FILE] -- PROGRAM [ARGS…]` runs PROGRAM on the real kernel and prints its
//! calls on `/dev/iommu` and `/dev/vfio/*`, decoded as `exec --trace` prints them, by ptrace.
//! `uiommu info [--device BDF] [--json] [--driver NAME]` shows the host's IOMMU units, groups
//! and devices and decodes `IOMMU_GET_HW_INFO` of each device named (uiommu's model with
//! `--driver`, or under `exec`).

mod devices;
mod embedded;
mod exec;
mod host_check;
mod info;
mod library;
mod status;
mod trace;

use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "uiommu",
    version,
    about = "The Linux IOMMU user API, in user space"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run PROGRAM with /dev/iommu and /dev/vfio/vfio served by uiommu.
    Exec {
        /// IOMMU model the devices (the selftest's IOMMU_TEST_OP_MOCK_DOMAIN) sit behind.
        #[arg(long, default_value = exec::default_driver(), value_parser = exec::drivers())]
        driver: String,
        /// An emulated PCI device: MODEL[,bdf=DDDD:BB:DD.F][,group=N][,cdev=N][,vfs=N]
        /// (repeatable). Defaults: addresses 0000:00:10.0 up, one IOMMU group each from 9999
        /// down, /dev/vfio/devices/vfioN from 0 up past the host's own. vfs=N (a PCI Express
        /// model, N at most 7) makes it an SR-IOV physical function: writing K to its
        /// sriov_numvfs creates its first K VFs (functions .1, .2, … of its slot, each with
        /// its own group and cdev). `uiommu devices` lists the models.
        #[arg(
            long = "device",
            value_name = "MODEL[,bdf=..][,group=N][,cdev=N][,vfs=N]"
        )]
        devices: Vec<String>,
        /// Emulate the kernel's fault injection: each thread's
        /// /proc/self/task/TID/fail-nth fails the Nth allocation uiommu makes for it, and
        /// /sys/kernel/debug shows the failslab knobs.
        #[arg(long)]
        fault_injection: bool,
        /// Print each call the program makes on uiommu's nodes and files (ioctls and queue
        /// records decoded, region I/O, mmaps, results, errnos by name, times) and the faults
        /// and events the IOMMU raises to FILE, or to stderr without one.
        #[arg(long, value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "-")]
        trace: Option<OsString>,
        /// What /dev/vfio/vfio is: iommufd's compatibility container (a kernel built with
        /// CONFIG_IOMMUFD_VFIO_CONTAINER), or VFIO's legacy container with the type1 backend
        /// (CONFIG_VFIO_CONTAINER), beside /dev/iommu as such a kernel has both.
        #[arg(long, value_name = "KIND", default_value = "iommufd",
              value_parser = ["iommufd", "type1"])]
        vfio_container: String,
        /// The program and its arguments.
        #[arg(
            required = true,
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "PROGRAM"
        )]
        program: Vec<OsString>,
    },
    /// List the IOMMU models `exec --driver` accepts, the default first.
    Drivers,
    /// List the device models `exec --device` accepts.
    Devices,
    /// Show the host's IOMMU units, groups and devices, and decode IOMMU_GET_HW_INFO of
    /// each --device (a real host's, or uiommu's under `exec` or with --driver).
    Info(info::Args),
    /// Run PROGRAM on the real kernel and print each call it makes on /dev/iommu,
    /// /dev/vfio/* and the files they hand out, decoded as `exec --trace` does, by ptrace.
    Trace(trace::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Exec {
            driver,
            devices,
            fault_injection,
            trace,
            vfio_container,
            program,
        } => match devices::resolve(&devices) {
            Ok(devices) => {
                let options = exec::Options {
                    driver: &driver,
                    devices: &devices,
                    fault_injection,
                    trace: trace.as_deref(),
                    vfio_container: &vfio_container,
                };
                exec::run(&options, &program)
            }
            Err(msg) => {
                eprintln!("uiommu: --device: {msg}");
                ExitCode::from(2)
            }
        },
        Command::Drivers => {
            exec::list_drivers();
            ExitCode::SUCCESS
        }
        Command::Devices => {
            devices::list();
            ExitCode::SUCCESS
        }
        Command::Info(args) => info::run(args),
        Command::Trace(args) => trace::run(args),
    }
}
