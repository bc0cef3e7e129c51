//! The health prober: one `GET {health_path}` and what its answer means.
//!
//! It knows nothing of processes. Deciding whether an answer means "ready" or "ours" is
//! done by pure functions ([`readiness`], [`ownership`]) so that the rules are tested
//! by tables, and the async part stays a thin HTTP call.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

mod http;

/// Bodies larger than this are cut: a health endpoint has no business sending more.
const BODY_CAP: usize = 64 * 1024;

/// The JSON of DESIGN section 5. Only `status` is required; the rest is evidence.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct HealthReport {
    pub status: String,
    #[serde(default)]
    pub service: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub pid: Option<u32>,
    #[serde(default)]
    pub workspace: Option<String>,
    #[serde(default)]
    pub services: BTreeMap<String, ServiceHealth>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ServiceHealth {
    pub status: String,
    #[serde(default)]
    pub error: Option<String>,
}

/// The outcome of one health request.
#[derive(Debug, Clone, PartialEq)]
pub enum Probe {
    /// Something answered over HTTP.
    Answered {
        code: u16,
        /// The parsed body, or why it could not be parsed.
        report: Result<HealthReport, String>,
        /// The start of the body, kept as evidence.
        body: String,
    },
    /// No HTTP answer: refused, reset, timed out.
    Unreachable(String),
}

/// Whether a backend that answered can be declared ready.
#[derive(Debug, Clone, PartialEq)]
pub enum Readiness {
    Ready,
    /// `degraded`, with each failing service and its error.
    Degraded(Vec<(String, String)>),
    NotReady(String),
}

/// Whether a healthy backend is the one this checkout would start.
#[derive(Debug, Clone, PartialEq)]
pub enum Ownership {
    Ours,
    OtherService(String),
    OtherCheckout(String),
}

/// Decides readiness from one probe. `degraded` is ready only with `accept_degraded`.
pub fn readiness(probe: &Probe, accept_degraded: bool) -> Readiness {
    let (code, report) = match probe {
        Probe::Unreachable(why) => return Readiness::NotReady(why.clone()),
        Probe::Answered { code, report, .. } => (*code, report),
    };
    let report = match report {
        Ok(report) => report,
        Err(why) => return Readiness::NotReady(format!("HTTP {code}, unparsable body: {why}")),
    };
    match report.status.as_str() {
        "healthy" if (200..300).contains(&code) => Readiness::Ready,
        "degraded" => {
            let failing = failing_services(report);
            if accept_degraded {
                Readiness::Ready
            } else {
                Readiness::Degraded(failing)
            }
        }
        status => Readiness::NotReady(format!("HTTP {code}, status {status:?}")),
    }
}

/// Each service whose status is not `ok`, with its error.
pub fn failing_services(report: &HealthReport) -> Vec<(String, String)> {
    report
        .services
        .iter()
        .filter(|(_, health)| health.status != "ok")
        .map(|(name, health)| {
            let error = health
                .error
                .clone()
                .unwrap_or_else(|| health.status.clone());
            (name.clone(), error)
        })
        .collect()
}

/// A backend is ours when it reports the configured service and this checkout.
pub fn ownership(report: &HealthReport, service: &str, workspace: &Path) -> Ownership {
    let reported_service = report.service.as_deref().unwrap_or("<none>");
    if reported_service != service {
        return Ownership::OtherService(reported_service.to_owned());
    }
    let reported = report.workspace.as_deref().unwrap_or("<none>");
    let same = Path::new(reported)
        .canonicalize()
        .ok()
        .zip(workspace.canonicalize().ok())
        .is_some_and(|(a, b)| a == b);
    if same {
        Ownership::Ours
    } else {
        Ownership::OtherCheckout(reported.to_owned())
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
        let response = match http::get(&url, &headers, connect, self.timeout, BODY_CAP).await {
            Ok(response) => response,
            Err(why) => return Probe::Unreachable(why),
        };
        let report =
            serde_json::from_slice::<HealthReport>(&response.body).map_err(|e| e.to_string());
        let text = String::from_utf8_lossy(&response.body);
        let body = text.chars().take(400).collect();
        Probe::Answered {
            code: response.code,
            report,
            body,
        }
    }
}

impl HealthClient {
    /// `GET url` for its status code alone: a frontend's `ready_path`, which need not
    /// answer with a health report.
    pub async fn status(&self, url: &str, correlation_id: &str) -> Result<u16, String> {
        let url = http::parse_url(url)?;
        let headers = [("X-Correlation-ID", correlation_id)];
        let connect = self.timeout.min(Duration::from_secs(1));
        http::get(&url, &headers, connect, self.timeout, BODY_CAP)
            .await
            .map(|response| response.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(code: u16, body: &str) -> Probe {
        Probe::Answered {
            code,
            report: serde_json::from_str(body).map_err(|e| e.to_string()),
            body: body.to_owned(),
        }
    }

    #[test]
    fn readiness_rules() {
        let degraded = r#"{"status":"degraded","services":{"database":{"status":"error","error":"disk"},"cache":{"status":"ok"}}}"#;
        let cases = [
            (
                answered(200, r#"{"status":"healthy"}"#),
                false,
                Readiness::Ready,
            ),
            (
                answered(503, degraded),
                false,
                Readiness::Degraded(vec![("database".into(), "disk".into())]),
            ),
            (answered(503, degraded), true, Readiness::Ready),
            (
                answered(503, r#"{"status":"healthy"}"#),
                false,
                Readiness::NotReady("HTTP 503, status \"healthy\"".into()),
            ),
            (
                answered(200, r#"{"status":"starting"}"#),
                false,
                Readiness::NotReady("HTTP 200, status \"starting\"".into()),
            ),
            (
                Probe::Unreachable("refused".into()),
                true,
                Readiness::NotReady("refused".into()),
            ),
        ];
        for (probe, accept, expected) in cases {
            assert_eq!(readiness(&probe, accept), expected, "{probe:?}");
        }
        let Readiness::NotReady(why) = readiness(&answered(200, "<html>"), false) else {
            panic!("html is not ready");
        };
        assert!(why.starts_with("HTTP 200, unparsable body"), "{why}");
    }

    #[test]
    fn ownership_needs_service_and_checkout() {
        let here = std::env::current_dir().expect("cwd");
        let report = |service: &str, workspace: &str| HealthReport {
            status: "healthy".into(),
            service: Some(service.into()),
            version: None,
            pid: None,
            workspace: Some(workspace.into()),
            services: BTreeMap::new(),
        };
        let here_text = here.display().to_string();
        assert_eq!(
            ownership(&report("demo", &here_text), "demo", &here),
            Ownership::Ours
        );
        assert_eq!(
            ownership(&report("other", &here_text), "demo", &here),
            Ownership::OtherService("other".into())
        );
        assert_eq!(
            ownership(&report("demo", "/elsewhere"), "demo", &here),
            Ownership::OtherCheckout("/elsewhere".into())
        );
    }
}
