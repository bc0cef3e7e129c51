//! Remote mode: `backend.url` names a backend that `dev` does not start (another
//! machine, a container, a cluster). Nothing is synced, spawned or classified on this
//! machine: `dev` waits for the backend in the same two phases as for its own (connect,
//! then health) within `startup_timeout`, checks that it is the configured `service`,
//! points the frontend at it, starts the frontend and supervises it. A remote backend
//! that stops answering is reported and probed again, never "restarted": `dev` holds
//! no process of it.
//!
//! A certificate the client rejects ends the wait after three rejections in a row
//! rather than at `startup_timeout`: waiting does not change a certificate.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::outcome::{DevOutcome, Flow, fail_with, proceed};
use super::processes::{Backend, Moved, Processes, Remote};
use super::run::Run;
use super::supervise::{Watch, supervise};
use super::{frontend_port, summary};
use crate::backend::Plan;
use crate::config::Config;
use crate::health::{self, HealthClient, HealthReport, Mismatch, Probe, Readiness, tls};
use crate::port;
use crate::prompt;
use crate::ready::{Judged, LastAnswer, NotHealthy, Race, race, until_healthy};
use crate::report::Cause;
use crate::runlog::RunLog;
use crate::runs::BackendUse;

/// How often phase one tries to connect, and how long one try may take (a host that
/// drops packets would otherwise hold a connect for minutes).
const CONNECT_POLL: Duration = Duration::from_millis(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// The backend named by `backend.url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Target {
    /// The base URL as configured, without a trailing `/`.
    pub(super) url: String,
    pub(super) host: String,
    pub(super) port: u16,
}

impl Target {
    /// `None` for a URL the config loader would not have accepted.
    pub(super) fn parse(url: &str) -> Option<Target> {
        let parsed = reqwest::Url::parse(url).ok()?;
        let host = parsed
            .host_str()?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        Some(Target {
            url: url.trim_end_matches('/').to_owned(),
            host,
            port: parsed.port_or_known_default()?,
        })
    }
}

/// Who answered, by what the health report says of itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Identity {
    /// The configured service, from this checkout's path or with no path given.
    Named,
    /// The answer names no service: it cannot be told from another one.
    Unnamed,
    /// The configured service running from another folder: normal for a remote backend.
    OtherWorkspace(String),
    /// Another service: never used.
    WrongService(String),
}

/// Decides [`Identity`] from a ready answer's report.
pub(super) fn identity(report: Option<&HealthReport>, service: &str, checkout: &Path) -> Identity {
    let Some(found) = report.and_then(|r| r.service.as_deref()) else {
        return Identity::Unnamed;
    };
    if found != service {
        return Identity::WrongService(found.to_owned());
    }
    match report.and_then(|r| r.workspace.as_deref()) {
        Some(workspace) if Path::new(workspace) != checkout => {
            Identity::OtherWorkspace(workspace.to_owned())
        }
        _ => Identity::Named,
    }
}

/// What the wait saw, for the report when it fails.
#[derive(Debug, Default)]
struct Seen {
    connected: bool,
    last: LastAnswer,
}

/// The run in remote mode, from the wait to the last stop.
pub(super) async fn run(config: &Config, run: &mut Run<'_>) -> DevOutcome {
    let log = run.log;
    let Some(target) = config.backend.url.as_deref().and_then(Target::parse) else {
        return DevOutcome::Misconfigured("backend.url is not an http:// or https:// URL".into());
    };
    log.info(&format!(
        "backend.url is set: using the backend at {}; dev starts no backend and syncs no venv",
        target.url
    ));
    if let Some(path) = &config.backend.ca_file
        && let Err(why) = tls::load_ca_file(path)
    {
        return DevOutcome::Misconfigured(format!(
            "{why}\nfix: point backend.ca_file (env DEV_BACKEND_CA_FILE) at the PEM file of the CA that signed the backend's certificate"
        ));
    }
    let trust = Arc::new(tls::Trust::new(config.backend.ca_file.clone()));
    let client = HealthClient::with_trust(config.backend.health_timeout, trust);
    let health_url = format!("{}{}", target.url, config.backend.health_path);
    let started = Instant::now();
    let mut seen = Seen::default();
    let waiting = wait_ready(&target, &health_url, &client, config, log, &mut seen);
    let deadline = started + config.backend.startup_timeout;
    let waited = match race(waiting, None, deadline, run.shutdown).await {
        Race::Ready(waited) => Some(waited),
        // No process here to exit: only the deadline ends the wait.
        Race::Exited(_) | Race::TimedOut => None,
        Race::Interrupted(name) => {
            log.info(&format!("{name} received before the backend was ready"));
            return DevOutcome::Stopped;
        }
    };
    match waited {
        Some(Ok(_)) => {
            log.info(&format!(
                "backend at {} ready in {} ms",
                target.url,
                started.elapsed().as_millis()
            ));
            log.ready("backend", &target.url, started.elapsed());
        }
        Some(Err(cause)) => return failed(log, &target, &health_url, &seen, vec![cause]),
        None => {
            let cause = timed_out(config, &target, &seen);
            return failed(log, &target, &health_url, &seen, vec![cause]);
        }
    }
    let mut config = config.clone();
    config.backend.host = target.host.clone();
    let mut config = config.with_ports(target.port, config.frontend.port);
    run_frontend(&mut config, run, &client, &health_url).await
}

