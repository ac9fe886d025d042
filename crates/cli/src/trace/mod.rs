//! `uiommu trace [-o FILE] -- PROGRAM [ARGS…]`: the calls a program makes on a real
//! kernel's `/dev/iommu` and `/dev/vfio/*`, and on the files they hand out, one decoded line
//! each — the lines `uiommu exec --trace` prints for uiommu's nodes
//! ([`uiommu_uapi::trace`]) — seen from outside by ptrace, so that the program runs as it
//! would: static or dynamic, libc or raw system calls, its forks, threads and execs
//! followed, nothing injected, its memory only read, its signals delivered and its exit
//! status passed on.
//!
//! - [`spawn`]: the program started seized, under a seccomp filter ([`seccomp`]) that stops
//!   only the calls of [`arch::WATCHED`].
//! - [`tasks`]: the stops of every tracee; [`calls`]: each call's entry and exit, and its
//!   line; [`fds`]: which descriptors are IOMMU/VFIO files; [`ptrace`]: the raw calls.
//!
//! Times are entry to exit as the tracer sees them (its own stops included). Each line is
//! one write to stderr or FILE, with the `[pid N]` prefix while more than one process is
//! traced, as `strace -f` does.

mod arch;
mod calls;
mod fds;
mod io;
mod ptrace;
mod seccomp;
mod spawn;
mod tasks;

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Write the lines to FILE (created or truncated) instead of stderr.
    #[arg(short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Test aid: take PATH for a node of KIND (iommufd, container, group, device), so that
    /// a host without one sees its calls decoded, answered by what PATH really is.
    #[arg(long = "test-node", value_name = "PATH=KIND", hide = true)]
    test_nodes: Vec<String>,
    /// The program and its arguments.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "PROGRAM"
    )]
    program: Vec<OsString>,
}

/// Runs the program traced; its exit code (125: uiommu failed, 126/127: the program could
/// not be run, as `env` gives).
pub fn run(args: Args) -> ExitCode {
    let mut classifier = fds::Classifier::default();
    for spec in &args.test_nodes {
        let kind = spec
            .rsplit_once('=')
            .and_then(|(p, k)| Some((p, fds::parse_kind(k)?)));
        let Some((path, kind)) = kind else {
            eprintln!("uiommu: --test-node {spec}: not PATH=iommufd|container|group|device");
            return ExitCode::from(2);
        };
        classifier.extra.push((path.as_bytes().to_vec(), kind));
    }
    let out: Box<dyn Write> = match &args.output {
        Some(p) => match std::fs::File::create(p) {
            Ok(f) => Box::new(f),
            Err(e) => {
                eprintln!("uiommu: {}: {e}", p.display());
                return ExitCode::from(125);
            }
        },
        None => Box::new(std::io::stderr()),
    };
    let prepared = match spawn::Prepared::new(&args.program) {
        Ok(p) => p,
        Err((msg, code)) => {
            eprintln!("uiommu: {msg}");
            return ExitCode::from(code);
        }
    };
    let pid = match prepared.start() {
        Ok(pid) => pid,
        Err(e) => {
            eprintln!("uiommu: cannot trace the program: {e}");
            return ExitCode::from(125);
        }
    };
    // Ctrl-C is the program's to handle; the tracer reports how it ended.
    crate::exec::sys::ignore_interrupts();
    let (code, execed) = tasks::Tracer::new(pid, classifier, out).run();
    if !execed {
        let p = args.program[0].to_string_lossy();
        eprintln!("uiommu: {p}: cannot run (exit status {code})");
    }
    ExitCode::from(code)
}
