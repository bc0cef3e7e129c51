//! dev's events as data (`--message-format json`): one JSON object a line on stdout, for
//! scripts, CI and editors, while the lines for people go to stderr.
//!
//! Each kind of event is emitted in one place, the place that says the same thing to
//! people, through [`crate::runlog::RunLog::event`]. Every line carries `event`,
//! `version` ([`VERSION`]), `correlation_id` and `time` (UTC, milliseconds), then the
//! event's own fields. The schema is `events.schema.json` at the repository root,
//! documented in the README and checked by the tests; a field is only ever added, and
//! a change that could break a reader raises [`VERSION`].

use serde::{Deserialize, Serialize};

/// The version of the event schema.
pub const VERSION: u32 = 1;

/// One event. Serialized with its kind as `event`, in kebab case (`run-started`).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// The run began: its ID, the checkout and the log file.
    RunStarted { root: String, log: Option<String> },
    /// A port was settled for a process: `why` says `configured` or why it moved.
    PortChosen {
        role: String,
        port: u16,
        why: String,
    },
    /// A process was started (`attempt`: the how-manieth start of this role in the run).
    ProcessStarted {
        role: String,
        pid: u32,
        attempt: u32,
        argv: Vec<String>,
    },
    /// A process is ready, `ms` after it was started.
    Ready { role: String, url: String, ms: u64 },
    /// A backend dev did not start is used as it is.
    Reused {
        role: String,
        url: String,
        pid: Option<u32>,
        /// The dev run whose backend it is, when it is one.
        run: Option<String>,
    },
    /// A ready process stopped answering or reports itself degraded.
    Unhealthy { role: String, evidence: String },
    /// The backend is started again after `delay_ms`.
    Restarting {
        role: String,
        delay_ms: u64,
        reason: String,
    },
    /// A watched source changed: the backend is restarted.
    Reload { file: String },
    /// Everything is ready: the summary's processes.
    Up {
        processes: Vec<Shown>,
        log: Option<String>,
        ms: u64,
    },
    /// The run failed: the failure report as data, and as people read it.
    Failed {
        what: String,
        evidence: Vec<String>,
        causes: Vec<Cause>,
        log: Option<String>,
        report: String,
    },
    /// The run ended: why, and the exit code of `dev`.
    Stopped { reason: String, exit_code: i32 },
}

/// A likely cause of a failure and its fix.
#[derive(Debug, Clone, Serialize)]
pub struct Cause {
    pub cause: String,
    pub fix: String,
}

impl Event {
    /// The event as one JSON line (no newline): `event`, `version`, `correlation_id` and
    /// `time` first, then its own fields.
    pub fn line(&self, correlation_id: &str, time: &str) -> String {
        let mut object = serde_json::Map::new();
        let own = match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(own)) => own,
            _ => serde_json::Map::new(),
        };
        if let Some(kind) = own.get("event") {
            object.insert("event".into(), kind.clone());
        }
        object.insert("version".into(), VERSION.into());
        object.insert("correlation_id".into(), correlation_id.into());
        object.insert("time".into(), time.into());
        for (key, value) in own {
            if key != "event" {
                object.insert(key, value);
            }
        }
        serde_json::Value::Object(object).to_string()
    }
}

/// One process of a run as the summary names it (what `status` shows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shown {
    /// `backend`, `frontend`, or `command` (`dev -- <cmd>`).
    pub role: String,
    /// Its URL, when it is a server.
    pub url: Option<String>,
    pub port: Option<u16>,
    pub pid: Option<u32>,
    /// `started`, `reused` (another run's, or started by hand) or `remote`.
    pub how: String,
    /// The run whose backend is reused, when it is another dev run's.
    #[serde(default)]
    pub reused_from: Option<String>,
    /// Why it is not on its configured port.
    #[serde(default)]
    pub moved: Option<String>,
    /// The command line of a process that is not a server (`dev -- <cmd>`).
    #[serde(default)]
    pub command: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_comes_first_and_the_kind_is_kebab_case() {
        let event = Event::PortChosen {
            role: "backend".into(),
            port: 8001,
            why: "configured".into(),
        };
        assert_eq!(
            event.line("dev-1-abcdef", "2026-12-05T21:00:00.000Z"),
            r#"{"event":"port-chosen","version":1,"correlation_id":"dev-1-abcdef","time":"2026-12-05T21:00:00.000Z","role":"backend","port":8001,"why":"configured"}"#
        );
    }
}
