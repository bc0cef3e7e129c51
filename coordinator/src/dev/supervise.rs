//! Supervision: the processes this run started, running until a signal, the
//! frontend's exit, or a backend that cannot be restarted; and stopping them.
//!
//! The backend is either [`Backend::Owned`] (this run started it: a crash is reported
//! and restarted with backoff) or [`Backend::Reused`] (another run's, or one started by
//! hand: never stopped; when it goes away and no live run will bring it back, this run
//! takes over and starts its own on the same port).

use std::future::Future;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::liveness::{Liveness, Verdict};
use super::outcome::{DevOutcome, Flow, context, proceed};
use super::processes::{Backend, Processes, Reused, owned};
use super::run::Run;
use super::this_run::ThisRun;
use crate::backend::{self, AttemptFailure, FailureKind, Plan, StartOutcome};
use crate::config::Config;
use crate::connect;
use crate::events::Event;
use crate::health::{HealthClient, Probe};
use crate::process::{self, Running};
use crate::report::FailureReport;
use crate::runlog::RunLog;
use crate::signals::Shutdown;
use crate::watch::Watcher;

/// How often the supervisor looks around: orphans to reap, descendants that escaped
/// their group. Each look reads the whole process table, so not often: an escaped
/// descendant is also stopped on every way out, and a run killed within these seconds of
/// a double fork is the only case this record is for.
const TICK: Duration = Duration::from_secs(5);

/// A backend that stays up this long has its restart backoff reset.
const STABLE_AFTER: Duration = Duration::from_secs(60);

/// What the supervisor needs besides the processes.
pub(super) struct Watch<'a> {
    pub(super) config: &'a Config,
    pub(super) plan: &'a Plan,
    pub(super) client: &'a HealthClient,
    pub(super) log: &'a RunLog,
}

/// The run as the supervisor's steps act on it: what is fixed for the run (`watch`: the
/// config, the plan, the health client, the log) and what a step may wait on or change
/// (the shutdown requests, this run's record).
pub(super) struct Supervised<'a> {
    pub(super) watch: &'a Watch<'a>,
    pub(super) shutdown: &'a mut Shutdown,
    pub(super) this_run: &'a mut ThisRun,
}

/// Where the backend is, as the supervisor acts on it. The backoff is a phase with a
/// deadline, and the start after it a phase raced against the frontend's exit and a
/// save, never an `await` inside an event's handler; a restart after a save and a
/// takeover are raced against the frontend's exit. A handler awaits on its own only a
/// stop (bounded by `shutdown_grace`) and one probe (bounded by the interval), so the
/// frontend's exit, a saved file and a signal are seen in every phase.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Up since then (ours and ready, reused, or remote): probed for liveness. A minute
    /// up resets the restart count.
    Up { since: Instant },
    /// Ours, down and stopped after a crash: starts again at `until`, or at once when a
    /// watched source is saved meanwhile.
    Backoff { until: Instant },
    /// Ours, starting again after the backoff (one attempt, bounded by
    /// `startup_timeout`).
    Starting,
    /// Ours, broken by a save: waits for the next one.
    Broken,
}

/// What the supervisor saw while the backend was starting again.
enum WhileStarting {
    Started(StartOutcome),
    FrontendExited(ExitStatus),
    Changed(Vec<PathBuf>),
}

/// Why an owned backend is restarted.
enum Down {
    Exited(ExitStatus),
    /// Liveness failed: the last probe.
    Unresponsive(Probe),
}

/// The restart policy's memory: the failures in a row, each soon after becoming ready.
#[derive(Default)]
struct Restarts {
    in_a_row: Vec<AttemptFailure>,
}

