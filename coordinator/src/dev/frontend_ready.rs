//! Waiting for the frontend to serve: its port accepting connections (and a 2xx on
//! `frontend.ready_path` when one is set), then the one line a person clicks. A
//! frontend that exits first, or never opens its port, is reported with its stderr.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::{Instant, sleep};

use super::Flow;
use super::{DevOutcome, fail_with};
use crate::config::{Config, duration};
use crate::health::{HealthClient, probe_host};
use crate::process::{self, Running};
use crate::report::Cause;
use crate::runlog::RunLog;
use crate::signals::Shutdown;

/// A refused connect on loopback costs microseconds: poll often, so the ready line
/// follows the port's opening by about a millisecond.
const CONNECT_POLL: Duration = Duration::from_millis(1);
const PATH_POLL: Duration = Duration::from_millis(10);
/// Each request on the ready path.
const PATH_TIMEOUT: Duration = Duration::from_secs(2);

/// Waits until the frontend serves, then prints the clickable line. A frontend that is
/// not a server is ready at once. `Err` ends the run: `Stopped` on a signal, `Failed`
/// with the evidence otherwise; the caller stops what it started.
pub(super) async fn wait_frontend(
    config: &Config,
    running: &mut Running,
    log: &RunLog,
    shutdown: &mut Shutdown,
) -> Flow<()> {
    let (Some(port), Some(url)) = (config.frontend.port, config.frontend_url()) else {
        return Flow::Continue(());
    };
    let started = Instant::now();
    let deadline = started + config.frontend.startup_timeout;
    let addr = SocketAddr::new(loopback(&config.frontend.host), port);
    let ready_url = config
        .frontend
        .ready_path
        .as_ref()
        .map(|path| format!("{url}{path}"));
    let mut last_answer = None;
    let outcome = tokio::select! {
        () = until_serving(addr, ready_url.as_deref(), log, &mut last_answer) => None,
        status = running.wait() => Some(NotServing::Exited(process::describe_status(status))),
        () = tokio::time::sleep_until(deadline) => Some(NotServing::TimedOut(never_served(config, port, last_answer.as_deref()))),
        name = shutdown.next() => {
            log.info(&format!("{name} received before the frontend was ready: stopping"));
            return Flow::Break(DevOutcome::Stopped);
        }
    };
    if let Some(why) = outcome {
        running.drain_output(Duration::from_millis(500)).await;
        return Flow::Break(not_ready(config, running, why, log));
    }
    log.file_only(&format!(
        "frontend serving {} ms after it was started",
        started.elapsed().as_millis()
    ));
    log.info(&ready_line(
        &url,
        &config.backend_url(),
        log.correlation_id(),
    ));
    crate::events::ready(log, "frontend", &format!("{url}/"), started.elapsed());
    Flow::Continue(())
}

/// Why the frontend did not become ready.
enum NotServing {
    /// It exited, with this status.
    Exited(String),
    /// It is running but never served; what was seen.
    TimedOut(String),
}

/// "frontend ready: http://127.0.0.1:5174/ (backend http://127.0.0.1:8000, run dev-..)".
pub(super) fn ready_line(frontend_url: &str, backend_url: &str, correlation_id: &str) -> String {
    format!("frontend ready: {frontend_url}/ (backend {backend_url}, run {correlation_id})")
}

/// The port opens, then the ready path (if any) answers 2xx. Runs until then; the caller
/// bounds it.
async fn until_serving(
    addr: SocketAddr,
    ready_url: Option<&str>,
    log: &RunLog,
    last_answer: &mut Option<String>,
) {
    while TcpStream::connect(addr).await.is_err() {
        sleep(CONNECT_POLL).await;
    }
    let Some(url) = ready_url else {
        return;
    };
    let client = HealthClient::new(PATH_TIMEOUT);
    loop {
        let answer = match client.status(url, log.correlation_id()).await {
            Ok(code) if (200..300).contains(&code) => return,
            Ok(code) => format!("{url} answered HTTP {code}"),
            Err(why) => format!("{url}: {why}"),
        };
        if last_answer.as_deref() != Some(answer.as_str()) {
            log.file_only(&format!("frontend not ready yet: {answer}"));
        }
        *last_answer = Some(answer);
        sleep(PATH_POLL).await;
    }
}

fn never_served(config: &Config, port: u16, last_answer: Option<&str>) -> String {
    let waited = duration::format(config.frontend.startup_timeout);
    match last_answer {
        Some(answer) => format!("its ready path did not answer 2xx within {waited} ({answer})"),
        None => format!("it did not open port {port} within {waited}"),
    }
}

fn not_ready(config: &Config, running: &Running, why: NotServing, log: &RunLog) -> DevOutcome {
    let command = config.frontend.command.join(" ");
    let port = config.frontend.port.unwrap_or_default();
    let (what, cause) = match why {
        NotServing::Exited(status) => (
            format!("it exited ({status}) before serving"),
            Cause {
                cause: "the frontend command failed (its stderr is above)".into(),
                fix: format!("run `FRONTEND_PORT={port} {command}` by hand to see why"),
            },
        ),
        NotServing::TimedOut(what) => (
            what,
            Cause {
                cause: format!("the frontend does not listen on port {port} (FRONTEND_PORT)"),
                fix: "make it listen on $FRONTEND_PORT (or raise `frontend.startup_timeout`), or set `frontend.port = false` in dev.toml when it is not a server".into(),
            },
        ),
    };
    let mut evidence = vec![format!("frontend pid {}: {what}", running.pid())];
    let tail = running.stderr_tail();
    if !tail.is_empty() {
        evidence.push("its last stderr lines:".into());
        evidence.extend(tail.into_iter().map(|line| format!("  {line}")));
    }
    let mut causes = vec![cause];
    if running.saw_bind_conflict() {
        causes.insert(
            0,
            Cause {
                cause: format!("port {port} was taken after it was chosen"),
                fix: "run `cargo xtask dev` again: the port is chosen anew".into(),
            },
        );
    }
    fail_with(
        log,
        &format!("the frontend `{command}` did not become ready"),
        evidence,
        causes,
    )
}

/// The address to connect to for a configured host (wildcards on loopback).
fn loopback(host: &str) -> IpAddr {
    probe_host(host)
        .parse()
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ready_line_is_clickable_and_names_the_run() {
        assert_eq!(
            ready_line("http://127.0.0.1:5174", "http://127.0.0.1:8000", "dev-1-ab"),
            "frontend ready: http://127.0.0.1:5174/ (backend http://127.0.0.1:8000, run dev-1-ab)"
        );
    }

    #[test]
    fn wildcards_and_names_are_reached_on_loopback() {
        let cases = [
            ("127.0.0.1", "127.0.0.1"),
            ("0.0.0.0", "127.0.0.1"),
            ("localhost", "127.0.0.1"),
            ("::", "::1"),
            ("::1", "::1"),
        ];
        for (host, expected) in cases {
            assert_eq!(loopback(host).to_string(), expected, "{host}");
        }
    }
}
