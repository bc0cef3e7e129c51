//! Reading a health answer in the formats real apps already have, not only ours.
//!
//! [`read`] is a pure function from one HTTP answer (status code, headers, body bytes)
//! to what it says: a recognised [`HealthReport`], an answer that can never become
//! ready without a change to the app or the config ([`Mismatch`]), or one that is not
//! understood but may be transient (a 503 page while the app starts). It knows nothing
//! of the transport, so the rules stay the same when the HTTP client changes.
//!
//! `auto` recognises, in this order: the project's contract (`healthy`, `degraded`,
//! `starting`, with `services`), the IETF draft (`application/health+json`: `pass`,
//! `warn`, `fail`, with `checks`), the Spring Boot actuator (`UP`, `DOWN`,
//! `OUT_OF_SERVICE`, with `components`), and a plain `{"status": "ok"}`.
//! `status-code` reads only the status code.

use serde_json::Value;

pub use super::mismatch::{ACCEPTED, Mismatch};

mod forms;

/// How many bytes of a body are shown as evidence.
const SHOWN_BYTES: usize = 80;

/// `backend.health_format`: how a health answer is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HealthFormat {
    /// Recognise the JSON forms of [`Form`].
    #[default]
    Auto,
    /// Any 2xx is ready; the body is not read beyond the cap.
    StatusCode,
}

impl HealthFormat {
    pub fn parse(text: &str) -> Option<HealthFormat> {
        match text.trim() {
            "auto" => Some(HealthFormat::Auto),
            "status-code" => Some(HealthFormat::StatusCode),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            HealthFormat::Auto => "auto",
            HealthFormat::StatusCode => "status-code",
        }
    }
}

/// Which format an answer was recognised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// The project's own contract: `healthy` / `degraded` / `starting`, with `services`.
    Contract,
    /// draft-inadarei-api-health-check: `pass` / `warn` / `fail`, with `checks`.
    Ietf,
    /// Spring Boot actuator: `UP` / `DOWN` / `OUT_OF_SERVICE`, with `components`.
    Spring,
    /// `{"status": "ok"}` and its kin.
    Plain,
    /// `health_format = "status-code"`: the code alone.
    StatusCode,
}

impl Form {
    /// The stable id used in `doctor --json`.
    pub fn id(self) -> &'static str {
        match self {
            Form::Contract => "contract",
            Form::Ietf => "ietf",
            Form::Spring => "spring",
            Form::Plain => "plain",
            Form::StatusCode => "status-code",
        }
    }

    /// A name for people.
    pub fn name(self) -> &'static str {
        match self {
            Form::Contract => "dev's health contract",
            Form::Ietf => "IETF health check (application/health+json)",
            Form::Spring => "Spring Boot actuator",
            Form::Plain => "plain status",
            Form::StatusCode => "status code only",
        }
    }
}

/// How an answer rates itself, in its own format's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// `healthy`, `pass`, `UP`, `ok`, or a 2xx for `status-code`.
    Good,
    /// `degraded`, `warn`: ready only with `accept_degraded`.
    Degraded,
    /// Anything else the format knows: not ready (yet).
    Bad,
}

/// One named part of a health answer (`services`, `checks` or `components`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    pub status: String,
    pub error: Option<String>,
}

/// A health answer in a recognised format.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthReport {
    pub form: Form,
    /// The `status` value as sent (for `status-code`, the code).
    pub status: String,
    pub condition: Condition,
    /// The identity fields (`service`, `workspace`, `pid`), in whichever format they appear.
    pub service: Option<String>,
    pub version: Option<String>,
    pub pid: Option<u32>,
    pub workspace: Option<String>,
    pub parts: Vec<Part>,
    /// The answer's own words on what is wrong, when it has no parts to name: a
    /// top-level `error`, `message`, `detail` or `output`, or, for `status-code`, the
    /// start of a non-2xx body.
    pub message: Option<String>,
}

