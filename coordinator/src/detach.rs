//! `dev --detach`: the run goes on in the background, and the command returns once it
//! is up (the summary) or has failed (the failure report, with nothing left running).
//!
//! The run in the background is this same program as `dev --message-format json`,
//! started by [`crate::process::spawn_detached`] in a process group of its own with no
//! terminal. Its event stream is how it tells the foreground how the start went: the
//! foreground reads events until `up` or `failed` and then stops reading (the run's
//! later events meet a closed pipe, which it ignores). One mechanism, the events, serves
//! both scripts that read them and the foreground that waits on them.

use std::ffi::OsString;
use std::io::BufRead;
use std::path::Path;
use std::time::Duration;

use crate::runs::Shown;

/// How a detached start went.
#[derive(Debug)]
pub enum Detached {
    /// Up: the summary's lines.
    Up { id: String, lines: Vec<String> },
    /// Failed: the failure report as people read it; the run has exited.
    Failed { report: String },
    /// The run ended without saying `up` or `failed` (a crash, a signal): its exit code
    /// when it exited, and its log file.
    Ended {
        code: Option<i32>,
        log: Option<String>,
    },
    /// It could not be started at all.
    NotStarted(String),
}

/// Starts `argv` (this program, `dev --message-format json ...`) in the background in
/// `root` and waits until it is up or has failed. `echo` gets each event line as it
/// comes (`--message-format json` passes them on).
pub fn start(argv: &[OsString], root: &Path, echo: &mut dyn FnMut(&str)) -> Detached {
    let mut run = match crate::process::spawn_detached(argv, root) {
        Ok(run) => run,
        Err(err) => {
            return Detached::NotStarted(format!(
                "cannot start `{}` in the background: {err}",
                argv.first()
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default()
            ));
        }
    };
    let mut log: Option<String> = None;
    let mut id = String::new();
    let reader = std::io::BufReader::new(&mut run.events);
    for line in reader.lines() {
        let Ok(line) = line else { break };
        echo(&line);
        let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        let text = |key: &str| event.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        match event.get("event").and_then(|v| v.as_str()) {
            Some("run-started") => {
                log = text("log");
                id = text("correlation_id").unwrap_or_default();
            }
            Some("up") => {
                let processes: Vec<Shown> = event
                    .get("processes")
                    .and_then(|p| serde_json::from_value(p.clone()).ok())
                    .unwrap_or_default();
                let shown_log = log
                    .as_deref()
                    .map(|path| crate::config::display_path(Path::new(path), root));
                let ms = event.get("ms").and_then(serde_json::Value::as_u64);
                let lines = crate::dev::summary::detached(
                    &processes,
                    shown_log.as_deref(),
                    &id,
                    Duration::from_millis(ms.unwrap_or_default()),
                );
                return Detached::Up { id, lines };
            }
            Some("failed") => {
                let report = text("report").unwrap_or_else(|| "the run failed".into());
                // It stops what it started and exits: return only once it has.
                run.wait_exit(Duration::from_secs(60));
                return Detached::Failed { report };
            }
            _ => {}
        }
    }
    Detached::Ended {
        code: run.wait_exit(Duration::from_secs(10)),
        log,
    }
}
