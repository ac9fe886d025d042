//! The preload library carried inside the binary (see `build.rs`), put where the dynamic
//! loader of the program can open it.
//!
//! First choice: a memfd of this process, named to the program as `/proc/<our pid>/fd/<fd>`.
//! The memfd is close-on-exec, so the program's file table is untouched (its fd numbers are
//! what they would be without uiommu); the path stays valid for the program and the programs
//! it starts while `uiommu exec` waits for it. Where memfds cannot be executable
//! (`vm.memfd_noexec=2`) or `/proc` does not show them, the library is written once per
//! content to a private directory (`$XDG_RUNTIME_DIR/uiommu`, else `~/.cache/uiommu`, else
//! `$TMPDIR/uiommu-<uid>`) as `libuiommu_preload-<hash>.so`.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

static LIBRARY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/libuiommu_preload.so"));

/// The embedded library's bytes, if this binary was built with one.
pub fn bytes() -> Option<&'static [u8]> {
    (!LIBRARY.is_empty()).then_some(LIBRARY)
}

/// The embedded library, ready to preload: its path, and the memfd that backs it (kept open
/// for as long as the program may load the library).
#[derive(Debug)]
pub struct Staged {
    /// What `LD_PRELOAD` names.
    pub path: PathBuf,
    _memfd: Option<File>,
}

/// Stages `bytes` (the embedded library) for the program.
pub fn stage(bytes: &[u8]) -> Result<Staged, String> {
    let memfd_err = match in_memfd(bytes) {
        Ok(s) => return Ok(s),
        Err(e) => e,
    };
    in_file(bytes).map_err(|e| format!("{memfd_err}; {e}"))
}

fn in_memfd(bytes: &[u8]) -> Result<Staged, String> {
    let mut file = File::from(sys::memfd("libuiommu_preload.so")?);
    file.write_all(bytes)
        .map_err(|e| format!("writing the library to a memfd: {e}"))?;
    let path = PathBuf::from(format!(
        "/proc/{}/fd/{}",
        std::process::id(),
        file.as_raw_fd()
    ));
    // The loader opens this path: check that /proc shows it (a /proc of another PID
    // namespace, or none, would not).
    match std::fs::metadata(&path) {
        Ok(m) if m.len() == bytes.len() as u64 => Ok(Staged {
            path,
            _memfd: Some(file),
        }),
        Ok(_) => Err(format!("{} is not the memfd written", path.display())),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

fn in_file(bytes: &[u8]) -> Result<Staged, String> {
    in_dir(bytes, &private_dir()?)
}

/// Writes `bytes` to `dir` under a name of their content, unless a file there has them.
fn in_dir(bytes: &[u8], dir: &Path) -> Result<Staged, String> {
    let path = dir.join(format!("libuiommu_preload-{:016x}.so", fnv1a(bytes)));
    if std::fs::read(&path).is_ok_and(|old| old == bytes) {
        return Ok(Staged { path, _memfd: None });
    }
    let tmp = dir.join(format!(".libuiommu_preload.{}.tmp", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes))
        .and_then(|()| std::fs::rename(&tmp, &path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!("writing {}: {e}", path.display()));
    }
    Ok(Staged { path, _memfd: None })
}

/// A directory only this user can write, for the library file.
fn private_dir() -> Result<PathBuf, String> {
    let uid = sys::euid();
    let dir = match (
        std::env::var_os("XDG_RUNTIME_DIR"),
        std::env::var_os("HOME"),
    ) {
        (Some(run), _) if !run.is_empty() => PathBuf::from(run).join("uiommu"),
        (_, Some(home)) if !home.is_empty() => PathBuf::from(home).join(".cache/uiommu"),
        _ => std::env::temp_dir().join(format!("uiommu-{uid}")),
    };
    let _ = std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir);
    check_private(&dir, uid)?;
    Ok(dir)
}

/// `dir` is a real directory (not a link), owned by `uid`, that others cannot write.
fn check_private(dir: &Path, uid: u32) -> Result<(), String> {
    let m = std::fs::symlink_metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !m.is_dir() || m.uid() != uid || m.mode() & 0o022 != 0 {
        return Err(format!(
            "{} is not a directory of this user that only it can write",
            dir.display()
        ));
    }
    Ok(())
}

/// FNV-1a, 64 bits: names the library file by its content.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[allow(unsafe_code)]
mod sys {
    use std::ffi::CString;
    use std::os::fd::{FromRawFd, OwnedFd};

    /// `MFD_EXEC` (`include/uapi/linux/memfd.h`, Linux 6.3): an executable memfd even where
    /// `vm.memfd_noexec=1` makes them non-executable by default.
    const MFD_EXEC: libc::c_uint = 0x0010;

    /// `memfd_create(name, MFD_CLOEXEC | MFD_EXEC)`, without `MFD_EXEC` on kernels older
    /// than it (`EINVAL`).
    pub fn memfd(name: &str) -> Result<OwnedFd, String> {
        let cname = CString::new(name).map_err(|_| "a memfd name with a NUL".to_string())?;
        let mut last = 0;
        for flags in [libc::MFD_CLOEXEC | MFD_EXEC, libc::MFD_CLOEXEC] {
            // SAFETY: `cname` is a NUL-terminated string that outlives the call; the call
            // only creates a new file descriptor.
            let fd = unsafe { libc::memfd_create(cname.as_ptr(), flags) };
            if fd >= 0 {
                // SAFETY: `fd` was just returned by memfd_create and nothing else owns it.
                return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
            }
            last = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
            if last != libc::EINVAL {
                break;
            }
        }
        Err(format!(
            "memfd_create: {}",
            std::io::Error::from_raw_os_error(last)
        ))
    }

    /// The effective user ID.
    pub fn euid() -> u32 {
        // SAFETY: geteuid has no preconditions and cannot fail.
        unsafe { libc::geteuid() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAKE: &[u8] = b"\x7fELF not really a library";

    #[test]
    fn a_memfd_is_readable_at_its_proc_path() {
        let s = in_memfd(FAKE).unwrap();
        assert!(
            s.path
                .starts_with(format!("/proc/{}/fd/", std::process::id()))
        );
        assert_eq!(std::fs::read(&s.path).unwrap(), FAKE);
    }

    #[test]
    fn the_file_fallback_is_private_and_reused() {
        let home = std::env::temp_dir().join(format!("uiommu-stage-{}", std::process::id()));
        let dir = home.join("uiommu");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        assert!(check_private(&dir, sys::euid()).is_ok());
        assert!(check_private(&dir, sys::euid().wrapping_add(1)).is_err());
        let a = in_dir(FAKE, &dir).unwrap();
        assert_eq!(std::fs::read(&a.path).unwrap(), FAKE);
        let name = a.path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("libuiommu_preload-") && name.ends_with(".so"),
            "{name}"
        );
        let b = in_dir(FAKE, &dir).unwrap();
        assert_eq!(a.path, b.path);
        assert_ne!(in_dir(b"other", &dir).unwrap().path, a.path);
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            2,
            "no temporary files left"
        );
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o777))
            .unwrap();
        assert!(check_private(&dir, sys::euid()).is_err());
        std::fs::remove_dir_all(&home).unwrap();
    }
}
