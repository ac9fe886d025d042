//! `uiommu exec`: run a program with the preload library.

use crate::{library, status};
use std::ffi::{OsStr, OsString};
use std::io::ErrorKind;
use std::process::{Command, ExitCode};
use uiommu_abi::host;
use uiommu_abi::placement::{self, DEVICES_ENV, Placement};
use uiommu_abi::sriov::shared;

/// The IOMMU models the preload library provides (its `UIOMMU_DRIVER` values), each with its
/// summary: the IOMMU the devices (the selftest's `IOMMU_TEST_OP_MOCK_DOMAIN`) sit behind.
/// Behind a hardware model their domains, `IOMMU_GET_HW_INFO`, nested HWPTs and vIOMMUs are
/// that model's, while the test operations that inspect mock domains and devices fail as they
/// do on a non-mock one.
pub fn drivers() -> clap::builder::PossibleValuesParser {
    host::MODELS
        .iter()
        .map(|m| clap::builder::PossibleValue::new(m.name).help(m.summary))
        .collect::<Vec<_>>()
        .into()
}

/// Prints each model's name and summary, one per line, the default first.
pub fn list_drivers() {
    print_names(host::MODELS.iter().map(|m| (m.name, m.summary)));
}

/// Prints `name  summary` lines with the summaries aligned.
pub fn print_names<'a>(rows: impl Iterator<Item = (&'a str, &'a str)> + Clone) {
    let width = rows.clone().map(|(n, _)| n.len()).max().unwrap_or(0);
    for (name, summary) in rows {
        println!("{name:width$}  {summary}");
    }
}

/// The model used when none is named.
pub fn default_driver() -> &'static str {
    host::default_model().name
}

/// Tells the preload library which model to emulate.
const DRIVER_ENV: &str = "UIOMMU_DRIVER";

/// What the preload library serves as `/dev/vfio/vfio`: `iommufd` or `type1`.
const VFIO_CONTAINER_ENV: &str = "UIOMMU_VFIO_CONTAINER";

/// Turns on the preload library's fault injection.
const FAULT_INJECTION_ENV: &str = "UIOMMU_FAULT_INJECTION";

/// What `uiommu exec` was asked for besides the program.
pub struct Options<'a> {
    /// The IOMMU model.
    pub driver: &'a str,
    /// The emulated devices.
    pub devices: &'a [Placement],
    /// The kernel's fault injection, emulated.
    pub fault_injection: bool,
    /// Where the trace of calls goes (`-`: stderr), if one is asked for.
    pub trace: Option<&'a OsStr>,
    /// What `/dev/vfio/vfio` is: `iommufd` (its compatibility container) or `type1` (VFIO's
    /// legacy container).
    pub vfio_container: &'a str,
}

/// Tells the preload library where its trace goes.
const TRACE_ENV: &str = "UIOMMU_TRACE";

