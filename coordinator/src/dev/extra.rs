//! The `[process.NAME]` processes of a run (Redis, the Electron main process, a worker):
//! started in the order `after` gives ([`crate::config::process::start_order`]), each
//! ready by its rule, then supervised beside the backend and the frontend.
//!
//! They use the run's one mechanism for each job: [`process::spawn`] (its own group, its
//! `[NAME]` prefix, the log file), [`ThisRun::started`] (the run record: a `kill -9` of
//! dev leaves nothing the guardian or the next run does not stop), [`race`] (the one
//! ready wait: its rule against its exit, the deadline and a signal), the connect poll of
//! the backend's phase one and the cadence of its phase two, the backend's backoff and
//! restart limit, and `Running::stop_with_leftovers` to stop it. What the supervisor sees
//! of them is one future, [`Extras::next`].
//!
//! A name becomes an [`Origin`] (a `&'static str`): each process's name is leaked once,
//! when it first starts; a run has a handful, and they live as long as the run.

use std::future::{Future, poll_fn};
use std::net::SocketAddr;
use std::pin::Pin;
use std::process::ExitStatus;
use std::task::Poll;
use std::time::Duration;

use tokio::time::{Instant, sleep, sleep_until};

use super::frontend::child_env;
use super::outcome::{DevOutcome, Flow, fail_with};
use super::this_run::ThisRun;
use crate::backend::backoff;
use crate::config::process::start_order;
use crate::config::{Config, Node, ProcessConfig, Ready, Restart, duration};
use crate::connect;
use crate::events::Event;
use crate::health::HealthClient;
use crate::process::{self, ProcessSpec, Running};
use crate::ready::{Race, race};
use crate::report::Cause;
use crate::runlog::{Origin, RunLog};
use crate::signals::Shutdown;

/// How often phase one tries to connect: the backend's.
const CONNECT_POLL: Duration = Duration::from_millis(1);
/// A process that stays up this long has its restart count reset: the backend's.
const STABLE_AFTER: Duration = Duration::from_secs(60);

/// What a process step needs of the run.
pub(super) struct Cx<'a> {
    pub(super) config: &'a Config,
    pub(super) log: &'a RunLog,
    pub(super) client: &'a HealthClient,
    pub(super) shutdown: &'a mut Shutdown,
    pub(super) this_run: &'a mut ThisRun,
    /// Where the frontend really serves, once it does (another port when it moved on
    /// its own, `[::1]`): what `FRONTEND_URL` says to a process started after it.
    pub(super) frontend_url: Option<String>,
}

/// One `[process.NAME]` of the run.
#[derive(Debug)]
pub(super) struct Extra {
    /// Its index in `Config::processes`.
    index: usize,
    pub(super) name: &'static str,
    pub(super) running: Option<Running>,
    state: State,
    /// Failures in a row, each soon after it became ready.
    failures: u32,
    /// Probed for liveness: `ready = { http }`.
    probes: bool,
    /// Liveness probes failed in a row.
    missed: u32,
    next_probe: Instant,
}

#[derive(Debug, Clone, Copy)]
enum State {
    Up {
        since: Instant,
    },
    /// Down after a failure: starts again then.
    Backoff {
        until: Instant,
    },
    /// Exited and not to be restarted.
    Down,
}

/// What happened to one of them.
pub(super) enum Happened {
    Exited(usize, ExitStatus),
    BackoffOver(usize),
    Probe(usize),
}

/// The run's `[process.NAME]` processes, in the order they started.
#[derive(Debug, Default)]
pub(super) struct Extras {
    pub(super) list: Vec<Extra>,
}

/// The processes in the order `after` gives, around the backend and the frontend.
#[derive(Debug, Default)]
pub(super) struct Order {
    /// Started before the backend.
    pub(super) before: Vec<usize>,
    /// After the backend, before the frontend.
    pub(super) between: Vec<usize>,
    /// After the frontend (the Electron main process).
    pub(super) after: Vec<usize>,
}

impl Order {
    /// The config's start order, cut at the backend and the frontend. (The config was
    /// checked for cycles when it was loaded.)
    pub(super) fn of(config: &Config) -> Order {
        let nodes = start_order(config).unwrap_or_default();
        let mut order = Order::default();
        let mut at = 0;
        for node in nodes {
            match node {
                Node::Backend | Node::Frontend => at += 1,
                Node::Process(i) => match at {
                    0 => order.before.push(i),
                    1 => order.between.push(i),
                    _ => order.after.push(i),
                },
            }
        }
        order
    }
}

