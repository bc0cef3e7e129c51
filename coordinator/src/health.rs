//! The health prober: one `GET {health_path}` and what its answer means.
//!
//! It knows nothing of processes. What an answer says is decided by pure functions
//! ([`format::read`], [`readiness`]) so that the rules are tested by tables, and the
//! async part stays a thin HTTP call. Whether a backend is ours is `ownership`'s job.

use std::sync::Arc;
use std::time::Duration;

pub mod cert;
pub mod first;
pub mod format;
mod mismatch;
pub mod tls;
mod wording;

pub use wording::{describe_mismatch, describe_probe, services};

pub use format::{
    ACCEPTED, Answer, Condition, Form, HealthFormat, HealthReport, Mismatch, Part, Reading,
};
pub use mismatch::{MAX_DEPTH as MAX_JSON_DEPTH, Streak};

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

/// The address to probe for a configured host: wildcards are probed on loopback.
pub fn probe_host(host: &str) -> &str {
    match host {
        "0.0.0.0" | "localhost" => "127.0.0.1",
        "::" => "::1",
        other => other,
    }
}

/// The HTTP client of every health request, local or remote: reqwest over rustls, no
/// proxy, no redirects, a connect timeout and a per-request deadline, the body capped,
/// connections kept for the next poll. Cloning shares the connection pool.
#[derive(Debug, Clone)]
pub struct HealthClient {
    /// `Err` only if reqwest could not be set up; every probe then says why.
    http: Result<reqwest::Client, String>,
    timeout: Duration,
    trust: Arc<tls::Trust>,
}

impl HealthClient {
    /// `timeout` bounds each request; connecting gets at most one second of it. Trusts
    /// the system's roots.
    pub fn new(timeout: Duration) -> HealthClient {
        HealthClient::with_trust(timeout, Arc::new(tls::Trust::new(None)))
    }

    /// A client that also trusts the CAs of `trust`'s `ca_file`.
    pub fn with_trust(timeout: Duration, trust: Arc<tls::Trust>) -> HealthClient {
        HealthClient {
            http: build(timeout, &trust),
            timeout,
            trust,
        }
    }

    /// The same trust with another per-request timeout.
    pub fn with_timeout(&self, timeout: Duration) -> HealthClient {
        HealthClient::with_trust(timeout, self.trust.clone())
    }

    pub fn trust(&self) -> &Arc<tls::Trust> {
        &self.trust
    }

    /// `GET url` with the run's correlation ID, asking for JSON (a health answer).
    pub async fn probe(&self, url: &str, correlation_id: &str) -> Probe {
        self.get(url, correlation_id, "application/json").await
    }

    /// `GET url` as a browser asks for a page. A dev server's fallback to `index.html`
    /// (Vite's, webpack-dev-server's `historyApiFallback`) answers only a request that
    /// accepts HTML: asked for JSON, Vite answers `/` with a 404.
    async fn get_page(&self, url: &str, correlation_id: &str) -> Probe {
        self.get(url, correlation_id, "text/html,*/*").await
    }

    async fn get(&self, url: &str, correlation_id: &str, accept: &str) -> Probe {
        let http = match &self.http {
            Ok(http) => http,
            Err(why) => return Probe::Unreachable(why.clone()),
        };
        let deadline = tokio::time::Instant::now() + self.timeout;
        let request = http
            .get(url)
            .header("X-Correlation-ID", correlation_id)
            .header(reqwest::header::ACCEPT, accept)
            .send();
        let mut response = match tokio::time::timeout_at(deadline, request).await {
            Ok(Ok(response)) => response,
            Ok(Err(err)) => return Probe::Unreachable(self.describe(&err, url)),
            Err(_) => return Probe::Unreachable(self.timed_out()),
        };
        let code = response.status().as_u16();
        let header = |name: reqwest::header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        let location = header(reqwest::header::LOCATION);
        let content_type = header(reqwest::header::CONTENT_TYPE);
        // A declared length over the cap is over it whatever arrives.
        let mut truncated = response
            .content_length()
            .is_some_and(|len| len > BODY_CAP as u64);
        let mut body = Vec::new();
        loop {
            match tokio::time::timeout_at(deadline, response.chunk()).await {
                Ok(Ok(Some(chunk))) => {
                    body.extend_from_slice(&chunk);
                    if body.len() > BODY_CAP {
                        // Not read further: dropping the response closes the connection.
                        truncated = true;
                        body.truncate(BODY_CAP);
                        break;
                    }
                }
                Ok(Ok(None)) => break,
                Ok(Err(err)) if err.is_timeout() => return Probe::Stalled { code },
                Ok(Err(err)) => return Probe::Unreachable(self.describe(&err, url)),
                // The head came, the body did not: a hung handler, not "no answer".
                Err(_) => return Probe::Stalled { code },
            }
        }
        Probe::Answered(Answer {
            code,
            location,
            content_type,
            body,
            truncated,
        })
    }

    /// `GET url` for its status code alone, as a page: a frontend's `ready_path`, which
    /// need not answer with a health report.
    pub async fn status(&self, url: &str, correlation_id: &str) -> Result<u16, String> {
        match self.get_page(url, correlation_id).await {
            Probe::Answered(answer) => Ok(answer.code),
            Probe::Stalled { code } => Ok(code),
            Probe::Unreachable(why) => Err(why),
        }
    }

    fn timed_out(&self) -> String {
        format!("timed out after {} ms", self.timeout.as_millis())
    }

