//! The index as `pre-commit` reads it: what changes in the commit (renames and
//! deletions included), which projects (folders with a committed `dev.toml`) it
//! touches, and the staged bytes of a file, following a symlink the way the commit
//! would (to its target in the index) or, for a target outside it, the working tree,
//! and saying which.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use super::Finding;
use crate::git::GitError;

/// How a path changes in the commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Modified,
    Renamed,
    Copied,
    Deleted,
    Other,
}

/// One staged change; `from` is the old path of a rename or copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: ChangeKind,
    pub path: String,
    pub from: Option<String>,
}

/// The staged changes (`git diff --cached --name-status -M`).
pub fn staged_changes(top: &Path) -> Result<Vec<Change>, GitError> {
    let out = crate::git::run(top, &["diff", "--cached", "--name-status", "-M", "-z"])?;
    let text = String::from_utf8_lossy(&out);
    let mut tokens = text.split('\0').filter(|t| !t.is_empty());
    let mut changes = Vec::new();
    while let Some(status) = tokens.next() {
        let kind = match status.chars().next() {
            Some('A') => ChangeKind::Added,
            Some('M' | 'T') => ChangeKind::Modified,
            Some('R') => ChangeKind::Renamed,
            Some('C') => ChangeKind::Copied,
            Some('D') => ChangeKind::Deleted,
            _ => ChangeKind::Other,
        };
        let first = tokens.next().unwrap_or_default().to_owned();
        let change = if matches!(kind, ChangeKind::Renamed | ChangeKind::Copied) {
            Change {
                kind,
                path: tokens.next().unwrap_or_default().to_owned(),
                from: Some(first),
            }
        } else {
            Change {
                kind,
                path: first,
                from: None,
            }
        };
        changes.push(change);
    }
    Ok(changes)
}

/// One index entry: its mode (`100644`, `120000` for a symlink) and blob.
#[derive(Debug, Clone)]
struct Entry {
    mode: String,
    oid: String,
}

/// A staged file's content, and where it came from when it was not the file itself.
#[derive(Debug, Clone)]
pub struct Staged {
    pub bytes: Vec<u8>,
    pub note: Option<String>,
}

impl Staged {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

/// The index of one checkout.
#[derive(Debug, Clone)]
pub struct Index {
    top: PathBuf,
    entries: BTreeMap<String, Entry>,
}

const SYMLINK: &str = "120000";

impl Index {
    pub fn load(top: &Path) -> Result<Index, GitError> {
        let out = crate::git::run(top, &["ls-files", "--cached", "-s", "-z"])?;
        let text = String::from_utf8_lossy(&out);
        let entries = text
            .split('\0')
            .filter_map(|line| {
                let (meta, path) = line.split_once('\t')?;
                let mut parts = meta.split(' ');
                let mode = parts.next()?.to_owned();
                let oid = parts.next()?.to_owned();
                Some((path.to_owned(), Entry { mode, oid }))
            })
            .collect();
        Ok(Index {
            top: top.to_path_buf(),
            entries,
        })
    }

    /// The projects the commit concerns: the folders (`""`, `app/`) holding a
    /// committed `dev.toml` that is nearest to `here` (the folder `pre-commit` runs
    /// in, relative to the top) or to a changed path.
    pub fn projects(&self, here: &str, changes: &[Change]) -> Vec<String> {
        let dirs = self.project_dirs();
        let nearest = |location: &str| {
            dirs.iter()
                .filter(|dir| location.starts_with(**dir))
                .max_by_key(|dir| dir.len())
                .map(|dir| (*dir).to_owned())
        };
        let here = if here.is_empty() {
            String::new()
        } else {
            format!("{here}/")
        };
        let mut found: Vec<String> = std::iter::once(here.as_str())
            .chain(changes.iter().map(|c| c.path.as_str()))
            .chain(changes.iter().filter_map(|c| c.from.as_deref()))
            .filter_map(nearest)
            .collect();
        found.sort();
        found.dedup();
        found
    }

