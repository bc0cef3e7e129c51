//! Watching the backend's sources, so that `dev` restarts the backend when a file is
//! saved (health-gated: see `dev`'s supervisor).
//!
//! The kernel tells (inotify on Linux, through the `notify` crate and its full
//! debouncer, which keeps each event's kind: a file being opened is not a change);
//! nothing polls. Only the folders under the watch patterns' literal prefixes are
//! watched, each on its own, skipping ignored folders (a venv has thousands): a
//! recursive watch of `backend/` would put one on every folder of `backend/.venv`.
//! Folders created later are added as they appear.
//!
//! `node_modules`, `target`, `.dev` and `.git` are never walked, whatever
//! `watch_ignore` says, unless a pattern names one of them literally
//! (`frontend/node_modules/lib/*.js`): each holds thousands of folders that are not
//! sources, and walking them costs seconds and inotify watches before the backend
//! starts. Every watched folder's identity (device and inode) is kept and the roots are
//! looked at twice a second (a moved or re-created root sends no event to any watch),
//! so a root that is moved away, removed, or replaced by a new folder at the same path
//! is noticed and watched again, with a line saying so, rather than watched no more.
//! (Watching each root's parent instead would need no polling, but a second watch over
//! the same tree made `notify`'s full debouncer lose the removal of sub-folders.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use glob::{MatchOptions, Pattern};
use notify::{EventKind, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// What to watch, relative to the checkout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchSpec {
    pub root: PathBuf,
    /// Globs of files whose change restarts the backend: `backend/**/*.py`.
    pub patterns: Vec<String>,
    /// Names or globs that never count: matched against each path component and against
    /// the whole relative path (`.venv`, `__pycache__`, `*.swp`, `backend/.venv`).
    pub ignore: Vec<String>,
    pub debounce: Duration,
}

/// A compiled [`WatchSpec`]: the pure "does this path count?" decision.
#[derive(Debug, Clone)]
pub struct Matcher {
    root: PathBuf,
    patterns: Vec<Pattern>,
    ignore: Vec<Pattern>,
    /// The folders of [`NEVER_WALKED`] that no pattern names literally.
    never: Vec<&'static str>,
}

/// Folder names that are never walked unless a pattern names them literally.
pub const NEVER_WALKED: [&str; 4] = ["node_modules", "target", ".dev", ".git"];

const OPTIONS: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

impl Matcher {
    /// Compiles the globs; a bad one is named.
    pub fn new(spec: &WatchSpec) -> Result<Matcher, String> {
        let compile = |text: &String| {
            Pattern::new(text).map_err(|err| format!("invalid glob {text:?}: {}", err.msg))
        };
        let named_literally = |name: &str| {
            spec.patterns.iter().any(|pattern| {
                Path::new(pattern)
                    .components()
                    .any(|c| c.as_os_str() == name)
            })
        };
        Ok(Matcher {
            root: spec.root.clone(),
            patterns: spec
                .patterns
                .iter()
                .map(compile)
                .collect::<Result<_, _>>()?,
            ignore: spec.ignore.iter().map(compile).collect::<Result<_, _>>()?,
            never: NEVER_WALKED
                .into_iter()
                .filter(|name| !named_literally(name))
                .collect(),
        })
    }

    /// Whether a change of `path` (absolute, or relative to the checkout) counts.
    pub fn counts(&self, path: &Path) -> bool {
        let relative = path.strip_prefix(&self.root).unwrap_or(path);
        !self.ignored(relative)
            && self
                .patterns
                .iter()
                .any(|p| p.matches_path_with(relative, OPTIONS))
    }

    /// Whether `relative` (a file or a folder) is ignored.
    pub fn ignored(&self, relative: &Path) -> bool {
        let never = relative.components().any(|c| match c {
            Component::Normal(name) => self.never.iter().any(|never| name == *never),
            _ => false,
        });
        never
            || self.ignore.iter().any(|pattern| {
                pattern.matches_path_with(relative, OPTIONS)
                    || relative.components().any(|c| match c {
                        Component::Normal(name) => name
                            .to_str()
                            .is_some_and(|name| pattern.matches_with(name, OPTIONS)),
                        _ => false,
                    })
            })
    }

