//! `uiommu trace` on this host: a program's IOMMU calls by raw system calls (built dynamic
//! and static from `programs/trace_raw.c`), with `/dev/null` taken for `/dev/iommu` through
//! the hidden `--test-node` test aid so that the real kernel answers them (`ENOTTY`); its
//! forked child and thread followed, and its descriptors across exec; exit statuses, signals
//! and job control passed through, and a program killed inside a traced call; the same lines
//! with and without the seccomp filter.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn uiommu() -> Command {
    Command::new(env!("CARGO_BIN_EXE_uiommu"))
}

/// `programs/trace_raw.c` built with `cc` and `flags`, or `None` without a C compiler (or a
/// static libc for `-static`); any other build failure fails the test.
fn program(flags: &[&str]) -> Option<PathBuf> {
    let dir = std::env::temp_dir().join(format!("uiommu-trace-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join(format!("trace_raw{}", flags.concat()));
    // Built once per test process: the tests run in parallel, and one must not run the
    // file while another writes it.
    static BUILD: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _built = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    if exe.is_file() {
        return Some(exe);
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs/trace_raw.c");
    let out = Command::new("cc")
        .args(flags)
        .args(["-O2", "-o"])
        .arg(&exe)
        .arg(src)
        .arg("-lpthread")
        .output()
        .ok()?;
    let err = String::from_utf8_lossy(&out.stderr);
    // A static build fails without a static libc, which the host need not have.
    assert!(
        out.status.success() || flags.contains(&"-static"),
        "cc {flags:?}: {err}"
    );
    out.status.success().then_some(exe)
}

/// The lines of `text` with each `<time>` and `[pid N]` masked.
fn masked(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            let l = match l.rfind(" <") {
                Some(i) if l.ends_with('>') => format!("{} <T>", &l[..i]),
                _ => l.to_string(),
            };
            match l.strip_prefix("[pid ").and_then(|r| r.split_once("] ")) {
                Some((_, rest)) => format!("[pid N] {rest}"),
                None => l,
            }
        })
        .collect()
}

/// `uiommu trace` of `exe` into `file`; with `filter` false, under `setpriv` without
/// `CAP_SYS_ADMIN` in its bounding set, so that the seccomp filter cannot be installed and
/// every call stops instead (`None` if that cannot be arranged here: not root, no setpriv).
fn trace(exe: &Path, file: &Path, filter: bool) -> Option<Output> {
    let mut cmd = if filter {
        uiommu()
    } else {
        let probe = Command::new("setpriv")
            .args(["--bounding-set", "-sys_admin", "true"])
            .output();
        if !probe.is_ok_and(|o| o.status.success()) {
            return None;
        }
        let mut c = Command::new("setpriv");
        c.args(["--bounding-set", "-sys_admin", env!("CARGO_BIN_EXE_uiommu")]);
        c
    };
    let o = cmd
        .args(["trace", "--test-node", "/dev/null=iommufd", "-o"])
        .arg(file)
        .arg("--")
        .arg(exe)
        .output()
        .unwrap();
    Some(o)
}

#[test]
fn raw_calls_are_decoded_in_the_process_its_child_and_its_thread() {
    let enotty = "-1 ENOTTY (Inappropriate ioctl for device) <T>";
    let want = [
        "openat(AT_FDCWD, \"/dev/iommu\", O_RDWR) = -1 ENOENT (No such file or directory) <T>"
            .to_string(),
        "openat(AT_FDCWD, \"/dev/null\", O_RDWR) = 3 <T>".into(),
        format!("ioctl(3, IOMMU_IOAS_ALLOC, {{size=12, flags=0, out_ioas_id=0}}) = {enotty}"),
        format!(
            "ioctl(3, IOMMU_OPTION, {{size=24, option_id=0, op=1, __reserved=0, object_id=0, \
             val64=0}}) = {enotty}"
        ),
        // The forked child's, while two processes are traced.
        format!("[pid N] ioctl(4, IOMMU_DESTROY, {{size=8, id=7}}) = {enotty}"),
        // The thread's, on the descriptor its process dup'ed.
        format!("ioctl(4, IOMMU_DESTROY, {{size=8, id=42}}) = {enotty}"),
    ];
    for flags in [&[][..], &["-static"][..]] {
        let Some(exe) = program(flags) else {
            eprintln!("skipped: no C compiler for {flags:?}");
            continue;
        };
        for filter in [true, false] {
            let file = exe.with_extension("trace");
            let Some(o) = trace(&exe, &file, filter) else {
                eprintln!("skipped: cannot drop CAP_SYS_ADMIN here");
                continue;
            };
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(3), "{err}");
            let text = std::fs::read_to_string(&file).unwrap();
            assert_eq!(masked(&text), want, "{flags:?}, filter {filter}:\n{text}");
            assert!(o.stderr.is_empty(), "{err}");
        }
    }
}

