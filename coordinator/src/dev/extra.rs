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

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::process::ExitStatus;
use std::time::Duration;

use tokio::time::{Instant, sleep};

use super::outcome::child_env;
use super::outcome::{DevOutcome, Flow, fail_with};
use super::run::Run;
use super::this_run::ThisRun;
use crate::backend::backoff;
use crate::config::process::start_order;
use crate::config::{Config, Node, ProcessConfig, Ready, Restart, duration};
use crate::connect;
use crate::health::HealthClient;
use crate::process::{self, ProcessSpec, Running};
use crate::ready::{Race, race};
use crate::report::Cause;
use crate::runlog::{Origin, RunLog};
use crate::signals::Shutdown;

mod supervise;

pub(super) use supervise::join_all;

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

impl<'a> Cx<'a> {
    /// The process step's view of `run`, with the run's config and health client.
    pub(super) fn of(
        config: &'a Config,
        client: &'a HealthClient,
        run: &'a mut Run<'_>,
        frontend_url: Option<String>,
    ) -> Cx<'a> {
        Cx {
            config,
            log: run.log,
            client,
            shutdown: &mut *run.shutdown,
            this_run: &mut *run.this_run,
            frontend_url,
        }
    }
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

enum State {
    Up {
        since: Instant,
    },
    /// Down after a failure: starts again then.
    Backoff {
        until: Instant,
    },
    /// Started again after a backoff, waiting for its rule: a state of the supervisor's
    /// loop, not an await in a handler, so a signal, the frontend's exit and the
    /// backend's are seen meanwhile.
    Starting {
        ready: Pin<Box<dyn Future<Output = ()> + Send>>,
        started: Instant,
        deadline: Instant,
    },
    /// Exited and not to be restarted.
    Down,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            State::Up { .. } => "Up",
            State::Backoff { .. } => "Backoff",
            State::Starting { .. } => "Starting",
            State::Down => "Down",
        })
    }
}