/// Runs until a signal, the frontend's exit, or a backend that cannot be restarted.
pub(super) async fn supervise(
    watch: &Watch<'_>,
    run: &mut Run<'_>,
    processes: &mut Processes,
    mut watcher: Option<Watcher>,
) -> DevOutcome {
    let config = watch.config;
    let interval = config.backend.liveness_interval;
    let mut state = Supervisor {
        run: Supervised {
            watch,
            shutdown: &mut *run.shutdown,
            this_run: &mut *run.this_run,
        },
        // A probe may take at most one interval, so that a hung backend is declared
        // dead after `liveness_failures` intervals, not that many `health_timeout`s.
        // The run's client (its CA file), with a shorter timeout.
        prober: watch
            .client
            .with_timeout(config.backend.health_timeout.min(interval)),
        liveness: Liveness::new(config.backend.liveness_failures),
        next_probe: Instant::now() + interval,
        restarts: Restarts::default(),
        phase: Phase::Up {
            since: Instant::now(),
        },
        reused_change_said: false,
    };
    loop {
        if let Phase::Starting = state.phase {
            let step = state.starting(processes, watcher.as_mut()).await;
            if let Flow::Break(outcome) = step {
                return outcome;
            }
            continue;
        }
        let backoff = match state.phase {
            Phase::Backoff { until } => Some(until),
            _ => None,
        };
        let step = tokio::select! {
            paths = changed(watcher.as_mut()) => {
                state.on_change(paths, processes, watcher.as_mut()).await
            }
            name = state.run.shutdown.next() => {
                watch.log.info(&format!("{name} received: stopping what dev started"));
                Flow::Break(DevOutcome::Stopped)
            }
            () = tokio::time::sleep(TICK) => {
                process::reap_adopted();
                state.run.this_run.note_escaped();
                Flow::Continue(())
            }
            () = tokio::time::sleep_until(state.next_probe), if processes.backend.is_some() => {
                state.on_probe(processes).await
            }
            status = wait_for(processes.frontend.as_mut()) => {
                Flow::Break(state.on_frontend_exit(processes, status))
            }
            status = wait_for(owned(&mut processes.backend)) => {
                state.on_backend_exit(processes, status).await
            }
            () = tokio::time::sleep_until(backoff.unwrap_or_else(Instant::now)), if backoff.is_some() => {
                state.phase = Phase::Starting;
                Flow::Continue(())
            }
            happened = processes.extras.next() => {
                let mut cx = super::extra::Cx {
                    config,
                    log: watch.log,
                    client: watch.client,
                    shutdown: &mut *state.run.shutdown,
                    this_run: &mut *state.run.this_run,
                    frontend_url: processes.frontend_url.clone(),
                };
                processes.extras.on(happened, &mut cx).await
            }
        };
        if let Flow::Break(outcome) = step {
            return outcome;
        }
    }
}

/// The supervisor's memory between events.
struct Supervisor<'a> {
    run: Supervised<'a>,
    prober: HealthClient,
    liveness: Liveness,
    next_probe: Instant,
    restarts: Restarts,
    phase: Phase,
    reused_change_said: bool,
}

