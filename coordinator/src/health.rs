//! The health prober: one `GET {health_path}` and what its answer means.
//!
//! It knows nothing of processes. What an answer says is decided by pure functions
//! ([`format::read`], [`readiness`]) so that the rules are tested by tables, and the
//! async part stays a thin HTTP call. Whether a backend is ours is `ownership`'s job.

use std::time::Duration;

pub mod format;
mod http;
mod mismatch;

pub use format::{
    ACCEPTED, Answer, Condition, Form, HealthFormat, HealthReport, Mismatch, Part, Reading,
};

/// Bodies larger than this are not read: a health endpoint has no business sending more.
const BODY_CAP: usize = 64 * 1024;

/// The outcome of one health request.
#[derive(Debug, Clone, PartialEq)]
pub enum Probe {
    /// Something answered over HTTP.
    Answered(Answer),
    /// The status line and headers arrived, the body did not within `health_timeout`.
    Stalled { code: u16 },
    /// No HTTP answer: refused, reset, timed out.
    Unreachable(String),
}

impl Probe {
    /// What the answer says under `format`; `None` without a whole answer.
    pub fn reading(&self, format: HealthFormat) -> Option<Reading> {
        match self {
            Probe::Answered(answer) => Some(format::read(answer, format)),
            Probe::Stalled { .. } | Probe::Unreachable(_) => None,
        }
    }

    /// The recognised health report, if the answer is one.
    pub fn report(&self, format: HealthFormat) -> Option<HealthReport> {
        match self.reading(format)? {
            Reading::Report(report) => Some(report),
            Reading::Never(_) | Reading::Opaque(_) => None,
        }
    }
}

/// Whether a backend that answered can be declared ready.
#[derive(Debug, Clone, PartialEq)]
pub enum Readiness {
    Ready,
    /// `degraded` or `warn`, with each failing part and its error.
    Degraded(Vec<(String, String)>),
    /// Not ready, maybe only for now: the evidence.
    NotReady(String),
    /// Not ready, and the answer names its failing parts (services, checks or
    /// components), each with its error.
    Failing {
        why: String,
        failing: Vec<(String, String)>,
    },
    /// It never will be without a change to the app or the config.
    Never(Mismatch),
}

/// Decides readiness from one probe. `degraded` / `warn` is ready only with
/// `accept_degraded`; a good status needs a 2xx code as well.
pub fn readiness(probe: &Probe, format: HealthFormat, accept_degraded: bool) -> Readiness {
    let answer = match probe {
        Probe::Unreachable(why) => return Readiness::NotReady(why.clone()),
        Probe::Stalled { code } if format == HealthFormat::StatusCode && is_success(*code) => {
            // The code is all this format reads.
            return Readiness::Ready;
        }
        Probe::Stalled { code } => {
            return Readiness::NotReady(format!(
                "HTTP {code}: headers arrived, body did not within health_timeout"
            ));
        }
        Probe::Answered(answer) => answer,
    };
    let code = answer.code;
    let report = match format::read(answer, format) {
        Reading::Report(report) => report,
        Reading::Never(mismatch) => return Readiness::Never(mismatch),
        Reading::Opaque(why) => return Readiness::NotReady(format!("HTTP {code}, {why}")),
    };
    match report.condition {
        Condition::Good if is_success(code) => Readiness::Ready,
        Condition::Degraded if accept_degraded => Readiness::Ready,
        Condition::Degraded => Readiness::Degraded(report.failing()),
        Condition::Good | Condition::Bad => {
            let failing = report.failing();
            let why = describe_report(code, &report);
            if failing.is_empty() {
                Readiness::NotReady(why)
            } else {
                Readiness::Failing { why, failing }
            }
        }
    }
}

