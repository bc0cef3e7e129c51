//! `dev`: the whole run. Sync, check the port, start the backend (or reuse it), start
//! the frontend, supervise both, and stop everything it started on the way out.
//!
//! The supervisor's states are explicit in [`supervise`]: the frontend and (unless
//! reused) the backend are running; a backend crash moves to restarting with backoff;
//! a signal or the frontend's exit moves to terminating. Only processes in
//! [`Owned`] are ever stopped, so a reused backend survives every exit path.

mod choose_port;
mod frontend_guard;
mod frontend_port;
mod frontend_ready;
mod supervise;

use choose_port::resolve_port;
use frontend_guard::FrontendConfigGuard;
use supervise::{Owned, supervise};

use crate::backend::{self, Plan, StartOutcome};
use crate::config::{Config, display_path};
use crate::health::HealthClient;
use crate::port;
use crate::process::{self, ProcessSpec};
use crate::prompt;
use crate::python;
use crate::report::{Cause, Context, FailureReport};
use crate::runlog::{Origin, RunLog};
use crate::signals::Shutdown;
use crate::venv;

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
    /// `--frontend-port auto`: take the offered free frontend port without asking.
    pub frontend_port_auto: bool,
}

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

impl DevOutcome {
    pub fn exit_code(&self) -> i32 {
        match self {
            DevOutcome::Stopped => 0,
            DevOutcome::FrontendExited(code) => *code,
            DevOutcome::Failed(_) => 1,
            DevOutcome::Misconfigured(_) => 2,
        }
    }
}

/// Runs `dev` to the end on a single-threaded runtime.
pub fn run(config: &Config, options: &DevOptions, log: &RunLog) -> DevOutcome {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    match runtime {
        Ok(runtime) => runtime.block_on(run_async(config, options, log)),
        Err(err) => fail(
            log,
            &format!("cannot start the async runtime: {err}"),
            vec![],
        ),
    }
}

async fn run_async(config: &Config, options: &DevOptions, log: &RunLog) -> DevOutcome {
    log.info(&format!(
        "run {} in {}",
        log.correlation_id(),
        config.root.display()
    ));
    if let Some(path) = log.path() {
        log.info(&format!("log file: {}", display_path(path, &config.root)));
    }
    if options.no_sync {
        log.info("--no-sync: not syncing the Python environment");
    } else if let Err(err) = venv::sync(&config.backend, &config.root, &lock_dir(config), log) {
        return fail(
            log,
            "the Python environment could not be synced",
            vec![err.to_string()],
        );
    }
    let mut shutdown = match Shutdown::install() {
        Ok(shutdown) => shutdown,
        Err(err) => return fail(log, &format!("cannot handle signals: {err}"), vec![]),
    };
    let policy = port::Policy {
        auto: options.port_auto,
        yes: options.yes,
        interactive: prompt::interactive(),
    };
    let mut config = config.clone();
    let client = HealthClient::new(config.backend.health_timeout);
    let mut reused = match resolve_port(&mut config, policy, log, &mut shutdown).await {
        Ok(reused) => reused,
        Err(outcome) => return outcome,
    };
    if options.frontend_command.is_some() {
        // `dev -- cmd` runs a command, not the frontend's server.
        config.frontend.port = None;
    }
    if !options.no_frontend {
        let policy = port::Policy {
            auto: options.frontend_port_auto,
            ..policy
        };
        let settled =
            frontend_port::resolve_frontend_port(&mut config, policy, log, &mut shutdown).await;
        if let Err(outcome) = settled {
            return outcome;
        }
    }
    let mut frontend_config = FrontendConfigGuard::new(&config, log);
    if let Err(err) = frontend_config.point(&config) {
        return DevOutcome::Misconfigured(err.to_string());
    }
    let mut owned = Owned::default();
    let argv = match backend_argv(&config, log) {
        Ok(argv) => argv,
        Err(outcome) => return outcome,
    };
    let mut plan = Plan::new(&config, argv.clone(), child_env(&config, log));
    if !reused {
        let mut failures = Vec::new();
        let mut next_attempt = 1;
        loop {
            match backend::start(&plan, next_attempt, &client, log, &mut shutdown).await {
                StartOutcome::Ready { running, .. } => {
                    owned.backend = Some(running);
                    break;
                }
                StartOutcome::Interrupted => {
                    log.info("stopped before the backend was ready");
                    return DevOutcome::Stopped;
                }
                StartOutcome::Failed(more) => {
                    failures.extend(more);
                    let context = context(&config, &plan);
                    return DevOutcome::Failed(Box::new(FailureReport::backend(
                        log, &failures, &context,
                    )));
                }
                StartOutcome::PortTaken {
                    failures: more,
                    next_attempt: next,
                } => {
                    failures.extend(more);
                    next_attempt = next;
                    log.warn(&format!(
                        "port {} was taken after it was chosen: choosing again",
                        config.backend.port
                    ));
                    match resolve_port(&mut config, policy, log, &mut shutdown).await {
                        Ok(false) => {}
                        Ok(true) => {
                            reused = true;
                            break;
                        }
                        Err(outcome) => return outcome,
                    }
                    if let Err(err) = frontend_config.point(&config) {
                        return DevOutcome::Misconfigured(err.to_string());
                    }
                    plan = Plan::new(&config, argv.clone(), child_env(&config, log));
                }
            }
        }
    }
    if !options.no_frontend {
        let argv = options
            .frontend_command
            .clone()
            .unwrap_or_else(|| config.frontend.command.clone());
        let spec = ProcessSpec {
            origin: Origin::Frontend,
            argv: argv.clone(),
            cwd: config.root.clone(),
            env: child_env(&config, log),
        };
        match process::spawn(&spec, log) {
            Ok(mut running) => {
                log.info(&format!(
                    "started frontend pid {}: {}",
                    running.pid(),
                    argv.join(" ")
                ));
                let ready =
                    frontend_ready::wait_frontend(&config, &mut running, log, &mut shutdown);
                let ready = ready.await;
                owned.frontend = Some(running);
                if let Err(outcome) = ready {
                    owned.stop_all(&config, log, &mut shutdown).await;
                    return outcome;
                }
            }
            Err(err) => {
                let outcome = fail_with(
                    log,
                    &format!("could not start the frontend `{}`: {err}", argv.join(" ")),
                    vec![],
                    vec![Cause {
                        cause: format!("`{}` is not installed or not on PATH", argv[0]),
                        fix: "install it, or correct `frontend.command` in dev.toml".into(),
                    }],
                );
                owned.stop_all(&config, log, &mut shutdown).await;
                return outcome;
            }
        }
    }
    let outcome = supervise(
        &config,
        &plan,
        &client,
        log,
        &mut shutdown,
        &mut owned,
        reused,
    )
    .await;
    owned.stop_all(&config, log, &mut shutdown).await;
    if let DevOutcome::Failed(report) = &outcome {
        log.file_only(&report.to_string());
    }
    outcome
}

