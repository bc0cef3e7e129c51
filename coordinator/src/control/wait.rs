//! `cargo xtask wait`: blocks until this checkout's run is up, has failed or ended, or
//! the timeout passes, by polling the runs' records.

use std::time::{Duration, Instant};

use super::{dev_runs, log_of, printable};
use crate::config::{Config, display_path};
use crate::runs::{Record, RunState};

/// How `cargo xtask wait` ended.
#[derive(Debug)]
pub enum WaitOutcome {
    /// A run is up: its record (the processes' text shown safely).
    Up(Box<Record>),
    /// The run failed: its failure report.
    Failed { id: String, report: String },
    /// The run ended before it was up (stopped, or failed too fast to be seen failing):
    /// the last lines of its log.
    Ended {
        id: String,
        log: Option<String>,
        tail: Vec<String>,
    },
    /// The timeout passed: what it was waiting for.
    TimedOut { waiting_for: String },
}

/// Blocks until this checkout's run is up, has failed or ended, or `timeout` passes. A
/// run that has not started yet is waited for too (`dev --detach &` then `wait`).
pub fn wait(config: &Config, timeout: Duration) -> WaitOutcome {
    let deadline = Instant::now() + timeout;
    let mut watched: Option<Record> = None;
    loop {
        let live = dev_runs(config);
        if let Some(up) = live.iter().rev().find(|run| run.state == RunState::Up) {
            let mut up = up.clone();
            up.processes = up.processes.iter().map(printable).collect();
            return WaitOutcome::Up(Box::new(up));
        }
        let now = match &watched {
            Some(seen) => live
                .iter()
                .find(|run| run.correlation_id == seen.correlation_id),
            None => live.last(),
        };
        match (now, &watched) {
            (Some(run), _) if run.state == RunState::Failed => return failed(run),
            (Some(run), _) => watched = Some(run.clone()),
            (None, Some(seen)) if seen.state == RunState::Failed => return failed(seen),
            (None, Some(seen)) => return ended(config, seen),
            (None, None) => {}
        }
        if Instant::now() >= deadline {
            let waiting_for = match &watched {
                Some(run) => format!(
                    "dev run {} (pid {}) to be up: it is waiting for {}",
                    run.correlation_id,
                    run.pid,
                    run.waiting_for.as_deref().map_or_else(
                        || "its ports and processes to be settled".to_owned(),
                        crate::text::printable
                    )
                ),
                None => "a dev run of this checkout to start: none did".to_owned(),
            };
            return WaitOutcome::TimedOut { waiting_for };
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn failed(run: &Record) -> WaitOutcome {
    WaitOutcome::Failed {
        id: run.correlation_id.clone(),
        report: run
            .failure
            .as_deref()
            .map_or_else(|| "the run failed".to_owned(), crate::text::printable_lines),
    }
}

/// The run is gone without being up: its log's last lines say why, once its `dev` has
/// exited (at most a few seconds after its record went), so that they are all written:
/// a run that failed too fast to be seen failing has its report there.
fn ended(config: &Config, seen: &Record) -> WaitOutcome {
    let correlation_id = seen.correlation_id.as_str();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && crate::process::pid_exists(seen.pid) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let path = log_of(config, correlation_id);
    let text = crate::user_file::read_to_string(&path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(crate::text::TAIL_LINES)..]
        .iter()
        .map(|line| {
            // `<time> <id> <LEVEL> [origin] text`: the text from the origin on.
            let text = line.find(" [").map_or(*line, |at| &line[at + 1..]);
            crate::text::printable(text)
        })
        .collect();
    WaitOutcome::Ended {
        id: correlation_id.to_owned(),
        log: path.exists().then(|| display_path(&path, &config.root)),
        tail,
    }
}
