//! Supervision: the processes this run started, running until a signal, the
//! frontend's exit, or a backend that cannot be restarted; and stopping them.

use std::pin::pin;
use std::process::ExitStatus;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::{DevOutcome, context};
use crate::backend::{self, Plan, StartOutcome};
use crate::config::Config;
use crate::health::HealthClient;
use crate::process::{self, Running};
use crate::report::{self, FailureReport};
use crate::runlog::{Origin, RunLog};
use crate::signals::Shutdown;

/// How often a reused backend is checked for life (a connect: microseconds).
const REUSED_WATCH: Duration = Duration::from_secs(1);

/// A backend that stays up this long has its restart backoff reset.
const STABLE_AFTER: Duration = Duration::from_secs(60);

/// The processes this run started, and so must stop.
#[derive(Debug, Default)]
pub(super) struct Owned {
    pub(super) backend: Option<Running>,
    pub(super) frontend: Option<Running>,
}

impl Owned {
    /// Stops the frontend and the backend together; a second signal kills at once.
    pub(super) async fn stop_all(
        &mut self,
        config: &Config,
        log: &RunLog,
        shutdown: &mut Shutdown,
    ) {
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
    let report = running.stop(grace, hurry.notified()).await;
    // A process can exit before its last lines are copied (the output of `dev -- cmd`
    // is often all of it): print them before dev exits.
    running.drain_output(Duration::from_millis(500)).await;
    Some(report)
}

/// Runs until a signal, the frontend's exit, or a backend that cannot be restarted.
pub(super) async fn supervise(
    config: &Config,
    plan: &Plan,
    client: &HealthClient,
    log: &RunLog,
    shutdown: &mut Shutdown,
    owned: &mut Owned,
    reused: bool,
) -> DevOutcome {
    let mut restarts = 0u32;
    let mut backend_since = Instant::now();
    // A reused backend is not ours to restart, but its death must not go unnoticed.
    let mut reused_alive = reused;
    loop {
        tokio::select! {
            name = shutdown.next() => {
                log.info(&format!("{name} received: stopping what dev started"));
                return DevOutcome::Stopped;
            }
            () = tokio::time::sleep(REUSED_WATCH), if reused_alive => {
                if tokio::net::TcpStream::connect(plan.connect_addr).await.is_err() {
                    reused_alive = false;
                    log.error(&format!(
                        "the reused backend on port {} stopped answering; dev did not start it, so it does not restart it: restart dev to start one (correlation id {})",
                        plan.port,
                        log.correlation_id()
                    ));
                }
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
                if backend::stop_attempt(&mut crashed, config.dev.shutdown_grace, shutdown, log)
                    .await
                {
                    return DevOutcome::Stopped;
                }
                crashed.drain_output(Duration::from_millis(500)).await;
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
