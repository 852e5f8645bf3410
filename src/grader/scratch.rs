//! Scratch copies of the kit that compile in seconds: the files copied with their time stamps
//! kept where nothing changed ([`copy_tree`]), and the target dir seeded with the kit's compiled
//! dependencies ([`seed_target`]). Submissions, mutants and bugs are graded in such copies.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Copies the files below `from` to `to`, skipping the names in `skip` at the top. A file whose
/// content is already there is left alone, so its modification time (and cargo's build) stays.
pub(crate) fn copy_tree(from: &Path, to: &Path, skip: &[&str]) -> Result<(), String> {
    copy_tree_with(from, to, skip, false)
}

/// [`copy_tree`] for a scratch copy kept between runs: what `to` holds that `from` no longer
/// has (a file moved or deleted since the last copy) is removed too, except the names in `skip`
/// at the top.
pub(crate) fn mirror_tree(from: &Path, to: &Path, skip: &[&str]) -> Result<(), String> {
    copy_tree_with(from, to, skip, true)
}

fn copy_tree_with(from: &Path, to: &Path, skip: &[&str], prune: bool) -> Result<(), String> {
    let err = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
    std::fs::create_dir_all(to).map_err(|e| err(to, e))?;
    for entry in std::fs::read_dir(to).map_err(|e| err(to, e))?.flatten() {
        let name = entry.file_name();
        if !prune || skip.iter().any(|s| name == *s) || from.join(&name).exists() {
            continue;
        }
        let path = entry.path();
        let gone = if path.is_dir() && !path.is_symlink() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        gone.map_err(|e| err(&path, e))?;
    }
    for entry in std::fs::read_dir(from).map_err(|e| err(from, e))? {
        let entry = entry.map_err(|e| err(from, e))?;
        let name = entry.file_name();
        if skip.iter().any(|s| name == *s) {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        let kind = entry.file_type().map_err(|e| err(&src, e))?;
        if kind.is_dir() {
            copy_tree_with(&src, &dst, &[], prune)?;
        } else if kind.is_file() {
            let bytes = std::fs::read(&src).map_err(|e| err(&src, e))?;
            if std::fs::read(&dst).is_ok_and(|have| have == bytes) {
                continue;
            }
            std::fs::write(&dst, bytes).map_err(|e| err(&dst, e))?;
        }
    }
    Ok(())
}

/// Gives the empty cargo target dir `to` the compiled third-party crates of the target dir
/// `from` (the crates `Cargo.lock` lists, never the kit's own), time stamps kept, so that a
/// scratch copy of the kit compiles only its own crate: seconds instead of minutes. Both must use
/// the same profile. Does nothing when `to` has a build already or `from` has none.
pub fn seed_target(lock_file: &Path, from: &Path, to: &Path) -> Result<(), String> {
    let (from, to) = (from.join("debug"), to.join("debug"));
    if to.exists() || !from.join("deps").is_dir() {
        return Ok(());
    }
    let lock =
        std::fs::read_to_string(lock_file).map_err(|e| format!("{}: {e}", lock_file.display()))?;
    let crates: std::collections::HashSet<String> = lock
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .map(|n| n.trim_end_matches('"').replace('-', "_"))
        .filter(|n| n != env!("CARGO_PKG_NAME"))
        .collect();
    // deps/lib<crate>-<hash>.rlib, deps/<crate>-<hash>.d, build/<package>-<hash>/, …
    let third_party = |file: &str| {
        let stem = file.split('.').next().unwrap_or(file);
        let name = stem
            .rsplit_once('-')
            .map_or(stem, |(n, _)| n)
            .replace('-', "_");
        crates.contains(&name) || name.strip_prefix("lib").is_some_and(|n| crates.contains(n))
    };
    for sub in ["deps", "build", ".fingerprint"] {
        let (src, dst) = (from.join(sub), to.join(sub));
        std::fs::create_dir_all(&dst).map_err(|e| format!("{}: {e}", dst.display()))?;
        let Ok(entries) = std::fs::read_dir(&src) else {
            continue;
        };
        let chosen: Vec<PathBuf> = entries
            .flatten()
            .filter(|e| third_party(&e.file_name().to_string_lossy()))
            .map(|e| e.path())
            .collect();
        if chosen.is_empty() {
            continue;
        }
        let status = Command::new("cp")
            .arg("-a")
            .args(&chosen)
            .arg(&dst)
            .status()
            .map_err(|e| format!("could not run cp: {e}"))?;
        if !status.success() {
            let _ = std::fs::remove_dir_all(&to);
            return Err(format!(
                "copying {} to {} failed",
                src.display(),
                dst.display()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mirrored_copy_loses_what_the_source_no_longer_has() {
        let dir = std::env::temp_dir().join(format!("socklab-mirror-{}", std::process::id()));
        let (from, to) = (dir.join("from"), dir.join("to"));
        let _ = std::fs::remove_dir_all(&dir);
        for (root, files) in [
            (&from, &["src/bin/x.rs", "keep.txt"][..]),
            (
                &to,
                &["src/bin/moved.rs", "src/old/a.rs", "target/t", "keep.txt"],
            ),
        ] {
            for file in files {
                std::fs::create_dir_all(root.join(file).parent().unwrap()).unwrap();
                std::fs::write(root.join(file), file).unwrap();
            }
        }
        copy_tree(&from, &to, &[]).unwrap();
        assert!(
            to.join("src/bin/moved.rs").exists(),
            "copy_tree removes nothing"
        );
        mirror_tree(&from, &to, &["target"]).unwrap();
        assert!(to.join("src/bin/x.rs").exists() && to.join("target/t").exists());
        assert!(!to.join("src/bin/moved.rs").exists() && !to.join("src/old").exists());
        assert_eq!(
            std::fs::read_to_string(to.join("keep.txt")).unwrap(),
            "keep.txt"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
