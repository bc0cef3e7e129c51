//! `cargo xtask stop`: a live run is asked to stop as Ctrl-C does, and waited for; dead
//! runs are cleaned up by the starting run's own code.

use std::time::{Duration, Instant};

use super::live_runs;
use crate::config::Config;
use crate::process::{self, Target};
use crate::runs::Record;
use crate::signals::Shutdown;

/// Which runs `cargo xtask stop` stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Which {
    /// The one live run (an error when there are several).
    TheOne,
    Id(String),
    All,
}

/// What `cargo xtask stop` did.
#[derive(Debug, Default)]
pub struct StopReport {
    /// The live runs stopped: ID and `dev` pid.
    pub stopped: Vec<(String, u32)>,
    /// The live runs still running at the deadline: ID and `dev` pid.
    pub still_running: Vec<(String, u32)>,
    /// What cleaning up after dead runs said (their leftovers stopped, the frontend
    /// config settled).
    pub cleaned: Vec<String>,
    /// No live run matched: why, in a sentence.
    pub no_run: Option<String>,
    /// Several live runs and none named: their IDs.
    pub ambiguous: Vec<String>,
    /// Records whose pid is a live process that is not `dev` (a planted or confused
    /// record): ID and pid, never signalled.
    pub not_dev: Vec<(String, u32)>,
}

/// `cargo xtask stop`: SIGTERM to each chosen run's `dev` (as Ctrl-C), a second one if
/// it is still stopping after its grace period (as a second Ctrl-C), and waits until it
/// is gone; then cleans up after dead runs as the next run would.
pub fn stop(config: &Config, which: &Which) -> StopReport {
    let live = live_runs(config);
    let mut report = StopReport::default();
    let chosen: Vec<Record> = match which {
        Which::All => live,
        Which::Id(id) => live
            .into_iter()
            .filter(|run| run.correlation_id == *id)
            .collect(),
        Which::TheOne if live.len() > 1 => {
            report.ambiguous = live.into_iter().map(|run| run.correlation_id).collect();
            return report;
        }
        Which::TheOne => live,
    };
    if chosen.is_empty() {
        report.no_run = Some(match which {
            Which::Id(id) => format!(
                "no live dev run {} in {}",
                crate::text::printable(id),
                config.root.display()
            ),
            _ => format!("no live dev run in {}", config.root.display()),
        });
    }
    let grace = config.dev.shutdown_grace;
    // A record is a file: the pid it names is asked to stop only when it runs this very
    // program, so a record naming someone's editor (with its start time) stops nothing.
    let (chosen, not_dev): (Vec<Record>, Vec<Record>) = chosen
        .into_iter()
        .partition(|run| process::runs_this_program(run.pid));
    report.not_dev = not_dev
        .into_iter()
        .map(|run| (run.correlation_id, run.pid))
        .collect();
    let asked: Vec<(Record, Target)> = chosen
        .into_iter()
        .map(|run| {
            let target = Target::Process {
                pid: run.pid,
                start_time: run.start_time,
            };
            process::ask_to_stop(target);
            (run, target)
        })
        .collect();
    // Its own stop takes up to the grace period (and its leftovers' round after it);
    // then a second SIGTERM hurries it, as a second Ctrl-C does.
    let hurry_at = Instant::now() + grace + Duration::from_secs(5);
    let give_up = hurry_at + Duration::from_secs(10);
    let mut hurried = false;
    loop {
        let running: Vec<&(Record, Target)> =
            asked.iter().filter(|(run, _)| run.is_live()).collect();
        if running.is_empty() {
            break;
        }
        if !hurried && Instant::now() >= hurry_at {
            for (_, target) in &running {
                process::ask_to_stop(*target);
            }
            hurried = true;
        }
        if Instant::now() >= give_up {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    for (run, _) in asked {
        let entry = (run.correlation_id.clone(), run.pid);
        if run.is_live() {
            report.still_running.push(entry);
        } else {
            report.stopped.push(entry);
        }
    }
    report.cleaned = clean_up_dead(config);
    report
}

/// [`crate::dev::clean_up_dead_runs`] on a runtime of its own; what it said.
fn clean_up_dead(config: &Config) -> Vec<String> {
    let said = std::cell::RefCell::new(Vec::new());
    let warn = |message: &str| said.borrow_mut().push(message.to_owned());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    if let Ok(runtime) = runtime {
        runtime.block_on(async {
            if let Ok(mut shutdown) = Shutdown::install() {
                crate::dev::clean_up_dead_runs(config, &warn, &mut shutdown).await;
            }
        });
    }
    said.into_inner()
}
