//! `dev`: the whole run. Sync, check the port, start the backend (or reuse it), start
//! the frontend, supervise both, and stop everything it started on the way out.
//!
//! The supervisor's states are explicit in [`supervise`]: the frontend and the backend
//! ([`Backend::Owned`], or [`Backend::Reused`]) are running; a backend crash moves to
//! restarting with backoff; a reused backend that goes away is taken over; a signal or
//! the frontend's exit moves to terminating. Only owned processes are ever stopped, so a
//! reused backend survives every exit path. The run is recorded in `.dev/runs/`
//! ([`crate::runs`]) from start to clean exit.

mod choose_port;
mod extra;
mod frontend;
mod frontend_port;
mod frontend_ready;
mod liveness;
mod outcome;
mod ports;
mod preview;
mod processes;
mod remote;
mod run;
mod stop;
pub mod summary;
mod supervise;
mod this_run;
mod watching;

use choose_port::resolve_port;
use extra::{Order, start_extras};
pub use outcome::{DevOptions, DevOutcome};
use outcome::{Flow, child_env, context, fail, fail_with, proceed};
use ports::{port_chosen, settle_ports};
pub use preview::preview;
use preview::resolve_python;
use processes::{Backend, Processes, Reused};
use run::Run;
use supervise::{Watch, supervise};
use this_run::ThisRun;
use watching::start_watching;

use crate::backend::{self, Plan, StartOutcome};
use crate::config::{Config, display_path};
use crate::events::Event;
use crate::guardian::Guardian;
use crate::health::{HealthClient, HealthReport};
use crate::report::{Cause, FailureReport};
use crate::runlog::RunLog;
use crate::runs::{BackendUse, Record};
use crate::signals::Shutdown;
use crate::venv;
use crate::{port, process, prompt};