impl Supervisor<'_> {
    /// A new backend of ours is ready: supervise it from scratch.
    fn owned_again(&mut self, processes: &mut Processes, running: Running) {
        let config = self.run.watch.config;
        processes.backend = Some(Backend::Owned(running));
        self.phase = Phase::Up {
            since: Instant::now(),
        };
        self.liveness = Liveness::new(config.backend.liveness_failures);
        self.next_probe = Instant::now() + config.backend.liveness_interval;
    }

    /// A watched source changed: restart an owned backend (health-gated), once more for
    /// what changed meanwhile; a reused one is not ours to restart.
    async fn on_change(
        &mut self,
        mut paths: Vec<PathBuf>,
        processes: &mut Processes,
        mut watcher: Option<&mut Watcher>,
    ) -> Flow<()> {
        let log = self.run.watch.log;
        if let Some(Backend::Reused(reused)) = &processes.backend {
            if !self.reused_change_said {
                log.info(&format!(
                    "{} changed, but {} is not dev's, so a change does not restart it",
                    shown(&paths),
                    reused.named()
                ));
                self.reused_change_said = true;
            }
            return Flow::Continue(());
        }
        loop {
            log.info(&format!(
                "{} changed: restarting the backend",
                shown(&paths)
            ));
            for path in &paths {
                let file = path
                    .strip_prefix(&self.run.watch.config.root)
                    .unwrap_or(path);
                log.event(&Event::Reload {
                    file: file.display().to_string(),
                });
            }
            let taken = processes.backend.take();
            let reloading = reload(&mut self.run, taken, watcher.as_deref_mut());
            let reloaded = match unless_frontend_exits(reloading, &mut processes.frontend).await {
                Ok(reloaded) => reloaded,
                Err(status) => return Flow::Break(self.on_frontend_exit(processes, status)),
            };
            match reloaded {
                Reload::Ready(running) => {
                    self.owned_again(processes, running);
                    self.restarts = Restarts::default();
                }
                Reload::Broken => self.phase = Phase::Broken,
                Reload::Stopped => return Flow::Break(DevOutcome::Stopped),
            }
            // What changed meanwhile makes one more restart, not one per save.
            let more = watcher.as_mut().map(|w| w.pending()).unwrap_or_default();
            if more.is_empty() {
                return Flow::Continue(());
            }
            paths = more;
        }
    }

    /// Time for a liveness probe: ask, judge, and act on a dead backend (restart an
    /// owned one; take over a reused one that is gone).
    async fn on_probe(&mut self, processes: &mut Processes) -> Flow<()> {
        let (config, plan, log) = (
            self.run.watch.config,
            self.run.watch.plan,
            self.run.watch.log,
        );
        let probe = tokio::select! {
            probe = self.prober.probe(&plan.health_url, log.correlation_id()) => probe,
            name = self.run.shutdown.next() => {
                log.info(&format!("{name} received: stopping what dev started"));
                return Flow::Break(DevOutcome::Stopped);
            }
        };
        self.next_probe = Instant::now() + config.backend.liveness_interval;
        let format = config.backend.health_format;
        tracing::debug!(
            "liveness probe: {}",
            crate::health::describe_probe(&probe, None)
        );
        let mut verdict = self
            .liveness
            .observe(&probe, format, config.backend.accept_degraded);
        // A reused backend whose port closed while no live run owns it is gone for
        // good (its run stopped): take over at once rather than after more probes.
        if let (Verdict::Failing(_), Some(Backend::Reused(_))) = (&verdict, &processes.backend)
            && gone_for_good(&self.run).await
        {
            verdict = Verdict::Dead(probe.clone());
        }
        let Some(dead) = said(self.run.watch, &processes.backend, verdict) else {
            return Flow::Continue(());
        };
        match processes.backend.take() {
            Some(Backend::Owned(running)) => {
                let down = (running, Down::Unresponsive(dead));
                let until = proceed!(flow: self.restart(down).await);
                self.phase = Phase::Backoff { until };
            }
            Some(Backend::Remote(remote)) => {
                // Reported by `said`; there is nothing here to restart.
                self.run.watch.log.warn(&format!(
                    "dev does not start or restart the backend at {} (backend.url): it keeps asking, and the frontend keeps running",
                    remote.url
                ));
                processes.backend = Some(Backend::Remote(remote));
            }
            Some(Backend::Reused(reused)) => {
                let looking = look_at_reused(&mut self.run, &reused);
                let look = match unless_frontend_exits(looking, &mut processes.frontend).await {
                    Ok(look) => look,
                    Err(status) => return Flow::Break(self.on_frontend_exit(processes, status)),
                };
                match look {
                    Look::Fine => processes.backend = Some(Backend::Reused(reused)),
                    Look::TookOver(running) => {
                        self.owned_again(processes, running);
                        self.restarts = Restarts::default();
                        // Who runs the backend changed: say what runs now.
                        super::summary::say(
                            self.run.watch.log,
                            processes,
                            self.run.watch.config,
                            super::summary::When::Changed,
                            self.run.this_run,
                        );
                    }
                    Look::End(outcome) => return Flow::Break(outcome),
                }
            }
            None => {}
        }
        Flow::Continue(())
    }

    /// The frontend exited: the run ends with its code (a Ctrl-C it got because it had
    /// the terminal is a clean stop).
    fn on_frontend_exit(&self, processes: &Processes, status: ExitStatus) -> DevOutcome {
        let log = self.run.watch.log;
        let had_terminal = processes
            .frontend
            .as_ref()
            .is_some_and(Running::has_terminal);
        if had_terminal && processes.command.is_none() && process::is_interrupt(status) {
            log.info(
                "Ctrl-C reached the frontend (it has the terminal): stopping what dev started",
            );
            return DevOutcome::Stopped;
        }
        log.info(&format!(
            "frontend exited ({}): stopping",
            process::describe_status(status)
        ));
        DevOutcome::FrontendExited(process::exit_code(status))
    }

    /// Our backend exited while running: restart it under the policy.
    async fn on_backend_exit(&mut self, processes: &mut Processes, status: ExitStatus) -> Flow<()> {
        let Some(Backend::Owned(crashed)) = processes.backend.take() else {
            return Flow::Continue(());
        };
        let down = (crashed, Down::Exited(status));
        let until = proceed!(flow: self.restart(down).await);
        self.phase = Phase::Backoff { until };
        Flow::Continue(())
    }

    /// Reports a backend of ours that went down and stops what is left of it; the
    /// backoff's end, or the run's end when it is not to be restarted.
    async fn restart(&mut self, down: (Running, Down)) -> Flow<Instant> {
        let since = match self.phase {
            Phase::Up { since } => since,
            _ => Instant::now(),
        };
        went_down(&mut self.run, down, &mut self.restarts, since).await
    }

    /// The backoff is over: one attempt on the same port. Meanwhile the frontend's
    /// exit ends the run, and a save restarts at once (the attempt is dropped, and with
    /// it its group).
    async fn starting(
        &mut self,
        processes: &mut Processes,
        mut watcher: Option<&mut Watcher>,
    ) -> Flow<()> {
        let watch = self.run.watch;
        let seen = {
            let (shutdown, this_run) = (&mut *self.run.shutdown, &mut *self.run.this_run);
            let start = backend::start(watch.plan, 1, watch.client, watch.log, shutdown, this_run);
            tokio::select! {
                outcome = start => WhileStarting::Started(outcome),
                status = wait_for(processes.frontend.as_mut()) => WhileStarting::FrontendExited(status),
                paths = changed(watcher.as_deref_mut()) => WhileStarting::Changed(paths),
            }
        };
        match seen {
            WhileStarting::Started(outcome) => {
                let context = context(watch.config, watch.plan);
                let this_run = &mut *self.run.this_run;
                let running = proceed!(flow: started_again(outcome, watch.log, &context, this_run));
                self.owned_again(processes, running);
                Flow::Continue(())
            }
            WhileStarting::FrontendExited(status) => {
                Flow::Break(self.on_frontend_exit(processes, status))
            }
            WhileStarting::Changed(paths) => {
                self.phase = Phase::Broken;
                self.on_change(paths, processes, watcher).await
            }
        }
    }
}