/// Once the backend is ready: the frontend's port, its config, the frontend, and
/// supervision until the run ends.
async fn run_frontend(
    config: &mut Config,
    run: &mut Run<'_>,
    client: &HealthClient,
    health_url: &str,
) -> DevOutcome {
    let (options, log) = (run.options, run.log);
    if options.frontend_command.is_some() {
        config.frontend.port = None;
    }
    let mut moved = Moved::default();
    let backend_port = config.backend.port;
    let mut frontend = config.frontend.port;
    if !options.no_frontend {
        let policy = port::Policy {
            auto: options.frontend_port_auto,
            yes: options.yes,
            interactive: prompt::interactive(),
        };
        let settled =
            proceed!(frontend_port::resolve_frontend_port(config, backend_port, policy, run).await);
        frontend = settled.port;
        moved.frontend = settled.moved;
    }
    let policy = port::Policy {
        auto: options.port_auto,
        yes: options.yes,
        interactive: prompt::interactive(),
    };
    let settled = proceed!(
        super::ports::settle_process_ports(config, backend_port, frontend, policy, run).await
    );
    *config = match run.this_run.apply_ports(config, backend_port, frontend) {
        Ok(config) => config,
        Err(err) => return DevOutcome::Misconfigured(err.to_string()),
    };
    super::ports::apply_process_ports(config, &settled, &mut moved.processes);
    run.this_run.update(|record| {
        // No process of it is ours: like a backend started by hand.
        record.backend = BackendUse::Reused {
            pid: None,
            run: None,
        };
        record.frontend_port = config.frontend.port;
    });
    let mut processes = Processes {
        backend: Some(Backend::Remote(Remote {
            url: config.backend_url(),
        })),
        moved,
        ..Processes::default()
    };
    // The backend runs elsewhere: what `after` puts before it starts now, with what
    // goes before the frontend.
    let order = super::extra::Order::of(config);
    let first: Vec<usize> = order.before.iter().chain(&order.between).copied().collect();
    let mut starting = super::frontend::Starting {
        config,
        client,
        run,
    };
    let started = starting
        .frontend_and_processes(&first, &order.after, &mut processes)
        .await;
    if let Flow::Break(outcome) = started {
        processes.stop_all(config, run).await;
        return outcome;
    }
    summary::say(log, &processes, config, summary::When::Up, run.this_run);
    let mut plan = Plan::new(config, Vec::new(), Vec::new());
    plan.health_url = health_url.to_owned();
    let watch = Watch {
        config,
        plan: &plan,
        client,
        log,
    };
    // No watcher: a change here does not restart a backend that runs elsewhere.
    let outcome = supervise(&watch, run, &mut processes, None).await;
    processes.stop_all(config, run).await;
    outcome
}

/// Phase one (a TCP connect succeeds), then phase two (health is ready and names the
/// configured service). Runs until ready, or until an answer that cannot change came
/// three times in a row; the caller bounds it with `startup_timeout`.
async fn wait_ready(
    target: &Target,
    health_url: &str,
    client: &HealthClient,
    config: &Config,
    log: &RunLog,
    seen: &mut Seen,
) -> Result<Option<HealthReport>, Cause> {
    let started = Instant::now();
    let addr = (target.host.as_str(), target.port);
    crate::connect::until_open(addr, CONNECT_POLL, CONNECT_TIMEOUT).await;
    seen.connected = true;
    log.file_only(&format!(
        "{}:{} accepts connections after {} ms",
        target.host,
        target.port,
        started.elapsed().as_millis()
    ));
    let backend = &config.backend;
    let mut rejections = 0;
    let mut last_reason = String::new();
    let judge = async |probe: &Probe, report: Option<&HealthReport>, readiness: Readiness| {
        let rejection = client.trust().take_rejection();
        let ready = |readiness| Judged {
            readiness,
            slow: false,
            stop: None,
        };
        let mut readiness = readiness;
        if readiness == Readiness::Ready {
            match identity(report, &backend.service, &config.root) {
                Identity::Named => return ready(Readiness::Ready),
                Identity::Unnamed => {
                    log.warn(&format!(
                        "the health answer of {} names no service: dev cannot check that it is {:?}",
                        target.url, backend.service
                    ));
                    return ready(Readiness::Ready);
                }
                Identity::OtherWorkspace(path) => {
                    log.info(&format!(
                        "note: {} runs from {path}, not this checkout (normal for a backend that runs elsewhere)",
                        backend.service
                    ));
                    return ready(Readiness::Ready);
                }
                Identity::WrongService(found) => {
                    readiness = Readiness::Never(Mismatch::WrongService {
                        found,
                        expected: backend.service.clone(),
                    });
                }
            }
        }
        let reason = health::describe_probe(probe, Some(&readiness));
        if reason != last_reason {
            log.file_only(&format!("health not ready yet: {reason}"));
            last_reason = reason;
        }
        rejections = if rejection.is_some() {
            rejections + 1
        } else {
            0
        };
        // A certificate the client rejects: waiting does not change it.
        let stop = match (&rejection, rejections >= health::Streak::LIMIT) {
            (Some(rejection), true) => Some(Cause {
                cause: match probe {
                    Probe::Unreachable(why) => why.clone(),
                    _ => rejection.to_string(),
                },
                fix: tls::fix(rejection, &target.host),
            }),
            _ => None,
        };
        Judged {
            readiness,
            slow: rejection.is_some(),
            stop,
        }
    };
    let format = (backend.health_format, backend.accept_degraded);
    let ask = async || client.probe(health_url, log.correlation_id()).await;
    match until_healthy(ask, format, &mut seen.last, judge).await {
        Ok(report) => Ok(report),
        Err(NotHealthy::Never(mismatch)) => Err(Cause {
            cause: mismatch.evidence(),
            fix: mismatch.fix(),
        }),
        Err(NotHealthy::Rule(cause)) => Err(cause),
    }
}