    /// The folders to watch: the literal prefix of each pattern (`backend` for
    /// `backend/**/*.py`), as absolute paths.
    fn roots(&self) -> BTreeSet<PathBuf> {
        self.patterns
            .iter()
            .map(|pattern| {
                let literal: PathBuf = Path::new(pattern.as_str())
                    .components()
                    .take_while(|c| {
                        !c.as_os_str()
                            .to_str()
                            .is_some_and(|s| s.contains(['*', '?', '[']))
                    })
                    .collect();
                // A pattern naming one file watches its folder.
                let dir = if pattern.as_str() == literal.to_str().unwrap_or_default() {
                    literal.parent().map(Path::to_path_buf).unwrap_or_default()
                } else {
                    literal
                };
                self.root.join(dir)
            })
            .collect()
    }
}

/// How often the debouncer looks for quiet paths: half the debounce, and not more
/// often than every 10 ms (its thread wakes that often whether or not anything changed,
/// which is the watch's whole idle cost).
fn tick(debounce: Duration) -> Duration {
    (debounce / 2).max(Duration::from_millis(10))
}

/// A running watch. Dropping it stops the watching thread.
pub struct Watcher {
    matcher: Matcher,
    debouncer: Debouncer<RecommendedWatcher, RecommendedCache>,
    events: UnboundedReceiver<Vec<Change>>,
    debounce: Duration,
    sender: UnboundedSender<Vec<Change>>,
    /// The watched folders, each with its identity when its watch was added.
    watched: BTreeMap<PathBuf, Identity>,
}

/// How often the roots themselves are looked at (a `stat` each): a root moved away or
/// made again sends no event to its own watch, nor to any other.
const ROOT_CHECK: Duration = Duration::from_millis(500);

/// A folder's device and inode: a folder made again at the same path is another one.
type Identity = (u64, u64);

fn identity(dir: &Path) -> Option<Identity> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(dir).ok()?;
        meta.is_dir().then(|| (meta.dev(), meta.ino()))
    }
    #[cfg(not(unix))]
    {
        dir.is_dir().then_some((0, 0))
    }
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("watched", &self.watched.len())
            .finish()
    }
}

impl Watcher {
    /// Starts watching. Fails when the kernel refuses (too many watches, say).
    pub fn start(spec: &WatchSpec) -> Result<Watcher, String> {
        let matcher = Matcher::new(spec)?;
        let (sender, events) = unbounded_channel();
        let debouncer = debouncer(spec.debounce, sender.clone())?;
        let mut watcher = Watcher {
            matcher,
            debouncer,
            debounce: spec.debounce,
            sender,
            events,
            watched: BTreeMap::new(),
        };
        watcher.add_roots()?;
        Ok(watcher)
    }

    /// Watches each root's tree.
    fn add_roots(&mut self) -> Result<(), String> {
        for root in self.matcher.roots() {
            self.add_tree(&root)?;
        }
        Ok(())
    }

    /// How many folders are watched.
    pub fn folders(&self) -> usize {
        self.watched.len()
    }

    /// Waits for the next batch of changes that count (relative paths, sorted).
    pub async fn changed(&mut self) -> Vec<PathBuf> {
        loop {
            let batch = tokio::select! {
                batch = self.events.recv() => match batch {
                    Some(batch) => batch,
                    None => return std::future::pending().await,
                },
                // No event: only the roots are looked at.
                () = tokio::time::sleep(ROOT_CHECK) => Vec::new(),
            };
            let counted = self.take(batch);
            if !counted.is_empty() {
                return counted;
            }
        }
    }

    /// The changes that count among those already reported, without waiting.
    pub fn pending(&mut self) -> Vec<PathBuf> {
        let mut counted = BTreeSet::new();
        while let Ok(batch) = self.events.try_recv() {
            counted.extend(self.take(batch));
        }
        counted.into_iter().collect()
    }

