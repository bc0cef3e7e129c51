//! `status`, `wait` and `stop`: a checkout's runs seen and stopped from another
//! terminal, a script or an editor.
//!
//! Everything here reads the runs' records in `.dev/runs/` ([`crate::runs`]), believed
//! as every reader believes them: a record is named by an ID of dev's own shape, and a
//! run is live only when its boot ID, pid and start time still hold. A live run is
//! stopped the way Ctrl-C stops it (SIGTERM to its `dev`, which stops what it started);
//! what a dead run left is stopped by the same code a starting run uses
//! ([`crate::dev::clean_up_dead_runs`]).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::{Config, display_path};
use crate::health::{self, HealthClient, Readiness};
use crate::process::{self, Target};
use crate::runs::{Record, RunState, Runs, Shown};
use crate::signals::Shutdown;

/// The version of `status --json`'s schema (README, "Scripts, CI and editors").
pub const STATUS_VERSION: u32 = 1;

/// `status --json`: the checkout's live runs.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub version: u32,
    pub runs: Vec<RunStatus>,
}

impl Status {
    /// Whether a run is up (exit 0 rather than 3).
    pub fn any_up(&self) -> bool {
        self.runs.iter().any(|run| run.state == "up")
    }
}

/// One live run.
#[derive(Debug, Clone, Serialize)]
pub struct RunStatus {
    pub id: String,
    pub pid: u32,
    /// `starting`, `up` or `failed`.
    pub state: &'static str,
    pub uptime_ms: u64,
    /// What a starting run waits for.
    pub waiting_for: Option<String>,
    pub processes: Vec<ProcessStatus>,
    pub frontend_config: Option<FrontendConfigStatus>,
    pub log: Option<String>,
}

/// One process of a live run, with its health now.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessStatus {
    #[serde(flatten)]
    pub shown: Shown,
    /// `healthy`, `serving`, `running`, or what is wrong (`not ready: ...`, `gone`).
    pub health: String,
}

/// The frontend config's value now.
#[derive(Debug, Clone, Serialize)]
pub struct FrontendConfigStatus {
    pub path: String,
    pub key: String,
    pub value: Option<String>,
}

/// The live runs of the checkout, oldest first (records of dead runs are not shown).
pub fn live_runs(config: &Config) -> Vec<Record> {
    Runs::of(&config.root)
        .read_all()
        .into_iter()
        .filter(Record::is_live)
        .collect()
}

/// The live runs whose `dev` is this program (a record naming another live program is
/// no run of ours), oldest first.
fn dev_runs(config: &Config) -> Vec<Record> {
    live_runs(config)
        .into_iter()
        .filter(|run| process::runs_this_program(run.pid))
        .collect()
}

/// `cargo xtask status`: the live runs, each process asked how it is now.
pub fn status(config: &Config) -> Status {
    let runs = dev_runs(config);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let mut statuses = Vec::new();
    for run in &runs {
        let processes = match &runtime {
            Ok(runtime) => runtime.block_on(health_now(config, run)),
            Err(err) => run
                .processes
                .iter()
                .map(|shown| ProcessStatus {
                    shown: shown.clone(),
                    health: format!("unknown: {err}"),
                })
                .collect(),
        };
        statuses.push(RunStatus {
            id: run.correlation_id.clone(),
            pid: run.pid,
            state: run.state.as_str(),
            uptime_ms: u64::try_from(run.uptime().as_millis()).unwrap_or(u64::MAX),
            waiting_for: run.waiting_for.as_deref().map(crate::text::printable),
            processes,
            frontend_config: frontend_config_now(config),
            log: Some(log_of(config, &run.correlation_id))
                .filter(|path| path.exists())
                .map(|path| display_path(&path, &config.root)),
        });
    }
    Status {
        version: STATUS_VERSION,
        runs: statuses,
    }
}

