//! The regression corpus: one sequence per `.txt` file, with `#` comments saying how it was
//! found and what it broke. `cargo test` replays every file of `fuzz-corpus/`.

use crate::call::Sequence;
use crate::run::Failure;
use std::path::{Path, PathBuf};

/// The corpus directory of this crate.
pub fn default_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz-corpus")
}

/// Every sequence in `dir`, by file name.
pub fn load(dir: &Path) -> Result<Vec<(PathBuf, Sequence)>, String> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            let seq = Sequence::parse(&text).map_err(|e| format!("{}: {e}", p.display()))?;
            Ok((p, seq))
        })
        .collect()
}

/// Writes a failing sequence to `dir` as `<model>-<seed>.txt`, its failure as a comment.
pub fn save(dir: &Path, seed: u64, seq: &Sequence, failure: &Failure) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{}-{seed:016x}.txt", seq.model));
    let text = format!(
        "# sequence seed {seed:#x}, minimised\n# failed: {failure}\n{}",
        seq.to_text()
    );
    std::fs::write(&path, text)?;
    Ok(path)
}
