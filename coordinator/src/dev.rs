//! `dev`: the whole run. Sync, check the port, start the backend (or reuse it), start
//! the frontend, supervise both, and stop everything it started on the way out.
//!
//! The supervisor's states are explicit in [`supervise`]: the frontend and (unless
//! reused) the backend are running; a backend crash moves to restarting with backoff;
//! a signal or the frontend's exit moves to terminating. Only processes in
//! [`Owned`] are ever stopped, so a reused backend survives every exit path.

use std::pin::pin;
use std::process::ExitStatus;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::backend::{self, Plan, StartOutcome};
use crate::config::{Config, display_path};
use crate::frontend_config;
use crate::health::HealthClient;
use crate::port::{self, PortState};
use crate::process::{self, ProcessSpec, Running};
use crate::prompt;
use crate::python;
use crate::report::{self, Cause, Context, FailureReport};
use crate::runlog::{Origin, RunLog};
use crate::signals::Shutdown;
use crate::venv;

/// A backend that stays up this long has its restart backoff reset.
const STABLE_AFTER: Duration = Duration::from_secs(60);

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
    let reused = match resolve_port(&mut config, policy, log).await {
        Ok(reused) => reused,
        Err(outcome) => return outcome,
    };
    let mut frontend_config = FrontendConfigGuard::new(log);
    if let Err(err) = frontend_config.point(&config) {
        return DevOutcome::Misconfigured(err.to_string());
    }
    let mut owned = Owned::default();
    let argv = match backend_argv(&config) {
        Ok(argv) => argv,
        Err(report) => return DevOutcome::Failed(Box::new(report.with(log))),
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
                    match resolve_port(&mut config, policy, log).await {
                        Ok(false) => {}
                        Ok(true) => break,
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
            Ok(running) => {
                log.info(&format!(
                    "started frontend pid {}: {}",
                    running.pid(),
                    argv.join(" ")
                ));
                owned.frontend = Some(running);
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
    let outcome = supervise(&config, &plan, &client, log, &mut shutdown, &mut owned).await;
    owned.stop_all(&config, log, &mut shutdown).await;
    if let DevOutcome::Failed(report) = &outcome {
        log.file_only(&report.to_string());
    }
    outcome
}

/// Settles the backend port: free (returns `false`: start one), ours and ready
/// (returns `true`: reuse it), or taken, when the offer of DESIGN section 7 is made and
/// `config.backend.port` may change. Refusals end the run.
async fn resolve_port(
    config: &mut Config,
    policy: port::Policy,
    log: &RunLog,
) -> Result<bool, DevOutcome> {
    // Classification must not hang on a process that accepts and never answers.
    let client = HealthClient::new(config.backend.health_timeout.min(Duration::from_secs(1)));
    // Each round either settles the port or changes something (a new port, a stopped
    // backend); the bound only guards against a port that keeps being stolen.
    for _ in 0..5 {
        let port = config.backend.port;
        let url = format!("{}{}", config.backend_url(), config.backend.health_path);
        let state = port::classify(
            &client,
            &url,
            log.correlation_id(),
            &config.backend.service,
            &config.root,
            port,
        )
        .await;
        let address = format!("{}:{port}", config.backend.host);
        match &state {
            PortState::Free => return Ok(false),
            PortState::Reusable(report) => {
                let pid = report.pid.map_or("unknown".into(), |p| p.to_string());
                log.info(&format!(
                    "reusing backend pid {pid} on {address} (started outside dev)"
                ));
                return Ok(true);
            }
            _ => {}
        }
        let described = state.describe(port);
        let Some(next) = port::next_free(port) else {
            return Err(refuse(
                log,
                &described,
                "stop the process holding it".into(),
            ));
        };
        let offer = port::offer(&state, next);
        log.warn(&capitalised(&described));
        let accepted = match port::decide_without_asking(offer, policy) {
            Some(choice) => Some(choice),
            None if policy.interactive => ask(offer),
            None => None,
        };
        match (offer, accepted) {
            (port::Offer::StopOrNextPort { pid, .. }, Some(true)) => {
                log.info(&format!("stopping our stale backend pid {pid}"));
                if !process::stop_pid(pid, config.dev.shutdown_grace).await {
                    return Err(refuse(
                        log,
                        &format!("our stale backend pid {pid} did not stop"),
                        format!("stop it by hand (kill {pid}), or rerun with --port auto"),
                    ));
                }
                // The kernel releases the listening socket a moment after the process
                // is gone; classifying at once could see a nameless holder.
                let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
                while !port::is_free(port) && tokio::time::Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            (
                port::Offer::NextPort(next) | port::Offer::StopOrNextPort { port: next, .. },
                Some(_),
            ) => {
                log.info(&format!("using port {next} instead of {port}"));
                config.backend.port = next;
            }
            (port::Offer::NextPort(next), None) => {
                return Err(refuse(
                    log,
                    &described,
                    format!(
                        "rerun with `cargo xtask dev --port auto` to use port {next}, or stop the process holding port {port}"
                    ),
                ));
            }
            (port::Offer::StopOrNextPort { pid, port: next }, None) => {
                return Err(refuse(
                    log,
                    &described,
                    format!(
                        "rerun with `cargo xtask dev --yes` to stop pid {pid}, or with `cargo xtask dev --port auto` to use port {next}"
                    ),
                ));
            }
        }
    }
    Err(refuse(
        log,
        "no port could be settled after 5 tries",
        "choose a port with --port N".into(),
    ))
}

/// Asks about an offer on the terminal: `Some(true)` takes its first choice,
/// `Some(false)` the second, `None` refuses both.
fn ask(offer: port::Offer) -> Option<bool> {
    match offer {
        port::Offer::NextPort(next) => {
            prompt::confirm(&format!("Use port {next} instead?"), true).then_some(true)
        }
        port::Offer::StopOrNextPort { pid, port: next } => {
            if prompt::confirm(&format!("Stop it (pid {pid})?"), false) {
                Some(true)
            } else if prompt::confirm(&format!("Use port {next} instead?"), true) {
                Some(false)
            } else {
                None
            }
        }
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().collect::<String>() + chars.as_str())
        .unwrap_or_default()
}

fn refuse(log: &RunLog, what: &str, fix: String) -> DevOutcome {
    fail_with(
        log,
        what,
        vec![],
        vec![Cause {
            cause: "the backend port is taken".into(),
            fix,
        }],
    )
}

/// The frontend config as `dev` left it, restored on every way out of the run.
struct FrontendConfigGuard {
    log: RunLog,
    written: Option<frontend_config::Written>,
    shown: String,
}

impl FrontendConfigGuard {
    fn new(log: &RunLog) -> Self {
        FrontendConfigGuard {
            log: log.clone(),
            written: None,
            shown: String::new(),
        }
    }

    /// Writes the backend's address into the frontend config, if it is not already
    /// there. The first write's "before" is what gets restored.
    fn point(&mut self, config: &Config) -> Result<(), frontend_config::FrontendConfigError> {
        let path = &config.frontend.config_file;
        self.shown = display_path(path, &config.root);
        if !path.exists() {
            self.log.warn(&format!(
                "{} does not exist: not writing the backend port into it",
                self.shown
            ));
            return Ok(());
        }
        let host = crate::health::probe_host(&config.backend.host);
        let outcome = frontend_config::point_at(
            path,
            &self.shown,
            &config.frontend.port_key,
            host,
            config.backend.port,
        )?;
        if let frontend_config::Outcome::Written { changes, undo } = outcome {
            for change in changes {
                self.log.info(&format!(
                    "{}: {} {} -> {}",
                    self.shown, change.key, change.old, change.new
                ));
            }
            match &mut self.written {
                // A second write (the port was chosen again) keeps the first "before".
                Some(first) => first.rewritten(undo),
                None => self.written = Some(undo),
            }
        }
        Ok(())
    }
}

impl Drop for FrontendConfigGuard {
    fn drop(&mut self) {
        let Some(written) = self.written.take() else {
            return;
        };
        match frontend_config::restore(&written) {
            frontend_config::Restore::Restored => {
                self.log.info(&format!("{}: restored", self.shown));
            }
            frontend_config::Restore::EditedMeanwhile => self.log.warn(&format!(
                "{}: edited since dev wrote it, so it was not restored",
                self.shown
            )),
            frontend_config::Restore::Failed(err) => {
                self.log
                    .warn(&format!("{}: could not restore: {err}", self.shown));
            }
        }
    }
}

/// The processes this run started, and so must stop.
#[derive(Debug, Default)]
struct Owned {
    backend: Option<Running>,
    frontend: Option<Running>,
}

impl Owned {
    /// Stops the frontend and the backend together; a second signal kills at once.
    async fn stop_all(&mut self, config: &Config, log: &RunLog, shutdown: &mut Shutdown) {
        let grace = config.dev.shutdown_grace;
        let hurry = Notify::new();
        let mut frontend = self.frontend.take();
        let mut backend = self.backend.take();
        let both = async {
            tokio::join!(
                stop_one(frontend.as_mut(), grace, &hurry, log),
                stop_one(backend.as_mut(), grace, &hurry, log)
            )
        };
        let mut both = pin!(both);
        let (front, back) = loop {
            tokio::select! {
                reports = &mut both => break reports,
                name = shutdown.next() => {
                    log.warn(&format!("{name} again: killing everything now"));
                    hurry.notify_waiters();
                }
            }
        };
        for stop in [front, back].into_iter().flatten() {
            report::log_killed(&stop, log);
        }
    }
}

async fn stop_one(
    running: Option<&mut Running>,
    grace: Duration,
    hurry: &Notify,
    log: &RunLog,
) -> Option<process::StopReport> {
    let running = running?;
    log.info(&format!(
        "stopping {} pid {}",
        origin_name(running.origin()),
        running.pid()
    ));
    Some(running.stop(grace, hurry.notified()).await)
}

/// Runs until a signal, the frontend's exit, or a backend that cannot be restarted.
async fn supervise(
    config: &Config,
    plan: &Plan,
    client: &HealthClient,
    log: &RunLog,
    shutdown: &mut Shutdown,
    owned: &mut Owned,
) -> DevOutcome {
    let mut restarts = 0u32;
    let mut backend_since = Instant::now();
    loop {
        tokio::select! {
            name = shutdown.next() => {
                log.info(&format!("{name} received: stopping what dev started"));
                return DevOutcome::Stopped;
            }
            status = wait_for(owned.frontend.as_mut()) => {
                let code = process::exit_code(status);
                log.info(&format!("frontend exited ({}): stopping", process::describe_status(status)));
                return DevOutcome::FrontendExited(code);
            }
            status = wait_for(owned.backend.as_mut()) => {
                if backend_since.elapsed() >= STABLE_AFTER {
                    restarts = 0;
                }
                restarts += 1;
                let Some(mut crashed) = owned.backend.take() else { continue };
                backend::stop_quietly(&mut crashed, config.dev.shutdown_grace, log).await;
                log.error(&format!(
                    "backend pid {} exited while running ({}); correlation id {}",
                    crashed.pid(),
                    process::describe_status(status),
                    log.correlation_id()
                ));
                for line in crashed.stderr_tail() {
                    log.error(&format!("  | {line}"));
                }
                let delay = backend::backoff(plan.retry_delay, restarts);
                log.info(&format!(
                    "restarting the backend on port {} in {} (restart {restarts})",
                    plan.port,
                    crate::config::duration::format(delay)
                ));
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    name = shutdown.next() => {
                        log.info(&format!("{name} received: stopping what dev started"));
                        return DevOutcome::Stopped;
                    }
                }
                match backend::start(plan, 1, client, log, shutdown).await {
                    StartOutcome::Ready { running, .. } => {
                        owned.backend = Some(running);
                        backend_since = Instant::now();
                    }
                    StartOutcome::Interrupted => return DevOutcome::Stopped,
                    // Restarts stay on the port the frontend already uses: a stolen
                    // port is a failure here, not a reason to move.
                    StartOutcome::Failed(failures) | StartOutcome::PortTaken { failures, .. } => {
                        let context = context(config, plan);
                        return DevOutcome::Failed(Box::new(FailureReport::backend(
                            log, &failures, &context,
                        )));
                    }
                }
            }
        }
    }
}

/// Waits for a process if there is one; forever otherwise (a disabled `select!` arm).
async fn wait_for(running: Option<&mut Running>) -> ExitStatus {
    match running {
        Some(running) => running.wait().await,
        None => std::future::pending().await,
    }
}

fn origin_name(origin: Origin) -> &'static str {
    match origin {
        Origin::Backend => "backend",
        Origin::Frontend => "frontend",
        Origin::Dev => "dev",
    }
}

/// The environment of DESIGN section 4, for both children.
fn child_env(config: &Config, log: &RunLog) -> Vec<(String, String)> {
    let backend = &config.backend;
    vec![
        ("BACKEND_HOST".into(), backend.host.clone()),
        ("BACKEND_PORT".into(), backend.port.to_string()),
        ("BACKEND_URL".into(), config.backend_url()),
        ("CORRELATION_ID".into(), log.correlation_id().to_owned()),
        ("PYTHONUNBUFFERED".into(), "1".into()),
    ]
}

/// A report that is still missing the run's ID and log file.
struct PendingReport {
    what: String,
    evidence: Vec<String>,
    causes: Vec<Cause>,
}

impl PendingReport {
    fn with(self, log: &RunLog) -> FailureReport {
        FailureReport::simple(log, &self.what, self.evidence, self.causes)
    }
}

/// Resolves `python` in the backend command: the venv's interpreter, else a system one.
fn backend_argv(config: &Config) -> Result<Vec<String>, PendingReport> {
    let mut argv = config.backend.command.clone();
    if argv.first().map(String::as_str) == Some("python") {
        let in_venv = python::venv_python(&config.backend.venv);
        let resolved = if in_venv.exists() {
            in_venv
        } else {
            python::discover()
                .map_err(|err| PendingReport {
                    what: format!("cannot run the backend command `{}`", argv.join(" ")),
                    evidence: vec![err.to_string()],
                    causes: vec![Cause {
                        cause: "no suitable Python interpreter is installed".into(),
                        fix: err.fix(),
                    }],
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
