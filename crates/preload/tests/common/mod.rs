//! The harness the preload tests share: each test binary runs itself again with the library in
//! `LD_PRELOAD`, and the child performs one scenario, selected by an environment variable; a
//! failed check panics in the child and fails the test with its output.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The library cargo built next to this test's directory.
pub fn library() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    for dir in [deps, deps.parent().unwrap()] {
        let p = dir.join("libuiommu_preload.so");
        if p.is_file() {
            return p;
        }
    }
    panic!("libuiommu_preload.so not built next to {}", exe.display());
}

/// Runs scenario `name` in a child with the library preloaded; the child's `scenario_entry`
/// test reads it from `env_var`.
pub fn run(env_var: &str, name: &str) {
    run_with(env_var, name, &[]);
}

/// As [`run`], with more variables in the child's environment.
pub fn run_with(env_var: &str, name: &str, env: &[(&str, &str)]) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "scenario_entry",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("LD_PRELOAD", library())
        .env(env_var, name)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("scenario ok"),
        "scenario {name} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
}

/// `programs/{name}.c` built (fortified, so `__read_chk`/`__pread_chk` are reached too), or
/// `None` without a C compiler.
pub fn program(name: &str) -> Option<PathBuf> {
    let dir = std::env::temp_dir().join(format!("uiommu-preload-programs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join(name);
    if exe.is_file() {
        return Some(exe);
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/programs/{name}.c"));
    let tmp = dir.join(format!("{name}.{:?}", std::thread::current().id()));
    let Ok(cc) = Command::new("cc")
        .args(["-O2", "-D_FORTIFY_SOURCE=2", "-Wall", "-pthread", "-o"])
        .arg(&tmp)
        .arg(&src)
        .status()
    else {
        eprintln!("no C compiler: skipped");
        return None;
    };
    assert!(cc.success(), "cc failed");
    std::fs::rename(&tmp, &exe).unwrap();
    Some(exe)
}

/// Runs `programs/{name}.c` (see [`program`]) with `args`, the library preloaded and `env`;
/// it must print `ok`.
pub fn run_program(name: &str, args: &[&str], env: &[(&str, &str)]) {
    let Some(exe) = program(name) else {
        return;
    };
    let out = Command::new(&exe)
        .args(args)
        .env("LD_PRELOAD", library())
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim() == "ok",
        "{name} {args:?} {env:?}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