/// `HTTP 503, status "starting", failing: database (disk I/O error)`.
pub fn describe_report(code: u16, report: &HealthReport) -> String {
    let mut text = if report.form == Form::StatusCode {
        format!("HTTP {code}")
    } else {
        format!("HTTP {code}, status {:?}", report.status)
    };
    let failing = report.failing();
    if let (true, Some(message)) = (failing.is_empty(), &report.message) {
        text.push_str(&format!(", {message:?}"));
    }
    if !failing.is_empty() {
        let parts: Vec<String> = failing
            .iter()
            .map(|(name, error)| format!("{name} ({error})"))
            .collect();
        text.push_str(&format!(", failing: {}", parts.join(", ")));
    }
    text
}

fn is_success(code: u16) -> bool {
    (200..300).contains(&code)
}

/// Counts answers that can never become ready: the attempt gives up after
/// [`Streak::LIMIT`] identical ones in a row rather than waiting out `startup_timeout`.
#[derive(Debug, Default)]
pub struct Streak {
    last: Option<Mismatch>,
    count: u32,
}

impl Streak {
    pub const LIMIT: u32 = 3;

    /// Records one answer's readiness; returns the mismatch once it was seen `LIMIT`
    /// times in a row. Any other answer (not ready yet, a different mismatch) restarts
    /// the count.
    pub fn observe(&mut self, readiness: &Readiness) -> Option<&Mismatch> {
        let Readiness::Never(mismatch) = readiness else {
            *self = Streak::default();
            return None;
        };
        if self.last.as_ref() == Some(mismatch) {
            self.count += 1;
        } else {
            self.last = Some(mismatch.clone());
            self.count = 1;
        }
        if self.count >= Streak::LIMIT {
            self.last.as_ref()
        } else {
            None
        }
    }
}

/// The address to probe for a configured host: wildcards are probed on loopback.
pub fn probe_host(host: &str) -> &str {
    match host {
        "0.0.0.0" | "localhost" => "127.0.0.1",
        "::" => "::1",
        other => other,
    }
}

/// An HTTP client for health requests: loopback only, no proxy, no redirects.
#[derive(Debug, Clone)]
pub struct HealthClient {
    timeout: Duration,
}

impl HealthClient {
    /// `timeout` bounds each request; connecting gets at most one second of it.
    pub fn new(timeout: Duration) -> HealthClient {
        HealthClient { timeout }
    }

    /// `GET url` with the run's correlation ID.
    pub async fn probe(&self, url: &str, correlation_id: &str) -> Probe {
        let url = match http::parse_url(url) {
            Ok(url) => url,
            Err(why) => return Probe::Unreachable(why),
        };
        let headers = [("X-Correlation-ID", correlation_id)];
        let connect = self.timeout.min(Duration::from_secs(1));
        match http::get(&url, &headers, connect, self.timeout, BODY_CAP).await {
            Ok(response) => Probe::Answered(Answer {
                code: response.code,
                location: response.location,
                content_type: response.content_type,
                body: response.body,
                truncated: response.truncated,
            }),
            Err(http::Failure::Stalled { code }) => Probe::Stalled { code },
            Err(http::Failure::Other(why)) => Probe::Unreachable(why),
        }
    }
}