#[test]
fn a_device_file_s_reads_and_mmap_print_as_exec_trace_prints_them() {
    let Some(exe) = program(&[]) else {
        eprintln!("skipped: no C compiler");
        return;
    };
    // A file taken for a device file: the kernel answers from its bytes.
    let dev = exe.with_extension("dev");
    std::fs::write(&dev, b"abcdefghijklmnop").unwrap();
    let file = exe.with_extension("io.trace");
    let node = format!("{}=device", dev.display());
    let o = uiommu()
        .args(["trace", "--test-node", &node, "-o"])
        .arg(&file)
        .arg("--")
        .arg(&exe)
        .arg("io")
        .arg(&dev)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&file).unwrap();
    let lines = masked(&text);
    let mmap = lines.last().cloned().unwrap_or_default();
    let want = [
        format!(
            "openat(AT_FDCWD, {:?}, O_RDONLY) = 3 <T>",
            dev.display().to_string()
        ),
        // "efgh" at offset 4, then "abcd" at the position, which pread64 left at 0.
        "pread64(3, BAR0+0x4, 4) = 4 => [0x68676665] <T>".into(),
        "read(3, BAR0+0x0, 4) = 4 => [0x64636261] <T>".into(),
        // "ijkl" in place of the buffer.
        "preadv2(3, [{iov_base=[0x6c6b6a69], iov_len=4}], 1, BAR0+0x8, 0) = 4 <T>".into(),
        mmap.clone(),
    ];
    assert_eq!(lines, want, "{text}");
    assert!(
        mmap.starts_with("mmap(NULL, 4096, PROT_READ, MAP_SHARED, 3, BAR0+0x0) = 0x"),
        "{text}"
    );
}

#[test]
fn a_killed_program_s_status_is_128_plus_the_signal() {
    let Some(exe) = program(&[]) else {
        return;
    };
    let o = uiommu()
        .arg("trace")
        .arg("--")
        .arg(&exe)
        .arg("term")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(128 + 15));
    let o = uiommu()
        .args(["trace", "--", "sh", "-c", "exit 42"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(42));
}

#[test]
fn signals_reach_the_program_s_handlers() {
    let o = uiommu()
        .args([
            "trace",
            "--",
            "sh",
            "-c",
            "trap 'echo got USR1' USR1; kill -USR1 $$; exit 6",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(6));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "got USR1\n");
}

