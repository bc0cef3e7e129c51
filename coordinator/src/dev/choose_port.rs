//! Settling the backend port before anything starts: free, reusable, or taken, when
//! the offer (a free port, or stopping our own stale backend) is made (asked on a terminal, decided by `--port auto`
//! and `--yes` otherwise) and the port may change.

use std::time::Duration;

use super::outcome::{DevOutcome, Flow, fail_with, proceed};
use super::run::Run;
use crate::config::Config;
use crate::health::{HealthClient, HealthReport};
use crate::port::{self, PortState};
use crate::process;
use crate::prompt;
use crate::report::Cause;
use crate::runlog::RunLog;
use crate::signals::Shutdown;

/// The backend port, settled: the port, and the health report of our backend on it
/// when it is to be reused (none: start one).
#[derive(Debug, Clone)]
pub(super) struct ResolvedPort {
    pub(super) port: u16,
    pub(super) reuse: Option<HealthReport>,
    /// Why it is not the port asked for: "8000 is in use by ...".
    pub(super) moved: Option<String>,
}

/// Settles the backend port, starting from `wanted`: free (start one), ours and ready
/// (reuse it), or taken, when the offer (a free port, or stopping our own stale backend)
/// is made and the port may change. Refusals end the run.
pub(super) async fn resolve_port(
    config: &Config,
    wanted: u16,
    policy: port::Policy,
    run: &mut Run<'_>,
) -> Flow<ResolvedPort> {
    let log = run.log;
    let mut port = wanted;
    let mut moved = None;
    // Each round either settles the port or changes something (a new port, a stopped
    // backend); the bound only guards against a port that keeps being stolen.
    for _ in 0..5 {
        let state = classify(config, port, log).await;
        match &state {
            PortState::Free => {
                return Flow::Continue(ResolvedPort {
                    port,
                    reuse: None,
                    moved,
                });
            }
            PortState::Reusable(report) => {
                let reuse = Some(report.clone());
                return Flow::Continue(ResolvedPort { port, reuse, moved });
            }
            _ => {}
        }
        let described = state.describe(port);
        let Some(next) = port::free_instead(port) else {
            let fix = "stop the process holding it".into();
            return Flow::Break(refuse(log, &described, fix));
        };
        let offer = port::offer(&state, next);
        log.warn(&capitalised(&described));
        let accepted = match port::decide_without_asking(offer, policy) {
            Some(choice) => Some(choice),
            None if policy.interactive => match ask(offer, run.shutdown).await {
                Answer::Choice(choice) => choice,
                Answer::Interrupted(name) => {
                    log.info(&format!("{name} received at the prompt: stopping"));
                    return Flow::Break(DevOutcome::Stopped);
                }
            },
            None => None,
        };
        let next = proceed!(flow: take_offer(config, port, offer, accepted, &described, run).await);
        if next != port && moved.is_none() {
            moved = Some(moved_because(port, &state));
        }
        port = next;
    }
    Flow::Break(refuse(
        log,
        "no port could be settled after 5 tries",
        "choose a port with --port N".into(),
    ))
}

/// Why a run left `port`, for the summary: "8000 is in use by `python3 -m http.server
/// 8000` (pid 777, user alice, up 3 min)" (the holder only; the rest was said when the
/// port was looked at).
pub(super) fn moved_because(port: u16, state: &PortState) -> String {
    match state.holder() {
        Some(crate::holder::Lookup::Found(holders)) if !holders.is_empty() => {
            format!("{port} is in use by {}", holders[0])
        }
        Some(crate::holder::Lookup::Hidden { .. } | crate::holder::Lookup::Found(_)) => {
            format!("{port} is in use by a process that cannot be inspected")
        }
        None => format!("{port} was taken"),
    }
}

/// What is on `port` now.
async fn classify(config: &Config, port: u16, log: &RunLog) -> PortState {
    // As long as the config says a health request may take (`health_timeout`): a
    // process that accepts and never answers is given up on then, and our own slow
    // backend is not mistaken for a foreign one.
    let client = HealthClient::new(config.backend.health_timeout);
    let at = config.with_ports(port, config.frontend.port);
    let url = format!("{}{}", at.backend_url(), config.backend.health_path);
    let state = port::classify(
        &client,
        &url,
        log.correlation_id(),
        &config.backend.service,
        &config.root,
        config.backend.health_format,
        port,
    )
    .await;
    tracing::debug!("port {port} classified: {state:?}");
    state
}

