//! Atomic file writes: a temporary file in the same folder, then a rename, so that a
//! reader (or a crash) never sees a half-written file.
//!
//! The replacement is a new file, so it would be owned by whoever runs `dev` (root,
//! after a `sudo cargo xtask dev`) with that user's group: it is given the old file's
//! owner, group and mode before the rename. When `dev` may not give it that owner or
//! group (an unprivileged user replacing a file of another user or of a group it is not
//! in), the file is written in place instead, which keeps them, and the run's log says
//! so: the one case where a reader could see a half-written file.

use std::io::Write;
use std::path::Path;

/// Replaces `path` with `content` atomically and durably. Keeps the old file's
/// owner, group and permissions (see the module's comment for when it cannot); a
/// symlink keeps pointing where it did (its target is what gets replaced).
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
    if let Ok(meta) = std::fs::metadata(path) {
        // Owner first: a change of owner clears the set-id bits that the mode restores.
        if let Err(err) = keep_owner(temp.as_file(), &meta) {
            drop(temp);
            tracing::warn!(
                "{}: {err}, so it was written in place rather than replaced atomically",
                path.display()
            );
            return write_in_place(path, content, durable);
        }
        temp.as_file().set_permissions(meta.permissions())?;
    }
    temp.write_all(content)?;
    if durable {
        temp.as_file().sync_all()?;
    }
    temp.persist(path).map_err(|err| err.error)?;
    // The rename itself is durable only once the folder is synced (best effort: not
    // every platform lets a folder be opened).
    if durable && let Ok(folder) = std::fs::File::open(dir) {
        let _ = folder.sync_all();
    }
    Ok(())
}

/// Gives the replacement `file` the owner and group of the file it replaces, when they
/// differ from the ones it was created with. The error says whose they are.
#[cfg(unix)]
fn keep_owner(file: &std::fs::File, old: &std::fs::Metadata) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let new = file.metadata()?;
    if (new.uid(), new.gid()) == (old.uid(), old.gid()) {
        return Ok(());
    }
    std::os::unix::fs::fchown(file, Some(old.uid()), Some(old.gid())).map_err(|err| {
        std::io::Error::new(
            err.kind(),
            format!(
                "a replacement cannot keep its owner and group (uid {}, gid {}): {err}",
                old.uid(),
                old.gid()
            ),
        )
    })
}

#[cfg(not(unix))]
fn keep_owner(_file: &std::fs::File, _old: &std::fs::Metadata) -> std::io::Result<()> {
    Ok(())
}

/// Overwrites the existing file itself (same inode: same owner, group and mode).
fn write_in_place(path: &Path, content: &[u8], durable: bool) -> std::io::Result<()> {
    let mut file = std::fs::File::options()
        .write(true)
        .truncate(true)
        .open(path)?;
    file.write_all(content)?;
    if durable {
        file.sync_all()?;
    }
    Ok(())
}