#[test]
fn a_stopped_program_stays_stopped_until_sigcont() {
    let mut child = uiommu()
        .args(["trace", "--", "sh", "-c", "kill -STOP $$; echo resumed"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let children = format!("/proc/{0}/task/{0}/children", child.id());
    let start = Instant::now();
    // The program's pid, once it is in its group-stop (state T or t).
    let stopped = loop {
        assert!(start.elapsed() < Duration::from_secs(20), "never stopped");
        let pid = std::fs::read_to_string(&children).unwrap_or_default();
        let pid = pid.split_whitespace().next().map(str::to_string);
        if let Some(pid) = pid {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = stat.rsplit_once(") ").map(|(_, r)| r.chars().next());
            if matches!(state, Some(Some('T' | 't'))) {
                break pid;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // Still stopped a while later: the tracer did not resume it.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(child.try_wait().unwrap(), None);
    let cont = Command::new("kill")
        .args(["-CONT", &stopped])
        .status()
        .unwrap();
    assert!(cont.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "resumed\n");
}

#[test]
fn a_missing_program_is_127() {
    let o = uiommu()
        .args(["trace", "--", "/nonexistent/x"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(127));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not found"));
}

#[test]
fn descriptors_survive_exec_and_are_traced_in_the_new_program() {
    let Some(exe) = program(&[]) else {
        return;
    };
    // The shell opens the node as fd 5 (no O_CLOEXEC), then executes the program on it.
    let script = format!("exec 5<>/dev/null; exec {} ioctl 5", exe.display());
    let o = uiommu()
        .args([
            "trace",
            "--test-node",
            "/dev/null=iommufd",
            "--",
            "sh",
            "-c",
            &script,
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8_lossy(&o.stderr);
    let ioctls: Vec<String> = masked(&text)
        .into_iter()
        .filter(|l| l.starts_with("ioctl("))
        .collect();
    assert_eq!(
        ioctls,
        [
            "ioctl(5, IOMMU_DESTROY, {size=8, id=5}) = -1 ENOTTY (Inappropriate ioctl for device) <T>"
        ],
        "{text}"
    );
}

#[test]
fn a_program_killed_inside_a_traced_call_does_not_hang_the_tracer() {
    let Some(exe) = program(&[]) else {
        return;
    };
    let fifo = exe.with_extension("fifo");
    let _ = std::fs::remove_file(&fifo);
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let node = format!("{}=iommufd", fifo.display());
    let child = uiommu()
        .args(["trace", "--test-node", &node, "--"])
        .arg(&exe)
        .arg("block")
        .arg(&fifo)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let children = format!("/proc/{0}/task/{0}/children", child.id());
    let start = Instant::now();
    // The program's pid, once it sleeps in its read of the FIFO.
    let pid = loop {
        assert!(start.elapsed() < Duration::from_secs(20), "never blocked");
        let pid = std::fs::read_to_string(&children).unwrap_or_default();
        if let Some(pid) = pid.split_whitespace().next() {
            let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
            if wchan.contains("pipe") {
                break pid.to_string();
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .unwrap()
            .success()
    );
    let o = child.wait_with_output().unwrap();
    let _ = std::fs::remove_file(&fifo);
    assert_eq!(o.status.code(), Some(128 + 9));
    let text = String::from_utf8_lossy(&o.stderr);
    assert!(masked(&text)[0].ends_with(", O_RDWR) = 3 <T>"), "{text}");
}

#[test]
fn the_program_s_signal_dispositions_and_mask_are_as_without_the_tracer() {
    let status = |o: Output| {
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        text.lines()
            .filter(|l| l.starts_with("SigIgn:") || l.starts_with("SigBlk:"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let args = ["-E", "^Sig(Ign|Blk):", "/proc/self/status"];
    let direct = status(Command::new("grep").args(args).output().unwrap());
    let traced = status(
        uiommu()
            .args(["trace", "--", "grep"])
            .args(args)
            .output()
            .unwrap(),
    );
    assert_eq!(direct.len(), 2);
    assert_eq!(traced, direct);
}

#[test]
fn a_vforked_child_s_exec_and_a_thread_s_exec_are_followed() {
    let Some(exe) = program(&[]) else {
        return;
    };
    let o = uiommu()
        .args(["trace", "--test-node", "/dev/null=iommufd", "--"])
        .arg(&exe)
        .arg("execs")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{text}");
    let destroy =
        "ioctl(3, IOMMU_DESTROY, {size=8, id=5}) = -1 ENOTTY (Inappropriate ioctl for device) <T>";
    assert_eq!(
        masked(&text),
        [
            "openat(AT_FDCWD, \"/dev/null\", O_RDWR) = 3 <T>".to_string(),
            // The vfork'ed child's new program, while two processes are traced.
            format!("[pid N] {destroy}"),
            // The thread's new program, which took the process over.
            destroy.to_string(),
        ],
        "{text}"
    );
}
