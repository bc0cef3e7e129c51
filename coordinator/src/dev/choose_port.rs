//! Settling the backend port before anything starts: free, reusable, or taken, when
//! the offer of DESIGN section 7 is made (asked on a terminal, decided by `--port auto`
//! and `--yes` otherwise) and the port may change.

use std::time::Duration;

use super::DevOutcome;
use super::fail_with;
use crate::config::Config;
use crate::health::{HealthClient, HealthReport};
use crate::port::{self, PortState};
use crate::process;
use crate::prompt;
use crate::report::Cause;
use crate::runlog::RunLog;
use crate::signals::Shutdown;

/// Settles the backend port: free (returns `None`: start one), ours and ready (returns
/// its health report: reuse it), or taken, when the offer of DESIGN section 7 is made
/// and `config.backend.port` may change. Refusals end the run.
pub(super) async fn resolve_port(
    config: &mut Config,
    policy: port::Policy,
    log: &RunLog,
    shutdown: &mut Shutdown,
) -> Result<Option<HealthReport>, DevOutcome> {
    // Classification must not hang on a process that accepts and never answers.
    let client = HealthClient::new(config.backend.health_timeout.min(Duration::from_secs(1)));
    // Each round either settles the port or changes something (a new port, a stopped
    // backend); the bound only guards against a port that keeps being stolen.
    for _ in 0..5 {
        let port = config.backend.port;
        let url = format!("{}{}", config.backend_url(), config.backend.health_path);
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
        match &state {
            PortState::Free => return Ok(None),
            PortState::Reusable(report) => return Ok(Some(report.clone())),
            _ => {}
        }
        let described = state.describe(port);
        let Some(next) = port::free_instead(port) else {
            return Err(refuse(
                log,
                &described,
                "stop the process holding it".into(),
            ));
        };
        let offer = port::offer(&state, next);
        log.warn(&capitalised(&described));
        let accepted = match port::decide_without_asking(offer, policy) {
            Some(choice) => Some(choice),
            None if policy.interactive => match ask(offer, shutdown).await {
                Answer::Choice(choice) => choice,
                Answer::Interrupted(name) => {
                    log.info(&format!("{name} received at the prompt: stopping"));
                    return Err(DevOutcome::Stopped);
                }
            },
            None => None,
        };
        match (offer, accepted) {
            (port::Offer::StopOrNextPort { pid, .. }, Some(true)) => {
                // An answer may take minutes: stop the pid only if it still holds the
                // port now (pids are reused), else look at the port again.
                let holds = crate::holder::lookup(port)
                    .holder()
                    .is_some_and(|holder| holder.pid == pid);
                if !holds {
                    log.warn(&format!(
                        "pid {pid} no longer holds port {port}: looking at the port again"
                    ));
                    continue;
                }
                log.info(&format!("stopping our stale backend pid {pid}"));
                if !process::stop_pid(pid, config.dev.shutdown_grace).await {
                    return Err(refuse(
                        log,
                        &format!("our stale backend pid {pid} did not stop"),
                        format!("stop it by hand (kill {pid}), or rerun with --port auto"),
                    ));
                }
                // The kernel releases the listening socket a moment after the process
                // is gone; classifying at once could see a nameless holder.
                let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
                while !port::is_free(port) && tokio::time::Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            (
                port::Offer::NextPort(next) | port::Offer::StopOrNextPort { port: next, .. },
                Some(_),
            ) => {
                log.info(&format!("using port {next} instead of {port}"));
                config.backend.port = next;
            }
            (port::Offer::NextPort(next), None) => {
                return Err(refuse(
                    log,
                    &described,
                    format!(
                        "rerun with `cargo xtask dev --port auto` to use port {next}, or stop the process holding port {port}"
                    ),
                ));
            }
            (port::Offer::StopOrNextPort { pid, port: next }, None) => {
                return Err(refuse(
                    log,
                    &described,
                    format!(
                        "rerun with `cargo xtask dev --yes` to stop pid {pid}, or with `cargo xtask dev --port auto` to use port {next}"
                    ),
                ));
            }
        }
    }
    Err(refuse(
        log,
        "no port could be settled after 5 tries",
        "choose a port with --port N".into(),
    ))
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
        name = shutdown.next() => Err(name),
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
