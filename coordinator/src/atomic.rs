//! Atomic file writes: a temporary file in the same folder, then a rename, so that a
//! reader (or a crash) never sees a half-written file.

use std::io::Write;
use std::path::Path;

/// Replaces `path` with `content` atomically. Keeps the old file's permissions; a
/// symlink keeps pointing where it did (its target is what gets replaced).
pub fn write(path: &Path, content: &[u8]) -> std::io::Result<()> {
    let resolved = std::fs::canonicalize(path).ok();
    let path = resolved.as_deref().unwrap_or(path);
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    let mut temp = tempfile::Builder::new()
        .prefix(".dev-tmp-")
        .tempfile_in(dir)?;
    temp.write_all(content)?;
    temp.as_file().sync_all()?;
    if let Ok(meta) = std::fs::metadata(path) {
        temp.as_file().set_permissions(meta.permissions())?;
    }
    temp.persist(path).map_err(|err| err.error)?;
    // The rename itself is durable only once the folder is synced (best effort: not
    // every platform lets a folder be opened).
    if let Ok(folder) = std::fs::File::open(dir) {
        let _ = folder.sync_all();
    }
    Ok(())
}
