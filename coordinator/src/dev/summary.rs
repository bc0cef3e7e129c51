//! The one place that says what is running once the app is up: each process with its
//! address, pid, whether this run started it or reuses it, and why its port moved; then
//! the log file, the run's ID and how to stop. A person should not have to scroll back
//! through `[backend]` lines for any of it.
//!
//! [`lines`] is a pure function of the run's processes ([`Entry`]), so a new kind of
//! process is one more entry, not a new message.

use std::time::Duration;

use super::processes::{Backend, Processes};
use super::this_run::ThisRun;
use crate::config::{Config, display_path};
use crate::runlog::RunLog;
use crate::runs::{RunState, Shown};

/// One process of the run, as the summary shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Entry {
    /// `backend`, `frontend`, `command` (`dev -- <cmd>`), or a `[process.NAME]`'s name.
    pub(super) role: String,
    /// Its URL, or the command line of a process that is not a server.
    pub(super) at: String,
    pub(super) pid: Option<u32>,
    /// What to say of who runs it, when there is a choice (only a backend can be reused).
    pub(super) how: Option<How>,
    /// Why it is not on its configured port: "8000 is in use by ...".
    pub(super) moved: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum How {
    Started,
    /// Another live run's (by its correlation ID), or one started by hand.
    Reused {
        run: Option<String>,
    },
    /// `backend.url`: runs elsewhere.
    Remote,
}

/// The summary's lines (without the `[dev]` prefix the log adds):
///
/// ```text
/// up in 1.3 s: backend http://127.0.0.1:8001 (pid 4321, started; 8000 is in use by ...)
///              frontend http://127.0.0.1:5173/ (pid 4400)
///              log .dev/logs/dev-1796....log · run dev-1796... · Ctrl-C stops all
/// ```
pub(super) fn lines(head: &str, entries: &[Entry], log: Option<&str>, run: &str) -> Vec<String> {
    lines_ending(head, entries, log, run, None)
}

/// [`lines`], with how to stop it said otherwise (`dev --detach`: no Ctrl-C stops it).
fn lines_ending(
    head: &str,
    entries: &[Entry],
    log: Option<&str>,
    run: &str,
    stops: Option<&str>,
) -> Vec<String> {
    let head = format!("{head}: ");
    let indent = " ".repeat(head.chars().count());
    let mut lines: Vec<String> = entries
        .iter()
        .map(|entry| format!("{} {}{}", entry.role, entry.at, details(entry)))
        .collect();
    let all_ours = entries
        .iter()
        .all(|entry| !matches!(entry.how, Some(How::Reused { .. } | How::Remote)));
    let stops = match (stops, all_ours) {
        (Some(stops), _) => stops,
        (None, true) => "Ctrl-C stops all",
        (None, false) => "Ctrl-C stops what dev started",
    };
    let log = log.map_or_else(String::new, |log| format!("log {log} · "));
    lines.push(format!("{log}run {run} · {stops}"));
    lines
        .into_iter()
        .enumerate()
        .map(|(n, line)| {
            let lead = if n == 0 { &head } else { &indent };
            format!("{lead}{line}")
        })
        .collect()
}

/// `up in 1.3 s`
fn up_in(elapsed: Duration) -> String {
    format!("up in {:.1} s", elapsed.as_secs_f64())
}

/// ` (pid 4321, started; 8000 is in use by ...)`
fn details(entry: &Entry) -> String {
    let mut said: Vec<String> = Vec::new();
    if let Some(pid) = entry.pid {
        said.push(format!("pid {pid}"));
    }
    match &entry.how {
        Some(How::Started) => said.push("started".into()),
        Some(How::Reused { run: Some(run) }) => said.push(format!("reused from dev run {run}")),
        Some(How::Reused { run: None }) => said.push("reused, started outside dev".into()),
        Some(How::Remote) => said.push("remote: dev does not run it".into()),
        None => {}
    }
    let mut text = said.join(", ");
    if let Some(moved) = &entry.moved {
        if !text.is_empty() {
            text.push_str("; ");
        }
        text.push_str(moved);
    }
    if text.is_empty() {
        text
    } else {
        format!(" ({text})")
    }
}

