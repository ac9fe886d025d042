//! Builds the preload library for embedding in the `uiommu` binary, so that an installed
//! `uiommu` (`cargo install`) runs `exec` without a library file beside it.
//!
//! The library is a cdylib of another package, which a build script cannot depend on as an
//! artifact on stable cargo; so this script runs cargo itself, in a target directory of its
//! own under `OUT_DIR` (the outer cargo holds the lock of its target directory), and copies
//! `libuiommu_preload.so` to `OUT_DIR`, where `src/embedded.rs` includes it. An empty file there
//! means "nothing embedded": `exec` then needs the library on disk, as in a development tree.
//!
//! Embedding is on for release builds (what `cargo install` does) and off for debug builds,
//! which find the library beside the binary. `UIOMMU_EMBED_PRELOAD=1` or `=0` forces it either
//! way; `UIOMMU_PRELOAD_MANIFEST` names the preload package's `Cargo.toml` when it is not the
//! sibling directory `../preload`.

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

const FILE_NAME: &str = "libuiommu_preload.so";

/// The workspace crates the library is built from: a change in one rebuilds it.
const SOURCES: &[&str] = &["preload", "abi", "core", "devices", "pt", "uapi"];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=UIOMMU_EMBED_PRELOAD");
    println!("cargo:rerun-if-env-changed=UIOMMU_PRELOAD_MANIFEST");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let dest = out.join(FILE_NAME);
    let embed = match env::var("UIOMMU_EMBED_PRELOAD").as_deref() {
        Ok("1") => true,
        Ok("0") => false,
        _ => env::var("PROFILE").as_deref() == Ok("release"),
    };
    if !embed {
        write(&dest, &[]);
        return;
    }
    let manifest = env::var_os("UIOMMU_PRELOAD_MANIFEST")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
            dir.join("../preload/Cargo.toml")
        });
    if !manifest.is_file() {
        fail(&format!(
            "the preload package is not at {}: set UIOMMU_PRELOAD_MANIFEST to its Cargo.toml, \
             or UIOMMU_EMBED_PRELOAD=0 to build without the embedded library",
            manifest.display()
        ));
    }
    track(&manifest);
    let lib = build(&manifest, &out.join("preload-target"));
    let bytes =
        std::fs::read(&lib).unwrap_or_else(|e| fail(&format!("reading {}: {e}", lib.display())));
    write(&dest, &bytes);
}

/// Reruns this script when the library's sources or the workspace's lock file change.
fn track(manifest: &Path) {
    let Some(crates) = manifest.parent().and_then(Path::parent) else {
        return;
    };
    for c in SOURCES {
        for part in ["src", "Cargo.toml"] {
            let p = crates.join(c).join(part);
            if p.exists() {
                println!("cargo:rerun-if-changed={}", p.display());
            }
        }
    }
    if let Some(root) = crates.parent() {
        for f in ["Cargo.toml", "Cargo.lock"] {
            let p = root.join(f);
            if p.exists() {
                println!("cargo:rerun-if-changed={}", p.display());
            }
        }
    }
}

/// Runs `cargo build --release` of the library into `target_dir`; returns the library's path.
fn build(manifest: &Path, target_dir: &Path) -> PathBuf {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let target = env::var("TARGET").unwrap_or_default();
    let host = env::var("HOST").unwrap_or_default();
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--release")
        .arg("--lib")
        .arg("-p")
        .arg("uiommu-preload")
        .arg("--manifest-path")
        .arg(manifest)
        .arg("--target-dir")
        .arg(target_dir)
        // The binary carries the library: without its debug info it is a fraction the size.
        .env("CARGO_PROFILE_RELEASE_STRIP", "debuginfo")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET");
    let mut dir = target_dir.to_path_buf();
    if !target.is_empty() && target != host {
        cmd.arg("--target").arg(&target);
        dir.push(&target);
    }
    match cmd.status() {
        Ok(s) if s.success() => {}
        Ok(s) => fail(&format!(
            "building the preload library failed ({s}); UIOMMU_EMBED_PRELOAD=0 builds \
             without it"
        )),
        Err(e) => fail(&format!(
            "cannot run cargo to build the preload library: {e}"
        )),
    }
    dir.join("release").join(FILE_NAME)
}

fn write(path: &Path, bytes: &[u8]) {
    // Unchanged content keeps its timestamp, so the binary is not rebuilt for nothing.
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return;
    }
    std::fs::write(path, bytes)
        .unwrap_or_else(|e| fail(&format!("writing {}: {e}", path.display())));
}

fn fail(msg: &str) -> ! {
    eprintln!("error: uiommu-cli: {msg}");
    std::process::exit(1);
}