/// What happened to one of them.
pub(super) enum Happened {
    Exited(usize, ExitStatus),
    BackoffOver(usize),
    Probe(usize),
    /// Started again, and its rule now holds.
    Ready(usize),
    /// Started again, and not ready by its `startup_timeout`.
    NotReady(usize),
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
/// `extras` as it becomes ready (so that a later failure stops it too).
pub(super) async fn start_extras(
    indices: &[usize],
    cx: &mut Cx<'_>,
    extras: &mut Extras,
) -> Flow<()> {
    for index in indices {
        let extra = start(*index, cx).await?;
        extras.list.push(extra);
    }
    Flow::Continue(())
}

/// How one start went.
enum Attempt {
    Ready(Running),
    /// Why, and the report if it is the last try.
    Failed(String, DevOutcome),
    /// Another try cannot help (its program is missing, it daemonizes).
    Fatal(DevOutcome),
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
            Attempt::Failed(why, outcome) => {
                if attempt < attempts {
                    cx.log.warn(&format!(
                        "{name}: attempt {attempt} of {attempts} failed: {why}"
                    ));
                }
                failed = Some(outcome);
            }
            Attempt::Fatal(outcome) => return Flow::Break(outcome),
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

/// Spawns it and records it; a program that cannot start is a report (no retry helps).
fn spawn_one(index: usize, name: &'static str, cx: &mut Cx<'_>) -> Result<Running, DevOutcome> {
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
    let running = process::spawn(&spec, log).map_err(|err| {
        fail_with(
            log,
            &format!("could not start {name} `{command}`: {err}"),
            vec![],
            vec![Cause {
                cause: format!("`{}` is not installed or not on PATH", argv[0]),
                fix: format!(
                    "install it, or correct `process.{name}.command` in dev.toml (`cargo xtask doctor` checks it)"
                ),
            }],
        )
    })?;
    log.info(&format!("started {name} pid {}: {command}", running.pid()));
    cx.this_run.started(name, &running, &argv);
    Ok(running)
}

/// It is ready: said, with how long it took.
fn say_ready(
    (config, process): (&Config, &ProcessConfig),
    name: &str,
    elapsed: Duration,
    log: &RunLog,
    again: bool,
) {
    let at = process
        .url()
        .map_or_else(String::new, |url| format!(": {url}"));
    let word = if again { "ready again" } else { "ready" };
    log.info(&format!("{name} {word} in {} ms{at}", elapsed.as_millis()));
    log.ready(name, &shown(config, process), elapsed);
}

/// One start: spawn, record, and race its ready rule against its exit, its
/// `startup_timeout` and a signal. A failed start is stopped and reported.
async fn attempt_once(index: usize, name: &'static str, cx: &mut Cx<'_>) -> Attempt {
    let (config, log) = (cx.config, cx.log);
    let process = &config.processes[index];
    let command = command_line(config, process);
    let started = Instant::now();
    let mut running = match spawn_one(index, name, cx) {
        Ok(running) => running,
        Err(outcome) => return Attempt::Fatal(outcome),
    };
    let rule = until_ready(process, &running, cx.client.clone(), log.clone());
    let deadline = started + process.startup_timeout;
    let why = match race(rule, Some(&mut running), deadline, cx.shutdown).await {
        Race::Ready(()) => {
            say_ready((config, process), name, started.elapsed(), log, false);
            return Attempt::Ready(running);
        }
        Race::Interrupted(request) => {
            stop(&mut running, config, log).await;
            return Attempt::Interrupted(request);
        }
        Race::Exited(status) => {
            if let Some(report) = forked(process, status, &command, log).await {
                stop(&mut running, config, log).await;
                return Attempt::Fatal(report);
            }
            format!(
                "it exited ({}) before it was ready",
                process::describe_status(status)
            )
        }
        Race::TimedOut => timed_out(process),
    };
    stop(&mut running, config, log).await;
    let report = not_ready(process, &running, &command, &why, log);
    Attempt::Failed(why, report)
}

/// What a start that timed out waited for.
fn timed_out(process: &ProcessConfig) -> String {
    format!(
        "it was not ready within {} (process.{}.startup_timeout): {}",
        duration::format(process.startup_timeout),
        process.name,
        waited_for(process)
    )
}

/// A process with a port that exited while its port still answers forked into the
/// background (daemonized): dev cannot supervise what it left (the caller stops it: dev
/// is the child subreaper), and a restart would start a second copy. The report says so,
/// with the fix. Asked before what it left is stopped.
async fn forked(
    process: &ProcessConfig,
    status: ExitStatus,
    command: &str,
    log: &RunLog,
) -> Option<DevOutcome> {
    let addr = address(process)?;
    if !connect::accepts(addr, connect::LOOPBACK).await {
        return None;
    }
    let name = &process.name;
    let holder = crate::holder::lookup(addr.port());
    let who = holder.holder().map_or_else(String::new, |h| {
        format!(
            " (held by pid {}, `{}`)",
            h.pid,
            crate::text::printable(&h.cmdline)
        )
    });
    Some(fail_with(
        log,
        &format!(
            "{name} `{command}` exited ({}) while its port {} still answered{who}: the command forks into the background",
            process::describe_status(status),
            addr.port()
        ),
        vec!["what it left in the background was stopped".into()],
        vec![Cause {
            cause: format!("{name} daemonizes: dev cannot supervise a process that left it"),
            fix: "run it in the foreground (redis-server: add `--daemonize no`), then stop the copy it left (its pid is above)".into(),
        }],
    ))
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
fn shown(config: &Config, process: &ProcessConfig) -> String {
    process
        .url()
        .unwrap_or_else(|| command_line(config, process))
}

/// Its command as it runs (placeholders filled in), as a person would type it.
fn command_line(config: &Config, process: &ProcessConfig) -> String {
    crate::text::shell_command(&config.expanded(&process.command))
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
                connect::until_open_loopback(addr).await;
            }
        }),
        Ready::Http(path) => {
            let url = process.url().map(|url| format!("{url}{path}"));
            Box::pin(async move {
                let (Some(addr), Some(url)) = (addr, url) else {
                    return;
                };
                connect::until_open_loopback(addr).await;
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
