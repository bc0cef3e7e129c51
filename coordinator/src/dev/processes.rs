//! The processes of this run as the run's steps hold them: the backend (started,
//! reused or remote), the frontend, the `[process.NAME]` processes, and why ports moved.

use super::extra::Extras;
use crate::process::Running;

/// The backend this run talks to.
#[derive(Debug)]
pub(super) enum Backend {
    /// Started by this run: stopped on the way out, restarted when it crashes.
    Owned(Running),
    /// Someone else's: never stopped.
    Reused(Reused),
    /// At `backend.url`, not on this machine's process table: never stopped or started.
    Remote(Remote),
}

/// A backend that `dev` reaches at a URL and holds no process of.
#[derive(Debug, Clone)]
pub(super) struct Remote {
    pub(super) url: String,
}

/// Whose backend is reused.
#[derive(Debug, Clone)]
pub(super) struct Reused {
    pub(super) pid: Option<u32>,
    /// The correlation ID of the live run that owns it, if a run does.
    pub(super) run: Option<String>,
}

impl Reused {
    pub(super) fn named(&self) -> String {
        let pid = self
            .pid
            .map_or_else(String::new, |pid| format!(" (pid {pid})"));
        match &self.run {
            Some(run) => format!("the backend of dev run {run}{pid}"),
            None => format!("the reused backend{pid}"),
        }
    }
}

/// The processes of this run.
#[derive(Debug, Default)]
pub(super) struct Processes {
    pub(super) backend: Option<Backend>,
    pub(super) frontend: Option<Running>,
    /// The frontend is `dev -- <cmd>` (this command), whose exit code is passed through
    /// as it is.
    pub(super) command: Option<Vec<String>>,
    /// The URL the frontend really serves at (another port than `FRONTEND_PORT` when it
    /// moved on its own, `[::1]` when it listens there only).
    pub(super) frontend_url: Option<String>,
    /// Why ports moved, for the summary.
    pub(super) moved: Moved,
    /// The `[process.NAME]` processes.
    pub(super) extras: Extras,
}

/// The backend's process, when this run owns it.
pub(super) fn owned(backend: &mut Option<Backend>) -> Option<&mut Running> {
    match backend {
        Some(Backend::Owned(running)) => Some(running),
        _ => None,
    }
}

/// Why the run's ports are not the configured ones, as settled.
#[derive(Debug, Clone, Default)]
pub(super) struct Moved {
    pub(super) backend: Option<String>,
    pub(super) frontend: Option<String>,
    /// A `[process.NAME]`'s, by name.
    pub(super) processes: Vec<(String, String)>,
}