/// Runs `program` and returns its exit code (128 + n for a signal), or 125/126/127 when it
/// cannot start, as `env` and shells do.
pub fn run(options: &Options<'_>, program: &[OsString]) -> ExitCode {
    let Options {
        driver,
        devices,
        fault_injection,
        trace,
        vfio_container,
    } = *options;
    let lib = match library::find() {
        Ok(lib) => lib,
        Err(msg) => {
            eprintln!("uiommu: {msg}");
            return ExitCode::from(125);
        }
    };
    if let Err(msg) = crate::host_check::cross_memory_attach() {
        eprintln!("uiommu: {msg}");
        return ExitCode::from(125);
    }
    let Some((prog, args)) = program.split_first() else {
        eprintln!("uiommu: no program to run");
        return ExitCode::from(125);
    };
    let mut cmd = Command::new(prog);
    cmd.args(args)
        .env(
            "LD_PRELOAD",
            preload_list(lib.path.as_os_str(), std::env::var_os("LD_PRELOAD")),
        )
        .env(DRIVER_ENV, driver)
        .env(DEVICES_ENV, placement::format_list(devices))
        .env(VFIO_CONTAINER_ENV, vfio_container);
    // The directory the program sees as debugfs; the preload library fills it.
    let debugfs = fault_injection
        .then(|| std::env::temp_dir().join(format!("uiommu-debugfs-{}", std::process::id())));
    if let Some(dir) = &debugfs {
        cmd.env(FAULT_INJECTION_ENV, dir);
    }
    if let Some(file) = trace {
        // A relative path names a file from here, wherever the program goes.
        let file = match std::path::absolute(file) {
            Ok(p) if file != "-" => p.into_os_string(),
            _ => file.to_os_string(),
        };
        cmd.env(TRACE_ENV, file);
    }
    // The NumVFs every process of the run shares (`uiommu_abi::sriov::shared`).
    let sriov = devices
        .iter()
        .any(|d| d.vfs > 0)
        .then(|| std::env::temp_dir().join(format!("uiommu-sriov-{}", std::process::id())));
    if let Some(file) = &sriov {
        match std::fs::write(file, [0u8; shared::STATE_SIZE]) {
            Ok(()) => {
                cmd.env(shared::STATE_ENV, file);
            }
            Err(e) => eprintln!(
                "uiommu: {}: {e}; SR-IOV state is per process",
                file.display()
            ),
        }
    }
    let code = spawn_and_wait(cmd, prog);
    if let Some(dir) = &debugfs {
        let _ = std::fs::remove_dir_all(dir);
    }
    if let Some(file) = &sriov {
        let _ = std::fs::remove_file(file);
    }
    code
}

fn spawn_and_wait(mut cmd: Command, prog: &OsStr) -> ExitCode {
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let p = prog.to_string_lossy();
            return match e.kind() {
                ErrorKind::NotFound => {
                    eprintln!("uiommu: {p}: program not found");
                    ExitCode::from(127)
                }
                ErrorKind::PermissionDenied => {
                    eprintln!("uiommu: {p}: permission denied");
                    ExitCode::from(126)
                }
                _ => {
                    eprintln!("uiommu: {p}: cannot run: {e}");
                    ExitCode::from(126)
                }
            };
        }
    };
    // While the child runs, Ctrl-C is the child's to handle; we report how it ended.
    sys::ignore_interrupts();
    match child.wait() {
        Ok(st) => ExitCode::from(status::exit_code(st)),
        Err(e) => {
            eprintln!("uiommu: waiting for {}: {e}", prog.to_string_lossy());
            ExitCode::from(125)
        }
    }
}

/// `LD_PRELOAD` with our library first, keeping what the caller preloads.
fn preload_list(lib: &OsStr, existing: Option<OsString>) -> OsString {
    let mut v = lib.to_os_string();
    if let Some(e) = existing.filter(|e| !e.is_empty()) {
        v.push(" ");
        v.push(e);
    }
    v
}

#[allow(unsafe_code)]
pub(crate) mod sys {
    /// Ignores SIGINT and SIGQUIT in this process. Called after the child is spawned, so the
    /// child keeps the default dispositions (ignored ones would be inherited across exec): a
    /// terminal's Ctrl-C reaches the whole foreground group, and the child decides.
    pub fn ignore_interrupts() {
        for sig in [libc::SIGINT, libc::SIGQUIT] {
            // SAFETY: SIG_IGN installs no handler code; it only changes this process's
            // disposition of the signal.
            unsafe { libc::signal(sig, libc::SIG_IGN) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preload_list_keeps_existing_entries() {
        assert_eq!(preload_list(OsStr::new("/a.so"), None), "/a.so");
        assert_eq!(
            preload_list(OsStr::new("/a.so"), Some("/b.so".into())),
            "/a.so /b.so"
        );
        assert_eq!(preload_list(OsStr::new("/a.so"), Some("".into())), "/a.so");
    }
}
