//! Watching the backend's sources (`backend.watch`) for the run: a save restarts it.

use std::time::Duration;

use super::outcome::DevOptions;
use crate::config::Config;
use crate::runlog::RunLog;
use crate::watch::{WatchSpec, Watcher};

/// Starts watching the backend's sources (`backend.watch`), unless `--no-watch` or no
/// patterns. A watch that cannot start is said, and the run goes on without it.
pub(super) fn start_watching(
    config: &Config,
    options: &DevOptions,
    log: &RunLog,
) -> Option<Watcher> {
    let backend = &config.backend;
    if options.no_watch || backend.watch.is_empty() {
        return None;
    }
    let mut ignore = backend.watch_ignore.clone();
    // The venv is never a source, wherever it is.
    if let Ok(venv) = backend.venv.strip_prefix(&config.root) {
        ignore.push(venv.display().to_string());
    }
    let spec = WatchSpec {
        root: config.root.clone(),
        patterns: backend.watch.clone(),
        ignore,
        // The debouncer only gathers one save's events (a write is several); the
        // supervisor waits `watch_debounce` without a change before it starts the
        // backend again, while the old one already stops.
        debounce: backend.watch_debounce.min(Duration::from_millis(20)),
    };
    match Watcher::start(&spec) {
        Ok(watcher) if watcher.folders() == 0 => {
            log.file_only(&format!(
                "not watching: no folder of this checkout matches {}",
                backend.watch.join(", ")
            ));
            None
        }
        Ok(watcher) => {
            let folders = watcher.folders();
            log.info(&format!(
                "watching {} for changes ({folders} folder{}; --no-watch turns it off)",
                backend.watch.join(", "),
                if folders == 1 { "" } else { "s" }
            ));
            Some(watcher)
        }
        Err(err) => {
            log.warn(&format!("not watching for changes: {err}"));
            None
        }
    }
}