    /// Watches folders that appeared (and counts the files already in them: a package
    /// restored by `git checkout` arrives whole), and keeps the paths that count.
    fn take(&mut self, batch: Vec<Change>) -> Vec<PathBuf> {
        if !batch.is_empty() {
            tracing::debug!("watch: changes {batch:?}");
        }
        // A watched folder that was removed (and perhaps made again at the same path,
        // often with the same inode number): notify keeps mapping the path to the dead
        // watch, so the watch starts afresh (a few folders; events already reported
        // stay in the channel).
        // A watched folder that went away took its sources with it (the events of the
        // files inside are not always reported before the folder's own): a change.
        let removed_folders: Vec<PathBuf> = batch
            .iter()
            .filter(|change| change.removed && self.watched.contains_key(&change.path))
            .map(|change| change.path.clone())
            .collect();
        // A folder gone, or another folder now at its path (moved away and made again
        // between two batches): its watch is on the old one. Without events, only the
        // roots are looked at (a few `stat`s, twice a second).
        let roots = self.matcher.roots();
        let whole = !batch.is_empty();
        let mut replaced: Vec<PathBuf> = self
            .watched
            .iter()
            .filter(|(dir, _)| whole || roots.contains(*dir))
            .filter(|(dir, id)| identity(dir) != Some(**id))
            .map(|(dir, _)| dir.clone())
            .collect();
        // A root that was gone and is back.
        let back: Vec<PathBuf> = roots
            .iter()
            .filter(|root| !self.watched.contains_key(*root) && root.is_dir())
            .filter(|root| {
                let relative = root.strip_prefix(&self.matcher.root).unwrap_or(root);
                !self.matcher.ignored(relative)
            })
            .cloned()
            .collect();
        // Said once the watch has started afresh (below), so that a line a person (or a
        // test) reacts to at once, "is gone", is true when it is read: said before the
        // restart, a folder made again meanwhile was watched again without "is back".
        let announce: Vec<PathBuf> = replaced
            .iter()
            .filter(|dir| roots.contains(*dir))
            .chain(&back)
            .cloned()
            .collect();
        let came_back = back.clone();
        replaced.extend(back);
        let lost = !removed_folders.is_empty() || !replaced.is_empty();
        // Folders not watched yet (new ones, and those made again): their files count,
        // since a package restored by `git checkout` arrives whole, before any watch
        // on it exists.
        let mut fresh: Vec<PathBuf> = batch
            .iter()
            .filter(|change| {
                let relative = change
                    .path
                    .strip_prefix(&self.matcher.root)
                    .unwrap_or(&change.path);
                change.path.is_dir()
                    && (lost || !self.watched.contains_key(&change.path))
                    && roots.iter().any(|root| change.path.starts_with(root))
                    && !self.matcher.ignored(relative)
            })
            .map(|change| change.path.clone())
            .collect();
        // A folder replaced by another at its path: its files arrived with it, maybe
        // before any event of the folder's own reached this batch.
        for dir in &replaced {
            if dir.is_dir() && !fresh.contains(dir) {
                fresh.push(dir.clone());
            }
        }
        if lost {
            let _ = self.restart();
        }
        for root in &announce {
            let shown = root.strip_prefix(&self.matcher.root).unwrap_or(root);
            let shown = shown.display();
            if came_back.contains(root) {
                tracing::info!("watch: {shown} is back: watching it again");
            } else if root.is_dir() {
                tracing::info!(
                    "watch: {shown} was replaced by another folder: watching the new one"
                );
            } else {
                tracing::info!("watch: {shown} is gone: it is watched again once it is made again");
            }
        }
        let mut paths: Vec<PathBuf> = batch.into_iter().map(|change| change.path).collect();
        for dir in &fresh {
            if let Err(err) = self.add_tree(dir) {
                tracing::debug!("watch: {err}");
            }
            paths.extend(files_below(dir));
        }
        let mut counted = BTreeSet::new();
        for folder in removed_folders {
            let relative = folder.strip_prefix(&self.matcher.root).unwrap_or(&folder);
            counted.insert(relative.to_path_buf());
        }
        for path in paths {
            if self.matcher.counts(&path) {
                let relative = path.strip_prefix(&self.matcher.root).unwrap_or(&path);
                counted.insert(relative.to_path_buf());
            }
        }
        counted.into_iter().collect()
    }

    /// A new debouncer over the current folders.
    fn restart(&mut self) -> Result<(), String> {
        self.debouncer = debouncer(self.debounce, self.sender.clone())?;
        self.watched.clear();
        self.add_roots()
    }

    /// Watches `dir` and every folder below it that is not ignored.
    fn add_tree(&mut self, dir: &Path) -> Result<(), String> {
        let mut stack = vec![dir.to_path_buf()];
        while let Some(dir) = stack.pop() {
            let relative = dir.strip_prefix(&self.matcher.root).unwrap_or(&dir);
            if self.matcher.ignored(relative) || self.watched.contains_key(&dir) {
                continue;
            }
            let Some(id) = identity(&dir) else {
                continue;
            };
            self.debouncer
                .watch(&dir, RecursiveMode::NonRecursive)
                .map_err(|err| format!("cannot watch {}: {err}", dir.display()))?;
            self.watched.insert(dir.clone(), id);
            if let Ok(entries) = std::fs::read_dir(&dir) {
                for entry in entries.flatten() {
                    if entry.file_type().is_ok_and(|t| t.is_dir()) {
                        stack.push(entry.path());
                    }
                }
            }
        }
        Ok(())
    }
}

