//! Supervision: the processes this run started, running until a signal, the
//! frontend's exit, or a backend that cannot be restarted; and stopping them.
//!
//! The backend is either [`Backend::Owned`] (this run started it: a crash is reported
//! and restarted with backoff) or [`Backend::Reused`] (another run's, or one started by
//! hand: never stopped; when it goes away and no live run will bring it back, this run
//! takes over and starts its own on the same port).

use std::pin::pin;
use std::process::ExitStatus;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::this_run::ThisRun;
use super::{DevOutcome, context};
use crate::backend::{self, FailureKind, Plan, StartOutcome};
use crate::config::Config;
use crate::health::HealthClient;
use crate::process::{self, Running};
use crate::report::{self, FailureReport};
use crate::runlog::{Origin, RunLog};
use crate::runs::BackendUse;
use crate::signals::Shutdown;

/// How often the supervisor looks around: a reused backend's port (a connect:
/// microseconds), orphans to reap, descendants that escaped their group.
const TICK: Duration = Duration::from_secs(1);

/// A backend that stays up this long has its restart backoff reset.
const STABLE_AFTER: Duration = Duration::from_secs(60);

/// The backend this run talks to.
#[derive(Debug)]
pub(super) enum Backend {
    /// Started by this run: stopped on the way out, restarted when it crashes.
    Owned(Running),
    /// Someone else's: never stopped.
    Reused(Reused),
}

/// Whose backend is reused.
#[derive(Debug, Clone)]
pub(super) struct Reused {
    pub(super) pid: Option<u32>,
    /// The correlation ID of the live run that owns it, if a run does.
    pub(super) run: Option<String>,
}

impl Reused {
    fn named(&self) -> String {
        let pid = self
            .pid
            .map_or_else(String::new, |pid| format!(" (pid {pid})"));
        match &self.run {
            Some(run) => format!("the backend of dev run {run}{pid}"),
            None => format!("the reused backend{pid}"),
        }
    }
}

/// The processes of this run.
#[derive(Debug, Default)]
pub(super) struct Processes {
    pub(super) backend: Option<Backend>,
    pub(super) frontend: Option<Running>,
}

/// The backend's process, when this run owns it.
fn owned(backend: &mut Option<Backend>) -> Option<&mut Running> {
    match backend {
        Some(Backend::Owned(running)) => Some(running),
        _ => None,
    }
}

impl Processes {
    /// Stops the frontend and an owned backend together; a second signal kills at once.
    pub(super) async fn stop_all(
        &mut self,
        config: &Config,
        log: &RunLog,
        shutdown: &mut Shutdown,
    ) {
        let grace = config.dev.shutdown_grace;
        let hurry = Notify::new();
        let mut frontend = self.frontend.take();
        let mut backend = match self.backend.take() {
            Some(Backend::Owned(running)) => Some(running),
            _ => None,
        };
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
    let report = running.stop(grace, hurry.notified()).await;
    // A process can exit before its last lines are copied (the output of `dev -- cmd`
    // is often all of it): print them before dev exits.
    running.drain_output(Duration::from_millis(500)).await;
    Some(report)
}

/// What the supervisor needs besides the processes.
struct Watch<'a> {
    config: &'a Config,
    plan: &'a Plan,
    client: &'a HealthClient,
    log: &'a RunLog,
}

/// Runs until a signal, the frontend's exit, or a backend that cannot be restarted.
pub(super) async fn supervise(
    config: &Config,
    plan: &Plan,
    client: &HealthClient,
    log: &RunLog,
    shutdown: &mut Shutdown,
    processes: &mut Processes,
    this_run: &mut ThisRun,
) -> DevOutcome {
    let watch = Watch {
        config,
        plan,
        client,
        log,
    };
    let mut restarts = 0u32;
    let mut backend_since = Instant::now();
    // Said once per outage of a reused backend, not once per tick.
    let mut outage_said = false;
    loop {
        tokio::select! {
            name = shutdown.next() => {
                log.info(&format!("{name} received: stopping what dev started"));
                return DevOutcome::Stopped;
            }
            () = tokio::time::sleep(TICK) => {
                process::reap_adopted();
                this_run.note_escaped();
                let Some(Backend::Reused(reused)) = &processes.backend else { continue };
                let reused = reused.clone();
                match look_at_reused(&watch, &reused, this_run, &mut outage_said, shutdown).await {
                    Look::Fine => {}
                    Look::TookOver(running) => {
                        processes.backend = Some(Backend::Owned(running));
                        backend_since = Instant::now();
                        restarts = 0;
                    }
                    Look::End(outcome) => return outcome,
                }
            }
            status = wait_for(processes.frontend.as_mut()) => {
                let code = process::exit_code(status);
                log.info(&format!("frontend exited ({}): stopping", process::describe_status(status)));
                return DevOutcome::FrontendExited(code);
            }
            status = wait_for(owned(&mut processes.backend)) => {
                if backend_since.elapsed() >= STABLE_AFTER {
                    restarts = 0;
                }
                restarts += 1;
                let Some(Backend::Owned(crashed)) = processes.backend.take() else { continue };
                match restart(&watch, crashed, status, restarts, this_run, shutdown).await {
                    Ok(running) => {
                        processes.backend = Some(Backend::Owned(running));
                        backend_since = Instant::now();
                    }
                    Err(outcome) => return outcome,
                }
            }
        }
    }
}