/// The likely cause when `startup_timeout` passed.
fn timed_out(config: &Config, target: &Target, seen: &Seen) -> Cause {
    let waited = crate::config::duration::format(config.backend.startup_timeout);
    if !seen.connected {
        return Cause {
            cause: format!(
                "nothing accepted a connection at {}:{} within {waited}: the backend is not running there, listens on another port, or a firewall drops the connection",
                target.host, target.port
            ),
            fix: "start it (for the compose file: `docker compose up -d`), or correct backend.url"
                .into(),
        };
    }
    let answer = seen.last.probe.as_ref().map_or_else(
        || "no health answer".to_owned(),
        |probe| health::describe_probe(probe, seen.last.readiness.as_ref()),
    );
    Cause {
        cause: format!("{} accepts connections but was not ready within {waited}: {answer}", target.url),
        fix: "read the backend's own log (the correlation id is in its request log), or raise backend.startup_timeout if it starts slowly".into(),
    }
}

fn failed(
    log: &RunLog,
    target: &Target,
    health_url: &str,
    seen: &Seen,
    causes: Vec<Cause>,
) -> DevOutcome {
    let mut evidence = vec![format!("health URL: {health_url}")];
    if let Some(probe) = &seen.last.probe {
        evidence.push(format!(
            "last health response: {}",
            health::describe_probe(probe, seen.last.readiness.as_ref())
        ));
    } else if seen.connected {
        evidence.push("the port accepted connections; no health answer yet".into());
    } else {
        evidence.push(format!(
            "{}:{} never accepted a connection",
            target.host, target.port
        ));
    }
    fail_with(
        log,
        &format!("the backend at {} did not become ready", target.url),
        evidence,
        causes,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(service: Option<&str>, workspace: Option<&str>) -> HealthReport {
        HealthReport::healthy_with(service, workspace)
    }

    #[test]
    fn identity_of_a_remote_answer() {
        let here = Path::new("/home/me/app");
        let cases = [
            (
                report(Some("demo-backend"), Some("/home/me/app")),
                Identity::Named,
            ),
            (report(Some("demo-backend"), None), Identity::Named),
            (
                report(Some("demo-backend"), Some("/srv/app")),
                Identity::OtherWorkspace("/srv/app".into()),
            ),
            (
                report(Some("billing"), Some("/home/me/app")),
                Identity::WrongService("billing".into()),
            ),
            (report(None, Some("/srv/app")), Identity::Unnamed),
        ];
        for (answer, expected) in cases {
            assert_eq!(
                identity(Some(&answer), "demo-backend", here),
                expected,
                "{answer:?}"
            );
        }
        assert_eq!(identity(None, "demo-backend", here), Identity::Unnamed);
    }

    #[test]
    fn targets_take_the_scheme_default_port() {
        let cases = [
            ("https://gpu-box:8443", "gpu-box", 8443),
            ("https://api.example.test", "api.example.test", 443),
            ("http://127.0.0.1:8000/api/", "127.0.0.1", 8000),
            ("http://[::1]:9000", "::1", 9000),
        ];
        for (url, host, port) in cases {
            let target = Target::parse(url).expect(url);
            assert_eq!((target.host.as_str(), target.port), (host, port), "{url}");
            assert!(!target.url.ends_with('/'));
        }
    }
}