/// One path that changed; `removed` when the change was its removal.
#[derive(Debug, Clone)]
struct Change {
    path: PathBuf,
    removed: bool,
}

/// A debouncer that sends the paths of each batch of changes (not of reads).
fn debouncer(
    debounce: Duration,
    sender: UnboundedSender<Vec<Change>>,
) -> Result<Debouncer<RecommendedWatcher, RecommendedCache>, String> {
    new_debouncer(
        debounce,
        Some(tick(debounce)),
        move |result: DebounceEventResult| {
            if let Ok(batch) = result {
                // A file opened or read (the backend starting reads its own sources) is not
                // a change: only writes, creations, removals and renames are.
                let paths: Vec<Change> = batch
                    .into_iter()
                    .filter(|event| !matches!(event.kind, EventKind::Access(_)))
                    .flat_map(|event| {
                        let removed = matches!(event.kind, EventKind::Remove(_));
                        let paths = event.event.paths;
                        paths.into_iter().map(move |path| Change { path, removed })
                    })
                    .collect();
                if !paths.is_empty() {
                    let _ = sender.send(paths);
                }
            }
        },
    )
    .map_err(|err| format!("cannot watch files: {err}"))
}

/// The files in `dir` and its folders.
fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => folders.push(entry.path()),
                Ok(_) => files.push(entry.path()),
                Err(_) => {}
            }
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(patterns: &[&str], ignore: &[&str]) -> Matcher {
        Matcher::new(&WatchSpec {
            root: PathBuf::from("/repo"),
            patterns: patterns.iter().map(|s| (*s).to_owned()).collect(),
            ignore: ignore.iter().map(|s| (*s).to_owned()).collect(),
            debounce: Duration::from_millis(100),
        })
        .expect("valid globs")
    }

    #[test]
    fn what_counts_as_a_change() {
        let m = matcher(
            &["backend/**/*.py"],
            &[".venv", "__pycache__", "*.swp", "*~", ".#*", "4913"],
        );
        let cases = [
            ("/repo/backend/main.py", true),
            ("/repo/backend/app/routes.py", true),
            ("backend/main.py", true),
            ("/repo/backend/.venv/lib/site.py", false),
            ("/repo/backend/__pycache__/main.cpython-311.pyc", false),
            ("/repo/backend/.main.py.swp", false),
            ("/repo/backend/main.py~", false),
            ("/repo/backend/4913", false),
            ("/repo/frontend/main.py", false),
            ("/repo/backend/notes.txt", false),
        ];
        for (path, expected) in cases {
            assert_eq!(m.counts(Path::new(path)), expected, "{path}");
        }
    }

    #[test]
    fn the_folders_watched_are_the_literal_prefixes() {
        let m = matcher(&["backend/**/*.py", "config/app.toml", "*.py"], &[]);
        let roots: Vec<PathBuf> = m.roots().into_iter().collect();
        assert_eq!(
            roots,
            [
                PathBuf::from("/repo/"),
                PathBuf::from("/repo/backend"),
                PathBuf::from("/repo/config"),
            ]
        );
    }

    #[test]
    fn dependency_and_build_folders_are_never_walked_unless_named() {
        let m = matcher(&["**/*.py"], &[]);
        for path in [
            "/repo/node_modules/x/y.py",
            "/repo/frontend/node_modules/a.py",
            "/repo/target/debug/b.py",
            "/repo/.dev/logs/c.py",
            "/repo/.git/hooks/d.py",
        ] {
            assert!(!m.counts(Path::new(path)), "{path}");
        }
        assert!(m.counts(Path::new("/repo/backend/main.py")));
        let named = matcher(&["target/gen/**/*.py"], &[]);
        assert!(named.counts(Path::new("/repo/target/gen/api.py")));
        assert!(!named.counts(Path::new("/repo/target/gen/node_modules/x.py")));
    }

    #[test]
    fn a_bad_glob_is_named() {
        let err = Matcher::new(&WatchSpec {
            root: PathBuf::from("/repo"),
            patterns: vec!["backend/[.py".into()],
            ignore: vec![],
            debounce: Duration::ZERO,
        })
        .expect_err("invalid");
        assert!(err.contains("backend/[.py"), "{err}");
    }
}