impl HealthReport {
    /// Each part that is not good, with its error (or its status when it has none). A
    /// part still `starting` is not failing: it is what a starting backend reports.
    pub fn failing(&self) -> Vec<(String, String)> {
        self.parts
            .iter()
            .filter(|part| {
                !forms::is_good_part(self.form, &part.status) && part.status != "starting"
            })
            .map(|part| {
                let error = part.error.clone().unwrap_or_else(|| part.status.clone());
                (part.name.clone(), error)
            })
            .collect()
    }

    /// Whether the answer says which service and checkout it is (`service` and `workspace`).
    pub fn has_identity(&self) -> bool {
        self.service.is_some() || self.workspace.is_some()
    }

    /// A healthy contract answer with the given identity, for tests.
    #[cfg(test)]
    pub(crate) fn healthy_with(service: Option<&str>, workspace: Option<&str>) -> HealthReport {
        HealthReport {
            form: Form::Contract,
            status: "healthy".into(),
            condition: Condition::Good,
            service: service.map(str::to_owned),
            version: None,
            pid: None,
            workspace: workspace.map(str::to_owned),
            parts: Vec::new(),
            message: None,
        }
    }
}

/// What one answer says under a format.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    Report(HealthReport),
    Never(Mismatch),
    /// Not a health report, but maybe only for now (a non-2xx answer while the app
    /// starts): the evidence, after `HTTP <code>, `.
    Opaque(String),
}

/// One HTTP answer, as far as the format rules need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub code: u16,
    pub location: Option<String>,
    pub content_type: Option<String>,
    /// At most the cap.
    pub body: Vec<u8>,
    /// The body was longer than the cap, and was not read beyond it.
    pub truncated: bool,
}

/// Reads one answer under `format`.
pub fn read(answer: &Answer, format: HealthFormat) -> Reading {
    let code = answer.code;
    if (300..400).contains(&code) {
        return Reading::Never(Mismatch::Redirect {
            code,
            location: answer.location.clone(),
        });
    }
    if matches!(code, 404 | 405 | 410) {
        return Reading::Never(Mismatch::NotFound { code });
    }
    let success = (200..300).contains(&code);
    if format == HealthFormat::StatusCode {
        return Reading::Report(HealthReport {
            form: Form::StatusCode,
            status: code.to_string(),
            condition: if success {
                Condition::Good
            } else {
                Condition::Bad
            },
            service: None,
            version: None,
            pid: None,
            workspace: None,
            parts: Vec::new(),
            message: (!success && !answer.body.is_empty()).then(|| shown(&answer.body)),
        });
    }
    if answer.truncated {
        return if success {
            Reading::Never(Mismatch::TooLarge { code })
        } else {
            Reading::Opaque("body larger than 64 KiB: not read".into())
        };
    }
    let start = shown(&answer.body);
    let value = match serde_json::from_slice::<Value>(&answer.body) {
        Ok(value) => value,
        // serde_json stops at `MAX_DEPTH` levels: the body may be valid JSON, so it is
        // not called "not JSON".
        Err(err) if err.to_string().starts_with("recursion limit exceeded") => {
            return if success {
                Reading::Never(Mismatch::TooDeep { code })
            } else {
                Reading::Opaque(format!(
                    "JSON too deeply nested (more than {} levels): not read",
                    super::mismatch::MAX_DEPTH
                ))
            };
        }
        Err(_) if success => return Reading::Never(Mismatch::NotJson { code, start }),
        Err(_) => return Reading::Opaque(format!("not JSON: {start:?}")),
    };
    let ietf_type = answer.content_type.as_deref().is_some_and(|t| {
        t.to_ascii_lowercase()
            .starts_with("application/health+json")
    });
    match forms::recognise(&value, ietf_type) {
        Some(report) => Reading::Report(report),
        None if success => Reading::Never(Mismatch::Unreadable { code, start }),
        None => Reading::Opaque(format!("a body in no known health form: {start:?}")),
    }
}