/// Runs `dev` to the end on a single-threaded runtime.
pub fn run(config: &Config, options: &DevOptions, log: &RunLog) -> DevOutcome {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    match runtime {
        Ok(runtime) => {
            // Library code logs with `tracing`: into this run's log, for the whole run
            // (the runtime runs every task on this thread).
            let _entered = log.enter();
            let outcome = runtime.block_on(run_async(config, options, log));
            // A venv sync interrupted by a signal may still be unwinding on a blocking
            // thread (its installer is already stopped): do not wait for it.
            runtime.shutdown_background();
            outcome
        }
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
    log.event(&Event::RunStarted {
        root: config.root.display().to_string(),
        log: log.path().map(|path| path.display().to_string()),
    });
    // Signals first: a Ctrl-C during the venv sync must stop the installer too.
    let mut shutdown = match Shutdown::install() {
        Ok(shutdown) => shutdown,
        Err(err) => return fail(log, &format!("cannot handle signals: {err}"), vec![]),
    };
    if !process::become_subreaper() {
        log.file_only("cannot become the child subreaper: a backend that daemonizes may escape");
    }
    // The guardian starts while the run registers, and runs before anything is
    // started: whatever starts from here on is its to stop should `dev` be killed.
    let starting = start_guardian(config, log);
    let registered = ThisRun::register(config, log, &mut shutdown).await;
    let guardian = starting.and_then(|starting| guardian_up(starting, log));
    let mut this_run = match registered {
        std::ops::ControlFlow::Continue(this_run) => this_run,
        std::ops::ControlFlow::Break(outcome) => {
            if let Some(guardian) = guardian {
                guardian.stand_down();
            }
            return outcome;
        }
    };
    let mut run = Run {
        options,
        log,
        shutdown: &mut shutdown,
        this_run: &mut this_run,
    };
    let outcome = run_registered(config, &mut run).await;
    if let DevOutcome::Failed(report) = &outcome {
        // Before the last stops: `wait` reads it while the run is still recorded.
        this_run.failed(&report.to_string());
    }
    // Whatever escaped the groups (a double fork into its own session) goes too.
    let hurry = shutdown.hurry();
    for info in process::stop_descendants(config.dev.shutdown_grace, hurry).await {
        log.warn(&info.said("was still running after the grace period and was killed"));
    }
    this_run.finish(config);
    // Last: until the record is gone, a kill leaves the guardian something to finish.
    if let Some(guardian) = guardian {
        guardian.stand_down();
    }
    if let DevOutcome::Failed(report) = &outcome {
        log.file_only(&report.to_string());
    }
    outcome
}

/// Cleans up after the dead runs of the checkout exactly as a starting run does (the
/// same code): stops what each left running, settles its frontend-config change, and
/// removes its record. For `cargo xtask stop`; `warn` gets each thing said. Returns how
/// many dead runs there were.
pub async fn clean_up_dead_runs(
    config: &Config,
    warn: &dyn Fn(&str),
    shutdown: &mut Shutdown,
) -> usize {
    let runs = crate::runs::Runs::of(&config.root);
    let Ok(lock) = runs.lock() else {
        return 0;
    };
    let records = runs.list(&lock);
    this_run::clean_up_dead(&runs, &lock, records, config, warn, shutdown).await
}

/// The guardian's clean-up after a `dev` that died without standing it down (see
/// [`crate::guardian::watch`]): the run's config from the checkout it runs in, then what
/// the next run would do for it.
pub async fn clean_up_as_guardian(correlation_id: String, log: RunLog) {
    let (correlation_id, log) = (correlation_id.as_str(), &log);
    let started = std::time::Instant::now();
    log.warn(&format!(
        "guardian (pid {}): dev ended without stopping cleanly: cleaning up after it",
        std::process::id()
    ));
    // From here on a signal is a request to hurry (a second Ctrl-C's meaning), not an
    // end: until now the termination signals were ignored.
    let mut shutdown = match Shutdown::install() {
        Ok(shutdown) => shutdown,
        Err(err) => {
            log.warn(&format!(
                "guardian: cannot handle signals ({err}): the next dev run cleans up"
            ));
            return;
        }
    };
    let root = std::env::current_dir().unwrap_or_else(|_| std::path::PathBuf::from("."));
    let config = match Config::load(&root, &|name| std::env::var(name).ok(), &[]) {
        Ok(config) => config,
        Err(err) => {
            log.warn(&format!(
                "guardian: cannot read the configuration, so it leaves the clean-up to the next dev run: {}",
                crate::text::printable(&err.to_string())
            ));
            return;
        }
    };
    let done = clean_up_after_guarded(&config, correlation_id, log, &mut shutdown).await;
    log.warn(&format!(
        "guardian: {done} in {} ms",
        started.elapsed().as_millis()
    ));
}

/// Starts this run's guardian (see [`crate::guardian`]) unless `dev.guardian` is off.
fn start_guardian(config: &Config, log: &RunLog) -> Option<crate::guardian::Starting> {
    if !config.dev.guardian {
        log.file_only("no guardian (dev.guardian = false): after a kill -9 the next run cleans up");
        return None;
    }
    Some(Guardian::start_soon(
        &config.root,
        log.correlation_id(),
        log.path(),
    ))
}

/// Waits for the guardian to run. A guardian that cannot start is said once; the run
/// goes on, and the next run cleans up after a `kill -9` as it always did.
fn guardian_up(starting: crate::guardian::Starting, log: &RunLog) -> Option<Guardian> {
    let waited = std::time::Instant::now();
    match starting.wait() {
        (Ok(guardian), took) => {
            log.file_only(&format!(
                "guardian pid {} (started in {} µs, waited for {} µs): it stops what this run started if dev is killed outright",
                guardian.pid(),
                took.as_micros(),
                waited.elapsed().as_micros()
            ));
            Some(guardian)
        }
        (Err(err), _) => {
            log.warn(&format!(
                "cannot start the guardian ({err}): if dev is killed outright, what it started runs until the next dev run"
            ));
            None
        }
    }
}

/// What the guardian of run `correlation_id` does once `dev` died without standing it
/// down: the next run's clean-up of that one run, at once (see [`crate::guardian`]).
pub async fn clean_up_after_guarded(
    config: &Config,
    correlation_id: &str,
    log: &RunLog,
    shutdown: &mut Shutdown,
) -> String {
    this_run::clean_up_after_guarded(config, correlation_id, log, shutdown).await
}

/// The run once it is recorded: sync, port, frontend config, backend, frontend,
/// supervision, and stopping what it started.
async fn run_registered(config: &Config, run: &mut Run<'_>) -> DevOutcome {
    let (options, log) = (run.options, run.log);
    if config.backend.url.is_some() {
        // A backend `dev` does not start: no sync, no spawn, no local port.
        return remote::run(config, run).await;
    }
    if options.no_sync {
        log.info("--no-sync: not syncing the Python environment");
    } else if let Some(outcome) = {
        run.this_run.update(|record| {
            record.waiting_for = Some("the Python environment to be synced".into());
        });
        sync(config, run).await
    } {
        return outcome;
    }
    let policy = port::Policy {
        auto: options.port_auto,
        yes: options.yes,
        interactive: prompt::interactive(),
    };
    // One run at a time settles its ports and starts its backend and frontend: a run
    // started at the same moment then finds the first one's backend, and reuses it,
    // rather than both seeing a free port and racing for it.
    let starting = proceed!(run.this_run.start_lock(log, run.shutdown).await);
    let ports = proceed!(settle_ports(config, run, policy).await);
    let mut moved = processes::Moved {
        backend: ports.backend.moved.clone(),
        frontend: ports.frontend.moved.clone(),
        ..processes::Moved::default()
    };
    let mut config = match run
        .this_run
        .apply_ports(config, ports.backend.port, ports.frontend.port)
    {
        Ok(config) => config,
        Err(err) => return DevOutcome::Misconfigured(err.to_string()),
    };
    ports::apply_process_ports(&mut config, &ports.processes, &mut moved.processes);
    let argv = proceed!(backend_argv(&config, log));
    let mut plan = Plan::new(&config, argv.clone(), child_env(&config, log));
    // Watching starts before the backend does: a save made while it starts up restarts
    // it once it is up, rather than being missed.
    let watcher = start_watching(&config, options, log);
    let client = HealthClient::new(config.backend.health_timeout);
    let mut processes = Processes {
        moved,
        ..Processes::default()
    };
    let order = Order::of(&config);
    // What `after` starts before the backend (Redis for its cache).
    let mut cx = extra::Cx::of(&config, &client, run, None);
    if let Flow::Break(outcome) = start_extras(&order.before, &mut cx, &mut processes.extras).await
    {
        processes.stop_all(&config, run).await;
        return outcome;
    }
    let backend = match ports.backend.reuse {
        Some(report) => Backend::Reused(reused(&report, &config, run)),
        None => {
            let mut start = Start {
                config: &mut config,
                plan: &mut plan,
                argv: &argv,
                policy,
                client: &client,
                moved: &mut processes.moved.backend,
            };
            match start_backend(&mut start, run).await {
                Flow::Continue(backend) => backend,
                Flow::Break(outcome) => {
                    processes.stop_all(&config, run).await;
                    return outcome;
                }
            }
        }
    };
    processes.backend = Some(backend);
    let owned = match &processes.backend {
        Some(Backend::Owned(running)) => Some(running.pid()),
        _ => None,
    };
    let settled = |record: &mut crate::runs::Record| {
        record.backend_port = Some(plan.port);
        record.frontend_port = config.frontend.port;
        if let Some(pid) = owned {
            record.backend = BackendUse::Owned { pid };
        }
    };
    // Between the ready answer and the frontend's start, the record is written once:
    // with the frontend's group (its own groups were recorded as they were spawned).
    if options.no_frontend || !order.between.is_empty() {
        run.this_run.update(settled);
    } else {
        run.this_run.change(settled);
    }
    let mut starting_frontend = frontend::Starting {
        config: &config,
        client: &client,
        run,
    };
    let started = starting_frontend
        .frontend_and_processes(&order.between, &order.after, &mut processes)
        .await;
    if let Flow::Break(outcome) = started {
        processes.stop_all(&config, run).await;
        return outcome;
    }
    drop(starting);
    summary::say(log, &processes, &config, summary::When::Up, run.this_run);
    let watch = Watch {
        config: &config,
        plan: &plan,
        client: &client,
        log,
    };
    let outcome = supervise(&watch, run, &mut processes, watcher).await;
    processes.stop_all(&config, run).await;
    outcome
}

/// Syncs the venv on a blocking thread while watching for signals: a Ctrl-C stops the
/// installer (and whatever it started) and ends the run like any other Ctrl-C. The next
/// run repairs a half-made venv. `Some` when the run must end.
async fn sync(config: &Config, run: &mut Run<'_>) -> Option<DevOutcome> {
    let (log, shutdown) = (run.log, &mut *run.shutdown);
    let backend = config.backend.clone();
    let root = config.root.clone();
    let lock_dir = lock_dir(config);
    let sync_log = log.clone();
    let syncing =
        tokio::task::spawn_blocking(move || venv::sync(&backend, &root, &lock_dir, &sync_log));
    tokio::select! {
        done = syncing => match done {
            Ok(Ok(_)) => None,
            Ok(Err(err)) => Some(fail(
                log,
                "the Python environment could not be synced",
                vec![err.to_string()],
            )),
            Err(err) => Some(fail(log, &format!("the venv sync crashed: {err}"), vec![])),
        },
        name = shutdown.next() => {
            log.info(&format!("{name} received during the venv sync: stopping the installer"));
            let hurry = shutdown.hurry();
            let killed = process::stop_descendants(config.dev.shutdown_grace, hurry).await;
            for info in killed {
                log.warn(&info.said("was killed"));
            }
            Some(DevOutcome::Stopped)
        }
    }
}

/// Names a reused backend: another live run's (by its correlation ID), or one started
/// by hand.
fn reused(report: &HealthReport, config: &Config, run: &mut Run<'_>) -> Reused {
    let (log, this_run) = (run.log, &mut *run.this_run);
    let address = format!("{}:{}", config.backend.host, config.backend.port);
    let pid = report.pid;
    let owner: Option<Record> = this_run.others().into_iter().find(|run| {
        run.owned_backend().is_some_and(|owned| Some(owned) == pid)
            || run.owns_backend_on(config.backend.port)
    });
    let shown_pid = pid.map_or("unknown".into(), |p| p.to_string());
    match &owner {
        Some(run) => log.info(&format!(
            "reusing the backend of dev run {} (pid {shown_pid}, started by dev pid {}) on {address}",
            run.correlation_id, run.pid
        )),
        None => log.info(&format!(
            "reusing backend pid {shown_pid} on {address} (started outside dev)"
        )),
    }
    let run = owner.map(|run| run.correlation_id);
    log.event(&Event::Reused {
        role: "backend".into(),
        url: config.backend_url(),
        pid,
        run: run.clone(),
    });
    this_run.update(|record| {
        record.backend = BackendUse::Reused {
            pid,
            run: run.clone(),
        };
    });
    Reused { pid, run }
}

/// What starting the backend works on: the run's config and plan, which change when the
/// port has to be chosen again.
struct Start<'a> {
    config: &'a mut Config,
    plan: &'a mut Plan,
    argv: &'a [String],
    policy: port::Policy,
    client: &'a HealthClient,
    /// Why the backend is not on its configured port, for the summary.
    moved: &'a mut Option<String>,
}