    /// Every folder with a committed `dev.toml` (`""` for the top).
    pub fn project_dirs(&self) -> Vec<&str> {
        let name = crate::config::FILE_NAME;
        self.entries
            .keys()
            .filter_map(|path| {
                if path == name {
                    Some("")
                } else {
                    path.strip_suffix(name).filter(|dir| dir.ends_with('/'))
                }
            })
            .collect()
    }

    /// The staged content of `path`; `None` when it is not in the index. A symlink is
    /// followed to its target in the index, or, when the target is not committed (or
    /// outside the checkout), to the working-tree file; the note says which.
    pub fn read(&self, path: &str) -> Result<Option<Staged>, Finding> {
        let Some(entry) = self.entries.get(path) else {
            return Ok(None);
        };
        if entry.mode != SYMLINK {
            return self
                .blob(path, entry)
                .map(|bytes| Some(Staged { bytes, note: None }));
        }
        let mut current = path.to_owned();
        let mut entry = entry;
        // A chain of links inside the index, at most a few long (a loop ends here too).
        for _ in 0..8 {
            let link = String::from_utf8_lossy(&self.blob(&current, entry)?).into_owned();
            let target = resolve(&current, &link);
            match target
                .as_deref()
                .and_then(|t| self.entries.get(t).map(|e| (t, e)))
            {
                Some((target, next)) if next.mode == SYMLINK => {
                    current = target.to_owned();
                    entry = next;
                }
                Some((target, next)) => {
                    let bytes = self.blob(target, next)?;
                    return Ok(Some(Staged {
                        bytes,
                        note: Some(format!(
                            "{path} is a symlink: read its target {target} from the index"
                        )),
                    }));
                }
                None => return self.working_tree(path, &link).map(Some),
            }
        }
        Err(Finding {
            location: path.to_owned(),
            message: "is a chain of symlinks that does not end in a file".into(),
            fix: format!("point {path} at a file, or make it a file"),
        })
    }

    fn working_tree(&self, path: &str, link: &str) -> Result<Staged, Finding> {
        match crate::user_file::read(&self.top.join(path)) {
            Ok(bytes) => Ok(Staged {
                bytes,
                note: Some(format!(
                    "{path} is a symlink to {link}, which is not in the index: read it from the working tree"
                )),
            }),
            Err(err) => Err(Finding {
                location: path.to_owned(),
                message: format!("is a symlink to {link}, which cannot be read ({err})"),
                fix: format!("point {path} at an existing file, or commit the file in its place"),
            }),
        }
    }

    fn blob(&self, path: &str, entry: &Entry) -> Result<Vec<u8>, Finding> {
        crate::git::run(&self.top, &["cat-file", "blob", &entry.oid]).map_err(|why| Finding {
            location: path.to_owned(),
            message: format!("cannot be read from the index: {why}"),
            fix: "check the repository with `git fsck`".into(),
        })
    }
}

/// `app/../shared/config.json` as the index names it (`shared/config.json`); `None`
/// when it climbs out of the checkout.
pub fn normalise(path: &str) -> Option<String> {
    resolve("", path)
}

/// The index path a link at `link_path` pointing to `target` names, if it stays
/// inside the checkout (`None` for absolute targets and ones that climb out).
fn resolve(link_path: &str, target: &str) -> Option<String> {
    if Path::new(target).is_absolute() {
        return None;
    }
    let mut parts: Vec<String> = Path::new(link_path)
        .parent()
        .map(|p| {
            p.components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    for component in Path::new(target).components() {
        match component {
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::Normal(part) => parts.push(part.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_targets_resolve_inside_the_checkout_only() {
        assert_eq!(
            resolve("dev.toml", "config/dev.toml").as_deref(),
            Some("config/dev.toml")
        );
        assert_eq!(
            resolve("app/dev.toml", "../shared/dev.toml").as_deref(),
            Some("shared/dev.toml")
        );
        assert_eq!(resolve("dev.toml", "../elsewhere.toml"), None);
        assert_eq!(resolve("dev.toml", "/etc/dev.toml"), None);
        assert_eq!(
            normalise("app/./../shared/c.json").as_deref(),
            Some("shared/c.json")
        );
    }
}
