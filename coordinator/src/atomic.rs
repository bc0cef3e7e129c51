//! Atomic file writes: a temporary file in the same folder, then a rename, so that a
//! reader (or a crash) never sees a half-written file.

use std::io::Write;
use std::path::Path;

/// Replaces `path` with `content` atomically. Keeps the old file's permissions.
pub fn write(path: &Path, content: &[u8]) -> std::io::Result<()> {
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
    Ok(())
}