/// Starts the backend, choosing the port again when it was taken meanwhile (the config
/// then moves to the new port, and the frontend config with it).
async fn start_backend(start: &mut Start<'_>, run: &mut Run<'_>) -> Flow<Backend> {
    let log = run.log;
    let mut failures = Vec::new();
    let mut next_attempt = 1;
    loop {
        match backend::start(
            start.plan,
            next_attempt,
            start.client,
            log,
            run.shutdown,
            run.this_run,
        )
        .await
        {
            // Recorded as owned with the ports, in one write (`run_registered`).
            StartOutcome::Ready { running, .. } => return Flow::Continue(Backend::Owned(running)),
            StartOutcome::Interrupted => {
                log.info("stopped before the backend was ready");
                return Flow::Break(DevOutcome::Stopped);
            }
            StartOutcome::Failed(more) => {
                failures.extend(more);
                let context = context(start.config, start.plan);
                let report = FailureReport::backend(log, &failures, &context);
                return Flow::Break(DevOutcome::Failed(Box::new(report)));
            }
            StartOutcome::PortTaken {
                failures: more,
                next_attempt: next,
            } => {
                failures.extend(more);
                next_attempt = next;
                let taken = start.config.backend.port;
                log.warn(&format!(
                    "port {taken} was taken after it was chosen: choosing again"
                ));
                let resolved =
                    proceed!(flow: resolve_port(start.config, taken, start.policy, run).await);
                if resolved.port != taken && start.moved.is_none() {
                    *start.moved = Some(format!("{taken} was taken after it was chosen"));
                }
                port_chosen(log, "backend", resolved.port, start.moved.as_deref());
                let frontend = start.config.frontend.port;
                *start.config =
                    match run
                        .this_run
                        .apply_ports(start.config, resolved.port, frontend)
                    {
                        Ok(config) => config,
                        Err(err) => return Flow::Break(DevOutcome::Misconfigured(err.to_string())),
                    };
                let config = &*start.config;
                *start.plan = Plan::new(config, start.argv.to_vec(), child_env(config, log));
                if let Some(report) = resolved.reuse {
                    let reused = reused(&report, config, run);
                    return Flow::Continue(Backend::Reused(reused));
                }
            }
        }
    }
}

/// [`resolve_python`], or the end of the run with a report naming the fix.
fn backend_argv(config: &Config, log: &RunLog) -> Flow<Vec<String>> {
    match resolve_python(config) {
        Ok(argv) => Flow::Continue(argv),
        Err(err) => Flow::Break(fail_with(
            log,
            &format!(
                "cannot run the backend command `{}`",
                crate::text::shell_command(&config.expanded(&config.backend.command))
            ),
            vec![err.to_string()],
            vec![Cause {
                cause: "no suitable Python interpreter is installed".into(),
                fix: err.fix(),
            }],
        )),
    }
}

fn lock_dir(config: &Config) -> std::path::PathBuf {
    config.root.join(".dev")
}