/// Starts `indices` in turn, each once the one before is ready; each joins
/// `processes` as it becomes ready (so that a later failure stops it too).
pub(super) async fn start_extras(
    indices: &[usize],
    config: &Config,
    client: &HealthClient,
    log: &RunLog,
    shutdown: &mut Shutdown,
    this_run: &mut ThisRun,
    processes: &mut super::supervise::Processes,
) -> Flow<()> {
    let mut cx = Cx {
        config,
        log,
        client,
        shutdown,
        this_run,
        frontend_url: processes.frontend_url.clone(),
    };
    for index in indices {
        let extra = start(*index, &mut cx).await?;
        processes.extras.list.push(extra);
    }
    Flow::Continue(())
}

/// How one start went.
enum Attempt {
    Ready(Running),
    Failed(DevOutcome),
    /// A signal came first; what was started is stopped.
    Interrupted(crate::signals::ShutdownRequest),
}

/// Starts process `index` and waits for it to be ready by its rule: up to
/// `backend.attempts` tries with the backend's backoff (one with `restart = "never"`).
pub(super) async fn start(index: usize, cx: &mut Cx<'_>) -> Flow<Extra> {
    let process = &cx.config.processes[index];
    let name: &'static str = Box::leak(process.name.clone().into_boxed_str());
    let attempts = match process.restart {
        Restart::Never => 1,
        Restart::OnFailure => cx.config.backend.attempts,
    };
    let mut failed = None;
    for attempt in 1..=attempts {
        if attempt > 1 {
            let delay = backoff(
                cx.config.backend.retry_delay,
                attempt - 1,
                cx.config.backend.max_retry_delay,
            );
            cx.log.info(&format!(
                "{name}: retrying in {} (attempt {attempt} of {attempts})",
                duration::format(delay)
            ));
            tokio::select! {
                () = sleep(delay) => {}
                request = cx.shutdown.next() => {
                    cx.log.info(&format!("{request} received before {name} was ready: stopping"));
                    return Flow::Break(DevOutcome::Stopped);
                }
            }
        }
        match attempt_once(index, name, cx).await {
            Attempt::Ready(running) => {
                return Flow::Continue(Extra {
                    index,
                    name,
                    running: Some(running),
                    state: State::Up {
                        since: Instant::now(),
                    },
                    failures: 0,
                    probes: matches!(process.ready, Ready::Http(_)),
                    missed: 0,
                    next_probe: Instant::now() + cx.config.backend.liveness_interval,
                });
            }
            Attempt::Failed(outcome) => failed = Some(outcome),
            Attempt::Interrupted(request) => {
                cx.log.info(&format!(
                    "{request} received before {name} was ready: stopping"
                ));
                return Flow::Break(DevOutcome::Stopped);
            }
        }
    }
    Flow::Break(failed.unwrap_or(DevOutcome::Stopped))
}

/// One start: spawn, record, and race its ready rule against its exit, its
/// `startup_timeout` and a signal. A failed start is stopped and reported.
async fn attempt_once(index: usize, name: &'static str, cx: &mut Cx<'_>) -> Attempt {
    let (config, log) = (cx.config, cx.log);
    let process = &config.processes[index];
    let argv = config.expanded(&process.command);
    let command = crate::text::shell_command(&argv);
    let spec = ProcessSpec {
        origin: Origin::Process(name),
        argv: argv.clone(),
        cwd: config.root.clone(),
        env: env(config, cx.frontend_url.as_deref(), log),
        foreground: false,
        ready_line: match &process.ready {
            Ready::Log(regex) => regex::Regex::new(regex).ok(),
            _ => None,
        },
    };
    let started = Instant::now();
    let mut running = match process::spawn(&spec, log) {
        Ok(running) => running,
        Err(err) => {
            return Attempt::Failed(fail_with(
                log,
                &format!("could not start {name} `{command}`: {err}"),
                vec![],
                vec![Cause {
                    cause: format!("`{}` is not installed or not on PATH", argv[0]),
                    fix: format!(
                        "install it, or correct `process.{name}.command` in dev.toml (`cargo xtask doctor` checks it)"
                    ),
                }],
            ));
        }
    };
    log.info(&format!("started {name} pid {}: {command}", running.pid()));
    cx.this_run.started(name, &running, &argv);
    let rule = until_ready(process, &running, cx.client.clone(), log.clone());
    let deadline = started + process.startup_timeout;
    let why = match race(rule, Some(&mut running), deadline, cx.shutdown).await {
        Race::Ready(()) => {
            let elapsed = started.elapsed();
            log.info(&format!(
                "{name} ready in {} ms{}",
                elapsed.as_millis(),
                process
                    .url()
                    .map_or_else(String::new, |url| format!(": {url}"))
            ));
            log.ready(name, &shown(process, &command), elapsed);
            return Attempt::Ready(running);
        }
        Race::Interrupted(request) => {
            stop(&mut running, config, log).await;
            return Attempt::Interrupted(request);
        }
        Race::Exited(status) => format!(
            "it exited ({}) before it was ready",
            process::describe_status(status)
        ),
        Race::TimedOut => format!(
            "it was not ready within {} ({}): {}",
            duration::format(process.startup_timeout),
            format_args!("process.{name}.startup_timeout"),
            waited_for(process)
        ),
    };
    stop(&mut running, config, log).await;
    Attempt::Failed(not_ready(process, &running, &command, &why, log))
}

