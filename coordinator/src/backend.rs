//! Starting the backend: spawn it, wait for it in two phases, retry with backoff.
//!
//! Phase one polls a TCP connect every few milliseconds, so the port opening is seen
//! at once; phase two polls `GET {health_path}` until the answer is ready. Either phase
//! ends the attempt at once when the child exits, and the attempt as a whole is bounded
//! by `startup_timeout`. An answer that can never become ready without a change (a
//! redirect, a 404, a body `auto` cannot read, the wrong `service`) ends it after three
//! identical answers instead, and is not retried. Every failed attempt's process group
//! is gone before the next one starts.

use std::cell::Cell;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::{Instant, sleep};
use tracing::Instrument;

use crate::config::Config;
use crate::connect;
use crate::health::{self, HealthClient, HealthFormat, HealthReport, Mismatch, Probe, Readiness};
use crate::ownership::{self, Answerer};
use crate::process::{self, ProcessSpec, Running};
use crate::ready::{self, Race};

mod listener;
mod stderr;
use crate::runlog::{Origin, RunLog};
use crate::signals::Shutdown;
use listener::Listener;
pub use stderr::{bind_conflict_port, code_error};

/// Everything needed to start the backend, resolved from the config.
#[derive(Debug, Clone)]
pub struct Plan {
    pub spec: ProcessSpec,
    pub port: u16,
    pub health_url: String,
    pub connect_addr: SocketAddr,
    /// `backend.host = "localhost"`: the backend resolves it itself, to `127.0.0.1` or
    /// `::1`, so either family counts as listening (and health is asked there).
    pub either_family: bool,
    pub startup_timeout: Duration,
    pub attempts: u32,
    pub retry_delay: Duration,
    pub max_retry_delay: Duration,
    pub accept_degraded: bool,
    pub health_format: HealthFormat,
    /// `backend.service`: an answer naming another service is not our backend.
    pub service: String,
    /// The checkout, for deciding whether a listener without identity is ours.
    pub checkout: std::path::PathBuf,
    pub grace: Duration,
}

impl Plan {
    /// `argv` is the backend command with `python` already resolved (its placeholders
    /// are filled in here, with the port chosen); `env` is what the backend gets on top
    /// of the coordinator's environment.
    pub fn new(config: &Config, argv: Vec<String>, env: Vec<(String, String)>) -> Plan {
        let backend = &config.backend;
        let host = health::probe_host(&backend.host);
        let ip = host.parse().unwrap_or(std::net::Ipv4Addr::LOCALHOST.into());
        let argv = config.expanded(&argv);
        Plan {
            spec: ProcessSpec {
                origin: Origin::Backend,
                argv,
                cwd: config.root.clone(),
                env,
                foreground: false,
                ready_line: None,
            },
            port: backend.port,
            health_url: format!("{}{}", config.backend_url(), backend.health_path),
            connect_addr: SocketAddr::new(ip, backend.port),
            either_family: backend.host.eq_ignore_ascii_case("localhost"),
            startup_timeout: backend.startup_timeout,
            attempts: backend.attempts,
            retry_delay: backend.retry_delay,
            max_retry_delay: backend.max_retry_delay,
            accept_degraded: backend.accept_degraded,
            health_format: backend.health_format,
            service: backend.service.clone(),
            checkout: config.root.clone(),
            grace: config.dev.shutdown_grace,
        }
    }
}

