//! The tracer's loop: every stop of every tracee, from the program's execve to the death of
//! the last of its processes (`ptrace(2)`, "Stopped states" and "PTRACE_SEIZE").
//!
//! - Seccomp stops (or syscall-entry stops without the filter) are entries; a call whose exit
//!   matters is resumed with `PTRACE_SYSCALL` to its syscall-exit stop, the others with
//!   `PTRACE_CONT`.
//! - fork/vfork/clone events: the new task is traced already (auto-attach); its first stop, a
//!   `PTRACE_EVENT_STOP`, is resumed. Its process's table is shared with its thread group,
//!   or read from `/proc` for a new process (which a fork's child has just copied).
//! - exec events: the table is read afresh; a non-leader's exec takes over the leader's pid.
//! - Group-stops (`PTRACE_EVENT_STOP` with a stopping signal) are left stopped with
//!   `PTRACE_LISTEN`, so that the job control the program sees is the kernel's; any other
//!   signal stop is resumed with its signal, delivered as it would have been.
//! - A tracee that dies, even between a call's entry and exit, is only reported by
//!   `waitpid`; requests on it fail with `ESRCH` and are dropped, so nothing waits for it.

use super::calls::{self, Ctx, Pending};
use super::fds::{self, Classifier, Table};
use super::ptrace::{self, Resume, SyscallInfo};
use super::{arch, spawn};
use std::collections::{HashMap, HashSet};
use std::io::Write;

/// One traced thread.
struct Task {
    tgid: i32,
    table: Table,
    pending: Option<Pending>,
    /// Whether its first stop (an auto-attached task's `PTRACE_EVENT_STOP`) has been seen.
    started: bool,
}

/// The tracer of one program and its descendants.
pub struct Tracer {
    tasks: HashMap<i32, Task>,
    /// Whether the program runs under the seccomp filter (known at its first execve).
    seccomp: bool,
    execed: bool,
    main: i32,
    status: Option<u8>,
    classifier: Classifier,
    out: Box<dyn Write>,
}

/// `-ERESTARTSYS` .. `-ERESTART_RESTARTBLOCK` at a syscall exit: the call is restarted (or
/// becomes `EINTR`) after a signal; its restart is a new entry, so this exit prints nothing.
const RESTART: std::ops::RangeInclusive<i32> = 512..=516;

impl Tracer {
    /// A tracer for `main`, seized and about to execute the program.
    pub fn new(main: i32, classifier: Classifier, out: Box<dyn Write>) -> Self {
        let table = fds::scan(main, &classifier);
        let task = Task {
            tgid: main,
            table,
            pending: None,
            started: true,
        };
        Self {
            tasks: HashMap::from([(main, task)]),
            seccomp: true,
            execed: false,
            main,
            status: None,
            classifier,
            out,
        }
    }

