//! The harness the preload tests share: each test binary runs itself again with the library in
//! `LD_PRELOAD`, and the child performs one scenario, selected by an environment variable; a
//! failed check panics in the child and fails the test with its output.

#![allow(dead_code)]

use std::path::PathBuf;
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
