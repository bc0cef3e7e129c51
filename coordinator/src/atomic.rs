//! Atomic file writes: a temporary file in the same folder, then a rename, so that a
//! reader (or a crash) never sees a half-written file.

use std::io::Write;
use std::path::Path;

/// Replaces `path` with `content` atomically and durably. Keeps the old file's
/// permissions; a symlink keeps pointing where it did (its target is what gets replaced).
pub fn write(path: &Path, content: &[u8]) -> std::io::Result<()> {
    replace(path, content, true)
}

/// [`write`] without the syncs: a reader still never sees half a file, but a power cut
/// may lose the write. For state that only matters while processes live (a run's
/// record: after a power cut there is nothing left to clean up), where two `fsync`s per
/// write would sit on `dev`'s start-up path.
pub fn write_volatile(path: &Path, content: &[u8]) -> std::io::Result<()> {
    replace(path, content, false)
}

fn replace(path: &Path, content: &[u8], durable: bool) -> std::io::Result<()> {
    let resolved = std::fs::canonicalize(path).ok();
    let path = resolved.as_deref().unwrap_or(path);
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    let mut temp = tempfile::Builder::new()
        .prefix(".dev-tmp-")
        .tempfile_in(dir)?;
    temp.write_all(content)?;
    if durable {
        temp.as_file().sync_all()?;
    }
    if let Ok(meta) = std::fs::metadata(path) {
        temp.as_file().set_permissions(meta.permissions())?;
    }
    temp.persist(path).map_err(|err| err.error)?;
    // The rename itself is durable only once the folder is synced (best effort: not
    // every platform lets a folder be opened).
    if durable && let Ok(folder) = std::fs::File::open(dir) {
        let _ = folder.sync_all();
    }
    Ok(())
}
