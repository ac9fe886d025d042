//! Starting the program traced from its first instruction.
//!
//! The child is forked, waits on a pipe until the tracer has `PTRACE_SEIZE`d it (so no stop
//! and no signal is needed to attach: the program sees no `SIGSTOP`), installs the seccomp
//! filter when it may, and executes the program; its execve is the tracer's first stop
//! (`PTRACE_EVENT_EXEC`).
//!
//! A filter needs `CAP_SYS_ADMIN` or `no_new_privs` (`seccomp(2)`). Setting `no_new_privs`
//! would change what the program sees (set-user-ID programs would not gain privileges), so
//! without the capability the filter is not installed and every system call stops instead
//! (`PTRACE_SYSCALL`): slower, the same lines.
#![allow(unsafe_code)]

use super::{ptrace, seccomp};
use std::ffi::{CString, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;

/// What the child needs, made before the fork (the child only makes system calls).
pub struct Prepared {
    path: CString,
    argv: Vec<CString>,
    filter: Vec<libc::sock_filter>,
}

/// Why the program cannot start: the message, and the exit code a shell gives (127: not
/// found, 126: not executable).
pub type Refusal = (String, u8);

impl Prepared {
    /// The program (found on `PATH` when its name has no slash, as `execvp(3)` does) and its
    /// arguments.
    pub fn new(program: &[OsString]) -> Result<Self, Refusal> {
        let (prog, _) = program
            .split_first()
            .ok_or(("no program to run".into(), 125))?;
        let shown = prog.to_string_lossy().into_owned();
        let path = find(prog).ok_or((format!("{shown}: program not found"), 127))?;
        let c = |s: &[u8]| CString::new(s).map_err(|_| (format!("{shown}: NUL in argument"), 125));
        Ok(Self {
            path: c(path.as_os_str().as_bytes())?,
            argv: program
                .iter()
                .map(|a| c(a.as_bytes()))
                .collect::<Result<_, _>>()?,
            filter: seccomp::filter(),
        })
    }

    /// Forks, seizes and starts the child; its pid. The child runs the program once this
    /// returns, and stops at its execve.
    pub fn start(&self) -> io::Result<i32> {
        let mut argv: Vec<*const libc::c_char> = self.argv.iter().map(|a| a.as_ptr()).collect();
        argv.push(std::ptr::null());
        let prog = libc::sock_fprog {
            len: self.filter.len() as u16,
            filter: self.filter.as_ptr().cast_mut(),
        };
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 stores.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the child only makes system calls (close, read, signal, seccomp, execv,
        // _exit) on memory made before the fork, which async-signal safety allows.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            child(fds, &self.path, &argv, &prog);
        }
        // SAFETY: closing our copy of the read end, which nothing else uses.
        unsafe { libc::close(fds[0]) };
        let r = if pid < 0 {
            Err(io::Error::last_os_error())
        } else {
            ptrace::seize(pid).map(|()| pid)
        };
        if r.is_ok() {
            // SAFETY: one byte from a live buffer to the pipe's write end.
            unsafe { libc::write(fds[1], [1u8].as_ptr().cast(), 1) };
        }
        // SAFETY: closing our write end; the child reads end-of-file if it was not written.
        unsafe { libc::close(fds[1]) };
        if r.is_err() && pid > 0 {
            // The unseized child exits at end-of-file without running the program.
            // SAFETY: waits for our own child; no status is stored (null pointer).
            unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
        }
        r
    }
}

/// The child after the fork: waits for the go-ahead, filters, executes.
fn child(
    fds: [i32; 2],
    path: &CString,
    argv: &[*const libc::c_char],
    prog: &libc::sock_fprog,
) -> ! {
    let mut go = 0u8;
    // SAFETY: closing the child's copy of the write end.
    unsafe { libc::close(fds[1]) };
    let n = loop {
        // SAFETY: reads one byte into `go`, which lives across the call.
        let n = unsafe { libc::read(fds[0], (&raw mut go).cast(), 1) };
        if n >= 0 || io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break n;
        }
    };
    if n != 1 {
        // SAFETY: _exit ends this process without running the parent's atexit handlers.
        unsafe { libc::_exit(125) };
    }
    // Rust's runtime ignores SIGPIPE in uiommu, and an ignored signal stays ignored across
    // execve (signal(7)); the program gets the default back, as std's Command gives it.
    // SAFETY: SIG_DFL installs no handler code.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    // Without CAP_SYS_ADMIN this fails (EACCES) and the tracer stops at every call instead;
    // no_new_privs is left alone.
    // SAFETY: `prog` points at the filter, alive until execv replaces this image.
    unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            std::ptr::from_ref(prog),
        )
    };
    // SAFETY: `path` and `argv` are NUL-terminated and `argv` ends with a null pointer.
    unsafe { libc::execv(path.as_ptr(), argv.as_ptr()) };
    let code = match io::Error::last_os_error().raw_os_error() {
        Some(libc::ENOENT) => 127,
        _ => 126,
    };
    // SAFETY: as above.
    unsafe { libc::_exit(code) }
}

/// `prog` as `execvp` finds it: itself if it has a slash, else the first executable file of
/// that name on `PATH`.
fn find(prog: &std::ffi::OsStr) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    if prog.as_bytes().contains(&b'/') {
        return std::path::Path::new(prog).exists().then(|| prog.into());
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(prog))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Whether process `pid` runs under more seccomp filters than this one: whether the child
/// installed its filter (`Seccomp_filters:` of `/proc/PID/status`, or `Seccomp:` on kernels
/// before it).
pub fn filtered(pid: i32) -> bool {
    let field = |who: &str, name: &str| {
        let s = std::fs::read_to_string(format!("/proc/{who}/status")).ok()?;
        s.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let theirs = field(&pid.to_string(), "Seccomp_filters:");
    match (theirs, field("self", "Seccomp_filters:")) {
        (Some(t), Some(m)) => t > m,
        _ => field(&pid.to_string(), "Seccomp:") == Some(2) && field("self", "Seccomp:") != Some(2),
    }
}