/// Acts on the answer to an offer: stop our stale backend (the port is then looked at
/// again), move to the free port, or refuse with the exact rerun command. Returns the
/// port to look at next.
async fn take_offer(
    config: &Config,
    port: u16,
    offer: port::Offer,
    accepted: Option<bool>,
    described: &str,
    run: &mut Run<'_>,
) -> Flow<u16> {
    let log = run.log;
    match (offer, accepted) {
        (port::Offer::StopOrNextPort { pid, .. }, Some(true)) => {
            proceed!(flow: stop_stale(config, port, pid, run).await);
            Flow::Continue(port)
        }
        (port::Offer::NextPort(next) | port::Offer::StopOrNextPort { port: next, .. }, Some(_)) => {
            log.info(&format!("using port {next} instead of {port}"));
            Flow::Continue(next)
        }
        (port::Offer::NextPort(next), None) => Flow::Break(refuse(
            log,
            described,
            format!(
                "rerun with `cargo xtask dev --port auto` to use port {next}, or stop the process holding port {port}"
            ),
        )),
        (port::Offer::StopOrNextPort { pid, port: next }, None) => Flow::Break(refuse(
            log,
            described,
            format!(
                "rerun with `cargo xtask dev --yes` to stop pid {pid}, or with `cargo xtask dev --port auto` to use port {next}"
            ),
        )),
    }
}

/// Stops our own stale backend `pid`, after consent, if it still holds `port`.
async fn stop_stale(config: &Config, port: u16, pid: u32, run: &mut Run<'_>) -> Flow<()> {
    let (log, shutdown) = (run.log, &mut *run.shutdown);
    // An answer may take minutes: stop the pid only if it still holds the port now
    // (pids are reused), else look at the port again.
    let holds = crate::holder::lookup(port)
        .holder()
        .is_some_and(|holder| holder.pid == pid);
    if !holds {
        log.warn(&format!(
            "pid {pid} no longer holds port {port}: looking at the port again"
        ));
        return Flow::Continue(());
    }
    log.info(&format!("stopping our stale backend pid {pid}"));
    let hurry = shutdown.hurry();
    if !process::stop_pid(pid, config.dev.shutdown_grace, hurry).await {
        return Flow::Break(refuse(
            log,
            &format!("our stale backend pid {pid} did not stop"),
            format!("stop it by hand (kill {pid}), or rerun with --port auto"),
        ));
    }
    // The kernel releases the listening socket a moment after the process is gone;
    // classifying at once could see a nameless holder.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while !port::is_free(port) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Flow::Continue(())
}

/// An answer at the prompt, or the signal that interrupted it.
enum Answer {
    /// `Some(true)` takes the offer's first choice, `Some(false)` the second, `None`
    /// refuses both.
    Choice(Option<bool>),
    Interrupted(&'static str),
}

/// Asks about an offer on the terminal. Ctrl-C while waiting stops the run at once.
async fn ask(offer: port::Offer, shutdown: &mut Shutdown) -> Answer {
    match offer {
        port::Offer::NextPort(next) => {
            match confirm(format!("Use port {next} instead?"), true, shutdown).await {
                Ok(accepted) => Answer::Choice(accepted.then_some(true)),
                Err(name) => Answer::Interrupted(name),
            }
        }
        port::Offer::StopOrNextPort { pid, port: next } => {
            let stop = confirm(format!("Stop it (pid {pid})?"), false, shutdown).await;
            match stop {
                Err(name) => return Answer::Interrupted(name),
                Ok(true) => return Answer::Choice(Some(true)),
                Ok(false) => {}
            }
            match confirm(format!("Use port {next} instead?"), true, shutdown).await {
                Ok(true) => Answer::Choice(Some(false)),
                Ok(false) => Answer::Choice(None),
                Err(name) => Answer::Interrupted(name),
            }
        }
    }
}

/// One yes/no question (the frontend port's too), read on a thread of its own so that a
/// signal can end the wait (a blocked read would otherwise hold the only runtime
/// thread, and Ctrl-C would be ignored until Enter). The thread is left behind when
/// interrupted; the run ends.
pub(super) async fn confirm(
    question: String,
    default: bool,
    shutdown: &mut Shutdown,
) -> Result<bool, &'static str> {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = sender.send(prompt::confirm(&question, default));
    });
    tokio::select! {
        answer = receiver => Ok(answer.unwrap_or(false)),
        request = shutdown.next() => Err(request.signal()),
    }
}

pub(super) fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().collect::<String>() + chars.as_str())
        .unwrap_or_default()
}

fn refuse(log: &RunLog, what: &str, fix: String) -> DevOutcome {
    fail_with(
        log,
        what,
        vec![],
        vec![Cause {
            cause: "the backend port is taken".into(),
            fix,
        }],
    )
}