impl HealthClient {
    /// `GET url` for its status code alone: a frontend's `ready_path`, which need not
    /// answer with a health report.
    pub async fn status(&self, url: &str, correlation_id: &str) -> Result<u16, String> {
        match self.probe(url, correlation_id).await {
            Probe::Answered(answer) => Ok(answer.code),
            Probe::Stalled { code } => Ok(code),
            Probe::Unreachable(why) => Err(why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(code: u16, body: &str) -> Probe {
        Probe::Answered(Answer {
            code,
            location: None,
            content_type: Some("application/json".into()),
            body: body.as_bytes().to_vec(),
            truncated: false,
        })
    }

    #[test]
    fn readiness_rules() {
        let auto = HealthFormat::Auto;
        let degraded = r#"{"status":"degraded","services":{"database":{"status":"error","error":"disk"},"cache":{"status":"ok"}}}"#;
        let warn = r#"{"status":"warn","checks":{"db":[{"status":"warn","output":"slow"}]}}"#;
        let cases = [
            (
                answered(200, r#"{"status":"healthy"}"#),
                auto,
                false,
                Readiness::Ready,
            ),
            (
                answered(200, r#"{"status":"ok"}"#),
                auto,
                false,
                Readiness::Ready,
            ),
            (
                answered(200, r#"{"status":"pass"}"#),
                auto,
                false,
                Readiness::Ready,
            ),
            (
                answered(200, r#"{"status":"UP"}"#),
                auto,
                false,
                Readiness::Ready,
            ),
            (
                answered(503, degraded),
                auto,
                false,
                Readiness::Degraded(vec![("database".into(), "disk".into())]),
            ),
            (answered(503, degraded), auto, true, Readiness::Ready),
            (
                answered(200, warn),
                auto,
                false,
                Readiness::Degraded(vec![("db".into(), "slow".into())]),
            ),
            (answered(200, warn), auto, true, Readiness::Ready),
            (
                answered(503, r#"{"status":"healthy"}"#),
                auto,
                false,
                Readiness::NotReady("HTTP 503, status \"healthy\"".into()),
            ),
            (
                answered(200, r#"{"status":"starting"}"#),
                auto,
                false,
                Readiness::NotReady("HTTP 200, status \"starting\"".into()),
            ),
            (
                answered(
                    503,
                    r#"{"status":"DOWN","components":{"db":{"status":"DOWN"}}}"#,
                ),
                auto,
                false,
                Readiness::Failing {
                    why: "HTTP 503, status \"DOWN\", failing: db (DOWN)".into(),
                    failing: vec![("db".into(), "DOWN".into())],
                },
            ),
            (
                answered(200, "OK"),
                auto,
                false,
                Readiness::Never(Mismatch::NotJson {
                    code: 200,
                    start: "OK".into(),
                }),
            ),
            (
                answered(200, "OK"),
                HealthFormat::StatusCode,
                false,
                Readiness::Ready,
            ),
            (
                answered(503, "busy"),
                HealthFormat::StatusCode,
                false,
                Readiness::NotReady("HTTP 503, \"busy\"".into()),
            ),
            (
                answered(503, r#"{"status":"error","error":"db: refused"}"#),
                auto,
                false,
                Readiness::NotReady("HTTP 503, status \"error\", \"db: refused\"".into()),
            ),
            (
                Probe::Stalled { code: 200 },
                auto,
                false,
                Readiness::NotReady(
                    "HTTP 200: headers arrived, body did not within health_timeout".into(),
                ),
            ),
            (
                Probe::Stalled { code: 200 },
                HealthFormat::StatusCode,
                false,
                Readiness::Ready,
            ),
            (
                Probe::Unreachable("refused".into()),
                auto,
                true,
                Readiness::NotReady("refused".into()),
            ),
        ];
        for (probe, format, accept, expected) in cases {
            assert_eq!(readiness(&probe, format, accept), expected, "{probe:?}");
        }
    }

    #[test]
    fn three_identical_mismatches_in_a_row_settle_it() {
        let redirect = |to: &str| {
            Readiness::Never(Mismatch::Redirect {
                code: 307,
                location: Some(to.into()),
            })
        };
        let waiting = Readiness::NotReady("HTTP 503".into());
        // (the readiness seen, whether the streak settles on it)
        let cases = [
            (&redirect("/a"), false),
            (&redirect("/a"), false),
            (&waiting, false),
            (&redirect("/a"), false),
            (&redirect("/b"), false),
            (&redirect("/b"), false),
            (&redirect("/b"), true),
            (&redirect("/b"), true),
        ];
        let mut streak = Streak::default();
        for (i, (seen, settles)) in cases.into_iter().enumerate() {
            assert_eq!(streak.observe(seen).is_some(), settles, "answer {i}");
        }
    }
}