/// The entries of the run's real processes: the backend (owned, reused or remote),
/// then the frontend or `dev -- <cmd>` (`command`).
pub(super) fn entries(processes: &Processes, config: &Config) -> Vec<Entry> {
    let moved = &processes.moved;
    let mut entries = Vec::new();
    if let Some(backend) = &processes.backend {
        let (pid, how) = match backend {
            Backend::Owned(running) => (Some(running.pid()), How::Started),
            Backend::Reused(reused) => (
                reused.pid,
                How::Reused {
                    run: reused.run.clone(),
                },
            ),
            Backend::Remote(_) => (None, How::Remote),
        };
        entries.push(Entry {
            role: "backend".into(),
            at: config.backend_url(),
            pid,
            how: Some(how),
            moved: moved.backend.clone(),
        });
    }
    if let Some(frontend) = &processes.frontend {
        let url = processes
            .frontend_url
            .clone()
            .or_else(|| config.frontend_url());
        let (role, at) = match (&processes.command, url) {
            (Some(command), _) => ("command", crate::text::shell_command(command)),
            (None, Some(url)) => ("frontend", format!("{url}/")),
            (None, None) => ("frontend", super::frontend_ready::shown_command(config)),
        };
        entries.push(Entry {
            role: role.into(),
            at,
            pid: Some(frontend.pid()),
            how: None,
            moved: moved.frontend.clone(),
        });
    }
    for (extra, running) in processes.extras.running() {
        entries.push(Entry {
            role: extra.name.to_owned(),
            at: processes.extras.shown_at(extra, config),
            pid: Some(running.pid()),
            how: None,
            moved: moved
                .processes
                .iter()
                .find(|(name, _)| name == extra.name)
                .map(|(_, why)| why.clone()),
        });
    }
    entries
}

/// When the summary is said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum When {
    /// The app just came up.
    Up,
    /// Who runs a process changed (a reused backend was taken over).
    Changed,
}

/// Says the summary of the run's processes as they are now, and records it (the run is
/// up: `status` and `wait` read it from the run's record).
pub(super) fn say(
    log: &RunLog,
    processes: &Processes,
    config: &Config,
    when: When,
    this_run: &mut ThisRun,
) {
    let shown = log.path().map(|path| display_path(path, &config.root));
    let entries = entries(processes, config);
    let head = match when {
        When::Up => up_in(log.since_start()),
        When::Changed => "running now".to_owned(),
    };
    let recorded: Vec<Shown> = entries.iter().map(|e| e.shown(config)).collect();
    // Recorded before it is said: whoever reads the summary and then asks `status`
    // finds the run up.
    this_run.update(|record| {
        record.state = RunState::Up;
        record.waiting_for = None;
        record.processes = recorded.clone();
    });
    for line in lines(&head, &entries, shown.as_deref(), log.correlation_id()) {
        log.info(&line);
    }
    if when == When::Up {
        log.event(&crate::events::Event::Up {
            processes: recorded,
            log: log.path().map(|path| path.display().to_string()),
            ms: u64::try_from(log.since_start().as_millis()).unwrap_or(u64::MAX),
        });
    }
}

/// The summary of a run started with `dev --detach`, from its `up` event's processes:
/// the same lines, ending with the command that stops it.
pub fn detached(
    processes: &[Shown],
    log: Option<&str>,
    run: &str,
    elapsed: Duration,
) -> Vec<String> {
    let entries: Vec<Entry> = processes.iter().map(Entry::from_shown).collect();
    let stops = format!("`cargo xtask stop {run}` stops it");
    lines_ending(&up_in(elapsed), &entries, log, run, Some(&stops))
}

impl Entry {
    /// The entry a record's (or an event's) process stands for.
    fn from_shown(shown: &Shown) -> Entry {
        let role = shown.role.clone();
        let how = match shown.how.as_str() {
            "reused" => Some(How::Reused {
                run: shown.reused_from.clone(),
            }),
            "remote" => Some(How::Remote),
            _ if role == "backend" => Some(How::Started),
            _ => None,
        };
        Entry {
            role,
            at: shown
                .url
                .clone()
                .or_else(|| shown.command.clone())
                .unwrap_or_default(),
            pid: shown.pid,
            how,
            moved: shown.moved.clone(),
        }
    }