/// Why one attempt failed, with its evidence.
#[derive(Debug, Clone)]
pub struct AttemptFailure {
    pub attempt: u32,
    pub kind: FailureKind,
    pub stderr_tail: Vec<String>,
    /// The last health answer (or why there was none).
    pub last_probe: Option<Probe>,
    /// What that answer meant, under the configured format.
    pub last_readiness: Option<Readiness>,
    /// Whether the port ever opened.
    pub listening: bool,
    pub bind_conflict: bool,
    pub elapsed: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FailureKind {
    /// The command could not be started at all. `lasting`: the program is missing or
    /// not executable (`ENOENT`, `EACCES`), which another try cannot change, so it ends
    /// the start at once.
    Spawn {
        program: String,
        error: String,
        lasting: bool,
    },
    /// The backend exited before it was ready.
    Exited(String),
    /// `startup_timeout` passed.
    TimedOut(Duration),
    /// After it was ready, health failed `probes` times in a row (a hang, a deadlock, a
    /// reloader whose worker died); the last probe is the attempt's `last_probe`.
    Unresponsive { probes: u32 },
    /// The command exited successfully but left processes running: it daemonizes
    /// (forks into the background). Retrying cannot help, and each try would leave
    /// another copy behind, so this ends the start at once.
    Forked {
        status: String,
        left: Vec<process::ProcessInfo>,
    },
    /// The health answer can never become ready without a change to the app or the
    /// config; it came [`health::Streak::LIMIT`] times in a row.
    NeverReady(Mismatch),
    /// The backend listens on (or tried to bind, `in_use`) another port than the one
    /// dev chose and gave it: it ignores `BACKEND_PORT`. Choosing again cannot help,
    /// so this ends the start at once.
    WrongPort { port: u16, in_use: bool },
}

/// How starting the backend ended.
#[derive(Debug)]
pub enum StartOutcome {
    Ready {
        running: Running,
        /// The ready answer, when it was a health report (not for a stalled body read
        /// as `status-code`); boxed, as it is large beside the other outcomes.
        report: Option<Box<HealthReport>>,
        /// From spawn to ready.
        elapsed: Duration,
    },
    Failed(Vec<AttemptFailure>),
    /// The backend could not bind its port ("address already in use"): the port was
    /// taken after it was chosen. The caller chooses again and resumes at `next_attempt`
    /// rather than failing the same way until the attempts run out.
    PortTaken {
        failures: Vec<AttemptFailure>,
        next_attempt: u32,
    },
    /// A shutdown was requested meanwhile; nothing is left running.
    Interrupted,
}

/// The wait before try `k + 1` (k from 1): `min(retry_delay * 2^(k-1), max)`.
pub fn backoff(retry_delay: Duration, k: u32, max: Duration) -> Duration {
    retry_delay
        .saturating_mul(1u32 << (k.saturating_sub(1)).min(16))
        .min(max)
}

/// Told of each process group as soon as it is spawned, before it is ready: a run
/// killed during the health wait must already have it on record.
pub trait OnSpawn {
    fn spawned(&mut self, running: &Running, argv: &[String]);
}

/// Starts the backend: tries `first_attempt` to `plan.attempts`.
pub async fn start(
    plan: &Plan,
    first_attempt: u32,
    client: &HealthClient,
    log: &RunLog,
    shutdown: &mut Shutdown,
    on_spawn: &mut dyn OnSpawn,
) -> StartOutcome {
    let mut failures = Vec::new();
    for attempt in first_attempt..=plan.attempts {
        if attempt > first_attempt {
            let delay = backoff(plan.retry_delay, attempt - 1, plan.max_retry_delay);
            log.info(&format!(
                "retrying in {} (attempt {attempt} of {})",
                crate::config::duration::format(delay),
                plan.attempts
            ));
            tokio::select! {
                () = sleep(delay) => {}
                _ = shutdown.next() => return StartOutcome::Interrupted,
            }
        }
        // Every line of the attempt (the child's output included) carries its number
        // and the port in the log file.
        let span = tracing::info_span!("attempt", n = attempt, port = plan.port);
        match try_once(plan, attempt, client, log, shutdown, on_spawn)
            .instrument(span)
            .await
        {
            Ok(Some((running, report, elapsed))) => {
                return StartOutcome::Ready {
                    running,
                    report: report.map(Box::new),
                    elapsed,
                };
            }
            Ok(None) => return StartOutcome::Interrupted,
            Err(failure) => {
                log.warn(&format!(
                    "attempt {attempt} of {} failed: {}",
                    plan.attempts,
                    failure.summary()
                ));
                let mut failure = failure;
                // "Address already in use" about another port than the chosen one: the
                // backend ignores the port it was given, and choosing again cannot help.
                if failure.bind_conflict
                    && let Some(port) = bind_conflict_port(&failure.stderr_tail)
                    && port != plan.port
                {
                    failure.kind = FailureKind::WrongPort { port, in_use: true };
                }
                let port_taken =
                    failure.bind_conflict && !matches!(failure.kind, FailureKind::WrongPort { .. });
                // The code itself does not load: the next try runs the same file.
                let broken_code = matches!(failure.kind, FailureKind::Exited(_))
                    .then(|| code_error(&failure.stderr_tail))
                    .flatten();
                let stop_now = broken_code.is_some()
                    || matches!(
                        failure.kind,
                        FailureKind::Forked { .. }
                            | FailureKind::NeverReady(_)
                            | FailureKind::Spawn { lasting: true, .. }
                            | FailureKind::WrongPort { .. }
                    );
                if let Some(line) = &broken_code {
                    log.warn(&format!(
                        "not retrying: `{}` cannot change without an edit of the code (a save restarts it when backend.watch covers the file)",
                        crate::text::printable(line)
                    ));
                }
                let never = matches!(failure.kind, FailureKind::NeverReady(_));
                if let FailureKind::Spawn {
                    program,
                    lasting: true,
                    ..
                } = &failure.kind
                {
                    log.warn(&format!(
                        "not retrying: `{program}` cannot be started until it exists and is executable"
                    ));
                }
                failures.push(failure);
                if let Some(FailureKind::WrongPort { port, .. }) = failures.last().map(|f| &f.kind)
                {
                    log.warn(&format!(
                        "not retrying: the backend uses port {port}, not port {} that dev chose; it must take the port dev gives it",
                        plan.port
                    ));
                }
                if never {
                    // The same code answers the same way: another attempt only delays
                    // the report.
                    log.warn("not retrying: the health answer cannot change without a change to the backend or dev.toml");
                }
                if stop_now {
                    return StartOutcome::Failed(failures);
                }
                if port_taken && attempt < plan.attempts {
                    return StartOutcome::PortTaken {
                        failures,
                        next_attempt: attempt + 1,
                    };
                }
            }
        }
    }
    StartOutcome::Failed(failures)
}

type Started = (Running, Option<HealthReport>, Duration);

/// One attempt. `Ok(None)` when a shutdown was requested.
async fn try_once(
    plan: &Plan,
    attempt: u32,
    client: &HealthClient,
    log: &RunLog,
    shutdown: &mut Shutdown,
    on_spawn: &mut dyn OnSpawn,
) -> Result<Option<Started>, AttemptFailure> {
    let started = Instant::now();
    let mut failure = AttemptFailure::new(attempt, plan.startup_timeout);
    let mut running = match process::spawn(&plan.spec, log) {
        Ok(running) => running,
        Err(err) => {
            let lasting = matches!(
                err.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
            );
            failure.kind = FailureKind::Spawn {
                program: plan.spec.argv.first().cloned().unwrap_or_default(),
                error: err.to_string(),
                lasting,
            };
            return Err(failure);
        }
    };
    on_spawn.spawned(&running, &plan.spec.argv);
    log.info(&format!(
        "started backend pid {} (attempt {attempt} of {}): {}",
        running.pid(),
        plan.attempts,
        crate::text::shell_command(&plan.spec.argv)
    ));
    let deadline = started + plan.startup_timeout;
    let mut state = WaitState::default();
    let pid = running.pid();
    let waiting = wait_ready(plan, pid, client, log, &mut state);
    let outcome = match ready::race(waiting, Some(&mut running), deadline, shutdown).await {
        Race::Ready(Ok(report)) => Outcome::Ready(report),
        Race::Ready(Err(NotReady::Never(mismatch))) => Outcome::NeverReady(mismatch),
        Race::Ready(Err(NotReady::WrongPort(port))) => Outcome::WrongPort(port),
        Race::Exited(status) => Outcome::Exited(status),
        Race::TimedOut => Outcome::TimedOut,
        Race::Interrupted(_) => Outcome::Interrupted,
    };
    let elapsed = started.elapsed();
    match outcome {
        Outcome::Ready(report) => {
            log.info(&format!(
                "backend ready in {} ms (port open after {} ms), pid {}",
                elapsed.as_millis(),
                state.listening_after().unwrap_or_default().as_millis(),
                running.pid()
            ));
            let url = plan
                .spec
                .env
                .iter()
                .find(|(name, _)| name == "BACKEND_URL")
                .map_or(plan.health_url.as_str(), |(_, url)| url.as_str());
            log.ready("backend", url, elapsed);
            return Ok(Some((running, report, elapsed)));
        }
        Outcome::Interrupted => {
            // A second signal while this stop waits kills at once.
            stop(&mut running, plan.grace, shutdown, log).await;
            return Ok(None);
        }
        Outcome::Exited(status) => {
            failure.kind = exited(&running, status);
        }
        Outcome::NeverReady(mismatch) => failure.kind = FailureKind::NeverReady(mismatch),
        Outcome::WrongPort(port) => {
            failure.kind = FailureKind::WrongPort {
                port,
                in_use: false,
            };
        }
        Outcome::TimedOut => {}
    }
    failure.elapsed = elapsed;
    match gather(&mut running, failure, state, plan.grace, shutdown, log).await {
        Some(failure) => Err(failure),
        None => Ok(None),
    }
}

/// After a failed attempt: stops its whole group (and what it left outside it) before
/// the evidence is read, so that output still in flight is in the tail and nothing
/// survives into the next attempt; then fills in the evidence. `None` when a signal
/// came meanwhile.
async fn gather(
    running: &mut Running,
    mut failure: AttemptFailure,
    state: WaitState,
    grace: Duration,
    shutdown: &mut Shutdown,
    log: &RunLog,
) -> Option<AttemptFailure> {
    if stop(running, grace, shutdown, log).await.hurried {
        return None;
    }
    failure.stderr_tail = running.stderr_tail();
    failure.bind_conflict = running.saw_bind_conflict();
    failure.listening = state.listening_after().is_some();
    failure.last_probe = state.last.probe;
    failure.last_readiness = state.last.readiness;
    Some(failure)
}

impl AttemptFailure {
    /// One line for one failed attempt.
    pub fn summary(&self) -> String {
        let failure = self;
        match &failure.kind {
            FailureKind::Spawn { program, error, .. } => {
                format!("could not start `{program}`: {error}")
            }
            FailureKind::Exited(status) => {
                format!("the backend exited ({status}) before it was ready")
            }
            FailureKind::Unresponsive { probes } => {
                format!("the backend stopped answering health ({probes} probes in a row failed)")
            }
            FailureKind::Forked { status, left } => format!(
                "the backend command exited ({status}) but left {} running: it forks into the background",
                process::named(left)
            ),
            FailureKind::TimedOut(limit) => {
                let phase = if failure.listening {
                    "the port opened but health never reported ready"
                } else {
                    "the port never opened"
                };
                format!(
                    "not ready within {} ({phase})",
                    crate::config::duration::format(*limit)
                )
            }
            FailureKind::NeverReady(mismatch) => format!(
                "the health endpoint answered {} times in a row in a way that cannot become ready: {}",
                crate::health::Streak::LIMIT,
                health::describe_mismatch(mismatch)
            ),
            FailureKind::WrongPort {
                port,
                in_use: false,
            } => format!("the backend listens on port {port}, not on the port dev chose"),
            FailureKind::WrongPort { port, in_use: true } => {
                format!("the backend tried to bind port {port} (in use), not the port dev chose")
            }
        }
    }