/// Each process of `run` with its health now: the backend's health answer, whether the
/// frontend answers on its URL, whether a command's pid still runs.
async fn health_now(config: &Config, run: &Record) -> Vec<ProcessStatus> {
    let client = HealthClient::new(config.backend.health_timeout);
    let mut statuses = Vec::new();
    for shown in &run.processes {
        let health = match (shown.role.as_str(), asked_at(config, shown)) {
            ("backend", Some(url)) => {
                let health_url = format!(
                    "{}{}",
                    url.trim_end_matches('/'),
                    config.backend.health_path
                );
                let probe = client.probe(&health_url, &run.correlation_id).await;
                let format = config.backend.health_format;
                match health::readiness(&probe, format, config.backend.accept_degraded) {
                    Readiness::Ready => "healthy".to_owned(),
                    Readiness::Degraded(failing) => format!("degraded: {}", parts(&failing)),
                    Readiness::NotReady(why) => format!("not ready: {why}"),
                    Readiness::Failing { why, .. } => format!("not ready: {why}"),
                    Readiness::Never(mismatch) => format!("not ready: {}", mismatch.evidence()),
                }
            }
            (_, Some(url)) => match client.status(&url, &run.correlation_id).await {
                Ok(code) => format!("serving (HTTP {code})"),
                Err(why) => format!("not answering: {why}"),
            },
            (_, None) => match shown.pid {
                Some(pid) if process::pid_exists(pid) => "running".to_owned(),
                Some(_) => "gone".to_owned(),
                None => "unknown".to_owned(),
            },
        };
        statuses.push(ProcessStatus {
            shown: printable(shown),
            health: crate::text::printable(&health),
        });
    }
    statuses
}

/// A recorded process with the text it carries shown safely (a record is a file from
/// outside: its control characters are escaped).
fn printable(shown: &Shown) -> Shown {
    let text = |value: &Option<String>| value.as_deref().map(crate::text::printable);
    Shown {
        role: crate::text::printable(&shown.role),
        url: text(&shown.url),
        port: shown.port,
        pid: shown.pid,
        how: crate::text::printable(&shown.how),
        reused_from: text(&shown.reused_from),
        moved: text(&shown.moved),
        command: text(&shown.command),
    }
}

/// Where to ask a recorded process how it is: built from this checkout's config and the
/// recorded port alone. A record is a file anyone could have written, so a URL in it is
/// shown, never requested: requests go to loopback (or the configured `backend.url`).
fn asked_at(config: &Config, shown: &Shown) -> Option<String> {
    let port = shown.port;
    match shown.role.as_str() {
        "backend" if shown.how == "remote" => config.backend.url.clone(),
        "backend" => Some(config.with_ports(port?, None).backend_url()),
        "frontend" => config
            .with_ports(config.backend.port, Some(port?))
            .frontend_url()
            .map(|url| format!("{url}/")),
        _ => None,
    }
}

fn parts(failing: &[(String, String)]) -> String {
    failing
        .iter()
        .map(|(part, error)| format!("{part} ({error})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The frontend config's port value now, when the file exists.
fn frontend_config_now(config: &Config) -> Option<FrontendConfigStatus> {
    let path = &config.frontend.config_file;
    if !path.exists() {
        return None;
    }
    let shown = display_path(path, &config.root);
    let key = &config.frontend.port_key;
    let value = crate::frontend_config::read(path, &shown, key)
        .ok()
        .flatten();
    Some(FrontendConfigStatus {
        path: shown,
        key: key.clone(),
        value: value.map(|v| crate::text::printable(&v)),
    })
}

/// A run's log file, from its ID (which the record's name and content were checked to
/// carry): never a path read from the record itself.
fn log_of(config: &Config, correlation_id: &str) -> PathBuf {
    config.dev.log_dir.join(format!("{correlation_id}.log"))
}

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
            (None, Some(seen)) => return ended(config, &seen.correlation_id),
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

/// The run is gone without being up: its log's last lines say why.
fn ended(config: &Config, correlation_id: &str) -> WaitOutcome {
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