/// The environment of DESIGN section 4, for both children.
fn child_env(config: &Config, log: &RunLog) -> Vec<(String, String)> {
    let backend = &config.backend;
    let mut env = vec![
        ("BACKEND_HOST".into(), backend.host.clone()),
        ("BACKEND_PORT".into(), backend.port.to_string()),
        ("BACKEND_URL".into(), config.backend_url()),
        ("CORRELATION_ID".into(), log.correlation_id().to_owned()),
        ("PYTHONUNBUFFERED".into(), "1".into()),
    ];
    // The frontend's address: where it listens, and the origin the backend allows.
    if let (Some(port), Some(url)) = (config.frontend.port, config.frontend_url()) {
        env.push(("FRONTEND_HOST".into(), config.frontend.host.clone()));
        env.push(("FRONTEND_PORT".into(), port.to_string()));
        env.push(("FRONTEND_URL".into(), url));
    }
    env.push(("FRONTEND_ORIGINS".into(), config.frontend.origins.join(" ")));
    env
}

/// Resolves `python` in the backend command: the venv's interpreter, else a system one.
fn backend_argv(config: &Config, log: &RunLog) -> Result<Vec<String>, DevOutcome> {
    let mut argv = config.backend.command.clone();
    if argv.first().map(String::as_str) == Some("python") {
        let in_venv = python::venv_python(&config.backend.venv);
        let resolved = if in_venv.exists() {
            in_venv
        } else {
            python::discover()
                .map_err(|err| {
                    fail_with(
                        log,
                        &format!("cannot run the backend command `{}`", argv.join(" ")),
                        vec![err.to_string()],
                        vec![Cause {
                            cause: "no suitable Python interpreter is installed".into(),
                            fix: err.fix(),
                        }],
                    )
                })?
                .executable
        };
        argv[0] = resolved.display().to_string();
    }
    Ok(argv)
}

fn context(config: &Config, plan: &Plan) -> Context {
    Context {
        command: config.backend.command.clone(),
        port: plan.port,
        startup_timeout_key: "backend.startup_timeout",
    }
}

fn lock_dir(config: &Config) -> std::path::PathBuf {
    config.root.join(".dev")
}

fn fail(log: &RunLog, what: &str, evidence: Vec<String>) -> DevOutcome {
    fail_with(log, what, evidence, vec![])
}

fn fail_with(log: &RunLog, what: &str, evidence: Vec<String>, causes: Vec<Cause>) -> DevOutcome {
    let report = FailureReport::simple(log, what, evidence, causes);
    log.file_only(&report.to_string());
    DevOutcome::Failed(Box::new(report))
}