/// The children's environment, with `FRONTEND_URL` and `FRONTEND_PORT` where the
/// frontend really serves.
fn env(config: &Config, frontend_url: Option<&str>, log: &RunLog) -> Vec<(String, String)> {
    let mut env = child_env(config, log);
    if let Some(url) = frontend_url {
        let port = url.rsplit(':').next().unwrap_or_default().to_owned();
        for (key, value) in &mut env {
            match key.as_str() {
                "FRONTEND_URL" => *value = url.to_owned(),
                "FRONTEND_PORT" => value.clone_from(&port),
                _ => {}
            }
        }
    }
    env
}

/// What a person is shown of it: its URL, or its command.
fn shown(process: &ProcessConfig, command: &str) -> String {
    process.url().unwrap_or_else(|| command.to_owned())
}

/// Its ready rule, as a wait that ends when it holds (the caller bounds it).
fn until_ready(
    process: &ProcessConfig,
    running: &Running,
    client: HealthClient,
    log: RunLog,
) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    let addr = address(process);
    let seen = running.line_seen();
    match process.ready.clone() {
        Ready::Started => Box::pin(std::future::ready(())),
        Ready::Log(_) => Box::pin(seen),
        Ready::Port => Box::pin(async move {
            if let Some(addr) = addr {
                connect::until_open(addr, CONNECT_POLL, connect::LOOPBACK).await;
            }
        }),
        Ready::Http(path) => {
            let url = process.url().map(|url| format!("{url}{path}"));
            Box::pin(async move {
                let (Some(addr), Some(url)) = (addr, url) else {
                    return;
                };
                connect::until_open(addr, CONNECT_POLL, connect::LOOPBACK).await;
                let started = Instant::now();
                loop {
                    let answer = client.status(&url, log.correlation_id()).await;
                    if matches!(answer, Ok(code) if (200..300).contains(&code)) {
                        return;
                    }
                    sleep(crate::ready::health_pause(false, started.elapsed())).await;
                }
            })
        }
    }
}

/// Where it listens, on loopback.
fn address(process: &ProcessConfig) -> Option<SocketAddr> {
    let host = crate::health::probe_host(&process.host);
    let ip: std::net::IpAddr = host.parse().ok()?;
    Some(SocketAddr::new(ip, process.port?))
}

/// What its rule waited for, for a report.
fn waited_for(process: &ProcessConfig) -> String {
    let port = process.port.unwrap_or_default();
    match &process.ready {
        Ready::Port => format!("port {port} never accepted a connection"),
        Ready::Http(path) => format!("GET {path} on port {port} never answered 2xx"),
        Ready::Log(regex) => format!("no line of its output matched `{regex}`"),
        Ready::Started => "it never started".into(),
    }
}