/// The first [`SHOWN_BYTES`] bytes of a body, as text.
fn shown(body: &[u8]) -> String {
    let head = &body[..body.len().min(SHOWN_BYTES)];
    let mut text = String::from_utf8_lossy(head).into_owned();
    if body.len() > SHOWN_BYTES {
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(code: u16, body: &str) -> Answer {
        Answer {
            code,
            location: None,
            content_type: Some("application/json".into()),
            body: body.as_bytes().to_vec(),
            truncated: false,
        }
    }

    fn form_and_condition(reading: &Reading) -> Option<(Form, Condition)> {
        match reading {
            Reading::Report(report) => Some((report.form, report.condition)),
            _ => None,
        }
    }

    #[test]
    fn auto_recognises_each_form_in_order() {
        use Condition::{Bad, Degraded, Good};
        let cases: &[(&str, Option<(Form, Condition)>)] = &[
            (
                r#"{"status":"healthy","services":{}}"#,
                Some((Form::Contract, Good)),
            ),
            (r#"{"status":"degraded"}"#, Some((Form::Contract, Degraded))),
            (r#"{"status":"starting"}"#, Some((Form::Contract, Bad))),
            (r#"{"status":"pass","checks":{}}"#, Some((Form::Ietf, Good))),
            (r#"{"status":"warn"}"#, Some((Form::Ietf, Degraded))),
            (r#"{"status":"fail"}"#, Some((Form::Ietf, Bad))),
            (
                r#"{"status":"UP","components":{}}"#,
                Some((Form::Spring, Good)),
            ),
            (r#"{"status":"DOWN"}"#, Some((Form::Spring, Bad))),
            (r#"{"status":"OUT_OF_SERVICE"}"#, Some((Form::Spring, Bad))),
            (r#"{"status":"ok"}"#, Some((Form::Plain, Good))),
            (r#"{"status":"OK"}"#, Some((Form::Plain, Good))),
            (r#"{"status":"up"}"#, Some((Form::Plain, Good))),
            (r#"{"status":"error"}"#, Some((Form::Plain, Bad))),
            (r#"{"status":"fine"}"#, None),
            (r#"{"alive":true}"#, None),
            (r#"["ok"]"#, None),
        ];
        for (body, expected) in cases {
            let reading = read(&answer(200, body), HealthFormat::Auto);
            assert_eq!(form_and_condition(&reading), *expected, "{body}");
        }
    }

    #[test]
    fn the_ietf_media_type_alone_names_the_form() {
        let mut ietf = answer(200, r#"{"status":"pass"}"#);
        ietf.content_type = Some("application/health+json; charset=utf-8".into());
        assert_eq!(
            form_and_condition(&read(&ietf, HealthFormat::Auto)),
            Some((Form::Ietf, Condition::Good))
        );
        ietf.body = br#"{"status":"up"}"#.to_vec();
        assert_eq!(
            form_and_condition(&read(&ietf, HealthFormat::Auto)),
            Some((Form::Ietf, Condition::Good)),
            "the draft's alias"
        );
        ietf.body = br#"{"status":"fine"}"#.to_vec();
        assert!(matches!(
            read(&ietf, HealthFormat::Auto),
            Reading::Never(Mismatch::Unreadable { .. })
        ));
    }

    #[test]
    fn deterministic_answers_are_mismatches() {
        let mut redirect = answer(301, "");
        redirect.location = Some("http://127.0.0.1:8000/health/".into());
        let mut huge = answer(200, "{");
        huge.truncated = true;
        let cases = [
            (
                redirect.clone(),
                Reading::Never(Mismatch::Redirect {
                    code: 301,
                    location: Some("http://127.0.0.1:8000/health/".into()),
                }),
            ),
            (
                answer(404, r#"{"detail":"Not Found"}"#),
                Reading::Never(Mismatch::NotFound { code: 404 }),
            ),
            (
                huge.clone(),
                Reading::Never(Mismatch::TooLarge { code: 200 }),
            ),
            (
                answer(200, "OK"),
                Reading::Never(Mismatch::NotJson {
                    code: 200,
                    start: "OK".into(),
                }),
            ),
            (
                answer(200, r#"{"alive":true}"#),
                Reading::Never(Mismatch::Unreadable {
                    code: 200,
                    start: r#"{"alive":true}"#.into(),
                }),
            ),
            // Valid JSON, deeper than is read: not "not JSON".
            (
                answer(
                    200,
                    &format!("{}{}", "[".repeat(20_000), "]".repeat(20_000)),
                ),
                Reading::Never(Mismatch::TooDeep { code: 200 }),
            ),
            // Not a 2xx: maybe a page shown while the app starts.
            (
                answer(503, "<html>starting</html>"),
                Reading::Opaque("not JSON: \"<html>starting</html>\"".into()),
            ),
        ];
        for (answer, expected) in cases {
            assert_eq!(read(&answer, HealthFormat::Auto), expected, "{answer:?}");
        }
        assert!(matches!(
            read(&redirect, HealthFormat::StatusCode),
            Reading::Never(Mismatch::Redirect { .. })
        ));
        let fix = Mismatch::Redirect {
            code: 307,
            location: Some("http://127.0.0.1:8000/health/".into()),
        }
        .fix();
        assert!(fix.contains("(/health/)"), "the fix names the path: {fix}");
    }

    #[test]
    fn status_code_reads_only_the_code() {
        let mut text = answer(200, "OK");
        text.truncated = true;
        let reading = read(&text, HealthFormat::StatusCode);
        assert_eq!(
            form_and_condition(&reading),
            Some((Form::StatusCode, Condition::Good))
        );
        assert_eq!(
            form_and_condition(&read(&answer(503, "busy"), HealthFormat::StatusCode)),
            Some((Form::StatusCode, Condition::Bad))
        );
    }

    #[test]
    fn failing_parts_come_from_each_form() {
        let cases: &[(&str, Vec<(String, String)>)] = &[
            (
                r#"{"status":"degraded","services":{"database":{"status":"error","error":"disk"},"cache":{"status":"ok"}}}"#,
                vec![("database".into(), "disk".into())],
            ),
            (
                r#"{"status":"fail","checks":{"db:responseTime":[{"componentId":"main","status":"fail","output":"timeout"}],"cpu:utilization":[{"status":"pass"}]}}"#,
                vec![("db:responseTime (main)".into(), "timeout".into())],
            ),
            (
                r#"{"status":"DOWN","components":{"db":{"status":"DOWN","details":{"error":"refused"}},"disk":{"status":"UP"}}}"#,
                vec![("db".into(), "refused".into())],
            ),
            (
                r#"{"status":"DOWN","components":{"redis":{"status":"OUT_OF_SERVICE"}}}"#,
                vec![("redis".into(), "OUT_OF_SERVICE".into())],
            ),
        ];
        for (body, expected) in cases {
            let Reading::Report(report) = read(&answer(503, body), HealthFormat::Auto) else {
                panic!("{body} is a report");
            };
            assert_eq!(&report.failing(), expected, "{body}");
        }
    }

    #[test]
    fn identity_fields_are_read_in_any_form() {
        let body = r#"{"status":"ok","service":"shop","pid":42,"workspace":"/src/shop"}"#;
        let Reading::Report(report) = read(&answer(200, body), HealthFormat::Auto) else {
            panic!("a report");
        };
        assert_eq!(report.service.as_deref(), Some("shop"));
        assert_eq!(report.pid, Some(42));
        assert!(report.has_identity());
        let Reading::Report(plain) = read(&answer(200, r#"{"status":"ok"}"#), HealthFormat::Auto)
        else {
            panic!("a report");
        };
        assert!(!plain.has_identity());
    }

    #[test]
    fn long_bodies_are_shown_by_their_first_80_bytes() {
        let body = "x".repeat(200);
        let Reading::Never(Mismatch::NotJson { start, .. }) =
            read(&answer(200, &body), HealthFormat::Auto)
        else {
            panic!("not JSON");
        };
        assert_eq!(start, format!("{}…", "x".repeat(80)));
    }
}