/// Waits for the next change that counts, if watching; forever otherwise.
async fn changed(watcher: Option<&mut Watcher>) -> Vec<PathBuf> {
    match watcher {
        Some(watcher) => watcher.changed().await,
        None => std::future::pending().await,
    }
}

/// `backend/main.py`, or `backend/main.py (and 2 more)`.
fn shown(paths: &[PathBuf]) -> String {
    let first = paths
        .first()
        .map_or_else(String::new, |p| p.display().to_string());
    match paths.len() {
        0 | 1 => first,
        n => format!("{first} (and {} more)", n - 1),
    }
}

/// How a restart after a change ended.
enum Reload {
    Ready(Running),
    /// It exited or never became ready: reported; the next change tries again.
    Broken,
    Stopped,
}

/// Restarts the backend after a change, health-gated. The old backend is told to stop
/// (SIGTERM, grace, then kill) at the first change, while further changes settle
/// (`watch_debounce` without one) and its port frees; then one attempt starts on the
/// same port. Doing the two at once is what keeps a restart close to the backend's own
/// start-up time: a server takes a while to exit after it closed its socket, and the
/// debounce is paid anyway. A broken edit gets its report and no retry: retrying the
/// same broken file cannot help, and the next save tries again.
async fn reload(
    run: &mut Supervised<'_>,
    backend: Option<Backend>,
    watcher: Option<&mut Watcher>,
) -> Reload {
    let (watch, shutdown, this_run) = (run.watch, &mut *run.shutdown, &mut *run.this_run);
    let (config, log) = (watch.config, watch.log);
    let started = Instant::now();
    let grace = config.dev.shutdown_grace;
    let hurry = Notify::new();
    let old = match backend {
        Some(Backend::Owned(old)) => Some(old),
        _ => None,
    };
    let stopping = stop_old(old, grace, &hurry, log);
    let starting = async {
        let mut watcher = watcher;
        let ready_to_start = async {
            settle(watcher.as_deref_mut(), config.backend.watch_debounce).await;
            let limit = grace + Duration::from_secs(2);
            connect::until_closed(watch.plan.connect_addr, Duration::from_millis(2), limit).await;
        };
        tokio::select! {
            () = ready_to_start => {}
            _ = shutdown.next() => {
                hurry.notify_waiters();
                return None;
            }
        }
        let once = Plan {
            attempts: 1,
            ..watch.plan.clone()
        };
        let outcome = backend::start(&once, 1, watch.client, log, shutdown, this_run).await;
        if matches!(outcome, StartOutcome::Interrupted) {
            hurry.notify_waiters();
        }
        Some((once, outcome))
    };
    let ((), started_again) = tokio::join!(stopping, starting);
    let Some((once, outcome)) = started_again else {
        return Reload::Stopped;
    };
    match outcome {
        StartOutcome::Ready { running, .. } => {
            log.info(&format!(
                "backend ready again in {} ms (pid {})",
                started.elapsed().as_millis(),
                running.pid()
            ));
            this_run.owns_backend(&running);
            Reload::Ready(running)
        }
        StartOutcome::Interrupted => Reload::Stopped,
        StartOutcome::Failed(failures) | StartOutcome::PortTaken { failures, .. } => {
            let context = context(config, &once);
            let report = FailureReport::backend(log, &failures, &context);
            log.error(&report.to_string());
            log.warn("waiting for the next change: save a fix and dev starts the backend again");
            Reload::Broken
        }
    }
}