/// The report of a start that failed: what, the stderr tail, likely causes.
fn not_ready(
    process: &ProcessConfig,
    running: &Running,
    command: &str,
    why: &str,
    log: &RunLog,
) -> DevOutcome {
    let name = &process.name;
    let mut evidence = vec![format!("{name} pid {}: {why}", running.pid())];
    let tail = running.stderr_tail();
    if !tail.is_empty() {
        evidence.push("its last stderr lines:".into());
        evidence.extend(tail.into_iter().map(|line| format!("  {line}")));
    }
    let prefix = process.env_prefix();
    let by_hand = match process.port {
        Some(port) => format!("{prefix}_PORT={port} {command}"),
        None => command.to_owned(),
    };
    let mut causes = vec![Cause {
        cause: format!(
            "the {name} command failed or waits on something else (its output is above)"
        ),
        fix: format!("run `{by_hand}` by hand to see why, or correct `process.{name}` in dev.toml"),
    }];
    if let (Some(port), Ready::Port | Ready::Http(_)) = (process.port, &process.ready) {
        causes.push(Cause {
            cause: format!("it does not listen on port {port}"),
            fix: format!(
                "make it listen on the port dev chose: `{{{name}.port}}` in its command, or ${prefix}_PORT"
            ),
        });
    }
    if running.saw_bind_conflict() {
        causes.insert(
            0,
            Cause {
                cause: format!(
                    "port {} was taken after it was chosen",
                    process.port.unwrap_or_default()
                ),
                fix: "run `cargo xtask dev` again: the port is chosen anew".into(),
            },
        );
    }
    fail_with(
        log,
        &format!("{name} `{command}` did not become ready"),
        evidence,
        causes,
    )
}

/// Stops one of them (and what its group left), within `shutdown_grace`.
async fn stop(running: &mut Running, config: &Config, log: &RunLog) {
    let drain = Duration::from_millis(500);
    running
        .stop_with_leftovers(
            config.dev.shutdown_grace,
            std::future::pending(),
            drain,
            log,
        )
        .await;
}

impl Extras {
    /// The next thing that happens to one of them: an exit, the end of a backoff, a
    /// liveness probe due. Forever when there is nothing to wait for. Cancel-safe.
    pub(super) async fn next(&mut self) -> Happened {
        let mut waits: Vec<Pin<Box<dyn Future<Output = Happened> + Send + '_>>> = Vec::new();
        for (i, extra) in self.list.iter_mut().enumerate() {
            let (state, next_probe) = (extra.state, extra.next_probe);
            match (&mut extra.running, state) {
                (Some(running), _) => {
                    let probes = extra.probes;
                    waits.push(Box::pin(async move {
                        tokio::select! {
                            status = running.wait() => Happened::Exited(i, status),
                            () = sleep_until(next_probe), if probes => Happened::Probe(i),
                        }
                    }));
                }
                (None, State::Backoff { until }) => waits.push(Box::pin(async move {
                    sleep_until(until).await;
                    Happened::BackoffOver(i)
                })),
                _ => {}
            }
        }
        if waits.is_empty() {
            return std::future::pending().await;
        }
        poll_fn(|cx| {
            for wait in &mut waits {
                if let Poll::Ready(happened) = wait.as_mut().poll(cx) {
                    return Poll::Ready(happened);
                }
            }
            Poll::Pending
        })
        .await
    }

    /// Acts on what happened: an exit ends the run (`ends_run`), is left (`restart =
    /// "never"`, or a clean exit) or is restarted after the backoff; a start after the
    /// backoff; a liveness probe.
    pub(super) async fn on(&mut self, happened: Happened, cx: &mut Cx<'_>) -> Flow<()> {
        match happened {
            Happened::Exited(i, status) => self.exited(i, status, cx).await,
            Happened::BackoffOver(i) => {
                let extra = &mut self.list[i];
                match attempt_once(extra.index, extra.name, cx).await {
                    Attempt::Ready(running) => {
                        cx.log
                            .info(&format!("{} is back (pid {})", extra.name, running.pid()));
                        extra.running = Some(running);
                        extra.state = State::Up {
                            since: Instant::now(),
                        };
                        extra.missed = 0;
                        extra.next_probe = Instant::now() + cx.config.backend.liveness_interval;
                        Flow::Continue(())
                    }
                    Attempt::Failed(DevOutcome::Failed(report)) => {
                        cx.log.error(&report.to_string());
                        self.failed(i, "it did not become ready", cx)
                    }
                    Attempt::Failed(outcome) => Flow::Break(outcome),
                    Attempt::Interrupted(request) => {
                        cx.log
                            .info(&format!("{request} received: stopping what dev started"));
                        Flow::Break(DevOutcome::Stopped)
                    }
                }
            }
            Happened::Probe(i) => self.probe(i, cx).await,
        }
    }