/// What a look at a reused backend found.
enum Look {
    Fine,
    TookOver(Running),
    End(DevOutcome),
}

/// A reused backend that stopped answering: wait while a live run that owns it is
/// there to bring it back; otherwise take over and start our own on the same port.
async fn look_at_reused(
    watch: &Watch<'_>,
    reused: &Reused,
    this_run: &mut ThisRun,
    outage_said: &mut bool,
    shutdown: &mut Shutdown,
) -> Look {
    let log = watch.log;
    let port = watch.plan.port;
    if tokio::net::TcpStream::connect(watch.plan.connect_addr)
        .await
        .is_ok()
    {
        if *outage_said {
            log.info(&format!("{} on port {port} answers again", reused.named()));
            *outage_said = false;
        }
        return Look::Fine;
    }
    let owner = this_run
        .others()
        .into_iter()
        .find(|run| run.owned_backend().is_some() && run.backend_port == Some(port));
    if let Some(owner) = owner {
        if !*outage_said {
            log.warn(&format!(
                "the backend of dev run {} (pid {}) on port {port} stopped answering; that run is live and restarts it",
                owner.correlation_id, owner.pid
            ));
            *outage_said = true;
        }
        return Look::Fine;
    }
    log.warn(&format!(
        "{} on port {port} is gone and no dev run will bring it back: taking over, starting our own (correlation id {})",
        reused.named(),
        log.correlation_id()
    ));
    match backend::start(watch.plan, 1, watch.client, log, shutdown).await {
        StartOutcome::Ready { running, .. } => {
            this_run.started("backend", &running, &watch.plan.spec.argv);
            let pid = running.pid();
            this_run.update(|record| record.backend = BackendUse::Owned { pid });
            *outage_said = false;
            Look::TookOver(running)
        }
        StartOutcome::Interrupted => Look::End(DevOutcome::Stopped),
        // Another run took over first: go on reusing what it started.
        StartOutcome::PortTaken { .. } => {
            log.info(&format!(
                "port {port} was taken meanwhile (another run took over): reusing it"
            ));
            Look::Fine
        }
        StartOutcome::Failed(failures) => {
            let context = context(watch.config, watch.plan);
            Look::End(DevOutcome::Failed(Box::new(FailureReport::backend(
                log, &failures, &context,
            ))))
        }
    }
}

/// An owned backend exited while running: report it, stop what it left, and start it
/// again after the backoff, on the same port (the frontend uses it).
async fn restart(
    watch: &Watch<'_>,
    mut crashed: Running,
    status: ExitStatus,
    restarts: u32,
    this_run: &mut ThisRun,
    shutdown: &mut Shutdown,
) -> Result<Running, DevOutcome> {
    let (config, plan, log) = (watch.config, watch.plan, watch.log);
    let kind = backend::exited(&crashed, status);
    let left = crashed.left_behind();
    if backend::stop_attempt(&mut crashed, config.dev.shutdown_grace, shutdown, log).await {
        return Err(DevOutcome::Stopped);
    }
    backend::stop_left_behind(&left, config.dev.shutdown_grace).await;
    crashed.drain_output(Duration::from_millis(500)).await;
    if let FailureKind::Forked { .. } = &kind {
        // Restarting a daemonizing command would start a second copy every time.
        let failure = backend::AttemptFailure {
            attempt: 1,
            kind,
            stderr_tail: crashed.stderr_tail(),
            last_probe: None,
            listening: true,
            bind_conflict: false,
            elapsed: Duration::ZERO,
        };
        let context = context(config, plan);
        return Err(DevOutcome::Failed(Box::new(FailureReport::backend(
            log,
            &[failure],
            &context,
        ))));
    }
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
            return Err(DevOutcome::Stopped);
        }
    }
    match backend::start(plan, 1, watch.client, log, shutdown).await {
        StartOutcome::Ready { running, .. } => {
            this_run.started("backend", &running, &plan.spec.argv);
            let pid = running.pid();
            this_run.update(|record| record.backend = BackendUse::Owned { pid });
            Ok(running)
        }
        StartOutcome::Interrupted => Err(DevOutcome::Stopped),
        // Restarts stay on the port the frontend already uses: a stolen port is a
        // failure here, not a reason to move.
        StartOutcome::Failed(failures) | StartOutcome::PortTaken { failures, .. } => {
            let context = context(config, plan);
            Err(DevOutcome::Failed(Box::new(FailureReport::backend(
                log, &failures, &context,
            ))))
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
