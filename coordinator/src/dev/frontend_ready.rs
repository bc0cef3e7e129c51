//! Waiting for the frontend to serve: its own listener on the frontend port (and a 2xx
//! on `frontend.ready_path` when one is set), then the one line a person clicks. A
//! frontend that exits first, or never opens its port, is reported with its stderr.
//!
//! Architecture Invariant: the frontend is ready only from a listener in its own process
//! tree, on either loopback family, as the backend is. A port that answers from another
//! process (one that took it just after dev's check) is named and never announced, and a
//! frontend that serves on another port than `FRONTEND_PORT` (Vite moves on its own when
//! its port is taken) is said within a second, with the URL it really serves and the fix.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::time::{Instant, sleep};

use super::outcome::{DevOutcome, Flow, fail_with};
use crate::config::{Config, duration};
use crate::health::{HealthClient, probe_host};
use crate::holder;
use crate::process::{self, Running};
use crate::ready::{Race, race};
use crate::report::Cause;
use crate::runlog::RunLog;
use crate::signals::Shutdown;
use crate::text::shell_command;

/// A connect on loopback answers at once, or is refused at once, unless the listener's
/// accept queue is full.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(100);
const PATH_POLL: Duration = Duration::from_millis(10);
/// Each request on the ready path.
const PATH_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the frontend's process tree is asked where it listens (a look at the
/// socket table and the tree's open files: a few milliseconds, so not every poll).
const TREE_POLL: Duration = Duration::from_millis(100);
/// How long the tree must listen elsewhere (and not on its port) before that is said:
/// long enough not to mistake a helper port opened first, short enough to be said
/// within a second.
const MOVED_AFTER: Duration = Duration::from_millis(300);

/// Waits until the frontend serves, then prints the clickable line. Returns the URL it
/// serves at (`None` for a frontend that is not a server, ready at once). `Err` ends the
/// run: `Stopped` on a signal, `Failed` with the evidence otherwise; the caller stops
/// what it started.
pub(super) async fn wait_frontend(
    config: &Config,
    running: &mut Running,
    log: &RunLog,
    shutdown: &mut Shutdown,
) -> Flow<Option<String>> {
    let Some(port) = config.frontend.port else {
        return Flow::Continue(None);
    };
    let started = Instant::now();
    let deadline = started + config.frontend.startup_timeout;
    let mut watch = Watch {
        port,
        root: running.pid(),
        configured: loopback(&config.frontend.host),
        foreign: None,
        moved: None,
        last_answer: None,
    };
    let ready_path = config.frontend.ready_path.clone();
    let serving = until_serving(&mut watch, ready_path.as_deref(), log);
    let outcome = match race(serving, Some(&mut *running), deadline, shutdown).await {
        Race::Ready(served) => Ok(served),
        Race::Exited(status) => Err(NotServing::Exited(process::describe_status(status))),
        Race::TimedOut => Err(NotServing::TimedOut(never_served(config, &watch))),
        Race::Interrupted(name) => {
            log.info(&format!(
                "{name} received before the frontend was ready: stopping"
            ));
            return Flow::Break(DevOutcome::Stopped);
        }
    };
    let served = match outcome {
        Ok(served) => served,
        Err(why) => {
            running.drain_output(Duration::from_millis(500)).await;
            return Flow::Break(not_ready(config, running, why, log));
        }
    };
    log.file_only(&format!(
        "frontend serving {} ms after it was started",
        started.elapsed().as_millis()
    ));
    if served.port() != port {
        say_moved(config, served.port(), log);
    }
    let url = base_url(served);
    log.info(&ready_line(
        &url,
        &config.backend_url(),
        log.correlation_id(),
    ));
    log.ready("frontend", &format!("{url}/"), started.elapsed());
    Flow::Continue(Some(url))
}