    async fn exited(&mut self, i: usize, status: ExitStatus, cx: &mut Cx<'_>) -> Flow<()> {
        let extra = &mut self.list[i];
        let process = &cx.config.processes[extra.index];
        let said = process::describe_status(status);
        if let Some(mut running) = extra.running.take() {
            stop(&mut running, cx.config, cx.log).await;
        }
        let name = extra.name;
        if process.ends_run {
            cx.log.info(&format!(
                "{name} exited ({said}): stopping (process.{name}.ends_run)"
            ));
            return Flow::Break(DevOutcome::FrontendExited(process::exit_code(status)));
        }
        if process.restart == Restart::Never || status.success() {
            let why = if status.success() {
                "it exited cleanly"
            } else {
                "restart = \"never\""
            };
            cx.log
                .warn(&format!("{name} exited ({said}): not restarted ({why})"));
            extra.state = State::Down;
            return Flow::Continue(());
        }
        cx.log.warn(&format!("{name} exited ({said})"));
        self.failed(i, &format!("it exited: {said}"), cx)
    }

    /// One more failure of process `i`, which is down: the backoff, or the end of the
    /// run after `max_restarts` in a row.
    fn failed(&mut self, i: usize, reason: &str, cx: &mut Cx<'_>) -> Flow<()> {
        let backend = &cx.config.backend;
        let extra = &mut self.list[i];
        let name = extra.name;
        if let State::Up { since } = extra.state
            && since.elapsed() >= STABLE_AFTER
        {
            extra.failures = 0;
        }
        extra.failures += 1;
        if extra.failures > backend.max_restarts {
            return Flow::Break(fail_with(
                cx.log,
                &format!(
                    "{name} failed {} times in a row: dev gave up ({reason})",
                    extra.failures
                ),
                vec![],
                vec![Cause {
                    cause: format!("{name} cannot stay up (its output is above)"),
                    fix: format!(
                        "fix what stops it, then run `cargo xtask dev` again (or set `process.{name}.restart = \"never\"`)"
                    ),
                }],
            ));
        }
        let delay = backoff(backend.retry_delay, extra.failures, backend.max_retry_delay);
        cx.log.info(&format!(
            "restarting {name} in {} (restart {} of at most {} in a row)",
            duration::format(delay),
            extra.failures,
            backend.max_restarts
        ));
        cx.log.event(&Event::Restarting {
            role: name.to_owned(),
            delay_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            reason: reason.to_owned(),
        });
        extra.state = State::Backoff {
            until: Instant::now() + delay,
        };
        Flow::Continue(())
    }

    /// A liveness probe of a `ready = { http }` process: `liveness_failures` misses in
    /// a row restart it, as a crash does.
    async fn probe(&mut self, i: usize, cx: &mut Cx<'_>) -> Flow<()> {
        let backend = &cx.config.backend;
        let extra = &mut self.list[i];
        let process = &cx.config.processes[extra.index];
        extra.next_probe = Instant::now() + backend.liveness_interval;
        let (Ready::Http(path), Some(url)) = (&process.ready, process.url()) else {
            return Flow::Continue(());
        };
        let client = cx
            .client
            .with_timeout(backend.health_timeout.min(backend.liveness_interval));
        let answer = client
            .status(&format!("{url}{path}"), cx.log.correlation_id())
            .await;
        if matches!(answer, Ok(code) if (200..300).contains(&code)) {
            extra.missed = 0;
            return Flow::Continue(());
        }
        extra.missed += 1;
        if extra.missed < backend.liveness_failures {
            return Flow::Continue(());
        }
        let name = extra.name;
        cx.log.warn(&format!(
            "{name} stopped answering GET {path} ({} probes in a row): restarting it",
            extra.missed
        ));
        if let Some(mut running) = extra.running.take() {
            stop(&mut running, cx.config, cx.log).await;
        }
        self.failed(i, &format!("it stopped answering GET {path}"), cx)
    }

    /// The ones running now.
    pub(super) fn running(&self) -> impl Iterator<Item = (&Extra, &Running)> {
        self.list
            .iter()
            .filter_map(|extra| extra.running.as_ref().map(|running| (extra, running)))
    }

    /// The URL (or command) each one is shown with in the summary.
    pub(super) fn shown_at(&self, extra: &Extra, config: &Config) -> String {
        let process = &config.processes[extra.index];
        let command = crate::text::shell_command(&config.expanded(&process.command));
        shown(process, &command)
    }
}

/// Runs every future to its end, together.
pub(super) async fn join_all<'a>(futures: Vec<Pin<Box<dyn Future<Output = ()> + 'a>>>) {
    let mut futures = futures;
    poll_fn(|cx| {
        futures.retain_mut(|future| future.as_mut().poll(cx).is_pending());
        if futures.is_empty() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
}
