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
use crate::signals::Shutdown;

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
    /// Ctrl-C (or SIGTERM) while it started: it was stopped; its exit code.
    Interrupted { code: Option<i32> },
}

/// What the foreground has learnt from the events so far.
#[derive(Debug, Default)]
struct Seen {
    id: String,
    log: Option<String>,
}

impl Seen {
    /// Takes in one event line; `Some` once the start is decided (`up`, `failed`).
    fn event(&mut self, line: &str, root: &Path) -> Option<Detached> {
        let event = serde_json::from_str::<serde_json::Value>(line).ok()?;
        let text = |key: &str| event.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        match event.get("event").and_then(|v| v.as_str())? {
            "run-started" => {
                self.log = text("log");
                self.id = text("correlation_id").unwrap_or_default();
                None
            }
            "up" => {
                let processes: Vec<Shown> = event
                    .get("processes")
                    .and_then(|p| serde_json::from_value(p.clone()).ok())
                    .unwrap_or_default();
                let shown_log = self
                    .log
                    .as_deref()
                    .map(|path| crate::config::display_path(Path::new(path), root));
                let ms = event.get("ms").and_then(serde_json::Value::as_u64);
                let lines = crate::dev::summary::detached(
                    &processes,
                    shown_log.as_deref(),
                    &self.id,
                    Duration::from_millis(ms.unwrap_or_default()),
                );
                Some(Detached::Up {
                    id: self.id.clone(),
                    lines,
                })
            }
            "failed" => Some(Detached::Failed {
                report: text("report").unwrap_or_else(|| "the run failed".into()),
            }),
            _ => None,
        }
    }
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
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let Ok(runtime) = runtime else {
        return Detached::NotStarted("cannot wait for the background run: no runtime".into());
    };
    let shutdown = {
        let _context = runtime.enter();
        Shutdown::install()
    };
    let Ok(mut shutdown) = shutdown else {
        return Detached::NotStarted("cannot wait for the background run: no signals".into());
    };
    // The pipe is read on a thread of its own; the foreground waits on its lines and on
    // Ctrl-C at once.
    let (lines, mut next) = tokio::sync::mpsc::unbounded_channel::<String>();
    let events = run.take_events();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(events).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Seen::default();
    loop {
        let got = runtime.block_on(async {
            tokio::select! {
                line = next.recv() => line.map(Some),
                _ = shutdown.next() => Some(None),
            }
        });
        match got {
            // The pipe closed: the run is gone.
            None => break,
            // Ctrl-C while it starts: it is stopped as Ctrl-C stops a run, and waited for.
            Some(None) => {
                if let Some(target) = crate::process::Target::process(run.pid) {
                    crate::process::ask_to_stop(target);
                }
                return Detached::Interrupted {
                    code: run.wait_exit(Duration::from_secs(60)),
                };
            }
            Some(Some(line)) => {
                echo(&line);
                if let Some(done) = seen.event(&line, root) {
                    if matches!(done, Detached::Failed { .. }) {
                        // It stops what it started and exits: return only once it has.
                        run.wait_exit(Duration::from_secs(60));
                    }
                    return done;
                }
            }
        }
    }
    let log = seen.log;
    Detached::Ended {
        code: run.wait_exit(Duration::from_secs(10)),
        log,
    }
}