/// What the wait has seen so far.
struct Watch {
    /// `FRONTEND_PORT`.
    port: u16,
    /// The frontend's process (its group leader): its tree is the frontend.
    root: u32,
    /// The configured host, as an address on loopback.
    configured: IpAddr,
    /// A process outside the tree answering on the port, as said (once).
    foreign: Option<String>,
    /// Another port the tree listens on, and since when.
    moved: Option<(u16, Instant)>,
    last_answer: Option<String>,
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

/// The frontend's own listener answers (on its port, or, moved, on another one), then
/// the ready path (if any) answers 2xx there. Returns the address that serves; runs
/// until then, the caller bounds it.
async fn until_serving(watch: &mut Watch, ready_path: Option<&str>, log: &RunLog) -> SocketAddr {
    let served = until_listening(watch, log).await;
    let Some(path) = ready_path else {
        return served;
    };
    let url = format!("{}{path}", base_url(served));
    let client = HealthClient::new(PATH_TIMEOUT);
    loop {
        let answer = match client.status(&url, log.correlation_id()).await {
            Ok(code) if (200..300).contains(&code) => return served,
            Ok(code) => format!("{url} answered HTTP {code}"),
            Err(why) => format!("{url}: {why}"),
        };
        if watch.last_answer.as_deref() != Some(answer.as_str()) {
            log.file_only(&format!("frontend not ready yet: {answer}"));
        }
        watch.last_answer = Some(answer);
        sleep(PATH_POLL).await;
    }
}

/// Polls the port on both loopback families every half millisecond; when it answers, or
/// every [`TREE_POLL`], asks the frontend's tree where it listens. Returns an address of
/// the tree's that accepts a connection.
async fn until_listening(watch: &mut Watch, log: &RunLog) -> SocketAddr {
    let mut next_look = Instant::now();
    let mut answered = false;
    loop {
        // Once a stranger answers on the port, it is not connected to every millisecond
        // (its accept queue would fill, and then connects hang): the tree says when the
        // frontend listens there too.
        let answer = if watch.foreign.is_some() {
            tokio::time::sleep_until(next_look).await;
            None
        } else {
            let other = other_family(watch.configured);
            let addrs = [watch.configured, other].map(|ip| SocketAddr::new(ip, watch.port));
            crate::connect::first_open(addrs.to_vec(), crate::connect::STRETCH)
                .await
                .map(|addr| addr.ip())
        };
        let answers = answer.is_some() || watch.foreign.is_some();
        // The port opening is looked at at once (the ready line's latency); a port that
        // keeps answering from a stranger only every `TREE_POLL`.
        let opened = answers && !answered;
        answered = answers;
        if opened || Instant::now() >= next_look {
            next_look = Instant::now() + TREE_POLL;
            if let Some(served) = look(watch, answer, answers, log).await {
                return served;
            }
        }
    }
}

/// One look at where the tree listens: its own socket on the port (ready), another
/// port held long enough (moved), or a stranger answering on the port (said once).
/// `answer`: where the port just answered (one connect is all a one-shot server takes).
async fn look(
    watch: &mut Watch,
    answer: Option<IpAddr>,
    answers: bool,
    log: &RunLog,
) -> Option<SocketAddr> {
    let mine = holder::listening_of_tree(watch.root);
    tracing::debug!(
        "the frontend's tree (pid {}) listens on {mine:?}",
        watch.root
    );
    if let Some(own) = mine.iter().find(|addr| addr.port() == watch.port) {
        if let Some(ip) = answer
            && (own.ip().is_unspecified() || own.ip() == ip)
        {
            return Some(SocketAddr::new(ip, watch.port));
        }
        // Connect where the tree's own socket is bound: a stranger may hold the same
        // port on the other family.
        if let Some(ip) = answering(watch.port, first_try(own.ip(), watch.configured)).await {
            return Some(SocketAddr::new(ip, watch.port));
        }
    }
    if answers && watch.foreign.is_none() {
        let Some(foreign) = stranger(watch.port, watch.root) else {
            // Nobody else can be seen on the port: the frontend's own listener that
            // is already gone again (a one-shot server), or one that cannot be told
            // from it. Trusted, as the backend's is.
            return answer.map(|ip| SocketAddr::new(ip, watch.port));
        };
        log.warn(&format!(
            "port {} (FRONTEND_PORT) answers, but from {foreign}, which the frontend did not start: not announcing it",
            watch.port
        ));
        watch.foreign = Some(foreign);
    }
    // A tree that holds its own port too has not moved, whatever else it opened.
    let holds_own = mine.iter().any(|addr| addr.port() == watch.port);
    let elsewhere = mine
        .iter()
        .map(SocketAddr::port)
        .find(|p| *p != watch.port)
        .filter(|_| !holds_own);
    match (elsewhere, watch.moved) {
        (None, _) => watch.moved = None,
        (Some(port), Some((seen, since))) if port == seen && since.elapsed() >= MOVED_AFTER => {
            let ip = mine
                .iter()
                .find(|addr| addr.port() == port)
                .map_or(watch.configured, |addr| addr.ip());
            if let Some(ip) = answering(port, first_try(ip, watch.configured)).await {
                return Some(SocketAddr::new(ip, port));
            }
        }
        (Some(port), Some((seen, _))) if port == seen => {}
        (Some(port), _) => watch.moved = Some((port, Instant::now())),
    }
    None
}

/// The address that accepts a connection on `port`: `first` (the configured host, or
/// where the listener is bound), else the other loopback family. A server on `::1` only
/// (Vite's `localhost` where it resolves there) is found as well as one on 127.0.0.1.
async fn answering(port: u16, first: IpAddr) -> Option<IpAddr> {
    for ip in [first, other_family(first)] {
        // Bounded: a listener that never accepts stops answering once its queue is full.
        if crate::connect::accepts(SocketAddr::new(ip, port), CONNECT_TIMEOUT).await {
            return Some(ip);
        }
    }
    None
}

/// Loopback of the other family than `ip`.
fn other_family(ip: IpAddr) -> IpAddr {
    if ip.is_ipv4() {
        IpAddr::V6(Ipv6Addr::LOCALHOST)
    } else {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    }
}

/// Where to connect first to reach a socket bound to `bound`: the configured host when
/// it listens on every address, else where it is bound.
fn first_try(bound: IpAddr, configured: IpAddr) -> IpAddr {
    if bound.is_unspecified() {
        configured
    } else {
        bound
    }
}

/// "pid 42 (`python3 -m http.server 5173`)": who else listens on the port, as far as
/// it can be told.
/// `None` when no one but the frontend's tree can be seen listening there.
fn stranger(port: u16, root: u32) -> Option<String> {
    let sockets = holder::sockets(port);
    let me = process::effective_uid();
    // Another user's listener is never the frontend's, whatever it serves; root's is
    // the exception (a container runtime's port proxy), as for the backend.
    if let Some(uid) = sockets.uids.iter().find(|uid| **uid != me && **uid != 0) {
        let user = holder::user_name(*uid).map_or_else(
            || format!("uid {uid}"),
            |name| format!("user {} (uid {uid})", crate::text::printable(&name)),
        );
        return Some(format!("a process of {user}, which cannot be inspected"));
    }
    let outside: Vec<String> = holder::describe(sockets.pids())
        .iter()
        .filter(|h| !process::descends_from(h.pid, root))
        .map(|h| format!("pid {} (`{}`)", h.pid, crate::text::printable(&h.cmdline)))
        .collect();
    let ours = sockets
        .pids()
        .iter()
        .any(|pid| process::descends_from(*pid, root));
    (!outside.is_empty() && !ours).then(|| outside.join(", "))
}

/// `http://127.0.0.1:5173` or `http://[::1]:5173`.
fn base_url(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

/// The frontend serves on `served`, not on the port dev chose: said, with the fix.
fn say_moved(config: &Config, served: u16, log: &RunLog) {
    let port = config.frontend.port.unwrap_or_default();
    log.warn(&format!(
        "the frontend serves on port {served}, not on port {port} (FRONTEND_PORT) that dev chose and checked: it picked a port itself"
    ));
    log.warn(&format!("  fix: {}", moved_fix(config)));
}

/// How to make the frontend take the port dev chose: the placeholder in its command,
/// and the server's flag that makes it fail rather than move.
fn moved_fix(config: &Config) -> String {
    let command = &config.frontend.command;
    let has_placeholder = command
        .iter()
        .any(|arg| arg.contains("{frontend_port}") || arg.contains("FRONTEND_PORT"));
    let strict = strict_flag(command);
    match (has_placeholder, strict) {
        (false, Some(flag)) => format!(
            "pass dev's port in `frontend.command`, e.g. `--port {{frontend_port}} {flag}` (it never moves then)"
        ),
        (false, None) => "pass dev's port in `frontend.command` (`{frontend_port}`), or make the server read $FRONTEND_PORT".into(),
        (true, Some(flag)) => format!(
            "add `{flag}` to `frontend.command`: the server then fails when its port is taken rather than move"
        ),
        (true, None) => "make the server fail rather than move when its port is taken (its strict-port option)".into(),
    }
}

/// The strict-port flag of the dev servers that move on their own, when the command is
/// one of them.
fn strict_flag(command: &[String]) -> Option<&'static str> {
    crate::init::strict_flag(&command.join(" "))
}

fn never_served(config: &Config, watch: &Watch) -> String {
    let waited = duration::format(config.frontend.startup_timeout);
    let port = watch.port;
    match (&watch.last_answer, &watch.foreign) {
        (Some(answer), _) => {
            format!("its ready path did not answer 2xx within {waited} ({answer})")
        }
        (None, Some(foreign)) => format!(
            "it did not open port {port} within {waited}; port {port} answers from {foreign}, which the frontend did not start"
        ),
        (None, None) => format!("it did not open port {port} within {waited}"),
    }
}

/// The frontend command as it ran (placeholders filled in), quoted for a shell.
pub(super) fn shown_command(config: &Config) -> String {
    shell_command(&config.expanded(&config.frontend.command))
}

fn not_ready(config: &Config, running: &Running, why: NotServing, log: &RunLog) -> DevOutcome {
    let command = shown_command(config);
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
                fix: "make it listen on the port dev chose: `{frontend_port}` in `frontend.command`, or $FRONTEND_PORT (or raise `frontend.startup_timeout`), or set `frontend.port = false` in dev.toml when it is not a server".into(),
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
