//! Where the preload library is.

use crate::embedded;
use std::path::{Path, PathBuf};

/// The library's file name.
pub const FILE_NAME: &str = "libuiommu_preload.so";

/// Overrides the search with an explicit path.
pub const ENV: &str = "UIOMMU_PRELOAD";

/// The library to preload, and what keeps it loadable while the program runs.
#[derive(Debug)]
pub struct Library {
    /// The path `LD_PRELOAD` names.
    pub path: PathBuf,
    /// The embedded copy's backing, when the library is that copy.
    _staged: Option<embedded::Staged>,
}

/// The library to preload: `$UIOMMU_PRELOAD` if set, else the first of the places searched
/// beside this binary, else the copy embedded in this binary. On failure, the message lists
/// what was tried.
pub fn find() -> Result<Library, String> {
    let not_found = match on_disk() {
        Ok(path) => {
            return Ok(Library {
                path,
                _staged: None,
            });
        }
        Err(Missing::Override(msg)) => return Err(msg),
        Err(Missing::NotFound(msg)) => msg,
    };
    let Some(bytes) = embedded::bytes() else {
        return Err(not_found);
    };
    match embedded::stage(bytes) {
        Ok(s) => Ok(Library {
            path: s.path.clone(),
            _staged: Some(s),
        }),
        Err(e) => Err(format!(
            "{not_found}\nand cannot stage the library built into this binary: {e}"
        )),
    }
}

/// Why no library file was found.
enum Missing {
    /// `$UIOMMU_PRELOAD` names no file: an error even with an embedded copy.
    Override(String),
    /// None of the places searched has it.
    NotFound(String),
}

/// The library file: `$UIOMMU_PRELOAD`, or the first of the places searched.
fn on_disk() -> Result<PathBuf, Missing> {
    if let Some(p) = std::env::var_os(ENV) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(absolute(&p))
        } else {
            Err(Missing::Override(format!(
                "{ENV}={} is not a file; it should name {FILE_NAME}",
                p.display()
            )))
        };
    }
    let exe = std::env::current_exe()
        .map_err(|e| Missing::NotFound(format!("cannot locate this binary: {e}")))?;
    let candidates = candidates(&exe);
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| {
            let tried: Vec<String> = candidates
                .iter()
                .map(|p| format!("  {}", p.display()))
                .collect();
            Missing::NotFound(format!(
                "cannot find the preload library {FILE_NAME}; tried:\n{}\n\
             build it (cargo build -p uiommu-preload) or set {ENV}",
                tried.join("\n")
            ))
        })
}

/// Places to look, in order: beside the binary (cargo puts both in `target/<profile>/`), the
/// parent directory (the binary run from `target/<profile>/deps/`), `../lib/` and
/// `../lib/uiommu/` of an installed prefix, and cargo's `deps/` (where the library is when it
/// was built only as a dependency).
fn candidates(exe: &Path) -> Vec<PathBuf> {
    let Some(dir) = exe.parent() else {
        return Vec::new();
    };
    let mut v = vec![dir.join(FILE_NAME)];
    if let Some(up) = dir.parent() {
        v.push(up.join(FILE_NAME));
        v.push(up.join("lib").join(FILE_NAME));
        v.push(up.join("lib").join("uiommu").join(FILE_NAME));
    }
    v.push(dir.join("deps").join(FILE_NAME));
    v
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches_beside_the_binary_first() {
        let c = candidates(Path::new("/opt/x/bin/uiommu"));
        assert_eq!(c[0], Path::new("/opt/x/bin/libuiommu_preload.so"));
        assert!(c.contains(&PathBuf::from("/opt/x/lib/uiommu/libuiommu_preload.so")));
    }
}
