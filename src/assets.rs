//! The embedded default shipped in `assets/shapes/` (tiny SD-architecture pipeline, the
//! discriminator backbone and the evaluation network of the procedural shapes domain):
//! where it is, and a check of its files against `MANIFEST.sha256` so that a missing or
//! corrupted file is named, with how to get it back, before anything tries to load it.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The manifest `examples/pretrain_shapes` writes (`sha256sum -c` format).
pub const MANIFEST: &str = "MANIFEST.sha256";

/// How to rebuild the folder (the exact flags of the shipped run are in its README.md).
pub const REGENERATE: &str = "cargo run --release --example pretrain_shapes -- --out assets/shapes \
     (the exact commands of the shipped run, including its GPU continuation, are in assets/shapes/README.md)";

/// `assets/shapes` of this source tree.
pub fn shapes_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/shapes")
}

/// Lower-case hex SHA-256 of `bytes` (the manifest's checksum format).
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Files under `dir`, sorted, as relative `/`-separated paths.
pub fn list_files(dir: &Path) -> std::io::Result<Vec<String>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                walk(root, &path, out)?;
            } else if let Ok(rel) = path.strip_prefix(root) {
                out.push(
                    rel.components()
                        .map(|c| c.as_os_str().to_string_lossy())
                        .collect::<Vec<_>>()
                        .join("/"),
                );
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.sort();
    Ok(out)
}

/// Write `dir/MANIFEST.sha256` (`sha256sum -c` format) over every other file in `dir`;
/// what [`verify`] checks.
pub fn write_manifest(dir: &Path) -> std::io::Result<()> {
    let mut text = String::new();
    for rel in list_files(dir)? {
        if rel == MANIFEST {
            continue;
        }
        let bytes = std::fs::read(dir.join(&rel))?;
        text.push_str(&format!("{}  {rel}\n", sha256_hex(&bytes)));
    }
    std::fs::write(dir.join(MANIFEST), text)
}

/// What is wrong with a shipped folder.
#[derive(Debug, thiserror::Error)]
pub enum AssetError {
    #[error(
        "{}: cannot read the manifest ({source}); restore the folder with `git checkout -- {}` or regenerate it with `{REGENERATE}`",
        path.display(), dir.display()
    )]
    Manifest {
        path: PathBuf,
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}: not a `sha256sum` line: {text:?}", path.display())]
    BadLine {
        path: PathBuf,
        line: usize,
        text: String,
    },
    #[error(
        "{}: missing or unreadable ({source}); restore it with `git checkout -- {}` or regenerate the folder with `{REGENERATE}`",
        path.display(), path.display()
    )]
    Missing {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{}: corrupted or changed (SHA-256 {found}, the manifest records {expected}); restore it with `git checkout -- {}` or regenerate the folder with `{REGENERATE}`",
        path.display(), path.display()
    )]
    Checksum {
        path: PathBuf,
        expected: String,
        found: String,
    },
}

/// Check every model file listed in `dir/MANIFEST.sha256` (weights, configs, tokenizer;
/// the folder's own README and preview images are documentation and are skipped).
/// Returns the number of files checked.
pub fn verify(dir: &Path) -> Result<usize, AssetError> {
    let manifest = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&manifest).map_err(|source| AssetError::Manifest {
        path: manifest.clone(),
        dir: dir.to_path_buf(),
        source,
    })?;
    let mut checked = 0;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (expected, rel) = line
            .split_once("  ")
            .filter(|(h, r)| h.len() == 64 && !r.is_empty())
            .ok_or_else(|| AssetError::BadLine {
                path: manifest.clone(),
                line: i + 1,
                text: line.to_string(),
            })?;
        if rel == "README.md" || rel.ends_with(".png") {
            continue;
        }
        let path = dir.join(rel);
        let bytes = std::fs::read(&path).map_err(|source| AssetError::Missing {
            path: path.clone(),
            source,
        })?;
        let found = sha256_hex(&bytes);
        if found != expected.to_ascii_lowercase() {
            return Err(AssetError::Checksum {
                path,
                expected: expected.to_string(),
                found,
            });
        }
        checked += 1;
    }
    Ok(checked)
}