/// Stops the old backend and what it left behind (a `hurry` kills at once).
async fn stop_old(old: Option<Running>, grace: Duration, hurry: &Notify, log: &RunLog) {
    if let Some(mut old) = old {
        old.stop_with_leftovers(grace, hurry.notified(), Duration::from_millis(200), log)
            .await;
    }
}

/// Waits until no change that counts came for `quiet`: a burst of saves is one change.
async fn settle(mut watcher: Option<&mut Watcher>, quiet: Duration) {
    loop {
        tokio::select! {
            _ = changed(watcher.as_deref_mut()) => {}
            () = tokio::time::sleep(quiet) => return,
        }
    }
}

/// Logs what a liveness verdict means for this backend; `Some(last probe)` when the
/// backend is to be declared dead.
fn said(watch: &Watch<'_>, backend: &Option<Backend>, verdict: Verdict) -> Option<Probe> {
    let log = watch.log;
    let port = watch.plan.port;
    let name = match backend {
        Some(Backend::Owned(running)) => format!("backend pid {}", running.pid()),
        Some(Backend::Reused(reused)) => reused.named(),
        Some(Backend::Remote(remote)) => format!("the backend at {}", remote.url),
        None => return None,
    };
    match verdict {
        Verdict::Fine => None,
        Verdict::Recovered => {
            log.info(&format!("{name} on port {port} is healthy again"));
            None
        }
        Verdict::Degraded(failing) => {
            log.warn(&format!(
                "{name} on port {port} reports degraded: {}",
                crate::health::services(&failing)
            ));
            unhealthy(
                log,
                format!("degraded: {}", crate::health::services(&failing)),
            );
            None
        }
        Verdict::Failing(n) => {
            log.file_only(&format!("liveness probe {n} of {name} failed"));
            None
        }
        Verdict::Dead(probe) => {
            let last = crate::health::describe_probe(
                &probe,
                Some(&crate::health::readiness(
                    &probe,
                    watch.config.backend.health_format,
                    watch.config.backend.accept_degraded,
                )),
            );
            let failures = watch.config.backend.liveness_failures;
            log.error(&format!(
                "{name} on port {port} stopped answering: {failures} health probes in a row failed; last: {last} (correlation id {})",
                log.correlation_id()
            ));
            unhealthy(
                log,
                format!("{failures} health probes in a row failed; last: {last}"),
            );
            Some(probe)
        }
    }
}

