//! The one ready wait. [`race`]: a readiness rule's wait against the process's exit, the
//! deadline, and a shutdown request; the backend's attempt, the frontend's start and the
//! remote backend's wait differ only in the rule they race (the remote backend has no
//! process here), and each turns the result into its own outcome and report.
//! [`until_healthy`]: the health phase that follows the port opening, for the local
//! backend and the remote one, which differ only in their readiness rule.

use std::future::Future;
use std::process::ExitStatus;
use std::time::Duration;

use tokio::time::{Instant, sleep, sleep_until};

use crate::health::{self, HealthFormat, HealthReport, Mismatch, Probe, Readiness};
use crate::process::Running;
use crate::signals::{Shutdown, ShutdownRequest};

/// How often phase two asks for health at first, and later.
const HEALTH_POLL_FAST: Duration = Duration::from_millis(10);
const HEALTH_POLL_SLOW: Duration = Duration::from_millis(100);
/// How long phase two polls fast before slowing down.
const FAST_PHASE: Duration = Duration::from_secs(2);
/// How long to wait before asking again after an answer that can never become ready:
/// three identical answers then span a second, which no start-up blip lasts.
const NEVER_RECHECK: Duration = Duration::from_millis(500);

/// How the race ended.
#[derive(Debug)]
pub enum Race<T> {
    /// The rule's wait ended (ready, or a verdict that waiting cannot change).
    Ready(T),
    /// The process exited first.
    Exited(ExitStatus),
    /// The deadline passed first.
    TimedOut,
    Interrupted(ShutdownRequest),
}

/// Races `ready` against `process`'s exit (when there is one), `deadline` and `shutdown`.
pub async fn race<T>(
    ready: impl Future<Output = T>,
    process: Option<&mut Running>,
    deadline: Instant,
    shutdown: &mut Shutdown,
) -> Race<T> {
    let exited = async {
        match process {
            Some(running) => running.wait().await,
            None => std::future::pending().await,
        }
    };
    // Biased: a rule that holds wins over an exit seen in the same poll (a line that
    // said it was ready, then the process ended): it was ready, and the supervisor sees
    // the exit next.
    tokio::select! {
        biased;
        done = ready => Race::Ready(done),
        status = exited => Race::Exited(status),
        () = sleep_until(deadline) => Race::TimedOut,
        request = shutdown.next() => Race::Interrupted(request),
    }
}

/// The last health answer of a wait, and what it meant: the evidence of a wait that
/// did not end ready.
#[derive(Debug, Default)]
pub struct LastAnswer {
    pub probe: Option<Probe>,
    pub readiness: Option<Readiness>,
}

/// What a readiness rule made of one answer: its readiness (the rule may take a ready
/// answer back, e.g. from another service), whether to ask again only slowly (an answer
/// being confirmed as one that cannot change), and whether to stop asking (after the
/// answer is recorded, and after a settled answer that cannot change).
pub struct Judged<E> {
    pub readiness: Readiness,
    pub slow: bool,
    pub stop: Option<E>,
}

/// Why phase two ended without a ready answer.
pub enum NotHealthy<E> {
    /// An answer that can never become ready came [`health::Streak::LIMIT`] times.
    Never(Mismatch),
    /// The rule ended the wait.
    Rule(E),
}

/// Phase two of the one ready wait, for the local backend and the remote one alike:
/// asks (`ask`: one health request; the local wait's first answer may have come
/// already, on the connection that found the port open) until `judge` calls an answer
/// ready (its report is returned), fast at first, then slower; an answer that can
/// never become ready ends it after [`health::Streak::LIMIT`] in a row, and `judge` may
/// end it too. `judge` is the readiness rule (who answered, what to log). Runs until
/// then: the caller bounds it.
pub async fn until_healthy<E>(
    mut ask: impl AsyncFnMut() -> Probe,
    (format, accept_degraded): (HealthFormat, bool),
    last: &mut LastAnswer,
    mut judge: impl AsyncFnMut(&Probe, Option<&HealthReport>, Readiness) -> Judged<E>,
) -> Result<Option<HealthReport>, NotHealthy<E>> {
    let started = Instant::now();
    let mut streak = health::Streak::default();
    loop {
        let probe = ask().await;
        let report = probe.report(format);
        let readiness = health::readiness(&probe, format, accept_degraded);
        let judged = judge(&probe, report.as_ref(), readiness).await;
        if judged.readiness == Readiness::Ready {
            return Ok(report);
        }
        let settled = streak.observe(&judged.readiness).cloned();
        let never = matches!(judged.readiness, Readiness::Never(_)) || judged.slow;
        last.probe = Some(probe);
        last.readiness = Some(judged.readiness);
        if let Some(mismatch) = settled {
            return Err(NotHealthy::Never(mismatch));
        }
        if let Some(stop) = judged.stop {
            return Err(NotHealthy::Rule(stop));
        }
        sleep(health_pause(never, started.elapsed())).await;
    }
}

/// How long phase two waits before asking again: fast at first, slower later, and
/// half a second while an answer that can never become ready is being confirmed.
pub(crate) fn health_pause(never: bool, polling_for: Duration) -> Duration {
    if never {
        NEVER_RECHECK
    } else if polling_for < FAST_PHASE {
        HEALTH_POLL_FAST
    } else {
        HEALTH_POLL_SLOW
    }
}