    /// One line for a failed request: a TLS failure explained (see [`tls::explain`]),
    /// else the innermost cause, which is the one that says what happened.
    fn describe(&self, err: &reqwest::Error, url: &str) -> String {
        let host = err
            .url()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| url.to_owned());
        if let Some(failure) = tls::find_rustls_error(err) {
            let seen = self.trust.last_seen();
            return tls::explain(
                failure,
                &host,
                seen.as_ref(),
                self.trust.ca_file(),
                cert::now(),
            );
        }
        if err.is_timeout() {
            return self.timed_out();
        }
        let mut cause: &dyn std::error::Error = err;
        while let Some(next) = cause.source() {
            cause = next;
        }
        if err.is_connect() {
            return format!("connection failed: {cause}");
        }
        if err.is_builder() {
            return format!("{url}: {cause}");
        }
        if url.starts_with("http://") {
            // A TLS server answers a plain request with an alert or by closing.
            return format!(
                "no HTTP answer from {host} ({cause}): if that port speaks https, the URL must start with https://"
            );
        }
        format!("the request failed: {cause}")
    }
}

/// The reqwest client for one timeout and trust.
fn build(timeout: Duration, trust: &Arc<tls::Trust>) -> Result<reqwest::Client, String> {
    let tls = tls::client_config(trust)?;
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        // Without this `HTTP_PROXY` would be honoured even for 127.0.0.1.
        .no_proxy()
        // A redirect is evidence (the health path is wrong), never followed.
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(timeout.min(Duration::from_secs(1)))
        .user_agent("dev-coordinator")
        .build()
        .map_err(|err| format!("cannot set up the HTTP client: {err}"))
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

    use first::tests::serve;

    #[tokio::test(flavor = "current_thread")]
    async fn a_real_exchange_on_loopback_carries_the_correlation_id() {
        let body = br#"{"status":"healthy"}"#;
        let mut response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        response.extend_from_slice(body);
        let (port, server, _) = serve(response, false).await;
        let client = HealthClient::new(Duration::from_secs(2));
        let probe = client
            .probe(&format!("http://127.0.0.1:{port}/health"), "dev-1-x")
            .await;
        let Probe::Answered(answer) = probe else {
            panic!("no answer: {probe:?}")
        };
        assert_eq!((answer.code, answer.body.as_slice()), (200, &body[..]));
        assert!(!answer.truncated);
        server.abort();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_request_names_the_correlation_id_and_asks_for_json() {
        let (port, _server, request) = serve(
            b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n".to_vec(),
            false,
        )
        .await;
        let client = HealthClient::new(Duration::from_secs(2));
        let code = client
            .status(&format!("http://127.0.0.1:{port}/h?x=1"), "dev-2-y")
            .await;
        assert_eq!(code, Ok(204));
        let request = tokio::time::timeout(Duration::from_secs(2), request)
            .await
            .expect("server done")
            .expect("server ok");
        // A page is asked for as a browser asks: dev servers fall back to their
        // index.html only for a request that accepts HTML.
        assert!(
            request
                .to_ascii_lowercase()
                .contains("accept: text/html,*/*\r\n"),
            "{request}"
        );
        // The request was read before the answer was written.
        let (port, _server, request) = serve(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}".to_vec(),
            false,
        )
        .await;
        let _ = client
            .probe(&format!("http://127.0.0.1:{port}/health"), "dev-3-z")
            .await;
        let request = tokio::time::timeout(Duration::from_secs(2), request)
            .await
            .expect("server done")
            .expect("server ok");
        let lower = request.to_ascii_lowercase();
        assert!(request.starts_with("GET /health HTTP/1.1\r\n"), "{request}");
        assert!(lower.contains("x-correlation-id: dev-3-z\r\n"), "{request}");
        assert!(lower.contains("accept: application/json\r\n"), "{request}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_redirect_is_reported_not_followed() {
        let (port, server, _) = serve(
            b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /health/\r\nContent-Length: 0\r\n\r\n"
                .to_vec(),
            false,
        )
        .await;
        let probe = HealthClient::new(Duration::from_secs(2))
            .probe(&format!("http://127.0.0.1:{port}/health"), "dev-1-x")
            .await;
        let Probe::Answered(answer) = probe else {
            panic!("no answer: {probe:?}")
        };
        assert_eq!(answer.code, 307);
        assert_eq!(answer.location.as_deref(), Some("/health/"));
        server.abort();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_body_over_the_cap_is_cut_and_flagged() {
        let body = vec![b'x'; BODY_CAP + 10];
        let mut response = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        response.extend_from_slice(format!("{:x}\r\n", body.len()).as_bytes());
        response.extend_from_slice(&body);
        response.extend_from_slice(b"\r\n0\r\n\r\n");
        let (port, server, _) = serve(response, false).await;
        let probe = HealthClient::new(Duration::from_secs(2))
            .probe(&format!("http://127.0.0.1:{port}/health"), "dev-1-x")
            .await;
        let Probe::Answered(answer) = probe else {
            panic!("no answer: {probe:?}")
        };
        assert!(answer.truncated);
        assert_eq!(answer.body.len(), BODY_CAP);
        server.abort();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_body_that_never_comes_is_told_from_no_answer() {
        let (port, server, _) = serve(
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{".to_vec(),
            false,
        )
        .await;
        let probe = HealthClient::new(Duration::from_millis(300))
            .probe(&format!("http://127.0.0.1:{port}/health"), "dev-1-x")
            .await;
        assert_eq!(probe, Probe::Stalled { code: 200 });
        server.abort();
        let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let closed = free.local_addr().expect("addr").port();
        drop(free);
        let probe = HealthClient::new(Duration::from_millis(300))
            .probe(&format!("http://127.0.0.1:{closed}/health"), "dev-1-x")
            .await;
        let Probe::Unreachable(why) = probe else {
            panic!("answered: {probe:?}")
        };
        assert!(why.starts_with("connection failed:"), "{why}");
    }
}
