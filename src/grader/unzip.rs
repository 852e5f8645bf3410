//! Unpacking a submission's `.zip` safely: the bytes are counted as they are inflated (the sizes
//! a zip declares are never trusted), nothing ever asks for a password (an encrypted entry is
//! refused, saying so), entries leave neither the target folder nor become links, and the whole
//! unpacking has a time limit.

use std::fs;
use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// What a zip may unpack to, all entries together.
pub const MAX_UNZIPPED: u64 = 200 << 20;
/// Entries a zip may hold.
const MAX_ENTRIES: usize = 10_000;
/// How long unpacking may take.
pub const UNZIP_TIME: Duration = Duration::from_secs(60);

/// Unpacks `zip` into `to` (created). `Err` says in a sentence why it was refused.
pub fn unzip(zip: &Path, to: &Path, max: u64, time: Duration) -> Result<(), String> {
    let started = Instant::now();
    let name = zip.file_name().unwrap_or_default().to_string_lossy();
    let file = fs::File::open(zip).map_err(|e| format!("{}: {e}", zip.display()))?;
    let mut archive = zip::ZipArchive::new(file)
        .map_err(|e| format!("{name} is not a zip file that can be read ({e})"))?;
    if archive.len() > MAX_ENTRIES {
        return Err(format!(
            "{name} holds {} entries, more than the {MAX_ENTRIES} allowed",
            archive.len()
        ));
    }
    fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    let mut written = 0u64;
    let mut buf = vec![0u8; 64 << 10];
    for i in 0..archive.len() {
        let raw = archive
            .by_index_raw(i)
            .map_err(|e| format!("{name}: entry {i} cannot be read ({e})"))?;
        if raw.encrypted() {
            return Err(format!(
                "{name} is password-protected ({}); submit it without a password",
                raw.name()
            ));
        }
        drop(raw);
        let mut entry = archive
            .by_index(i)
            .map_err(|e| format!("{name}: entry {i} cannot be unpacked ({e})"))?;
        // Names that would leave the folder (absolute, `..`) and links are skipped.
        let Some(relative) = entry.enclosed_name() else {
            continue;
        };
        if entry.is_symlink() {
            continue;
        }
        let path = to.join(relative);
        if entry.is_dir() {
            fs::create_dir_all(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            continue;
        }
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        let shown = entry.name().to_string();
        let mut out = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| format!("{name}: {shown}: {e}"))?;
        loop {
            if started.elapsed() > time {
                return Err(format!(
                    "{name} took more than {} s to unpack, the limit",
                    time.as_secs()
                ));
            }
            let n = match entry.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => return Err(format!("{name}: {shown} cannot be unpacked ({e}); refused")),
            };
            written += n as u64;
            if written > max {
                return Err(format!(
                    "{name} unpacks to more than {} MiB, the limit (whatever sizes it declares)",
                    max >> 20
                ));
            }
            out.write_all(&buf[..n])
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    Ok(())
}
