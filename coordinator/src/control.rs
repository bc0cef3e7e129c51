//! `status`, `wait` and `stop`: a checkout's runs seen and stopped from another
//! terminal, a script or an editor.
//!
//! Everything here reads the runs' records in `.dev/runs/` ([`crate::runs`]), believed
//! as every reader believes them: a record is named by an ID of dev's own shape, and a
//! run is live only when its boot ID, pid and start time still hold. A live run is
//! stopped the way Ctrl-C stops it (SIGTERM to its `dev`, which stops what it started);
//! what a dead run left is stopped by the same code a starting run uses
//! ([`crate::dev::clean_up_dead_runs`]).

mod stop;
mod wait;

use std::path::PathBuf;

use serde::Serialize;

pub use stop::{StopReport, Which, stop};
pub use wait::{WaitOutcome, wait};

use crate::config::{Config, display_path};
use crate::health::{self, HealthClient, Readiness};
use crate::process;
use crate::runs::{Record, Runs, Shown};

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