/// Whether a reused backend's port is closed and no live run owns a backend there.
async fn gone_for_good(run: &Supervised<'_>) -> bool {
    let (watch, this_run) = (run.watch, &*run.this_run);
    let port = watch.plan.port;
    let closed = !connect::accepts(watch.plan.connect_addr, connect::LOOPBACK).await;
    closed && this_run.backend_owner(port).is_none()
}

/// What a look at a reused backend found.
enum Look {
    Fine,
    TookOver(Running),
    End(DevOutcome),
}

/// A reused backend that stopped answering. If its port still accepts connections it is
/// hung, and not ours to stop. If the port is closed: wait while a live run that owns it
/// is there to bring it back; otherwise take over and start our own on the same port.
async fn look_at_reused(run: &mut Supervised<'_>, reused: &Reused) -> Look {
    let (watch, shutdown, this_run) = (run.watch, &mut *run.shutdown, &mut *run.this_run);
    let log = watch.log;
    let port = watch.plan.port;
    if connect::accepts(watch.plan.connect_addr, connect::LOOPBACK).await {
        log.warn(&format!(
            "{} still holds port {port}; dev did not start it, so it does not restart it",
            reused.named()
        ));
        return Look::Fine;
    }
    if let Some(owner) = this_run.backend_owner(port) {
        log.warn(&format!(
            "dev run {} (pid {}) owns it and is live: it restarts it",
            owner.correlation_id, owner.pid
        ));
        return Look::Fine;
    }
    log.warn(&format!(
        "{} on port {port} is gone and no dev run will bring it back: taking over, starting our own (correlation id {})",
        reused.named(),
        log.correlation_id()
    ));
    match backend::start(watch.plan, 1, watch.client, log, shutdown, this_run).await {
        StartOutcome::Ready { running, .. } => {
            this_run.owns_backend(&running);
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

/// An owned backend went down (it exited, or stopped answering): report it, stop what
/// is left of it, and say when the capped backoff ends (it starts again then, on the
/// same port: the frontend uses it). Gives up after `max_restarts` failures in a row
/// that each came within a minute of becoming ready.
async fn went_down(
    run: &mut Supervised<'_>,
    (mut down, why): (Running, Down),
    restarts: &mut Restarts,
    ready_since: Instant,
) -> Flow<Instant> {
    let (watch, shutdown) = (run.watch, &mut *run.shutdown);
    let (config, plan, log) = (watch.config, watch.plan, watch.log);
    let up_for = ready_since.elapsed();
    let (kind, last_probe) = evidence_of(watch, &down, &why);
    if backend::stop(&mut down, config.dev.shutdown_grace, shutdown, log)
        .await
        .hurried
    {
        return Flow::Break(DevOutcome::Stopped);
    }
    let failure = failure_of(watch, &down, kind, last_probe, up_for, restarts);
    let context = context(config, plan);
    if let FailureKind::Forked { .. } = failure.kind {
        // Restarting a daemonizing command would start a second copy every time.
        let report = FailureReport::forked_after_ready(log, &failure, &context);
        return Flow::Break(DevOutcome::Failed(Box::new(report)));
    }
    if let Down::Exited(status) = why {
        say_exited(log, &down, status);
    }
    let count = restarts.note(failure, up_for);
    if count > config.backend.max_restarts {
        let max = config.backend.max_restarts;
        let report = FailureReport::gave_up(log, &restarts.in_a_row, &context, max);
        return Flow::Break(DevOutcome::Failed(Box::new(report)));
    }
    let delay = backend::backoff(plan.retry_delay, count, plan.max_retry_delay);
    log.info(&format!(
        "restarting the backend on port {} in {} (restart {count} of at most {} in a row)",
        plan.port,
        crate::config::duration::format(delay),
        config.backend.max_restarts
    ));
    log.event(&Event::Restarting {
        role: "backend".into(),
        delay_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
        reason: match &why {
            Down::Exited(status) => format!("it exited: {}", process::describe_status(*status)),
            Down::Unresponsive(_) => "it stopped answering its health probes".into(),
        },
    });
    Flow::Continue(Instant::now() + delay)
}

impl Restarts {
    /// Counts one more failure in a row (a backend that was up for a minute starts the
    /// count again); returns how many there are now.
    fn note(&mut self, failure: AttemptFailure, up_for: Duration) -> u32 {
        if up_for >= STABLE_AFTER {
            self.in_a_row.clear();
        }
        self.in_a_row.push(failure);
        u32::try_from(self.in_a_row.len()).unwrap_or(u32::MAX)
    }
}

/// What went wrong, as evidence: how it exited (or that it forked into the background),
/// or the last liveness probe.
fn evidence_of(watch: &Watch<'_>, down: &Running, why: &Down) -> (FailureKind, Option<Probe>) {
    match why {
        Down::Exited(status) => (backend::exited(down, *status), None),
        Down::Unresponsive(probe) => (
            FailureKind::Unresponsive {
                probes: watch.config.backend.liveness_failures,
            },
            Some(probe.clone()),
        ),
    }
}

/// The failure as the report shows it, numbered after the ones before it in a row.
fn failure_of(
    watch: &Watch<'_>,
    down: &Running,
    kind: FailureKind,
    last_probe: Option<Probe>,
    up_for: Duration,
    restarts: &Restarts,
) -> AttemptFailure {
    let backend = &watch.config.backend;
    let earlier = if up_for >= STABLE_AFTER {
        0
    } else {
        restarts.in_a_row.len()
    };
    AttemptFailure {
        attempt: u32::try_from(earlier + 1).unwrap_or(u32::MAX),
        kind,
        stderr_tail: down.stderr_tail(),
        last_readiness: last_probe.as_ref().map(|probe| {
            crate::health::readiness(probe, backend.health_format, backend.accept_degraded)
        }),
        last_probe,
        listening: true,
        bind_conflict: false,
        elapsed: up_for,
    }
}

/// "backend pid N exited while running", with its stderr tail.
fn say_exited(log: &RunLog, down: &Running, status: ExitStatus) {
    log.error(&format!(
        "backend pid {} exited while running ({}); correlation id {}",
        down.pid(),
        process::describe_status(status),
        log.correlation_id()
    ));
    for line in down.stderr_tail() {
        log.error(&format!("  | {line}"));
    }
    let mut evidence = vec![format!(
        "backend pid {} exited while running ({})",
        down.pid(),
        process::describe_status(status)
    )];
    evidence.extend(down.stderr_tail());
    unhealthy(log, evidence.join("\n"));
}

/// The `unhealthy` event: the backend went down or reports itself degraded (said to
/// people by the callers).
fn unhealthy(log: &RunLog, evidence: String) {
    log.event(&Event::Unhealthy {
        role: "backend".into(),
        evidence,
    });
}

/// How one start on the same port after a crash ended (the frontend uses the port: a
/// stolen port is a failure here, not a reason to move).
fn started_again(
    outcome: StartOutcome,
    log: &RunLog,
    context: &crate::report::Context,
    this_run: &mut ThisRun,
) -> Flow<Running> {
    match outcome {
        StartOutcome::Ready { running, .. } => {
            this_run.owns_backend(&running);
            Flow::Continue(running)
        }
        StartOutcome::Interrupted => Flow::Break(DevOutcome::Stopped),
        StartOutcome::Failed(failures) | StartOutcome::PortTaken { failures, .. } => {
            let report = FailureReport::backend(log, &failures, context);
            Flow::Break(DevOutcome::Failed(Box::new(report)))
        }
    }
}

/// Runs `work` (a restart, a takeover) while watching the frontend: its exit ends the run
/// at once. The work is dropped then, and with it what it holds: an attempt not yet
/// ready is killed with its group (a `Running` dropped unstopped), an old backend whose
/// stop began is stopped with the run's other descendants on the way out.
async fn unless_frontend_exits<T>(
    work: impl Future<Output = T>,
    frontend: &mut Option<Running>,
) -> Result<T, ExitStatus> {
    tokio::select! {
        done = work => Ok(done),
        status = wait_for(frontend.as_mut()) => Err(status),
    }
}

/// Waits for a process if there is one; forever otherwise (a disabled `select!` arm).
async fn wait_for(running: Option<&mut Running>) -> ExitStatus {
    match running {
        Some(running) => running.wait().await,
        None => std::future::pending().await,
    }
}
