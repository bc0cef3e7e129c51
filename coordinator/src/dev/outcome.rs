//! What the run's steps (`dev.rs` and `dev/*.rs`) share, so that none of them imports
//! it back from `dev.rs`: the options, how a step goes ([`Flow`]), how the run ends
//! ([`DevOutcome`]), the reports a step ends it with, and the environment every child
//! is started with ([`child_env`]).

use crate::backend::Plan;
use crate::config::Config;
use crate::report::{Cause, Context, FailureReport};
use crate::runlog::RunLog;

/// The value of a [`Flow`], or the end of the enclosing function with the run's
/// outcome (`proceed!(flow: ..)` in a function that itself returns a [`Flow`]).
macro_rules! proceed {
    (flow: $flow:expr) => {
        match $flow {
            std::ops::ControlFlow::Continue(value) => value,
            std::ops::ControlFlow::Break(outcome) => return std::ops::ControlFlow::Break(outcome),
        }
    };
    ($flow:expr) => {
        match $flow {
            std::ops::ControlFlow::Continue(value) => value,
            std::ops::ControlFlow::Break(outcome) => return outcome,
        }
    };
}
pub(super) use proceed;

/// What the command line asked for.
#[derive(Debug, Clone, Default)]
pub struct DevOptions {
    pub no_sync: bool,
    pub no_frontend: bool,
    /// `dev -- <cmd>`: run this in place of the configured frontend.
    pub frontend_command: Option<Vec<String>>,
    /// `--port auto`: take the offered free port without asking.
    pub port_auto: bool,
    /// `--yes`: accept every offer without asking.
    pub yes: bool,
    /// `--no-watch`: a change of the backend's sources does not restart it.
    pub no_watch: bool,
    /// `--frontend-port auto`: take the offered free frontend port without asking.
    pub frontend_port_auto: bool,
}

/// How a step of the run went: on with a value, or the run ends here with this outcome
/// (a stop by Ctrl-C is one way for a run to end, not an error of the step).
pub type Flow<T> = std::ops::ControlFlow<DevOutcome, T>;

/// How a run ended.
#[derive(Debug)]
pub enum DevOutcome {
    /// Ctrl-C or SIGTERM, everything stopped.
    Stopped,
    /// The frontend (or `dev -- <cmd>`) exited with this code.
    FrontendExited(i32),
    Failed(Box<FailureReport>),
    /// A configuration problem found while running (the frontend config file).
    Misconfigured(String),
}

/// What a backend failure report says of the run: its command and port.
pub(super) fn context(config: &Config, plan: &Plan) -> Context {
    Context {
        command: config.backend.command.clone(),
        port: plan.port,
        startup_timeout_key: "backend.startup_timeout",
    }
}

/// The run ends with a report of `what` went wrong, and its evidence.
pub(super) fn fail(log: &RunLog, what: &str, evidence: Vec<String>) -> DevOutcome {
    fail_with(log, what, evidence, vec![])
}

/// The run ends with a report of `what` went wrong, its evidence and likely causes.
pub(super) fn fail_with(
    log: &RunLog,
    what: &str,
    evidence: Vec<String>,
    causes: Vec<Cause>,
) -> DevOutcome {
    let report = FailureReport::simple(log, what, evidence, causes);
    log.file_only(&report.to_string());
    DevOutcome::Failed(Box::new(report))
}

/// The environment the children get (README, `cargo xtask dev`), for every child. Their output reaches the
/// terminal through a pipe, so when `dev` writes colour there they are told to as well.
pub(super) fn child_env(config: &Config, log: &RunLog) -> Vec<(String, String)> {
    let backend = &config.backend;
    let mut env = vec![
        ("BACKEND_HOST".into(), backend.host.clone()),
        ("BACKEND_PORT".into(), backend.port.to_string()),
        ("BACKEND_URL".into(), config.backend_url()),
        ("CORRELATION_ID".into(), log.correlation_id().to_owned()),
        ("PYTHONUNBUFFERED".into(), "1".into()),
    ];
    if log.colour().stdout {
        env.push(("FORCE_COLOR".into(), "1".into()));
        env.push(("CLICOLOR_FORCE".into(), "1".into()));
    }
    // The frontend's address: where it listens, and the origin the backend allows.
    if let (Some(port), Some(url)) = (config.frontend.port, config.frontend_url()) {
        env.push(("FRONTEND_HOST".into(), config.frontend.host.clone()));
        env.push(("FRONTEND_PORT".into(), port.to_string()));
        env.push(("FRONTEND_URL".into(), url));
    }
    env.push(("FRONTEND_ORIGINS".into(), config.frontend.origins.join(" ")));
    // Each `[process.NAME]` with a port: `REDIS_PORT`, `REDIS_URL`.
    for process in &config.processes {
        if let (Some(port), Some(url)) = (process.port, process.url()) {
            let prefix = process.env_prefix();
            env.push((format!("{prefix}_PORT"), port.to_string()));
            env.push((format!("{prefix}_URL"), url));
        }
    }
    env
}