    /// The entry as the run's record keeps it.
    fn shown(&self, config: &Config) -> Shown {
        let (how, reused_from) = match &self.how {
            Some(How::Started) | None => ("started", None),
            Some(How::Reused { run }) => ("reused", run.clone()),
            Some(How::Remote) => ("remote", None),
        };
        let port = match self.role.as_str() {
            "backend" if !matches!(self.how, Some(How::Remote)) => Some(config.backend.port),
            "frontend" => config.frontend.port,
            name => config
                .processes
                .iter()
                .find(|p| p.name == name)
                .and_then(|p| p.port),
        };
        // A URL of any scheme (`redis://`), not a command line.
        let is_url = self
            .at
            .split_once("://")
            .is_some_and(|(scheme, _)| !scheme.is_empty() && !scheme.contains(char::is_whitespace));
        Shown {
            role: self.role.clone(),
            url: is_url.then(|| self.at.clone()),
            port,
            pid: self.pid,
            how: how.to_owned(),
            reused_from,
            moved: self.moved.clone(),
            command: (!is_url).then(|| self.at.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(role: &str, at: &str, pid: u32, how: Option<How>) -> Entry {
        Entry {
            role: role.into(),
            at: at.into(),
            pid: Some(pid),
            how,
            moved: None,
        }
    }

    #[test]
    fn the_summary_names_each_process_the_log_and_the_run() {
        let mut backend = entry("backend", "http://127.0.0.1:8001", 4321, Some(How::Started));
        backend.moved = Some("8000 is in use by `python3 -m http.server` (pid 777)".into());
        let frontend = entry("frontend", "http://127.0.0.1:5173/", 4400, None);
        let lines = lines(
            &up_in(Duration::from_millis(1_340)),
            &[backend, frontend],
            Some(".dev/logs/dev-1-a.log"),
            "dev-1-a",
        );
        assert_eq!(
            lines,
            [
                "up in 1.3 s: backend http://127.0.0.1:8001 (pid 4321, started; 8000 is in use by `python3 -m http.server` (pid 777))",
                "             frontend http://127.0.0.1:5173/ (pid 4400)",
                "             log .dev/logs/dev-1-a.log · run dev-1-a · Ctrl-C stops all",
            ]
        );
    }

    #[test]
    fn a_backend_dev_does_not_run_is_said_and_not_counted_as_stopped() {
        let reused = entry(
            "backend",
            "http://127.0.0.1:8000",
            42,
            Some(How::Reused {
                run: Some("dev-2-b".into()),
            }),
        );
        let command = entry("command", "npm test", 43, None);
        let lines = lines(
            &up_in(Duration::from_millis(80)),
            &[reused, command],
            None,
            "dev-3-c",
        );
        assert_eq!(
            lines,
            [
                "up in 0.1 s: backend http://127.0.0.1:8000 (pid 42, reused from dev run dev-2-b)",
                "             command npm test (pid 43)",
                "             run dev-3-c · Ctrl-C stops what dev started",
            ]
        );
        let remote = Entry {
            role: "backend".into(),
            at: "https://gpu-box:8443".into(),
            pid: None,
            how: Some(How::Remote),
            moved: None,
        };
        assert_eq!(
            lines_of(&remote),
            "backend https://gpu-box:8443 (remote: dev does not run it)"
        );
    }

    fn lines_of(entry: &Entry) -> String {
        let lines = lines("now", std::slice::from_ref(entry), None, "r");
        lines[0].trim_start_matches("now: ").to_owned()
    }

    #[test]
    fn a_detached_run_says_how_to_stop_it() {
        let backend = Shown {
            role: "backend".into(),
            url: Some("http://127.0.0.1:8001".into()),
            port: Some(8001),
            pid: Some(4321),
            how: "started".into(),
            reused_from: None,
            moved: Some("8000 is in use by `nginx` (pid 7)".into()),
            command: None,
        };
        let command = Shown {
            role: "command".into(),
            url: None,
            port: None,
            pid: Some(4400),
            how: "started".into(),
            reused_from: None,
            moved: None,
            command: Some("npm test".into()),
        };
        assert_eq!(
            detached(
                &[backend, command],
                Some(".dev/logs/dev-1-a.log"),
                "dev-1-a",
                Duration::from_millis(520)
            ),
            [
                "up in 0.5 s: backend http://127.0.0.1:8001 (pid 4321, started; 8000 is in use by `nginx` (pid 7))",
                "             command npm test (pid 4400)",
                "             log .dev/logs/dev-1-a.log · run dev-1-a · `cargo xtask stop dev-1-a` stops it",
            ]
        );
    }
}