    /// Follows every tracee until none is left; the program's exit code as a shell gives it
    /// (its exit status, or 128 + the signal that killed it), and whether it was executed
    /// (if not, the child's 126 or 127 says why it could not be).
    pub fn run(mut self) -> (u8, bool) {
        loop {
            let (pid, status) = match ptrace::wait_any() {
                Ok(s) => s,
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Err(_) => break, // ECHILD: no tracee is left.
            };
            if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
                self.tasks.remove(&pid);
                if pid == self.main {
                    let code = if libc::WIFEXITED(status) {
                        libc::WEXITSTATUS(status)
                    } else {
                        128 + libc::WTERMSIG(status)
                    };
                    self.status = Some(code.clamp(0, 255) as u8);
                }
                continue;
            }
            if !libc::WIFSTOPPED(status) {
                continue;
            }
            let sig = libc::WSTOPSIG(status);
            let event = (status >> 16) & 0xff;
            match (sig, event) {
                (s, 0) if s == libc::SIGTRAP | 0x80 => self.syscall_stop(pid),
                (libc::SIGTRAP, libc::PTRACE_EVENT_SECCOMP) => self.syscall_stop(pid),
                (
                    libc::SIGTRAP,
                    libc::PTRACE_EVENT_FORK | libc::PTRACE_EVENT_VFORK | libc::PTRACE_EVENT_CLONE,
                ) => {
                    if let Ok(new) = ptrace::event_msg(pid) {
                        self.known(new as i32);
                    }
                    self.resume(pid, 0);
                }
                (libc::SIGTRAP, libc::PTRACE_EVENT_EXEC) => {
                    self.exec(pid);
                    self.resume(pid, 0);
                }
                (_, libc::PTRACE_EVENT_STOP) => self.event_stop(pid, sig),
                // A signal-delivery-stop: the signal goes on to the tracee.
                _ => self.resume(pid, sig),
            }
        }
        let _ = self.out.flush();
        (self.status.unwrap_or(1), self.execed)
    }

    /// The task `pid`, traced by auto-attach, made known: its thread group's table if one of
    /// its threads is traced, else its own read from `/proc`.
    fn known(&mut self, pid: i32) -> &mut Task {
        if !self.tasks.contains_key(&pid) {
            let tgid = tgid_of(pid).unwrap_or(pid);
            let table = match self.tasks.values().find(|t| t.tgid == tgid) {
                Some(t) => t.table.clone(),
                None => fds::scan(pid, &self.classifier),
            };
            let task = Task {
                tgid,
                table,
                pending: None,
                started: false,
            };
            self.tasks.insert(pid, task);
        }
        self.tasks.get_mut(&pid).expect("inserted above")
    }

    fn event_stop(&mut self, pid: i32, sig: i32) {
        let task = self.known(pid);
        if !task.started {
            task.started = true;
            self.resume(pid, 0);
        } else if matches!(
            sig,
            libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU
        ) {
            let _ = ptrace::resume(pid, Resume::Listen, 0);
        } else {
            self.resume(pid, 0);
        }
    }

    fn exec(&mut self, pid: i32) {
        if !self.execed {
            self.execed = true;
            self.seccomp = spawn::filtered(pid);
        }
        // A non-leader thread's exec: it now has the leader's pid, and the others are gone.
        if let Ok(old) = ptrace::event_msg(pid) {
            let old = old as i32;
            if old != pid {
                self.tasks.remove(&old);
            }
        }
        let table = fds::scan(pid, &self.classifier);
        self.tasks.insert(
            pid,
            Task {
                tgid: pid,
                table,
                pending: None,
                started: true,
            },
        );
    }

    fn syscall_stop(&mut self, pid: i32) {
        let Ok(info) = ptrace::syscall_info(pid) else {
            return; // gone
        };
        self.known(pid);
        let procs: HashSet<i32> = self.tasks.values().map(|t| t.tgid).collect();
        let classifier = &self.classifier;
        let Some(task) = self.tasks.get_mut(&pid) else {
            return;
        };
        let prefix = (procs.len() > 1).then_some(task.tgid as u32);
        let ctx = Ctx {
            pid,
            table: &task.table,
            classifier,
        };
        let mut line = None;
        match info {
            SyscallInfo::Entry { arch, nr, args } if arch == arch::AUDIT_ARCH => {
                task.pending = calls::entry(&ctx, nr, args);
            }
            SyscallInfo::Exit(r) => {
                if let Some(p) = task.pending.take()
                    && !matches!(r, Err(e) if RESTART.contains(&e))
                {
                    line = calls::exit(&ctx, p, r, prefix);
                }
            }
            _ => task.pending = None,
        }
        if let Some(l) = line {
            let _ = self.out.write_all(l.as_bytes());
        }
        self.resume(pid, 0);
    }

    /// Resumes `pid` with `sig`: to its call's exit if one is pending, else to its next
    /// seccomp stop (or every call's stops without the filter).
    fn resume(&mut self, pid: i32, sig: i32) {
        let pending = self.tasks.get(&pid).is_some_and(|t| t.pending.is_some());
        let how = if pending || !self.seccomp {
            Resume::Syscall
        } else {
            Resume::Cont
        };
        let _ = ptrace::resume(pid, how, sig);
    }
}

/// The thread group of task `pid` (`Tgid:` of `/proc/PID/status`).
fn tgid_of(pid: i32) -> Option<i32> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("Tgid:"))
        .and_then(|v| v.trim().parse().ok())
}
