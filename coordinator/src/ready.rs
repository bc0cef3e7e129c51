//! The one race of a start: a readiness rule's wait against the process's exit, the
//! deadline, and a shutdown request. The backend's attempt, the frontend's start and the
//! remote backend's wait differ only in the rule they race (the remote backend has no
//! process here); each turns the result into its own outcome and report.

use std::future::Future;
use std::process::ExitStatus;

use tokio::time::{Instant, sleep_until};

use crate::process::Running;
use crate::signals::{Shutdown, ShutdownRequest};

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
    tokio::select! {
        done = ready => Race::Ready(done),
        status = exited => Race::Exited(status),
        () = sleep_until(deadline) => Race::TimedOut,
        request = shutdown.next() => Race::Interrupted(request),
    }
}