    /// An attempt's failure before anything is known: a timeout, unless it turns out
    /// otherwise.
    fn new(attempt: u32, startup_timeout: Duration) -> AttemptFailure {
        AttemptFailure {
            attempt,
            kind: FailureKind::TimedOut(startup_timeout),
            stderr_tail: Vec::new(),
            last_probe: None,
            last_readiness: None,
            listening: false,
            bind_conflict: false,
            elapsed: Duration::ZERO,
        }
    }
}

/// How the exit of the process `dev` started reads: a command that exits 0 while
/// processes it started keep running has put itself in the background.
pub fn exited(running: &Running, status: std::process::ExitStatus) -> FailureKind {
    let left = running.left_behind();
    if status.success() && !left.is_empty() {
        FailureKind::Forked {
            status: process::describe_status(status),
            left,
        }
    } else {
        FailureKind::Exited(process::describe_status(status))
    }
}

enum Outcome {
    Ready(Option<HealthReport>),
    NeverReady(Mismatch),
    WrongPort(u16),
    Exited(std::process::ExitStatus),
    TimedOut,
    Interrupted,
}

#[derive(Debug, Default)]
struct WaitState {
    /// When the port opened, after the attempt's start: set by the thread that found
    /// it open, so that an attempt that ends while the first answer is awaited still
    /// knows (its report says the port opened).
    opened: std::sync::Arc<std::sync::OnceLock<Duration>>,
    last: ready::LastAnswer,
}

impl WaitState {
    fn listening_after(&self) -> Option<Duration> {
        self.opened.get().copied()
    }
}

/// Why [`wait_ready`] gave up before the deadline.
enum NotReady {
    /// An answer that can never become ready came [`health::Streak::LIMIT`] times.
    Never(Mismatch),
    /// The backend's own process tree listens on this port, not on the chosen one.
    WrongPort(u16),
}

/// How often phase one asks the backend's process tree where it listens (a look at the
/// socket table and the tree's open files), and how long another port must be held
/// before that is the verdict (a helper port opened first is not).
const TREE_POLL: Duration = Duration::from_millis(100);
const WRONG_PORT_AFTER: Duration = Duration::from_millis(300);

/// Phase one, then phase two. Runs until ready, until an answer that can never become
/// ready came [`health::Streak::LIMIT`] times in a row, or until the backend (`pid`'s
/// tree) listens on another port than the chosen one; the caller bounds it.
async fn wait_ready(
    plan: &Plan,
    pid: u32,
    client: &HealthClient,
    log: &RunLog,
    state: &mut WaitState,
) -> Result<Option<HealthReport>, NotReady> {
    let started = Instant::now();
    let mut stretches = 0u32;
    let mut said = Instant::now();
    let mut next_look = Instant::now() + TREE_POLL;
    let mut elsewhere: Option<(u16, Instant)> = None;
    // `localhost` may be ::1 for the backend (Node 17+, some uvicorn set-ups).
    let v6 = SocketAddr::new(std::net::Ipv6Addr::LOCALHOST.into(), plan.port);
    let mut addrs = vec![plan.connect_addr];
    if plan.either_family {
        addrs.push(v6);
    }
    let opened = (state.opened.clone(), started);
    let ask = listener::Ask::new(plan, pid, client, log.correlation_id(), opened);
    let opened = loop {
        let asking = ask.clone();
        let on = move |at, stream| asking.on(at, stream);
        if let Some(opened) = connect::first_open_then(addrs.clone(), connect::STRETCH, on).await {
            break opened.unwrap_or_else(|at| listener::Opened::unasked(at, plan.port, pid));
        }
        stretches += 1;
        if Instant::now() >= next_look {
            next_look = Instant::now() + TREE_POLL;
            let ports: Vec<u16> = crate::holder::listening_of_tree(pid)
                .iter()
                .map(std::net::SocketAddr::port)
                .collect();
            let other = ports.iter().copied().find(|p| *p != plan.port);
            elsewhere = match (other, elsewhere) {
                _ if ports.contains(&plan.port) => None,
                (Some(port), Some((seen, since))) if port == seen => {
                    // A port the tree opened besides (a debugger's, a metrics port) is
                    // not the verdict: only one that answers the health path is.
                    if since.elapsed() >= WRONG_PORT_AFTER
                        && serves_health(plan, port, client, log).await
                    {
                        return Err(NotReady::WrongPort(port));
                    }
                    Some((seen, since))
                }
                (Some(port), _) => Some((port, Instant::now())),
                (None, _) => None,
            };
        }
        // Why it still waits, a few times a second.
        if said.elapsed() >= Duration::from_millis(250) {
            tracing::debug!(
                "port {} not open yet after {} ms ({stretches} stretches of connects every {} us)",
                plan.port,
                started.elapsed().as_millis(),
                connect::POLL.as_micros()
            );
            said = Instant::now();
        }
    };
    if opened.at == v6 && opened.at != plan.connect_addr {
        log.file_only(&format!(
            "the backend listens on {v6} (backend.host = \"localhost\"): asking health there"
        ));
    }
    log.file_only(&format!(
        "port {} open after {} ms",
        plan.port,
        state.listening_after().unwrap_or_default().as_millis()
    ));
    let health_started = started + state.listening_after().unwrap_or_default();
    let (asked, mut first, mut kept) = (Cell::new(opened.asked()), opened.answer, opened.kept);
    let (mut listener, ids) = (Some(opened.listener), (plan.port, pid, std::process::id()));
    let ask_health = async || match first.take() {
        Some(probe) => probe,
        None => ask.again(opened.at, &asked, &mut kept).await,
    };
    let judge = async |_: &Probe, report: Option<&HealthReport>, readiness: Readiness| {
        let mut readiness = readiness;
        if readiness == Readiness::Ready {
            let current = Listener::at_answer(listener.take(), asked.get(), ids);
            readiness = identity(plan, report, log, &current);
            listener = Some(current);
        }
        let after = health_started.elapsed().as_millis();
        if readiness == Readiness::Ready {
            tracing::debug!("health probe after {after} ms: ready");
        } else {
            let reason = match &readiness {
                Readiness::Degraded(failing) => format!("degraded: {}", health::services(failing)),
                Readiness::NotReady(why) | Readiness::Failing { why, .. } => why.clone(),
                Readiness::Never(mismatch) => mismatch.evidence(),
                Readiness::Ready => String::new(),
            };
            // Each probe's outcome is a debug line (`RUST_LOG=debug` shows why the wait
            // goes on).
            tracing::debug!("health probe after {after} ms: not ready: {reason}");
        }
        ready::Judged::<std::convert::Infallible> {
            readiness,
            slow: false,
            stop: None,
        }
    };
    let format = (plan.health_format, plan.accept_degraded);
    match ready::until_healthy(ask_health, format, &mut state.last, judge).await {
        Ok(report) => Ok(report),
        Err(ready::NotHealthy::Never(mismatch)) => Err(NotReady::Never(mismatch)),
        Err(ready::NotHealthy::Rule(never)) => match never {},
    }
}

/// Whether the health path answers 2xx on `port` (of the backend's host): the backend
/// serves there.
async fn serves_health(plan: &Plan, port: u16, client: &HealthClient, log: &RunLog) -> bool {
    let mut url = plan.connect_addr;
    url.set_port(port);
    let path = plan
        .health_url
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or("/");
    let probe = client
        .probe(&format!("http://{url}{path}"), log.correlation_id())
        .await;
    matches!(probe, Probe::Answered(answer) if (200..300).contains(&answer.code))
}

/// A ready answer counts only when it comes from the backend this `dev` started (see
/// [`ownership::answerer`]): not from another service, nor from an outside process
/// answering on the port that the child could not bind.
fn identity(
    plan: &Plan,
    report: Option<&HealthReport>,
    log: &RunLog,
    listener: &Listener,
) -> Readiness {
    if let Some(why) = listener.refused(plan.port) {
        return Readiness::NotReady(why);
    }
    let checkout = plan
        .checkout
        .canonicalize()
        .unwrap_or_else(|_| plan.checkout.clone());
    let listeners = || crate::holder::facts(plan.port);
    match ownership::answerer(
        report,
        &plan.service,
        listeners,
        &checkout,
        std::process::id(),
    ) {
        // The answer says it is this checkout's backend; that it is the one this run
        // started is the listener's to say, when it can be seen: another run's (or one
        // started by hand) answers just the same while our child failed to bind.
        Answerer::Ours(None) => match &listener.outsiders {
            // Looked up when the port opened, beside the first request: the ready path
            // has a 5 ms budget.
            None => Readiness::Ready,
            Some(holders) => {
                let pids: Vec<String> = holders.iter().map(u32::to_string).collect();
                Readiness::NotReady(format!(
                    "port {} is answered by pid {}, which dev did not start",
                    plan.port,
                    pids.join(", ")
                ))
            }
        },
        Answerer::Ours(Some(evidence)) => {
            log.file_only(&format!("the health answer is ours: {evidence}"));
            Readiness::Ready
        }
        Answerer::Unknown => {
            log.file_only(&format!(
                "the process listening on port {} cannot be inspected: trusting the backend dev started",
                plan.port
            ));
            Readiness::Ready
        }
        Answerer::WrongService(found) => Readiness::Never(Mismatch::WrongService {
            found,
            expected: plan.service.clone(),
        }),
        Answerer::Outsider(why) => Readiness::NotReady(format!(
            "port {} is answered by a process dev did not start ({why})",
            plan.port
        )),
    }
}

/// Stops an attempt (or a crashed backend) and what it left behind, in the one stop
/// sequence; a shutdown request meanwhile kills at once, and the report says so
/// (`hurried`), so that the caller stops too instead of retrying.
pub async fn stop(
    running: &mut Running,
    grace: Duration,
    shutdown: &mut Shutdown,
    log: &RunLog,
) -> process::StopReport {
    let hurry = shutdown.hurry();
    running
        .stop_with_leftovers(grace, hurry, Duration::from_millis(500), log)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_retry_delay_up_to_the_cap() {
        let base = Duration::from_secs(2);
        let cap = Duration::from_secs(30);
        assert_eq!(backoff(base, 1, cap), Duration::from_secs(2));
        assert_eq!(backoff(base, 2, cap), Duration::from_secs(4));
        assert_eq!(backoff(base, 3, cap), Duration::from_secs(8));
        assert_eq!(backoff(base, 5, cap), cap, "32 s is capped at 30 s");
        assert_eq!(backoff(base, 40, cap), cap);
        assert_eq!(backoff(Duration::ZERO, 5, cap), Duration::ZERO);
    }
}
